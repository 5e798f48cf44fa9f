extension SQLProbe {
    /// Everything a run stored that does not depend on timing, sorted: each
    /// top-level task's job, input, status and result; each step row (by its
    /// task's input); each child with its key relative to its parent. Two runs of
    /// the same batch, killed or not, on either store, give the same lines.
    /// (``DatabaseProbe/storedOutcome()`` reads the same on an SQLite file.)
    public func storedOutcome() async throws -> [String] {
        func text(_ value: String) -> String { value.isEmpty ? "nil" : value }
        let tasks = try await table("SELECT job, input, status, result FROM tasks WHERE parent_id IS NULL").map {
            "\($0[0]) \($0[1]) \($0[2]) \(text($0[3]))"
        }
        let steps = try await table(
            """
            SELECT t.input, s.position, s.name, s.kind, s.status, s.result
            FROM task_steps AS s JOIN tasks AS t ON t.id = s.task_id
            """
        ).map { "step \($0[0]) \($0[1]) \($0[2]) \($0[3]) \($0[4]) \(text($0[5]))" }
        let children = try await table(
            """
            SELECT p.input AS parent, replace(c.key, 'child-of-' || p.id || '/', '') AS key,
                   c.name, c.input, c.status, c.result
            FROM tasks AS c JOIN tasks AS p ON p.id = c.parent_id
            """
        ).map { "child of \($0[0]): \(text($0[1])) \($0[2]) \($0[3]) \($0[4]) \(text($0[5]))" }
        return (tasks + steps + children).sorted()
    }
}
