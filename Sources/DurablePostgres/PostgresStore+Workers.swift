package import DurableEngine
import Foundation
import PostgresNIO

// Workers: registration, leases and recovery.
extension PostgresStore {
    package func registerWorker(_ worker: WorkerInfo, now: Int64, leaseUntil: Int64) async throws {
        let jobs = try StoredJSON.encode(worker.jobs)
        try await write("register worker \(worker.id)") { connection in
            try await connection.run(
                """
                INSERT INTO workers (id, host, boot_id, pid, process_start, concurrency, jobs, started_at, heartbeat_at)
                VALUES (\(worker.id), \(worker.host), \(worker.bootID), \(Int64(worker.pid)), \(worker.processStart),
                        \(Int64(worker.concurrency)), \(jobs), \(now), \(now))
                """)
        }
    }

    package func stopWorker(_ id: String, now: Int64) async throws {
        try await write("stop worker \(id)") { connection in
            try await connection.run("UPDATE workers SET stopped_at = \(now) WHERE id = \(id)")
        }
    }

    package func activeWorkers() async throws -> [WorkerInfo] {
        try await read("list workers") { connection in
            try await connection.rows(
                "SELECT \(unescaped: PostgresRows.workerColumns) FROM workers WHERE stopped_at IS NULL"
            ).compactMap { try PostgresRows.worker($0) }
        }
    }

    package func recoverTasks(deadOwners: [String], now: Int64) async throws -> Recovery {
        let leaseNow = leaseNow(now)
        return try await write("recover abandoned tasks") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            var recovery = Recovery()
            var statement = PostgresStatement(
                """
                SELECT id, job, owner, attempt, started_at, lease_expires_at < \(leaseNow) AS expired,
                       cancel_requested_at, cancel_message
                FROM tasks
                WHERE status = 'running' AND (owner = ANY(
                """)
            statement.append(try statement.bind(array: deadOwners))
            statement.append(
                """
                ) OR lease_expires_at < \(leaseNow))
                ORDER BY id
                FOR UPDATE SKIP LOCKED
                """)
            for row in try await connection.rows(statement.query) {
                let (id, job, owner, attempt, startedAt, expired, cancelRequestedAt, message) = try row.decode(
                    (Int64, String, String?, Int64, Int64?, Bool?, Int64?, String?).self)
                recovery.abandonedJobs.append(job)
                let ownerName = owner ?? "unknown"
                let leaseExpired = expired == true && !deadOwners.contains(ownerName)
                let error = TransitionRules.abandonment(owner: ownerName, leaseExpired: leaseExpired)
                try await transitions.recordAttempt(
                    TaskID(id), attempt: Int(attempt), owner: ownerName, startedAt: startedAt ?? now,
                    outcome: .abandoned, error: try StoredJSON.encode(error))
                if let cancellation = TransitionRules.endingInsteadOfRequeue(
                    cancelRequested: cancelRequestedAt != nil, message: message)
                {
                    try await transitions.finishUnowned(
                        TaskID(id), status: .cancelled, error: cancellation, cancelling: true, cancelMessage: message)
                } else {
                    try await connection.run(
                        "UPDATE tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL WHERE id = \(id)")
                    recovery.requeued.append(TaskID(id))
                }
            }
            if !deadOwners.isEmpty {
                var stop = PostgresStatement("UPDATE workers SET stopped_at = ")
                stop.append(stop.bind(now) + " WHERE stopped_at IS NULL AND id = ANY(")
                stop.append(try stop.bind(array: deadOwners) + ")")
                try await connection.run(stop.query)
            }
            try await transitions.flush()
            recovery.effects = transitions.effects
            return recovery
        }
    }

    package func heartbeat(owner: String, now: Int64, leaseUntil: Int64) async throws -> [TaskID: Int] {
        let lease = leaseEnd(until: leaseUntil, now: now)
        return try await write("renew the leases of worker \(owner)") { connection in
            try await connection.run("UPDATE workers SET heartbeat_at = \(now) WHERE id = \(owner)")
            let rows = try await connection.rows(
                """
                UPDATE tasks SET lease_expires_at = \(unescaped: lease) WHERE owner = \(owner) AND status = 'running'
                RETURNING id, attempt
                """)
            var held: [TaskID: Int] = [:]
            for row in rows {
                let (id, attempt) = try row.decode((Int64, Int64).self)
                held[TaskID(id)] = Int(attempt)
            }
            return held
        }
    }

    package func expireDeadlines(now: Int64) async throws -> TransitionEffects {
        try await write("fail tasks whose deadline passed") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            try await transitions.failExpiredPendingTasks()
            try await transitions.flush()
            return transitions.effects
        }
    }

    package func nextDueTime(after now: Int64) async throws -> Int64? {
        if !limitedQueuesSeen.withLock({ $0 }), let known = dueTimes.due(after: now) { return known }
        let changes = dueTimes.changes
        return try await read("look for the next due task") { connection in
            let due = try await connection.value(
                """
                SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at > created_at AND run_at > \(now)
                """, as: Int64.self)
            // A queue its rate holds back opens when its earliest start leaves the window.
            let (reopens, rated) = try await Self.rateReopening(after: now, on: connection)
            // Queues with limits left alone for a moment get their turn then.
            let limited = self.limitedQueuesSeen.withLock { $0 }
            let rest = limited ? self.limitedQueuesRestUntil.withLock { $0 } : 0
            // Rates and rests move with the claims: only the tasks' answer is kept.
            if limited || rated {
                self.dueTimes.forget()
            } else {
                self.dueTimes.remember(due, after: now, changes: changes)
            }
            return [due, reopens, rest > now ? rest : nil].compactMap { $0 }.min()
        }
    }
}
