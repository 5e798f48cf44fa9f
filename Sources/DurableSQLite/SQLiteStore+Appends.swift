package import DurableEngine
import Foundation
import GRDB

// The ledger of lines appended to files exactly once.
extension SQLiteStore {
    package func recordedAppend(of id: TaskID, sequence: Int) async throws -> FileAppend? {
        try await read("read the appends of task \(id)") { db in
            try Row.fetchOne(
                db, sql: "SELECT path, offset, length FROM durable_file_appends WHERE task_id = ? AND sequence = ?",
                arguments: [id.rawValue, sequence]
            ).map { FileAppend(path: $0[0], offset: $0[1], length: $0[2]) }
        }
    }

    package func committedLength(of path: String) async throws -> Int64? {
        try await read("read the committed length of \(path)") { db in
            try Self.committedLength(of: path, in: db)
        }
    }

    package func registerAppendedFile(_ path: String, baseLength: Int64, now: Int64) async throws {
        try await write("register \(path) for appends") { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO durable_appended_files (path, base_length, created_at) VALUES (?, ?, ?)",
                arguments: [path, baseLength, now])
        }
    }

    package func recordAppend(_ append: FileAppend, line: [UInt8], of id: TaskID, sequence: Int, now: Int64) async throws
        -> Bool
    {
        try await write("record a line appended to \(append.path)") { db in
            guard try Self.committedLength(of: append.path, in: db) == append.offset else { return false }
            try db.execute(
                sql: """
                    INSERT INTO durable_file_appends (task_id, sequence, path, offset, length, line, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id.rawValue, sequence, append.path, append.offset, append.length, Data(line), now])
            try db.execute(sql: "DELETE FROM durable_pending_appends WHERE path = ?", arguments: [append.path])
            return true
        }
    }

    package func pendingAppend(to path: String) async throws -> PendingAppend? {
        try await read("read the line being appended to \(path)") { db in
            try Row.fetchOne(
                db, sql: "SELECT offset, line, task_id FROM durable_pending_appends WHERE path = ?", arguments: [path]
            ).map { row in
                PendingAppend(
                    path: path, offset: row[0], line: [UInt8](row[1] as Data), task: TaskID(row[2] as Int64))
            }
        }
    }

    package func notePendingAppend(_ pending: PendingAppend, now: Int64) async throws {
        try await write("note the line being appended to \(pending.path)", relaxed: true) { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO durable_pending_appends (path, offset, line, task_id, created_at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [pending.path, pending.offset, Data(pending.line), pending.task.rawValue, now])
        }
    }

    package func appendedLines(of path: String) async throws -> AppendedLines? {
        try await read("read the lines appended to \(path)") { db in
            guard
                let base = try Int64.fetchOne(
                    db, sql: "SELECT base_length FROM durable_appended_files WHERE path = ?", arguments: [path])
            else { return nil }
            let lines = try Row.fetchAll(
                db, sql: "SELECT offset, line FROM durable_file_appends WHERE path = ? ORDER BY offset", arguments: [path]
            ).map { row in (offset: row[0] as Int64, line: (row[1] as Data?).map { [UInt8]($0) }) }
            return AppendedLines(baseLength: base, lines: lines)
        }
    }

    private static func committedLength(of path: String, in db: Database) throws -> Int64? {
        guard
            let base = try Int64.fetchOne(
                db, sql: "SELECT base_length FROM durable_appended_files WHERE path = ?", arguments: [path])
        else { return nil }
        let end = try Int64.fetchOne(
            db, sql: "SELECT offset + length FROM durable_file_appends WHERE path = ? ORDER BY offset DESC LIMIT 1",
            arguments: [path])
        return max(base, end ?? 0)
    }
}
