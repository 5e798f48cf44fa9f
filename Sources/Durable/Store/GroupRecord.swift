/// A stored task group.
struct GroupRecord: Sendable, Equatable {
    enum State: String, Sendable {
        case open
        case shuttingDown = "shutting_down"
        case finished
    }

    var id: GroupID
    var name: String
    var key: String?
    var state: State
    var failedTaskID: TaskID?
    /// Whether `createGroup` returned an existing group for its key.
    var existed: Bool
}
