package import DurableEngine
import PostgresNIO

// Schedules: definitions, and their ticks fired into tasks in one transaction.
// A worker firing schedules locks their rows and skips those another holds.
extension PostgresStore: SchedulingStore {
    package func saveSchedule(_ schedule: StoredSchedule, now: Int64) async throws -> StoredSchedule {
        try await write("store schedule \"\(schedule.name)\"") { connection in
            // A changed expression or zone starts over from its next tick; the
            // rest of the state stays. SET expressions read the row as it was.
            let sameTicks = "schedules.cron = excluded.cron AND schedules.time_zone = excluded.time_zone"
            let sameDefinition = """
                \(sameTicks) AND schedules.job = excluded.job AND schedules.input = excluded.input
                AND schedules.queue = excluded.queue
                AND schedules.priority = excluded.priority
                AND schedules.timeout_ms IS NOT DISTINCT FROM excluded.timeout_ms
                AND schedules.retry IS NOT DISTINCT FROM excluded.retry AND schedules.overlap = excluded.overlap
                AND schedules.catch_up = excluded.catch_up
                AND schedules.catch_up_window_ms IS NOT DISTINCT FROM excluded.catch_up_window_ms
                """
            try await connection.run(
                """
                INSERT INTO schedules (name, cron, time_zone, job, input, queue, priority, timeout_ms, retry, overlap,
                                       catch_up, catch_up_window_ms, next_tick, created_at, updated_at)
                VALUES (\(schedule.name), \(schedule.cron), \(schedule.timeZone), \(schedule.job), \(schedule.input),
                        \(schedule.queue),
                        \(Int64(schedule.priority)), \(schedule.timeoutMilliseconds)::bigint, \(schedule.retry)::text,
                        \(schedule.overlap), \(schedule.catchUp), \(schedule.catchUpWindowMilliseconds)::bigint,
                        \(schedule.nextTick)::bigint, \(now), \(now))
                ON CONFLICT (name) DO UPDATE SET
                    next_tick = CASE WHEN \(unescaped: sameTicks) THEN schedules.next_tick ELSE excluded.next_tick END,
                    buffered_tick = CASE WHEN \(unescaped: sameTicks) THEN schedules.buffered_tick END,
                    updated_at = CASE WHEN \(unescaped: sameDefinition) THEN schedules.updated_at
                                      ELSE excluded.updated_at END,
                    cron = excluded.cron, time_zone = excluded.time_zone, job = excluded.job, input = excluded.input,
                    queue = excluded.queue,
                    priority = excluded.priority, timeout_ms = excluded.timeout_ms, retry = excluded.retry,
                    overlap = excluded.overlap, catch_up = excluded.catch_up,
                    catch_up_window_ms = excluded.catch_up_window_ms
                """)
            guard let stored = try await Self.schedules(named: schedule.name, on: connection).first else {
                throw DurableError(.storage, "schedule \"\(schedule.name)\" was not stored")
            }
            return stored.schedule
        }
    }

    package func schedules(named name: String?) async throws -> [StoredSchedule] {
        try await read("read schedules") { connection in
            try await Self.schedules(named: name, on: connection).map(\.schedule)
        }
    }

    package func deleteSchedule(named name: String) async throws -> Bool {
        try await write("delete schedule \"\(name)\"") { connection in
            !(try await connection.rows("DELETE FROM schedules WHERE name = \(name) RETURNING name").isEmpty)
        }
    }

