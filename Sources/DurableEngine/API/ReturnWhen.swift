/// When ``TaskEngine/wait(_:timeout:returnWhen:)`` returns.
public enum ReturnWhen: Sendable, Hashable {
    /// As soon as any task finishes (every task finished by then is in `done`).
    case firstCompleted
    /// As soon as any task fails (cancelled tasks do not count); otherwise when
    /// all are finished.
    case firstException
    /// When every task is finished.
    case allCompleted
}
