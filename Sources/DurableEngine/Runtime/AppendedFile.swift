import Foundation

/// Appends lines to files exactly once per task, across crashes and processes,
/// and never touches bytes it did not write.
///
/// Under an exclusive `flock` on the file: if the task's append is already
/// recorded, nothing is written. Otherwise the line is noted in the ledger as
/// pending at the file's committed length (the end of its last recorded line),
/// written there and synced, and only then recorded. Bytes found after the
/// committed length are cut only when they are the start of the pending line
/// (an append that crashed before it was recorded); any other bytes — another
/// program's, or another database's appends to the same file — make the append
/// (and `repair`) fail with an error naming the file, which is left as it is. A
/// write that fails (a full disk) cuts its partial line at once.
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
        _ line: String, to path: String, task: TaskID, sequence: Int, store: any FileAppendingStore,
        clock: any TaskClock
    ) async throws -> FileAppend {
        guard !line.contains("\n") else {
            throw NonRetryableError("cannot append to \(path): the line holds a newline")
        }
        let path = canonicalPath(path)
        if let recorded = try await store.recordedAppend(of: task, sequence: sequence) { return recorded }
        return try await appenders.withLock(path) {
            try await appendLocked(
                bytes: Array(line.utf8) + [10], to: path, task: task, sequence: sequence, store: store, clock: clock)
        }
    }

    private static func appendLocked(
        bytes: [UInt8], to path: String, task: TaskID, sequence: Int, store: any FileAppendingStore,
        clock: any TaskClock
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
            try await cutLeftovers(of: file, committed: offset, store: store)
            try await store.notePendingAppend(
                PendingAppend(path: path, offset: offset, line: bytes, task: task), now: clock.now())
            do {
                try file.write(bytes, at: offset)
            } catch {
                // A full disk, say: the partial line goes at once.
                try? file.truncate(to: offset)
                throw error
            }
            let append = FileAppend(path: path, offset: offset, length: Int64(bytes.count))
            if try await store.recordAppend(append, line: bytes, of: task, sequence: sequence, now: clock.now()) {
                return append
            }
        }
    }

    /// Cuts the file back to its committed length when what follows it is the
    /// start of the line the ledger shows being written there. Returns how many
    /// bytes were removed.
    @discardableResult
    static func repair(_ path: String, store: any FileAppendingStore) async throws -> Int64 {
        let path = canonicalPath(path)
        guard FileManager.default.fileExists(atPath: path), try await store.committedLength(of: path) != nil else {
            return 0
        }
        return try await appenders.withLock(path) {
            let file = try LockedFile(path: path, create: false)
            defer { file.close() }
            let committed = try await store.committedLength(of: path) ?? 0
            return try await cutLeftovers(of: file, committed: committed, store: store)
        }
    }

    /// Writes a file that Durable appended to, and that no longer exists, again
    /// from the ledger. Returns how many lines it wrote (0 when the file exists or
    /// Durable never appended to it).
    static func restore(_ path: String, store: any FileAppendingStore) async throws -> Int {
        let path = canonicalPath(path)
        guard !FileManager.default.fileExists(atPath: path), let ledger = try await store.appendedLines(of: path),
            !ledger.lines.isEmpty
        else { return 0 }
        guard ledger.baseLength == 0 else {
            throw NonRetryableError(
                "cannot write \(path) again: it held \(ledger.baseLength) bytes before Durable first appended to it, "
                    + "which \(store.location) does not keep")
        }
        var bytes: [UInt8] = []
        for (offset, line) in ledger.lines {
            guard let line, offset == Int64(bytes.count) else {
                throw NonRetryableError(
                    "cannot write \(path) again: \(store.location) does not keep the bytes of its lines before "
                        + "offset \(offset) (they were recorded by an older Durable)")
            }
            bytes += line
        }
        return try await appenders.withLock(path) {
            let file = try LockedFile(path: path, create: true)
            defer { file.close() }
            // Created meanwhile by someone else: not ours to fill.
            guard try file.size() == 0 else { return 0 }
            try file.write(bytes, at: 0)
            return ledger.lines.count
        }
    }

    /// Makes the file end at its committed length: bytes after it are cut when
    /// they are the start of the pending line written there, and refused
    /// otherwise. Returns how many bytes were cut.
    @discardableResult
    private static func cutLeftovers(of file: LockedFile, committed: Int64, store: any FileAppendingStore)
        async throws -> Int64
    {
        let size = try file.size()
        guard size != committed else { return 0 }
        guard size > committed else {
            throw NonRetryableError(
                "\(file.path) holds \(size) bytes, fewer than the \(committed) bytes of lines \(store.location) "
                    + "recorded in it: it was truncated or replaced outside Durable; restore it, or append to another "
                    + "file. Nothing was changed")
        }
        let extra = size - committed
        if let pending = try await store.pendingAppend(to: file.path), pending.offset == committed,
            extra <= Int64(pending.line.count),
            try file.read(at: committed, count: Int(extra)) == Array(pending.line.prefix(Int(extra)))
        {
            try file.truncate(to: committed)
            return extra
        }
        throw NonRetryableError(
            "\(file.path) has \(extra) bytes after the \(committed) bytes of lines \(store.location) recorded in it, "
                + "and they are not a line it was writing: another program, or Durable with another database, wrote "
                + "to the file. Nothing was changed; a file Durable appends to belongs to one database")
    }
}
