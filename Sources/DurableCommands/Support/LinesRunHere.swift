import Durable
import Synchronization

/// The tasks this `durable run` process started, so that its summary tells its
/// own lines from those another runner of the same batch ran meanwhile.
final class LinesRunHere: Sendable {
    private let ids = Mutex<Set<TaskID>>([])

    func insert(_ id: TaskID) { ids.withLock { _ = $0.insert(id) } }

    func contains(_ id: TaskID) -> Bool { ids.withLock { $0.contains(id) } }
}
