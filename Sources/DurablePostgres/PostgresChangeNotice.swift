/// A notification on the store's channel, as the trigger of
/// migrations/postgres (0008, 0009) sends it: `<kinds>:<application_name>`.
struct PostgresChangeNotice: Equatable {
    /// What a commit changed, as far as a listening engine's reads go.
    struct Kinds: OptionSet, Hashable {
        let rawValue: UInt8

        /// Something a worker reads: a pending task, a cancel request, a freed
        /// place under a concurrency limit, deleted tasks, a queue's settings.
        static let work = Kinds(rawValue: 1 << 0)
        /// A pending task that can be claimed now.
        static let claimableWork = Kinds(rawValue: 1 << 1)
        /// A finished task (or deleted rows): waiters read completions.
        static let completions = Kinds(rawValue: 1 << 2)
        /// What a worker's timers watch: a pending task due later than its
        /// creation (delayed, retried, asleep) or with a deadline, or a queue's
        /// settings. Workers look up their next due time and read the earliest
        /// deadline again.
        static let timers = Kinds(rawValue: 1 << 3)

        static let all: Kinds = [.work, .claimableWork, .completions, .timers]
    }

    /// What changed; ``Kinds/all`` for a payload in no known form.
    var kinds: Kinds
    /// The committing session's `application_name`.
    var session: String

    /// Reads a payload. One without a `:` (an older trigger, a person's own
    /// NOTIFY) is the session's name alone and counts as every kind.
    init(payload: String) {
        guard let colon = payload.firstIndex(of: ":") else {
            self.init(kinds: .all, session: payload)
            return
        }
        var kinds: Kinds = []
        for letter in payload[..<colon] {
            switch letter {
            case "w": kinds.insert(.work)
            case "n": kinds.formUnion([.work, .claimableWork])
            case "c": kinds.insert(.completions)
            case "d": kinds.insert(.timers)
            default: kinds = .all
            }
        }
        self.init(kinds: kinds, session: String(payload[payload.index(after: colon)...]))
    }

    init(kinds: Kinds, session: String) {
        self.kinds = kinds
        self.session = session
    }
}
