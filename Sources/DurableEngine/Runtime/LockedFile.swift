import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened for reading and writing and locked with `flock` until closed:
/// how ``AppendedFile`` keeps other processes' appends out while it works.
struct LockedFile {
    let path: String
    let descriptor: Int32

    init(path: String, create: Bool) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        guard descriptor >= 0 else { throw Self.failure("open", path) }
        guard flock(descriptor, LOCK_EX) == 0 else {
            let error = Self.failure("lock", path)
            _ = Glibc.close(descriptor)
            throw error
        }
    }

    func size() throws -> Int64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.failure("read the size of", path) }
        return Int64(status.st_size)
    }

    /// The `count` bytes at `offset` (fewer at the end of the file).
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return pread(descriptor, base + filled, count - filled, off_t(offset) + off_t(filled))
            }
            guard result >= 0 else { throw Self.failure("read", path) }
            if result == 0 { break }
            filled += result
        }
        return Array(bytes.prefix(filled))
    }

    /// Cuts the file to `length` bytes and syncs.
    func truncate(to length: Int64) throws {
        guard ftruncate(descriptor, off_t(length)) == 0, fsync(descriptor) == 0 else {
            throw Self.failure("truncate", path)
        }
    }

    /// Writes `bytes` at `offset` and syncs.
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return pwrite(descriptor, base + written, bytes.count - written, off_t(offset) + off_t(written))
            }
            guard result > 0 else { throw Self.failure("write to", path) }
            written += result
        }
        guard fsync(descriptor) == 0 else { throw Self.failure("sync", path) }
    }

    func close() {
        _ = flock(descriptor, LOCK_UN)
        _ = Glibc.close(descriptor)
    }

    private static func failure(_ action: String, _ path: String) -> any Error {
        let reason = String(cString: strerror(errno))
        return DurableError(.invalidArgument, "cannot \(action) \(path): \(reason)")
    }
}
