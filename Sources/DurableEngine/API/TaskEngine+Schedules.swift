public import Foundation

// Schedules: tasks created on the ticks of a cron expression, by whichever
// worker process runs when a tick comes.
extension TaskEngine {
    /// Stores a schedule: on each tick of `cron` in `timeZone`, one task of `job`
    /// with `input` is created — exactly one per tick, however many worker
    /// processes run on the database and however often they restart. Every
    /// worker (``run()``) keeps the stored schedules going; nothing fires while none runs,
    /// and what happens to the ticks missed meanwhile is `catchUp`'s choice.
    ///
    /// Calling it again with the same name changes the stored definition (a
    /// program can declare its schedules at every start): the next tick is
    /// recomputed only if the expression or the time zone changed; a paused
    /// schedule stays paused.
    ///
    /// ```swift
    /// try await engine.schedule(
    ///     "nightly-report", cron: "0 3 * * *", timeZone: TimeZone(identifier: "Europe/Berlin")!,
    ///     job: Report.self, input: ReportInput(kind: .daily))
    /// ```
    ///
    /// Each task is named after the schedule and its tick, and its context holds
    /// both (`durable.schedule`, `durable.tick` in ISO 8601, UTC).
    ///
    /// Daylight-saving changes: an expression whose hour field is `*` follows real
    /// time (no ticks in a skipped hour, ticks in both passes of a repeated one);
    /// any other names wall times — a time in a skipped hour ticks once at the
    /// jump, a repeated one only at its first occurrence (see ``CronExpression/nextTick(after:in:)``).
    ///
    /// - Parameters:
    ///   - name: Unique in the database; not empty.
    ///   - cron: Five fields or a macro (see ``CronExpression``).
    ///   - timeZone: The zone the expression's wall times are read in.
    ///   - job: The job of the tasks it creates.
    ///   - input: Their input, stored as JSON with the schedule.
    ///   - options: The tasks' priority, timeout, retry policy and queue; a
    ///     schedule's tasks are due at their tick, so `delay`, `runAt` and
    ///     `deadline` are refused, and so is `concurrencyKey`.
    ///   - overlap: What a tick does while an earlier run is unfinished.
    ///   - catchUp: What happens to ticks missed while no worker ran.
    /// - Throws: ``CronSyntaxError`` with the position of the problem when `cron`
    ///   does not parse; ``DurableError/Code/invalidArgument`` for an empty name,
    ///   an expression that names no time in the next 400 years, or an option
    ///   out of range. Nothing is stored then.
    @discardableResult
    public func schedule<J: Job>(
        _ name: String, cron: String, timeZone: TimeZone = .current, job: J.Type, input: J.Input,
        options: TaskOptions = TaskOptions(), overlap: ScheduleOverlap = .skip, catchUp: ScheduleCatchUp = .runOnce
    ) async throws -> ScheduleRecord {
        let store = try schedulingStore("keep schedules")
        let expression = try CronExpression(cron)
        let now = clock.now()
        let schedule = try Self.storedSchedule(
            name, cron: expression, timeZone: timeZone, job: J.name, input: try encodedInput(input, of: J.self),
            retry: options.retry ?? J.retryPolicy, options: options, overlap: overlap, catchUp: catchUp, now: now)
        let stored = try await store.saveSchedule(schedule, now: now)
        currentWorker?.schedulesChanged()
        return try ScheduleRecord(stored)
    }

    /// The stored schedules, by name, with their next run times.
    public func schedules() async throws -> [ScheduleRecord] {
        try await schedulingStore("list schedules").schedules(named: nil).map(ScheduleRecord.init)
    }

    /// The schedule stored under `name`, or `nil`.
    public func schedule(named name: String) async throws -> ScheduleRecord? {
        try await schedulingStore("read a schedule").schedules(named: name).first.map(ScheduleRecord.init)
    }

    /// Pauses a schedule: no tick creates a task until it is resumed (a tick
    /// waiting behind an unfinished run is dropped too); tasks already created run.
    ///
    /// - Throws: ``DurableError/Code/unknownSchedule`` when none has the name.
    @discardableResult
    public func pauseSchedule(_ name: String) async throws -> ScheduleRecord {
        try await changeSchedule(name, "pause schedule \"\(name)\"") { schedule, _, _ in
            var change = ScheduleChange(keeping: schedule)
            change.paused = true
            change.bufferedTick = nil
            return change
        }.schedule
    }

    /// Resumes a paused schedule from its next tick after now: the ticks that
    /// passed while it was paused do not run.
    ///
    /// - Throws: ``DurableError/Code/unknownSchedule`` when none has the name.
    @discardableResult
    public func resumeSchedule(_ name: String) async throws -> ScheduleRecord {
        try await changeSchedule(name, "resume schedule \"\(name)\"") { schedule, definition, now in
            guard schedule.paused else { return nil }
            var change = ScheduleChange(keeping: schedule)
            change.paused = false
            change.nextTick = ScheduleRules.tick(of: definition.cron, in: definition.timeZone, after: now)
            return change
        }.schedule
    }

