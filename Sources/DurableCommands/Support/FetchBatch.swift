import Durable
import Foundation
import Synchronization

/// One `durable fetch` batch: a task per URL, a worker that runs them, and what
/// came of each. Ctrl-C once lets running fetches finish and starts no new ones;
/// twice (or SIGTERM, SIGHUP) hands the running ones back: they are fetched again
/// next time (see ``RunStopper``).
struct FetchBatch {
    /// What the run ended with.
    struct Tally: Sendable {
        var fetched = 0
        var failed = 0
        var failures: [String] = []
        /// Where the last recorded line of the batch ends in the output file.
        var recordedEnd: Int64 = 0
        /// URLs neither fetched nor failed (the run was interrupted).
        var unfinished = 0
    }

    static let failuresShown = 10

    let inputs: [FetchURL.Input]
    let retry: RetryPolicy

    /// Creates (or finds again) a task per URL and runs a worker until every URL
    /// is reported, or an interrupt has drained it.
    func run(on engine: TaskEngine, stopper: RunStopper, progress: ProgressReporter) async throws -> Tally {
        let tasks = try await createTasks(on: engine)
        var inputsByID: [TaskID: FetchURL.Input] = [:]
        for (task, input) in zip(tasks, inputs) { inputsByID[task.id] = input }
        let recorder = Recorder(inputsByID: inputsByID, progress: progress)

        try await WorkerRun.run(engine: engine, stopper: stopper) {
            for try await task in engine.asCompleted(tasks) { await recorder.record(task) }
        }

        // After an interrupt: what finished but was not reported yet.
        let unreported = tasks.filter { !recorder.isRecorded($0.id) }
        if !unreported.isEmpty {
            let (done, _) = try await engine.wait(unreported, timeout: .zero)
            for task in unreported where done.contains(task) { await recorder.record(task) }
        }
        var tally = recorder.tally
        tally.unfinished = inputs.count - tally.fetched - tally.failed
        return tally
    }

    private func createTasks(on engine: TaskEngine) async throws -> [DurableTask<FetchURL.Output>] {
        var tasks: [DurableTask<FetchURL.Output>] = []
        tasks.reserveCapacity(inputs.count)
        for start in stride(from: 0, to: inputs.count, by: 5000) {
            let chunk = inputs[start..<min(start + 5000, inputs.count)]
            tasks += try await engine.createTasks(
                FetchURL.self,
                chunk.map { TaskRequest($0, name: $0.url, key: FetchURL.key(for: $0), options: .init(retry: retry)) })
        }
        return tasks
    }


    /// The tally, shared by the tasks of the run.
    private final class Recorder: Sendable {
        private let state = Mutex((tally: Tally(), recorded: Set<TaskID>()))
        private let inputsByID: [TaskID: FetchURL.Input]
        private let progress: ProgressReporter

        init(inputsByID: [TaskID: FetchURL.Input], progress: ProgressReporter) {
            self.inputsByID = inputsByID
            self.progress = progress
        }

        var tally: Tally { state.withLock { $0.tally } }

        func isRecorded(_ id: TaskID) -> Bool { state.withLock { $0.recorded.contains(id) } }

        func record(_ task: DurableTask<FetchURL.Output>) async {
            let result: Result<FetchURL.Output, any Error>
            do {
                result = .success(try await task.result())
            } catch {
                result = .failure(error)
            }
            let input = inputsByID[task.id]
            let (done, failed) = state.withLock { state -> (Int, Int) in
                guard state.recorded.insert(task.id).inserted else { return (-1, -1) }
                switch result {
                case .success(let output):
                    state.tally.fetched += 1
                    if let input {
                        let page = FetchedPage(
                            status: output.status, bytes: output.bytes, sha256: output.sha256,
                            finalURL: output.finalURL)
                        let length = Int64(FetchURL.line(url: input.url, page: page).utf8.count + 1)
                        state.tally.recordedEnd = max(state.tally.recordedEnd, output.offset + length)
                    }
                case .failure(let error):
                    state.tally.failed += 1
                    if state.tally.failures.count < FetchBatch.failuresShown {
                        state.tally.failures.append(FetchBatch.describe(error, of: input))
                    }
                }
                return (state.tally.fetched + state.tally.failed, state.tally.failed)
            }
            if done >= 0 { progress.update(done: done, failed: failed) }
        }
    }

    /// A failed task's stored error in one line, starting with `GET <url>`.
    static func describe(_ error: any Error, of input: FetchURL.Input?) -> String {
        let url = input?.url ?? "?"
        let message: String
        switch error {
        case let stored as StoredError: message = stored.message
        case let cancelled as CancelledError: message = "GET \(url): cancelled (\(cancelled))"
        default: message = "\(error)"
        }
        let line = message.hasPrefix("GET ") ? message : "GET \(url): \(message)"
        return line.replacingOccurrences(of: "\n", with: " ")
    }
}
