// Messages to tasks and events from them, from outside their jobs.
extension TaskEngine {
    /// Sends a message of `topic` to a task: stored, and received once by one
    /// ``TaskContext/receive(_:topic:timeout:)`` of that topic in the task's
    /// job, in the order of sending — in whichever process, also if the task's
    /// process is dead now (it receives it after its restart). A task waiting
    /// for the topic becomes due at once.
    ///
    /// ```swift
    /// try await engine.send(to: order.id, topic: "approval", Approval(by: "ana"), key: "webhook-\(event.id)")
    /// ```
    ///
    /// - Parameters:
    ///   - id: The task whose job receives it.
    ///   - topic: What its job's receive names; not empty.
    ///   - payload: The message, stored as JSON.
    ///   - key: With a key, sending again with the same key to the same task
    ///     stores nothing and returns `false` (idempotent webhooks).
    /// - Returns: Whether the message was stored now.
    /// - Throws: ``DurableError/Code/unknownTask``; ``DurableError/Code/invalidState``
    ///   when the task has finished (no receive would take it).
    @discardableResult
    public func send<T: Encodable>(to id: TaskID, topic: String, _ payload: T, key: String? = nil) async throws -> Bool {
        try QueueLimits.checkName(topic, of: "the topic of send(to:topic:_:key:)")
        let json: String
        do {
            json = try StoredJSON.encode(payload)
        } catch {
            throw DurableError(.coding, "the message of topic \"\(topic)\" cannot be encoded as JSON: \(error)")
        }
        let stored = try await messagingStore("send messages").send(
            to: id, topic: topic, payload: json, key: key, now: clock.now())
        if stored {
            changeListeners.signal()
            currentWorker?.noteNewWork()
        }
        return stored
    }

    /// Sends a message to `task`: see ``send(to:topic:_:key:)-(TaskID,_,_,_)``.
    @discardableResult
    public func send<Output, T: Encodable>(
        to task: DurableTask<Output>, topic: String, _ payload: T, key: String? = nil
    ) async throws -> Bool {
        try await send(to: task.id, topic: topic, payload, key: key)
    }

    /// Waits for the value a task publishes under `key` (``TaskContext/setEvent(_:_:)``)
    /// and returns it: at once if it is stored, else when it is.
    ///
    /// - Throws: ``TimeoutError`` when `timeout` passes first;
    ///   ``DurableError/Code/invalidState`` when the task finishes without
    ///   publishing it; ``DurableError/Code/coding`` when it does not decode as `T`.
    public func event<T: Decodable & Sendable>(
        of id: TaskID, key: String, as type: T.Type = T.self, timeout: Duration? = nil
    ) async throws -> T {
        let store = try messagingStore("read events")
        let limit = try timeout.map {
            clock.now().adding(milliseconds: try $0.checkedMilliseconds(of: "event(of:key:as:timeout:) timeout"))
        }
        let look: @Sendable () async throws -> T? = { [self] in
            if let event = try await store.events(of: id).first(where: { $0.key == key }) {
                do {
                    return try StoredJSON.decode(T.self, from: event.value)
                } catch {
                    throw DurableError(.coding, "event \"\(key)\" of task \(id) does not decode as \(T.self): \(error)")
                }
            }
            if try await record(of: id).status.isTerminal {
                throw DurableError(.invalidState, "task \(id) finished without publishing event \"\(key)\"")
            }
            return nil
        }
        let changes = changeSignals()
        if let value = try await look() { return value }
        // Looked at again after each change in the store, until the timeout.
        let found: T? = try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                for await _ in changes {
                    if let value = try await look() { return value }
                }
                return nil
            }
            if let limit { group.addTask { [clock] in try await clock.sleep(until: limit); return nil } }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let found else {
            throw TimeoutError(taskID: id, message: "event \"\(key)\" of task \(id) was not published in time")
        }
        return found
    }

    /// The events a task published, by key.
    public func events(of id: TaskID) async throws -> [EventRecord] {
        try await messagingStore("read events").events(of: id)
    }

    /// The messages sent to a task, in order of sending.
    public func messages(of id: TaskID) async throws -> [MessageRecord] {
        try await messagingStore("read messages").messages(of: id)
    }

    /// The store, for messages and events; ``DurableError/Code/unsupported`` naming `operation`.
    func messagingStore(_ operation: String) throws -> any MessagingStore {
        guard let store = store as? any MessagingStore else {
            throw DurableError(.unsupported, "the store at \(path) cannot \(operation)")
        }
        return store
    }
}
