/// A stored task group.
package struct GroupRecord: Sendable, Equatable {
    package var id: GroupID
    package var name: String
    package var key: String?
    package var state: GroupState
    package var failedTaskID: TaskID?
    /// Whether `createGroup` returned an existing group for its key.
    package var existed: Bool

    /// Creates a value with every field given.
    package init(id: GroupID, name: String, key: String? = nil, state: GroupState, failedTaskID: TaskID? = nil, existed: Bool) {
        self.id = id
        self.name = name
        self.key = key
        self.state = state
        self.failedTaskID = failedTaskID
        self.existed = existed
    }
}