    /// Creates the schedule's task now, outside its ticks and whatever its
    /// overlap policy (also while paused); it becomes the schedule's last run.
    /// Returns the task's id.
    ///
    /// - Throws: ``DurableError/Code/unknownSchedule`` when none has the name.
    @discardableResult
    public func triggerSchedule(_ name: String) async throws -> TaskID {
        let result = try await changeSchedule(name, "trigger schedule \"\(name)\"") { schedule, _, now in
            var change = ScheduleChange(keeping: schedule)
            change.tasks = [try ScheduleRules.task(of: schedule, tick: now, now: now, keyed: false)]
            return change
        }
        guard let id = result.created.first?.id else {
            throw DurableError(.storage, "triggering schedule \"\(name)\" created no task")
        }
        return id
    }

    /// Deletes a schedule; the tasks it created stay. Returns `false` when none
    /// had the name.
    @discardableResult
    public func deleteSchedule(_ name: String) async throws -> Bool {
        let deleted = try await schedulingStore("delete a schedule").deleteSchedule(named: name)
        currentWorker?.schedulesChanged()
        return deleted
    }

    /// Changes the schedule named `name` in one transaction with `decide`,
    /// which gets its row, its definition read as types, and now.
    private func changeSchedule(
        _ name: String, _ operation: String,
        _ decide: @escaping @Sendable (StoredSchedule, ScheduleDefinition, Int64) throws -> ScheduleChange?
    ) async throws -> (schedule: ScheduleRecord, created: [CreatedTask]) {
        let store = try schedulingStore(operation)
        let now = clock.now()
        let result = try await store.changeSchedules(.named(name), now: now) { schedule, _ in
            try decide(schedule, try ScheduleDefinition(schedule), now)
        }
        guard let stored = result.schedules.first else {
            throw DurableError(.unknownSchedule, "no schedule is named \"\(name)\"")
        }
        noteScheduled(result.created)
        currentWorker?.schedulesChanged()
        return (try ScheduleRecord(stored), result.created)
    }

    /// Tells this process's worker and listeners about tasks schedules created.
    func noteScheduled(_ created: [CreatedTask]) {
        let new = created.filter { !$0.existed }
        guard !new.isEmpty else { return }
        metrics?.created(jobs: new.map(\.job))
        apply(TransitionEffects(createdTasks: new.count))
    }

    /// The row `schedule(...)` stores, its options checked as `createTask` checks them.
    private static func storedSchedule(
        _ name: String, cron: CronExpression, timeZone: TimeZone, job: String, input: String, retry: RetryPolicy,
        options: TaskOptions, overlap: ScheduleOverlap, catchUp: ScheduleCatchUp, now: Int64
    ) throws -> StoredSchedule {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw DurableError(.invalidArgument, "a schedule needs a name without control characters (got \"\(name)\")")
        }
        try QueueLimits.checkName(options.queue, of: "TaskOptions.queue")
        for (option, given) in [("delay", options.delay != nil), ("runAt", options.runAt != nil),
            ("deadline", options.deadline != nil), ("concurrencyKey", options.concurrencyKey != nil)] where given
        {
            throw DurableError(
                .invalidArgument,
                "schedule \"\(name)\": TaskOptions.\(option) cannot be given; a schedule's tasks are due at their tick")
        }
        guard TimeZone(identifier: timeZone.identifier) != nil else {
            throw DurableError(.invalidArgument, "schedule \"\(name)\": time zone \(timeZone.identifier) has no identifier this system can read back")
        }
        try retry.checkDelays(of: options.retry == nil ? "\(job).retryPolicy" : "TaskOptions.retry")
        var window: Int64?
        if case .runEach(let within) = catchUp {
            window = try within.checkedMilliseconds(of: "ScheduleCatchUp.runEach(within:)")
        }
        guard let first = ScheduleRules.tick(of: cron, in: timeZone, after: now) else {
            throw DurableError(.invalidArgument, "cron expression \"\(cron)\" names no time in the next 400 years")
        }
        return StoredSchedule(
            name: name, cron: cron.text, timeZone: timeZone.identifier, job: job, input: input, queue: options.queue,
            priority: options.priority,
            timeoutMilliseconds: try options.timeout?.checkedMilliseconds(of: "TaskOptions.timeout", positive: true),
            retry: retry.maxAttempts > 1 ? try StoredJSON.encode(retry) : nil, overlap: overlap.rawValue,
            catchUp: catchUp.word.rawValue, catchUpWindowMilliseconds: window, paused: false, nextTick: first,
            bufferedTick: nil, lastTick: nil, lastTaskID: nil, createdAt: now, updatedAt: now)
    }
}
