/// A store that keeps messages to tasks and events from them: sends, the
/// receives that take them (each stored as the receiving job's checkpoint, in
/// one transaction), waits, and published values.
package protocol MessagingStore: TaskStore {
    /// Stores a message for a pending or running task and, when the task waits
    /// for its topic, makes it due. Returns `false` (nothing stored) when a
    /// message with the same key was sent to the task before. Throws
    /// ``DurableError/Code/unknownTask``, or ``DurableError/Code/invalidState``
    /// for a finished task.
    func send(to id: TaskID, topic: String, payload: String, key: String?, now: Int64) async throws -> Bool

    /// A receive of a running job, fenced by owner and attempt, in one
    /// transaction: takes the oldest undelivered message of the topic and stores
    /// `checkpoint` with it; else, past the deadline, stores `checkpoint` as
    /// timed out; else records that the task waits for the topic.
    func receive(_ request: ReceiveRequest, now: Int64) async throws -> ReceiveOutcome

    /// Stores `value` (JSON) under `key` for the task run by `owner` in
    /// `attempt`; `false` when the run no longer owns the task.
    func setEvent(of id: TaskID, key: String, value: String, owner: String, attempt: Int, now: Int64) async throws
        -> Bool

    /// The events of a task, by key.
    func events(of id: TaskID) async throws -> [EventRecord]

    /// The messages sent to a task, in order of sending.
    func messages(of id: TaskID) async throws -> [MessageRecord]
}

/// What a job's receive asks of the store.
package struct ReceiveRequest: Sendable {
    package var taskID: TaskID
    package var topic: String
    package var owner: String
    package var attempt: Int
    /// When the receive gives up (Unix ms); `nil`: never.
    package var deadline: Int64?
    /// The checkpoint that stores what was received (its result is filled in).
    package var checkpoint: StoredStep

    package init(taskID: TaskID, topic: String, owner: String, attempt: Int, deadline: Int64?, checkpoint: StoredStep) {
        self.taskID = taskID
        self.topic = topic
        self.owner = owner
        self.attempt = attempt
        self.deadline = deadline
        self.checkpoint = checkpoint
    }

    /// The checkpoint's result for a message: its payload, wrapped so that a
    /// payload of JSON `null` is told apart from a timeout.
    package static func received(_ payload: String) -> String { "{\"payload\":" + payload + "}" }
    /// The checkpoint's result for a receive that timed out.
    package static let timedOut = "{\"timedOut\":true}"
}

/// What ``MessagingStore/receive(_:now:)`` did.
package enum ReceiveOutcome: Sendable, Equatable {
    /// A message was taken; its payload (JSON).
    case received(String)
    case timedOut
    /// None yet: the task waits for the topic.
    case waiting
    /// The run no longer owns the task: nothing was stored.
    case lostTask
}
