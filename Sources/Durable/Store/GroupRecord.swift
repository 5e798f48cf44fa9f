/// A stored task group.
struct GroupRecord: Sendable, Equatable {
    var id: GroupID
    var name: String
    var key: String?
    var state: GroupState
    var failedTaskID: TaskID?
    /// Whether `createGroup` returned an existing group for its key.
    var existed: Bool
}
