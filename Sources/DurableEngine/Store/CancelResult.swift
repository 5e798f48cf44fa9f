/// What a cancel request did.
package enum CancelResult: Sendable, Equatable {
    /// The task was pending; it is now stored as cancelled and will never start.
    case cancelledPending
    /// The task is running; the request is stored for its owner to deliver.
    case requested(owner: String?)
    /// The task had already finished; nothing changed.
    case alreadyFinished
}
