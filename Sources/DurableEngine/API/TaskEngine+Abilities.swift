// The store's optional abilities: every store runs tasks; inspecting, appending
// to files and bulk administration are protocols a store may also adopt.
extension TaskEngine {
    /// The store, for inspection; ``DurableError/Code/unsupported`` naming
    /// `operation` when it cannot be inspected.
    func inspectableStore(_ operation: String) throws -> any InspectableStore {
        guard let store = store as? any InspectableStore else { throw unsupported(operation) }
        return store
    }

    /// The store, for appends to files; ``DurableError/Code/unsupported`` naming
    /// `operation` when it does not record them.
    func appendingStore(_ operation: String) throws -> any FileAppendingStore {
        guard let store = store as? any FileAppendingStore else { throw unsupported(operation) }
        return store
    }

    /// The store, for bulk administration; ``DurableError/Code/unsupported``
    /// naming `operation` when it has none.
    func administrableStore(_ operation: String) throws -> any AdministrableStore {
        guard let store = store as? any AdministrableStore else { throw unsupported(operation) }
        return store
    }

    /// The store, for schedules; ``DurableError/Code/unsupported`` naming
    /// `operation` when it keeps none.
    func schedulingStore(_ operation: String) throws -> any SchedulingStore {
        guard let store = store as? any SchedulingStore else { throw unsupported(operation) }
        return store
    }

    private func unsupported(_ operation: String) -> DurableError {
        DurableError(.unsupported, "the store at \(path) cannot \(operation)")
    }
}