    package func changeSchedules(
        _ selection: ScheduleSelection, now: Int64,
        _ decide: @escaping @Sendable (StoredSchedule, Bool) throws -> ScheduleChange?
    ) async throws -> ScheduleChangeResult {
        try await write("fire schedules") { connection in
            let selected: [(schedule: StoredSchedule, lastStatus: String?)]
            switch selection {
            case .due:
                // Locked first, read after: a statement that waited for a row would
                // join it with the last task as its snapshot saw it.
                let names = try await connection.values(
                    """
                    SELECT name FROM schedules WHERE NOT paused AND (next_tick <= \(now) OR buffered_tick IS NOT NULL)
                    ORDER BY name FOR UPDATE SKIP LOCKED
                    """, as: String.self)
                guard !names.isEmpty else { return ScheduleChangeResult() }
                var statement = PostgresStatement("\(Self.selectSchedules) WHERE s.name = ANY(")
                statement.append(try statement.bind(array: names) + ") ORDER BY s.name")
                selected = try await Self.scheduleRows(statement.query, on: connection)
            case .named(let name):
                try await connection.run("SELECT 1 FROM schedules WHERE name = \(name) FOR UPDATE")
                selected = try await Self.scheduleRows(
                    "\(unescaped: Self.selectSchedules) WHERE s.name = \(name)", on: connection)
            }
            var result = ScheduleChangeResult()
            var transitions = PostgresTransitions(connection: connection, now: now)
            for (schedule, lastStatus) in selected {
                var schedule = schedule
                if let change = try decide(schedule, StoredSchedule.lastRunFinished(status: lastStatus)) {
                    let created = try await transitions.insert(change.tasks)
                    result.created += created
                    schedule.apply(change, lastTask: created.last?.id, now: now)
                    try await connection.run(
                        """
                        UPDATE schedules SET next_tick = \(schedule.nextTick)::bigint,
                                             buffered_tick = \(schedule.bufferedTick)::bigint,
                                             last_tick = \(schedule.lastTick)::bigint, paused = \(schedule.paused),
                                             last_task_id = \(schedule.lastTaskID?.rawValue)::bigint, updated_at = \(now)
                        WHERE name = \(schedule.name)
                        """)
                    result.changed += 1
                }
                result.schedules.append(schedule)
            }
            return result
        }
    }

    package func scheduleWake() async throws -> ScheduleWake {
        try await read("look for the next tick of the schedules") { connection in
            let next = try await connection.value(
                "SELECT min(next_tick) FROM schedules WHERE NOT paused", as: Int64.self)
            var buffered: [(id: TaskID, finished: Bool)] = []
            for row in try await connection.rows(
                """
                SELECT s.last_task_id, t.status FROM schedules AS s LEFT JOIN tasks AS t ON t.id = s.last_task_id
                WHERE NOT s.paused AND s.buffered_tick IS NOT NULL
                """)
            {
                let (id, status) = try row.decode((Int64?, String?).self)
                buffered.append((TaskID(id ?? 0), StoredSchedule.lastRunFinished(status: status)))
            }
            return ScheduleWake(nextTick: next, bufferedBehind: buffered)
        }
    }

    private static let selectSchedules = """
        SELECT \(StoredSchedule.columns(of: "s")), t.status
        FROM schedules AS s LEFT JOIN tasks AS t ON t.id = s.last_task_id
        """

    private static func schedules(named name: String?, on connection: PostgresConnection) async throws
        -> [(schedule: StoredSchedule, lastStatus: String?)]
    {
        try await scheduleRows(
            """
            \(unescaped: selectSchedules) WHERE \(name)::text IS NULL OR s.name = \(name)::text ORDER BY s.name
            """, on: connection)
    }

    /// The rows of a query on ``selectSchedules``: each schedule, then its last task's status.
    private static func scheduleRows(_ query: PostgresQuery, on connection: PostgresConnection) async throws
        -> [(schedule: StoredSchedule, lastStatus: String?)]
    {
        try await connection.rows(query).map { row in
            var columns = Columns(row)
            let schedule = StoredSchedule(
                name: try columns.next(), cron: try columns.next(), timeZone: try columns.next(),
                job: try columns.next(), input: try columns.next(), queue: try columns.next(),
                priority: Int(try columns.next() as Int64),
                timeoutMilliseconds: try columns.next(), retry: try columns.next(), overlap: try columns.next(),
                catchUp: try columns.next(), catchUpWindowMilliseconds: try columns.next(), paused: try columns.next(),
                nextTick: try columns.next(), bufferedTick: try columns.next(), lastTick: try columns.next(),
                lastTaskID: (try columns.next() as Int64?).map { TaskID($0) }, createdAt: try columns.next(),
                updatedAt: try columns.next())
            return (schedule, try columns.next() as String?)
        }
    }
}
