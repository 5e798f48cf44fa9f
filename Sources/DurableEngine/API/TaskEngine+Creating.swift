// Storing new tasks: concurrent calls share a transaction, and the local
// worker claims what it can run in it.
extension TaskEngine {
    /// A job's input as stored JSON; ``DurableError/Code/coding`` naming the job when it cannot be encoded.
    func encodedInput<J: Job>(_ input: J.Input, of job: J.Type) throws -> String {
        do {
            return try StoredJSON.encode(input)
        } catch {
            throw DurableError(.coding, "the input of a \(J.name) task cannot be encoded as JSON: \(error)")
        }
    }

    /// Stores the new tasks of several calls in one transaction, each call's all
    /// or none. When that fails for what one call asks (a key taken with another
    /// input, a closed group), each call is stored again alone, so that only it
    /// fails; any other failure is every call's.
    func storeTogether(_ calls: [[NewTask]]) async -> [Result<[CreatedTask], any Error>] {
        do {
            guard calls.count > 1 else { return [.success(try await store(calls[0], now: clock.now()))] }
            // Keys in one order in every process: two processes whose shared
            // writes hold the same keys do not wait for each other's.
            let combined = calls.flatMap { $0 }
            let order = combined.indices.sorted { first, second in
                let (a, b) = (combined[first].key, combined[second].key)
                // Keyed tasks first, by key; otherwise in the calls' order.
                if let a, let b, a != b { return a < b }
                if (a == nil) != (b == nil) { return a != nil }
                return first < second
            }
            let stored = try await store(order.map { combined[$0] }, now: clock.now())
            var created = stored
            for (position, index) in order.enumerated() { created[index] = stored[position] }
            return Self.split(created, into: calls)
        } catch let error as DurableError where calls.count > 1 && Self.failsOneCall(error) {
            var results: [Result<[CreatedTask], any Error>] = []
            for call in calls {
                do {
                    results.append(.success(try await store(call, now: clock.now())))
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        } catch {
            return calls.map { _ in .failure(error) }
        }
    }

    /// Each call's share of the tasks created for `calls` together, in order.
    static func split(_ created: [CreatedTask], into calls: [[NewTask]]) -> [Result<[CreatedTask], any Error>] {
        guard created.count == calls.reduce(0, { $0 + $1.count }) else {
            let error = DurableError(
                .storage, "the store created \(created.count) task(s) for \(calls.joined().count) in one commit")
            return calls.map { _ in .failure(error) }
        }
        var answers: [Result<[CreatedTask], any Error>] = []
        var offset = 0
        for call in calls {
            answers.append(.success(Array(created[offset..<offset + call.count])))
            offset += call.count
        }
        return answers
    }

    /// Has the change feed read soon when a stored task has a deadline: the
    /// worker arms its deadline timer from the feed's thread.
    func readDeadlinesSoon(ifAnyIn tasks: some Sequence<NewTask>) {
        if tasks.contains(where: { $0.deadline != nil }) { changes.readSoon() }
    }

    /// Whether `error` comes from what one call of a shared creation asked.
    static func failsOneCall(_ error: DurableError) -> Bool {
        [.keyConflict, .groupNotOpen, .invalidArgument, .invalidState, .unknownTask, .coding].contains(error.code)
    }

    /// Stores new tasks. When this process's worker is idle, the due ones it can
    /// run are claimed in the same transaction and start at once, saving a claim
    /// commit on the way from submission to result.
    private func store(_ newTasks: [NewTask], now: Int64) async throws -> [CreatedTask] {
        guard let worker = currentWorker else { return try await store.createTasks(newTasks, now: now) }
        defer { readDeadlinesSoon(ifAnyIn: newTasks) }
        let reserved = worker.reserveSlots(newTasks.count)
        guard reserved > 0 else {
            let created = try await store.createTasks(newTasks, now: now)
            if created.contains(where: { !$0.existed }) { worker.noteNewWork() }
            return created
        }
        let claim = ClaimRequest(
            owner: worker.id, limit: reserved, jobs: worker.claimJobs,
            leaseUntil: now + configuration.leaseDuration.milliseconds, queues: worker.queues)
        let result: (created: [CreatedTask], claimed: [ClaimedTask])
        do {
            result = try await store.createAndClaimTasks(newTasks, claim: claim, now: now)
        } catch {
            worker.startClaimed([], reserved: reserved)
            throw error
        }
        worker.startClaimed(result.claimed, reserved: reserved)
        if result.created.filter({ !$0.existed }).count > result.claimed.count { worker.noteNewWork() }
        return result.created
    }
}
