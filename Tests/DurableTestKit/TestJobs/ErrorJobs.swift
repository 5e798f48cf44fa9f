public import Durable

// The stored-error tests' errors and jobs: a job's own Codable error, one that is
// not Codable, one whose encoding throws, and a step's NonRetryable error.

/// A job's own error, Codable.
public struct QuotaExceeded: Error, Codable, Hashable, CustomStringConvertible {
    public var limit: Int
    public var used: Int
    public var account: String
    public init(limit: Int, used: Int, account: String) { (self.limit, self.used, self.account) = (limit, used, account) }
    public var description: String { "quota of \(limit) exceeded by \(account)" }
}

/// Another Codable error with the same shape, which must not decode from the first.
public struct OtherCodableError: Error, Codable, Hashable {
    public var limit: Int
    public var used: Int
    public var account: String
    public init(limit: Int, used: Int, account: String) { (self.limit, self.used, self.account) = (limit, used, account) }
}

/// A Codable error that must not be retried, thrown by a step.
public struct StepQuota: NonRetryable, Codable, Hashable {
    public var limit: Int
    public init(limit: Int) { self.limit = limit }
}

/// An error that is not Codable.
public struct PlainFailure: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "plain failure: \(what)" }
}

/// An error whose encoding always throws.
public struct UnencodableFailure: Error, Codable, Hashable, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "cannot encode me: \(what)" }
    public func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(what, .init(codingPath: [], debugDescription: "never encodable"))
    }
}

public struct ThrowsQuota: Job {
    public init() {}
    public static let name = "throws-quota"
    public func run(_ limit: Int, context: TaskContext) async throws -> String {
        throw QuotaExceeded(limit: limit, used: limit + 1, account: "acme")
    }
}

public struct ThrowsPlain: Job {
    public init() {}
    public static let name = "throws-plain"
    public func run(_ what: String, context: TaskContext) async throws -> String { throw PlainFailure(what: what) }
}

public struct ThrowsUnencodable: Job {
    public init() {}
    public static let name = "throws-unencodable"
    public func run(_ what: String, context: TaskContext) async throws -> String { throw UnencodableFailure(what: what) }
}

/// A step that fails for good with a Codable error; the job fails its first
/// attempt anyway so that the second replays the step's stored failure and
/// re-throws it.
public struct QuotaInStep: Job {
    public static let name = "quota-in-step"
    public static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 2, initialDelay: .zero, jitter: 0)
    public let counter: RunCounter
    public init(counter: RunCounter) { self.counter = counter }
    public func run(_ limit: Int, context: TaskContext) async throws -> String {
        do {
            _ = try await context.step("check") { () async throws -> Int in
                counter.record("quota-step")
                throw StepQuota(limit: limit)
            }
        } catch {
            if context.attempt == 1 { throw TestFailure(reason: "retry once") }
            throw error
        }
        return "unreachable"
    }
}

public func registerErrorJobs(on engine: TaskEngine, counter: RunCounter) {
    engine.register(ThrowsQuota())
    engine.register(ThrowsPlain())
    engine.register(ThrowsUnencodable())
    engine.register(QuotaInStep(counter: counter))
}
