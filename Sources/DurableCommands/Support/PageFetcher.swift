import AsyncHTTPClient
import Crypto
import Durable
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// What one GET gave: the final status (after redirects), the body's length and
/// its SHA-256. Stored as the `get` step of a `durable fetch` task, so a re-run
/// after a crash does not download again.
struct FetchedPage: Codable, Sendable, Hashable {
    /// The HTTP status of the final response.
    var status: Int
    /// The body's length in bytes, as received (no content decoding is asked for).
    var bytes: Int64
    /// The body's SHA-256, 64 lowercase hexadecimal digits.
    var sha256: String
    /// Where the body came from, when redirects led elsewhere.
    var finalURL: String?
}

/// GETs URLs with one shared AsyncHTTPClient, streaming each body through
/// SHA-256 so memory stays flat whatever the size. Statuses of 400 and above
/// and network errors throw ``FetchFailure``; which of them a retry may cure is
/// decided there.
final class PageFetcher: Sendable {
    /// The longest one GET may take, connecting, redirects and body included.
    let timeout: Duration
    private let client: HTTPClient

    /// - Parameters:
    ///   - timeout: The limit for one GET, body included.
    ///   - maxRedirects: How many redirects to follow; 0 follows none (the 3xx response is the result).
    ///   - connectionsPerHost: How many connections to open to one host at most.
    init(timeout: Duration, maxRedirects: Int, connectionsPerHost: Int) {
        self.timeout = timeout
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: maxRedirects > 0 ? .follow(max: maxRedirects, allowCycles: false) : .disallow,
            timeout: .init(connect: TimeAmount(timeout)),
            decompression: .disabled)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, connectionsPerHost)
        // A refused connection fails the attempt at once; the task's retry policy
        // (with its backoff, stored in the database) decides what happens next.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Closes the client's connections.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// GETs `url` and hashes its body.
    ///
    /// - Throws: ``FetchFailure`` naming the URL or its host.
    func get(_ url: String) async throws -> FetchedPage {
        let timeout = timeout
        return try await withThrowingTaskGroup(of: FetchedPage?.self) { group in
            group.addTask { try await self.download(url) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let page = first else { throw timedOut(url) }
            return page
        }
    }

    private func download(_ url: String) async throws -> FetchedPage {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "durable/\(DurableVersion.current)")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: TimeAmount(timeout))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw timedOut(url)
        } catch {
            throw Task.isCancelled ? CancellationError() : FetchFailure(url: url, error: error)
        }
        let status = Int(response.status.code)
        var hash = SHA256()
        var bytes: Int64 = 0
        do {
            for try await buffer in response.body {
                buffer.withUnsafeReadableBytes { body in
                    hash.update(bufferPointer: body)
                    bytes += Int64(body.count)
                }
            }
        } catch {
            // A cancelled task (shutdown, timeout) must end as cancelled, not as a network error.
            throw Task.isCancelled ? CancellationError() : FetchFailure(url: url, error: error)
        }
        guard status < 400 else {
            // Server errors, 408 and 429 may pass; other client errors will not.
            let retryable = status >= 500 || status == 408 || status == 429
            throw FetchFailure(url: url, reason: "HTTP \(status) \(response.status.reasonPhrase)", retryable: retryable)
        }
        let final = response.url?.absoluteString
        return FetchedPage(
            status: status, bytes: bytes, sha256: hash.finalize().map { String(format: "%02x", $0) }.joined(),
            finalURL: final == url ? nil : final)
    }

    private func timedOut(_ url: String) -> FetchFailure {
        FetchFailure(url: url, reason: "no complete response within \(Self.seconds(timeout))", retryable: true)
    }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}

/// Why a GET failed, naming the URL (and the host, for network errors).
/// Retryable failures are plain errors, so the task's retry policy runs the GET
/// again; the others are ``NonRetryable`` and stored at once.
struct FetchFailure: Error, CustomStringConvertible {
    var url: String
    var reason: String
    var retryable: Bool

    init(url: String, reason: String, retryable: Bool) {
        self.url = url
        self.reason = reason
        self.retryable = retryable
    }

    /// Describes a network error of AsyncHTTPClient or SwiftNIO in words.
    init(url: String, error: any Error) {
        let host = URL(string: url).map { target -> String in
            let name = target.host ?? "?"
            return target.port.map { "\(name):\($0)" } ?? name
        } ?? url
        self.url = url
        if let error = error as? FetchFailure {
            self = error
            return
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .redirectLimitReached, .redirectCycleDetected, .invalidURL, .emptyHost, .emptyScheme:
                reason = error.shortDescription.lowercased()
                retryable = false
            case .connectTimeout:
                reason = "cannot connect to \(host): timed out"
                retryable = true
            default:
                reason = "\(error.shortDescription.lowercased()) (host \(host))"
                retryable = true
            }
            return
        }
        switch error {
        case let error as IOError:
            reason = Self.describe(error, host: host)
        case let error as NIOConnectionError:
            if let dns = (error.dnsAError ?? error.dnsAAAAError) as? SocketAddressError.UnknownHost {
                reason = "cannot resolve host \(dns.host): \(dns.errorDescription)"
            } else if let dns = error.dnsAError ?? error.dnsAAAAError {
                reason = "cannot resolve host \(error.host): \(dns)"
            } else if let first = error.connectionErrors.first?.error as? IOError {
                reason = Self.describe(first, host: host)
            } else {
                reason = "cannot connect to \(host): \(error)"
            }
        case let error as SocketAddressError.UnknownHost:
            reason = "cannot resolve host \(error.host): \(error.errorDescription)"
        default:
            reason = "cannot fetch from \(host): \(error)"
        }
        retryable = true
    }

    private static func describe(_ error: IOError, host: String) -> String {
        let words = String(cString: strerror(error.errnoCode))
        switch error.errnoCode {
        case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT: return "cannot connect to \(host): \(words)"
        default: return "network error with \(host): \(words)"
        }
    }

    /// The error a job throws: ``NonRetryableError`` when no retry can help.
    var thrown: any Error {
        retryable ? self : NonRetryableError(description)
    }

    var description: String { "GET \(url): \(reason)" }
}
