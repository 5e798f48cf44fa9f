import Logging
import Synchronization

/// Keeps the stored schedules going while a worker runs: one child task of
/// the worker. It reads when the schedules next need it (the earliest tick,
/// buffered ticks waiting for a run to end), sleeps until then on the engine's
/// clock, and fires what is due in one store transaction per pass
/// (``SchedulingStore/changeSchedules(_:now:_:)`` with ``ScheduleRules/fire(_:lastRunFinished:now:)``).
///
/// Several processes may fire the same schedule: the store serializes them
/// (SQLite's write lock, PostgreSQL's row lock) and a tick's task is keyed by
/// the schedule and the tick, so each tick creates one task.
///
/// It looks again when this process changes a schedule (``Worker/schedulesChanged()``),
/// when another process commits (at most four times a second, while any schedule
/// has a tick to come), and every few seconds (``safetyPoll``), which is how a
/// first schedule stored by another process is found without a read after
/// every commit of a database that has none.
final class ScheduleLoop: Sendable {
    let worker: Worker
    let store: any SchedulingStore

    init(worker: Worker, store: any SchedulingStore) {
        self.worker = worker
        self.store = store
    }
    var engine: TaskEngine { worker.engine }
    var logger: Logger { worker.logger }

    /// How often others' commits make the loop look again, at most (real time).
    static let changeInterval = Duration.milliseconds(250)
    /// How long the loop sleeps at most, however far its next tick (real time).
    static let safetyPoll = Duration.seconds(5)
    /// Whether any schedule has a tick to come: only then do others' commits make the loop look again.
    private let ticking = Atomic<Bool>(false)
    /// Pauses while due schedules do not move (another process holds them).
    static let busyBackoff = Backoff(initial: .milliseconds(50), maximum: .seconds(5))
    /// Pauses while the store fails.
    static let failureBackoff = Backoff(initial: .milliseconds(100), maximum: .seconds(30), jitter: 0.2)

    func run() async {
        let changes = engine.changeListeners.listen(onEnd: {})
        await withDiscardingTaskGroup { group in
            group.addTask { [worker] in
                for await _ in changes where self.ticking.load(ordering: .relaxed) {
                    worker.schedulesNudge.signal()
                    try? await Task.sleep(for: Self.changeInterval)
                }
            }
            await loop()
            group.cancelAll()
        }
    }

    private func loop() async {
        var failures = 0
        var reported = Set<String>()
        while !Task.isCancelled {
            do {
                let wake = try await store.scheduleWake()
                ticking.store(wake.nextTick != nil || !wake.bufferedBehind.isEmpty, ordering: .relaxed)
                let now = worker.clock.now()
                let tickDue = wake.nextTick.map { $0 <= now } ?? false
                if tickDue || wake.bufferedBehind.contains(where: \.finished) {
                    let moved = try await fire(now: now, reported: &reported)
                    failures = moved ? 0 : failures + 1
                    // Nothing moved: another process holds the rows, or a row cannot be read.
                    if !moved { try? await Task.sleep(for: Self.busyBackoff.pause(afterFailure: failures, unit: 0.5)) }
                    continue
                }
                failures = 0
                await sleep(until: wake.nextTick, orEndOf: wake.bufferedBehind.map(\.id))
            } catch {
                if Task.isCancelled { return }
                failures += 1
                logger.warning("could not fire schedules: \(error)", metadata: ["failures": "\(failures)"])
                try? await Task.sleep(for: Self.failureBackoff.pause(afterFailure: failures, unit: .random(in: 0...1)))
            }
        }
    }

    /// Fires the due schedules; `false` when none moved on.
    private func fire(now: Int64, reported: inout Set<String>) async throws -> Bool {
        let unreadable = Mutex<[String: any Error]>([:])
        let result = try await store.changeSchedules(.due, now: now) { schedule, lastRunFinished in
            do {
                return try ScheduleRules.fire(schedule, lastRunFinished: lastRunFinished, now: now)
            } catch {
                // One unreadable row (edited by hand) must not stop the others.
                unreadable.withLock { $0[schedule.name] = error }
                return nil
            }
        }
        for (name, error) in unreadable.withLock({ $0 }) where reported.insert(name).inserted {
            logger.error("schedule \"\(name)\" cannot fire: \(error)")
        }
        engine.noteScheduled(result.created)
        if !result.created.isEmpty {
            logger.debug("schedules created \(result.created.count) task(s)")
        }
        return result.changed > 0
    }

    /// Sleeps until the clock reads `tick`, one of `tasks` ends, a schedule changes, or the safety poll.
    private func sleep(until tick: Int64?, orEndOf tasks: [TaskID]) async {
        await withTaskGroup(of: Void.self) { group in
            if let tick {
                group.addTask { [clock = worker.clock] in try? await clock.sleep(until: tick) }
            }
            if !tasks.isEmpty {
                group.addTask { [engine] in
                    _ = try? await engine.withCompletionWatch(tasks) { watch in try await watch.next() }
                }
            }
            group.addTask { [worker] in await worker.schedulesNudge.wait() }
            group.addTask { try? await Task.sleep(for: Self.safetyPoll) }
            await group.next()
            group.cancelAll()
        }
    }
}
