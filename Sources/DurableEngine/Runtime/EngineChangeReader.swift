import Synchronization

/// The engine's ``ChangeReader``: completions go to the waiters of this process
/// (``CompletionHub``), the rest to the worker running here, if any.
final class EngineChangeReader: ChangeReader {
    private let hub: CompletionHub
    private let signals: ChangeSignals
    private let worker = Mutex<Worker?>(nil)

    init(hub: CompletionHub, signals: ChangeSignals) {
        self.hub = hub
        self.signals = signals
    }

    func changedByOthers() {
        signals.signal()
    }

    func claimableWorkCommitted() -> Bool {
        currentWorker?.claimIfFree() ?? false
    }

    /// The worker that receives what is read for it, until detached.
    func attach(_ worker: Worker) {
        self.worker.withLock { $0 = worker }
    }

    func detach() {
        worker.withLock { $0 = nil }
    }

    private var currentWorker: Worker? { worker.withLock { $0 } }

    var completionsWanted: Int64? { hub.hasWatches ? hub.publishedSequence : nil }

    func received(_ page: CompletionPage) {
        hub.publish(page.outcomes, coveredThrough: page.coveredThrough)
    }

    var awaitedTasks: [TaskID] { hub.watchedTaskIDs }

    func missing(_ ids: [TaskID]) {
        hub.failMissing(ids)
    }

    var workerInterest: WorkerInterest? { currentWorker?.changeInterest }

    func received(_ changes: WorkerChanges) {
        currentWorker?.apply(changes)
    }

    /// A caller here waits for a result, or an idle worker here for work. Under
    /// steady traffic every process sees others' commits all the time; brisk
    /// looks for busy workers would only burn CPU that they need.
    var waitsBriskly: Bool { hub.hasWatches || (currentWorker?.awaitsWork ?? false) }
}
