/// The error a failed or cancelled task stored, as it reads back from the database.
///
/// A job's Swift error cannot outlive the process that threw it, so Durable stores
/// what a person and a program need: the kind of ending, the Swift type name and
/// the message — and, when the error is `Encodable`, its own encoding as the
/// nested JSON object `detail`. `task.exception()` returns this value, also after
/// a restart, and `try task.result()` / `try await task.value` throw it (or
/// ``CancelledError`` / ``TimeoutError``). ``decode(as:)`` gives back the job's
/// own error when the awaiting side names its type:
///
/// ```swift
/// struct QuotaExceeded: Error, Codable { var limit: Int; var used: Int }
///
/// do {
///     let receipt = try await task.value
/// } catch let error as StoredError {
///     if let quota = error.decode(as: QuotaExceeded.self) { print("over by \(quota.used - quota.limit)") }
/// }
/// // or, without waiting: try await task.exception(as: QuotaExceeded.self)
/// // or, with sqlite3: select json_extract(error, '$.detail.limit') from durable_tasks where id = 42
/// ```
///
/// What round-trips: an error whose type is `Codable` (`Encodable` to be stored,
/// `Decodable` to be read back) decodes as an equal value, in this process or
/// another, with whole numbers (`Int64`, `UInt64`), `Double`s, strings, arrays and
/// dictionaries exact. Any other error keeps only its type name and message, and so
/// does a `Codable` one whose encoding throws (non-finite floats, a custom
/// `encode(to:)` that fails): the task still fails normally, without `detail`.
/// The type is matched by name (`String(reflecting:)`, module included), so
/// declare such errors at file or type scope: a type declared inside a function
/// has a name that differs from one process to the next.
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
    /// The thrown error's own encoding when its type is `Encodable`: stored as the
    /// nested object `detail` of the error column. Rows stored without it (older
    /// ones, errors that are not `Encodable`) read back with `nil`.
    var payload: JSONValue?

    private enum CodingKeys: String, CodingKey {
        case kind, type, message
        case payload = "detail"
    }

    /// Creates a stored error.
    public init(kind: Kind, type: String, message: String) {
        self.kind = kind
        self.type = type
        self.message = message
    }

    /// Describes a thrown Swift error; an `Encodable` one keeps its encoding, which
    /// ``decode(as:)`` reads back. An encoding that throws is left out, never
    /// failing the description.
    public init(failure error: any Error, kind: Kind = .failed) {
        if let stored = error as? StoredError {
            self = stored
        } else {
            self.init(kind: kind, type: String(reflecting: Swift.type(of: error)), message: String(describing: error))
            if let encodable = error as? any Encodable { payload = try? StoredJSON.tree(of: encodable) }
        }
    }

    /// The thrown error's own encoding as JSON text (keys sorted), when its type
    /// was `Encodable`; `nil` otherwise.
    public var detail: String? { payload.flatMap { try? StoredJSON.encode($0) } }

    /// The thrown error itself, when it was an `E`: `nil` when the stored type is
    /// another one (the names are compared, `String(reflecting: E.self)`), or when
    /// no encoding was stored or it does not decode as `E`.
    ///
    /// ```swift
    /// catch let error as StoredError {
    ///     if let quota = error.decode(as: QuotaExceeded.self) { retryTomorrow(quota.limit) }
    /// }
    /// ```
    public func decode<E: Error & Decodable>(as errorType: E.Type) -> E? {
        guard type == String(reflecting: errorType), let payload else { return nil }
        return try? StoredJSON.decode(errorType, from: StoredJSON.encode(payload))
    }

    public var description: String { "\(type): \(message)" }
}
