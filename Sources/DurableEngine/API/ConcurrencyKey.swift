/// A key shared by tasks that must not all run at once: at most `limit` tasks
/// with the same key run at a time, across every worker process and machine
/// (``TaskOptions/concurrencyKey``). With the default limit of 1, the tasks of
/// a key run one after another, in claim order (priority, due time, creation).
///
/// ```swift
/// // One sync per customer at a time; other customers' syncs run meanwhile.
/// try await engine.createTask(Sync.self, customer, options: .init(concurrencyKey: ConcurrencyKey("customer-\(customer.id)")))
/// ```
///
/// A task holds its key's place from when it is admitted (at creation, if the
/// key has room, else when an admitted task of the key finishes) until it
/// finishes: through retries and durable sleeps too, so that no later task
/// of the key overtakes it (a delayed task admitted at creation holds it while
/// it waits for its time). Keys are global: the same key in two queues is one key.
public struct ConcurrencyKey: Sendable, Hashable, Codable {
    /// The key; not empty.
    public var value: String
    /// How many tasks of the key may run at once; at least 1. Tasks of one key
    /// should agree on it: a task waiting for room is admitted under its own limit.
    public var limit: Int

    /// A key allowing `limit` tasks at a time (1: strictly one after another).
    public init(_ value: String, limit: Int = 1) {
        self.value = value
        self.limit = limit
    }
}
