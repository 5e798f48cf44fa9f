// Messages and events inside a job: wait durably for what another process
// sends, and publish values others await.
extension TaskContext {
    /// Waits durably for a message of `topic` sent to this task
    /// (``TaskEngine/send(to:topic:_:key:)-(TaskID,_,_,_)``) and returns its payload; `nil`
    /// when `timeout` passes first.
    ///
    /// While it waits, the task gives its slot up: it is pending until the
    /// message arrives (or the timeout, stored at the first call), in whichever
    /// process, after any restart. Each message is received once, by one
    /// receive of its topic, in the order of sending; a re-run of the job gets
    /// the same message back from its checkpoint.
    ///
    /// ```swift
    /// guard let approval = try await context.receive(Approval.self, topic: "approval", timeout: .seconds(86_400))
    /// else { throw Expired() }
    /// ```
    ///
    /// - Throws: ``DurableError/Code/coding`` naming the topic when the payload
    ///   does not decode as `T`; ``DurableError/Code/invalidArgument`` for an
    ///   empty topic or a timeout out of range.
    public func receive<T: Decodable & Sendable>(
        _ type: T.Type = T.self, topic: String, timeout: Duration? = nil
    ) async throws -> T? {
        try QueueLimits.checkName(topic, of: "the topic of receive(topic:timeout:)")
        let timeoutMilliseconds = try timeout?.checkedMilliseconds(of: "receive(topic:timeout:) timeout")
        let store = try engine.messagingStore("receive messages")
        // The deadline is stored at the first call, as a durable sleep's wake-up is.
        let deadline: Int64?
        switch try await journal.begin("receive \(topic) until", kind: .sleep) {
        case .replay(let stored):
            deadline = stored.result.flatMap { Int64($0) }
        case .new(let checkpoint):
            deadline = timeoutMilliseconds.map { engine.clock.now().adding(milliseconds: $0) }
            try await journal.record(checkpoint, status: .succeeded, result: deadline.map(String.init), error: nil)
        }
        let text: String
        switch try await journal.begin("receive \(topic)", kind: .step) {
        case .replay(let stored):
            text = stored.result ?? ReceiveRequest.timedOut
        case .new(let checkpoint):
            let step = StoredStep(
                position: checkpoint.position, name: checkpoint.name, occurrence: checkpoint.occurrence,
                kind: .step, status: .succeeded, attempt: attempt, startedAt: checkpoint.startedAt)
            let request = ReceiveRequest(
                taskID: taskID, topic: topic, owner: journal.owner, attempt: attempt, deadline: deadline,
                checkpoint: step)
            switch try await store.receive(request, now: engine.clock.now()) {
            case .received(let payload):
                text = ReceiveRequest.received(payload)
            case .timedOut:
                text = ReceiveRequest.timedOut
            case .waiting:
                // Pending until a send makes it due, or the deadline.
                throw Suspension(until: deadline ?? TimeLimit.milliseconds)
            case .lostTask:
                throw DurableError(
                    .invalidState,
                    "task \(taskID) (\(name)) is no longer run by this worker (attempt \(attempt)); "
                        + "the receive of \"\(topic)\" took nothing")
            }
        }
        do {
            return try StoredJSON.decode(Received<T>.self, from: text).payload
        } catch {
            throw DurableError(
                .coding, "the message of topic \"\(topic)\" to task \(taskID) does not decode as \(T.self): \(error)")
        }
    }

    /// Publishes `value` under `key` for others to read (``TaskEngine/event(of:key:as:timeout:)``):
    /// progress, an intermediate result, "ready". Setting it again replaces it.
    ///
    /// - Throws: ``DurableError/Code/invalidState`` when this run no longer owns
    ///   the task, ``DurableError/Code/coding`` when `value` does not encode.
    public func setEvent<T: Encodable>(_ key: String, _ value: T) async throws {
        try QueueLimits.checkName(key, of: "the key of setEvent(_:_:)")
        let store = try engine.messagingStore("publish events")
        let json: String
        do {
            json = try StoredJSON.encode(value)
        } catch {
            throw DurableError(.coding, "event \"\(key)\" of task \(taskID) cannot be encoded as JSON: \(error)")
        }
        guard
            try await store.setEvent(
                of: taskID, key: key, value: json, owner: journal.owner, attempt: attempt, now: engine.clock.now())
        else {
            throw DurableError(
                .invalidState,
                "task \(taskID) (\(name)) is no longer run by this worker (attempt \(attempt)); event \"\(key)\" was not stored")
        }
        engine.changeListeners.signal()
    }
}

/// A receive's checkpoint: the payload, or that it timed out.
private struct Received<T: Decodable>: Decodable {
    var payload: T?
    var timedOut: Bool?
}
