/// What a schedule does when a tick comes while the task of an earlier tick is
/// still unfinished (pending or running). Stored as the word in `rawValue`.
///
/// ```swift
/// try await engine.schedule("sync", cron: "*/5 * * * *", job: Sync.self, input: .all, overlap: .bufferOne)
/// ```
public enum ScheduleOverlap: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// The tick creates no task: at most one run of the schedule is unfinished at
    /// a time, and ticks that come meanwhile are dropped. The default.
    case skip
    /// The tick waits until the unfinished run ends, then its task is created; a
    /// later tick that comes meanwhile replaces it, so at most one waits.
    case bufferOne = "buffer_one"
    /// Every tick creates its task, whether or not earlier runs have ended.
    case allowAll = "allow_all"

    public var description: String { rawValue }
}
