/// What a schedule does with ticks that passed while nothing fired it (no
/// worker process ran, or none could reach the database).
///
/// A tick counts as missed when it is handled more than
/// ``ScheduleCatchUp/onTimeMilliseconds`` (one minute) after its time. The
/// ticks this policy keeps then go through the schedule's ``ScheduleOverlap``
/// like any tick: with `.skip` only the first of them runs, with `.bufferOne`
/// the first and the latest after it, with `.allowAll` each.
public enum ScheduleCatchUp: Sendable, Hashable, CustomStringConvertible {
    /// Missed ticks are dropped; the schedule goes on from its next tick.
    case skip
    /// One task for all the missed ticks, for the latest of them. The default.
    case runOnce
    /// A task for each tick missed within `within` before now (at most
    /// ``ScheduleCatchUp/mostMissedTicks``, the latest ones); older ones are dropped.
    case runEach(within: Duration)

    /// How late a tick may be handled and still count as on time: one minute.
    public static let onTimeMilliseconds: Int64 = 60_000
    /// The most missed ticks `.runEach` creates tasks for at once: 1000.
    public static let mostMissedTicks = 1000

    public var description: String {
        switch self {
        case .skip: "skip"
        case .runOnce: "run once"
        case .runEach(let window): "run each within \(window.milliseconds / 1000) s"
        }
    }

    /// The stored word (`catch_up`).
    package var word: CatchUpWord {
        switch self {
        case .skip: .skip
        case .runOnce: .runOnce
        case .runEach: .runEach
        }
    }

    /// The policy a stored word and window name.
    package init(word: CatchUpWord, windowMilliseconds: Int64?) {
        switch word {
        case .skip: self = .skip
        case .runOnce: self = .runOnce
        case .runEach: self = .runEach(within: .milliseconds(max(0, windowMilliseconds ?? 0)))
        }
    }
}

/// The words `schedules.catch_up` holds.
package enum CatchUpWord: String, Sendable, CaseIterable {
    case skip
    case runOnce = "run_once"
    case runEach = "run_each"
}
