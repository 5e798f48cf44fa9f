/// The error a failed or cancelled task stored, as it reads back from the database.
///
/// A job's Swift error cannot outlive the process that threw it, so Durable stores
/// what a person and a program need: the kind of ending, the Swift type name and
/// the message. `task.exception()` returns this value, also after a restart, and
/// `try task.result()` throws it (or ``CancelledError`` / ``TimeoutError``).
public struct StoredError: Error, Codable, Sendable, Hashable, CustomStringConvertible {
    /// How the task ended.
    public struct Kind: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The job threw an error.
        public static let failed = Kind(rawValue: "failed")
        /// The task was cancelled (`task.cancel(message:)`, a group or a gather).
        public static let cancelled = Kind(rawValue: "cancelled")
        /// A timeout or deadline passed.
        public static let timeout = Kind(rawValue: "timeout")
        /// The stored input did not decode as the job's `Input`.
        public static let undecodableInput = Kind(rawValue: "undecodable_input")
        /// The job's output could not be encoded.
        public static let unencodableOutput = Kind(rawValue: "unencodable_output")
        /// No job with the stored name is registered (with `UnknownJobPolicy.fail`).
        public static let unknownJob = Kind(rawValue: "unknown_job")
        /// The run was interrupted (shutdown, lost lease) and the task handed back.
        public static let interrupted = Kind(rawValue: "interrupted")

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }

    /// How the task ended.
    public var kind: Kind
    /// The Swift type of the thrown error, such as `MyJob.Failure`.
    public var type: String
    /// The error's description.
    public var message: String

    /// Creates a stored error.
    public init(kind: Kind, type: String, message: String) {
        self.kind = kind
        self.type = type
        self.message = message
    }

    /// Describes a thrown Swift error.
    public init(failure error: any Error, kind: Kind = .failed) {
        if let stored = error as? StoredError {
            self = stored
        } else {
            self.init(kind: kind, type: String(reflecting: Swift.type(of: error)), message: String(describing: error))
        }
    }

    public var description: String { "\(type): \(message)" }
}
