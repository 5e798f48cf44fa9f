/// How much a committed transition survives.
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// Survives power loss and OS crashes: every commit is synced to disk
    /// (`PRAGMA synchronous = FULL`). The default; group commit keeps it fast.
    case powerLossSafe
    /// Survives the process being killed, not power loss: commits reach the OS but
    /// are synced only at checkpoints (`PRAGMA synchronous = NORMAL`).
    case processCrashSafe
}
