import NIOCore

/// Runs Swift tasks on a connection's event loop.
///
/// The store's statements on a connection run in a task that prefers this
/// executor: each statement's answer arrives on the event loop and the task
/// goes on right there, instead of hopping to the global executor's threads and
/// back to the loop for the next statement (two thread switches per statement,
/// a good part of a short statement's time on a local server).
final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
