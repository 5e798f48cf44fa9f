/// A message sent to a task (``TaskEngine/send(to:topic:_:key:)-(TaskID,_,_,_)``), as stored.
public struct MessageRecord: Sendable, Hashable {
    /// Its place in the order of sending.
    public var id: Int64
    public var taskID: TaskID
    public var topic: String
    /// The payload, as stored JSON.
    public var payload: String
    public var key: String?
    public var sentAt: Int64
    /// When a receive took it; `nil` while undelivered.
    public var deliveredAt: Int64?
    /// The run (attempt) that received it.
    public var deliveredAttempt: Int?

    /// Creates a value with every field given.
    public init(
        id: Int64, taskID: TaskID, topic: String, payload: String, key: String?, sentAt: Int64, deliveredAt: Int64?,
        deliveredAttempt: Int?
    ) {
        self.id = id
        self.taskID = taskID
        self.topic = topic
        self.payload = payload
        self.key = key
        self.sentAt = sentAt
        self.deliveredAt = deliveredAt
        self.deliveredAttempt = deliveredAttempt
    }
}

/// A value a task published under a key (``TaskContext/setEvent(_:_:)``).
public struct EventRecord: Sendable, Hashable {
    public var taskID: TaskID
    public var key: String
    /// The value, as stored JSON.
    public var value: String
    public var updatedAt: Int64

    /// Creates a value with every field given.
    public init(taskID: TaskID, key: String, value: String, updatedAt: Int64) {
        self.taskID = taskID
        self.key = key
        self.value = value
        self.updatedAt = updatedAt
    }
}
