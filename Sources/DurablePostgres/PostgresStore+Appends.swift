package import DurableEngine
import Foundation
import PostgresNIO

// The ledger of lines appended to files exactly once. Files are this machine's:
// every row names the host, so engines on several machines sharing a database
// keep a ledger each.
extension PostgresStore {
    package func recordedAppend(of id: TaskID, sequence: Int) async throws -> FileAppend? {
        try await read("read the appends of task \(id)") { connection in
            try await connection.rows(
                """
                SELECT path, "offset", length FROM file_appends
                WHERE task_id = \(id.rawValue) AND sequence = \(Int64(sequence))
                """
            ).first.map { row in
                let (path, offset, length) = try row.decode((String, Int64, Int64).self)
                return FileAppend(path: path, offset: offset, length: length)
            }
        }
    }

    package func committedLength(of path: String) async throws -> Int64? {
        let host = host
        return try await read("read the committed length of \(path)") { connection in
            try await Self.committedLength(of: path, host: host, on: connection)
        }
    }

    package func registerAppendedFile(_ path: String, baseLength: Int64, now: Int64) async throws {
        let host = host
        try await write("register \(path) for appends") { connection in
            try await connection.run(
                """
                INSERT INTO appended_files (host, path, base_length, created_at)
                VALUES (\(host), \(path), \(baseLength), \(now)) ON CONFLICT DO NOTHING
                """)
        }
    }

    package func recordAppend(_ append: FileAppend, line: [UInt8], of id: TaskID, sequence: Int, now: Int64)
        async throws -> Bool
    {
        let host = host
        return try await write("record a line appended to \(append.path)") { connection in
            // The file's row is locked: appends to one file are recorded one at a time.
            try await connection.run(
                "SELECT 1 FROM appended_files WHERE host = \(host) AND path = \(append.path) FOR UPDATE")
            guard try await Self.committedLength(of: append.path, host: host, on: connection) == append.offset else {
                return false
            }
            try await connection.run(
                """
                INSERT INTO file_appends (task_id, sequence, host, path, "offset", length, line, created_at)
                VALUES (\(id.rawValue), \(Int64(sequence)), \(host), \(append.path), \(append.offset),
                        \(append.length), \(Data(line)), \(now))
                """)
            try await connection.run("DELETE FROM pending_appends WHERE host = \(host) AND path = \(append.path)")
            return true
        }
    }

    package func pendingAppend(to path: String) async throws -> PendingAppend? {
        let host = host
        return try await read("read the line being appended to \(path)") { connection in
            try await connection.rows(
                "SELECT \"offset\", line, task_id FROM pending_appends WHERE host = \(host) AND path = \(path)"
            ).first.map { row in
                let (offset, line, task) = try row.decode((Int64, Data, Int64).self)
                return PendingAppend(path: path, offset: offset, line: [UInt8](line), task: TaskID(task))
            }
        }
    }

    package func notePendingAppend(_ pending: PendingAppend, now: Int64) async throws {
        let host = host
        try await write("note the line being appended to \(pending.path)") { connection in
            try await connection.run(
                """
                INSERT INTO pending_appends (host, path, "offset", line, task_id, created_at)
                VALUES (\(host), \(pending.path), \(pending.offset), \(Data(pending.line)), \(pending.task.rawValue), \(now))
                ON CONFLICT (host, path) DO UPDATE
                SET "offset" = excluded."offset", line = excluded.line, task_id = excluded.task_id,
                    created_at = excluded.created_at
                """)
        }
    }

    package func appendedLines(of path: String) async throws -> AppendedLines? {
        let host = host
        return try await read("read the lines appended to \(path)") { connection in
            guard
                let base = try await connection.value(
                    "SELECT base_length FROM appended_files WHERE host = \(host) AND path = \(path)", as: Int64.self)
            else { return nil }
            let lines = try await connection.rows(
                """
                SELECT "offset", line FROM file_appends WHERE host = \(host) AND path = \(path) ORDER BY "offset"
                """
            ).map { row in
                let (offset, line) = try row.decode((Int64, Data?).self)
                return (offset: offset, line: line.map { [UInt8]($0) })
            }
            return AppendedLines(baseLength: base, lines: lines)
        }
    }

    private static func committedLength(of path: String, host: String, on connection: PostgresConnection)
        async throws -> Int64?
    {
        guard
            let base = try await connection.value(
                "SELECT base_length FROM appended_files WHERE host = \(host) AND path = \(path)", as: Int64.self)
        else { return nil }
        let end = try await connection.value(
            """
            SELECT "offset" + length FROM file_appends WHERE host = \(host) AND path = \(path)
            ORDER BY "offset" DESC LIMIT 1
            """, as: Int64.self)
        return max(base, end ?? 0)
    }
}
