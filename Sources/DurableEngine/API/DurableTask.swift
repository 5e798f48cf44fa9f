/// A handle on a stored task: the analogue of an asyncio `Task`, whose every
/// answer comes from the database.
///
/// A handle is just an id and an engine: it can be kept, compared, recreated
/// after a restart with ``TaskEngine/task(id:as:)``, and used from any process
/// that opens the same file.
///
/// ```swift
/// let task = try await engine.createTask(Resize.self, photo, name: "cover")
/// try await task.setName("cover-2x")
/// if try await !task.done() { _ = try await task.cancel(message: "no longer needed") }
/// let thumbnail = try await task.value          // or throws CancelledError
/// ```
public struct DurableTask<Output: Codable & Sendable>: Sendable, Hashable, CustomStringConvertible {
    /// The stored id.
    public let id: TaskID
    /// The engine the task is stored in.
    public let engine: TaskEngine
    /// For a task this process created: a completion number at which it had
    /// not finished (the hub's, read before the creation), so that awaiting it
    /// can skip reading the store for an earlier outcome. Not part of equality.
    let unfinishedThrough: Int64?

    init(id: TaskID, engine: TaskEngine, unfinishedThrough: Int64? = nil) {
        self.id = id
        self.engine = engine
        self.unfinishedThrough = unfinishedThrough
    }

    public static func == (lhs: DurableTask, rhs: DurableTask) -> Bool {
        lhs.id == rhs.id && lhs.engine === rhs.engine
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    public var description: String { "DurableTask(\(id))" }

    // MARK: Identity

    /// The stored name.
    public func name() async throws -> String { try await engine.record(of: id).name }

    /// Stores a new name; any value is stored as its description (`123` → `"123"`).
    public func setName(_ name: some CustomStringConvertible) async throws {
        try await engine.store.setName(of: id, to: name.description)
    }

    /// The context values stored with the task.
    public func contextValues() async throws -> [String: String] { try await engine.record(of: id).context }

    // MARK: State

    /// The stored status.
    public func status() async throws -> TaskStatus { try await engine.record(of: id).status }

    /// Whether the task has finished: succeeded, failed or cancelled.
    public func done() async throws -> Bool { try await status().isTerminal }

    /// Whether the task ended cancelled.
    public func cancelled() async throws -> Bool { try await status() == .cancelled }

    /// The stored result, without waiting.
    ///
    /// - Throws: ``DurableError/Code/invalidState`` while the task is not done,
    ///   ``CancelledError`` when it was cancelled, and the stored error
    ///   (``StoredError``, or ``TimeoutError`` for a timeout) when it failed;
    ///   ``StoredError/decode(as:)`` turns it back into the job's own error.
    public func result() async throws -> Output {
        let record = try await engine.record(of: id)
        guard let outcome = record.outcome else { throw notDone(record) }
        return try decode(outcome)
    }

    /// The stored error of a failed task, `nil` for a succeeded one, without waiting.
    ///
    /// - Throws: ``DurableError/Code/invalidState`` while the task is not done, and
    ///   ``CancelledError`` when it was cancelled.
    public func exception() async throws -> (any Error)? {
        let record = try await engine.record(of: id)
        guard let outcome = record.outcome else { throw notDone(record) }
        switch outcome.status {
        case .cancelled: throw outcome.cancelledError
        case .failed: return outcome.failure
        default: return nil
        }
    }

    /// The stored error of a failed task as the job's own error type, `nil` when the
    /// task succeeded or failed with an error of another type (see
    /// ``StoredError/decode(as:)`` for what round-trips), without waiting.
    ///
    /// ```swift
    /// if let quota = try await task.exception(as: QuotaExceeded.self) { print(quota.limit) }
    /// ```
    ///
    /// - Throws: as ``exception()``.
    public func exception<E: Error & Decodable>(as errorType: E.Type) async throws -> E? {
        try await (exception() as? StoredError)?.decode(as: errorType)
    }

    /// Waits until the task is finished and returns its result (or throws as
    /// ``result()``). A task finished earlier, also before a restart, answers at
    /// once from the store.
    public var value: Output {
        get async throws {
            try engine.refuseSelfAwait(id)
            return try decode(try await engine.outcome(of: id, unfinishedThrough: unfinishedThrough))
        }
    }

    // MARK: Cancelling

    /// Cancels the task: a pending task is stored as cancelled and never starts;
    /// a running one has its cancel request (and message) stored before this
    /// returns, and its job sees Swift cancellation wherever it runs.
    ///
    /// - Returns: `false` when the task had already finished.
    @discardableResult
    public func cancel(message: String? = nil) async throws -> Bool {
        try await engine.cancel(id, message: message)
    }

    // MARK: Done callbacks

    /// Stores a durable done callback: once this task finishes (by result, error or
    /// cancellation), a task of `job` with `input` is created in the same
    /// transaction, so it runs once per completion even if the process dies right
    /// after. The callback job reads the finished task's id from
    /// `context.completedTaskID`. Added to a finished task, it runs at once.
    public func addDoneCallback<J: Job>(_ job: J.Type, _ input: J.Input) async throws {
        let json: String
        do {
            json = try StoredJSON.encode(input)
        } catch {
            throw DurableError(.coding, "the input of a \(J.name) callback cannot be encoded as JSON: \(error)")
        }
        try await engine.store.addDoneCallback(to: id, job: J.name, input: json, now: engine.clock.now())
        engine.noteNewWork()
    }

    /// Removes every durable callback of `job` that has not run yet.
    ///
    /// - Returns: How many were removed; 0 when there were none.
    @discardableResult
    public func removeDoneCallback<J: Job>(_ job: J.Type) async throws -> Int {
        try await engine.store.removeDoneCallbacks(from: id, job: J.name)
    }

    /// Runs `body` in this process once the task is finished (at once if it is).
    /// Not durable: lost if the process stops first. Callbacks added to one task
    /// run in the order they were added.
    public func onDone(_ body: @escaping @Sendable (DurableTask<Output>) async -> Void) {
        let task = self
        engine.localCallbacks.add({ _ in await body(task) }, for: id, engine: engine)
    }

    // MARK: Decoding

    /// The result of a finished task, or the error it stored.
    func decode(_ outcome: TaskOutcome) throws -> Output {
        switch outcome.status {
        case .succeeded:
            do {
                return try StoredJSON.decode(Output.self, from: outcome.result ?? "null")
            } catch {
                throw DurableError(
                    .coding,
                    "the stored result of task \(id) does not decode as \(String(reflecting: Output.self)): \(error)")
            }
        case .cancelled:
            throw outcome.cancelledError
        default:
            throw outcome.failure
        }
    }

    private func notDone(_ record: TaskRecord) -> DurableError {
        DurableError(.invalidState, "task \(id) (\(record.name)) is not done: it is \(record.status)")
    }
}

extension TaskOutcome {
    var cancelledError: CancelledError { CancelledError(taskID: id, message: cancelMessage) }

    /// The error a failed task throws: ``TimeoutError`` for timeouts, else the
    /// stored error itself.
    var failure: any Error {
        guard let error else {
            return StoredError(kind: .failed, type: "unknown", message: "task \(id) failed without a stored error")
        }
        if error.kind == .timeout { return TimeoutError(taskID: id, message: error.message) }
        return error
    }
}

extension TaskRecord {
    var outcome: TaskOutcome? {
        guard status.isTerminal else { return nil }
        return TaskOutcome(
            id: id, status: status, result: result, error: error, cancelMessage: cancelMessage,
            completionSequence: completionSequence ?? 0)
    }
}
