import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends lines to files exactly once per task, across crashes and processes.
///
/// Under an exclusive `flock` on the file: if the task's append is already
/// recorded, nothing is written; otherwise the file is cut back to its committed
/// length (dropping the bytes of an append that crashed before it was recorded),
/// the line is written there and synced, and only then recorded. A crash before
/// the record leaves bytes that the next append (or `repair`) cuts off; a crash
/// after it leaves a record that makes the re-run write nothing.
enum AppendedFile {
    /// One appender per file in this process: `flock` blocks its thread, so tasks
    /// of this process queue here (suspended) and only other processes meet the
    /// file lock.
    private static let appenders = AsyncKeyedLock()

    /// The absolute path with its folder's symbolic links resolved, so that every
    /// spelling of one file shares one ledger.
    static func canonicalPath(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let folder = url.deletingLastPathComponent().resolvingSymlinksInPath()
        return folder.appendingPathComponent(url.lastPathComponent).path
    }

    static func append(
        _ line: String, to path: String, task: TaskID, sequence: Int, store: any TaskStore, clock: any TaskClock
    ) async throws -> FileAppend {
        guard !line.contains("\n") else {
            throw NonRetryableError("cannot append to \(path): the line holds a newline")
        }
        let path = canonicalPath(path)
        if let recorded = try await store.recordedAppend(of: task, sequence: sequence) { return recorded }
        return try await appenders.withLock(path) {
            try await appendLocked(bytes: Array(line.utf8) + [10], to: path, task: task, sequence: sequence, store: store, clock: clock)
        }
    }

    private static func appendLocked(
        bytes: [UInt8], to path: String, task: TaskID, sequence: Int, store: any TaskStore, clock: any TaskClock
    ) async throws -> FileAppend {
        let file = try LockedFile(path: path, create: true)
        defer { file.close() }
        if try await store.committedLength(of: path) == nil {
            try await store.registerAppendedFile(path, baseLength: try file.size(), now: clock.now())
        }
        while true {
            // Another attempt of this task (in another process) may have finished.
            if let recorded = try await store.recordedAppend(of: task, sequence: sequence) { return recorded }
            let offset = try await store.committedLength(of: path) ?? 0
            try requireIntact(file, committed: offset)
            try file.write(bytes, at: offset)
            let append = FileAppend(path: path, offset: offset, length: Int64(bytes.count))
            if try await store.recordAppend(append, of: task, sequence: sequence, now: clock.now()) { return append }
        }
    }

    /// Cuts the file back to its committed length: the bytes of an append that
    /// crashed before it was recorded. Returns how many bytes were removed.
    @discardableResult
    static func repair(_ path: String, store: any TaskStore) async throws -> Int64 {
        let path = canonicalPath(path)
        guard FileManager.default.fileExists(atPath: path), try await store.committedLength(of: path) != nil else {
            return 0
        }
        return try await appenders.withLock(path) {
            let file = try LockedFile(path: path, create: false)
            defer { file.close() }
            let committed = try await store.committedLength(of: path) ?? 0
            try requireIntact(file, committed: committed)
            let size = try file.size()
            guard size > committed else { return 0 }
            try file.truncate(to: committed)
            return size - committed
        }
    }
}

/// Refuses a file shorter than the lines recorded in it: it was truncated or
/// replaced outside Durable, and appending would leave a hole of zero bytes.
private func requireIntact(_ file: LockedFile, committed: Int64) throws {
    let size = try file.size()
    guard size >= committed else {
        throw NonRetryableError(
            "\(file.path) holds \(size) bytes, fewer than the \(committed) bytes of lines Durable appended to it: "
                + "it was truncated or replaced outside Durable; restore it or append to another file")
    }
}

/// A file opened for writing and locked with `flock` until closed.
private struct LockedFile {
    let path: String
    let descriptor: Int32

    init(path: String, create: Bool) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
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

    func truncate(to length: Int64) throws {
        guard ftruncate(descriptor, off_t(length)) == 0, fsync(descriptor) == 0 else {
            throw Self.failure("truncate", path)
        }
    }

    /// Writes `bytes` at `offset` after cutting the file there, and syncs.
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        guard ftruncate(descriptor, off_t(offset)) == 0 else { throw Self.failure("truncate", path) }
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
