@testable import DurableEngine
import Testing

/// The worker's decisions, driven by events alone: no database, no clock, no
/// Swift tasks (a handle is a plain string here).
@Suite("Worker decisions")
struct WorkerDecisionsTests {
    typealias Decisions = WorkerDecisions<String>

    private func claimed(_ id: Int64, attempt: Int = 1) -> ClaimedTask {
        ClaimedTask(
            id: TaskID(id), job: "j", name: "Task-\(id)", input: "1", attempt: attempt, startedAt: 0, failures: 0)
    }

    private func completion(_ id: Int64) -> TaskCompletion {
        TaskCompletion(id: TaskID(id), owner: "w", attempt: 1, startedAt: 0, ending: .succeeded(result: "1"))
    }

    /// Claim limit of the next step, or nil when it is not a commit.
    private func claimLimit(_ step: Decisions.Step) -> Int? {
        guard case .commit(_, let limit, _, _) = step else { return nil }
        return limit
    }

    @Test("a new worker claims up to its slots; a short claim makes it idle until new work is noted")
    func claimsAndIdle() {
        var decisions = Decisions(maxConcurrentTasks: 4)
        let first = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        #expect(claimLimit(first) == 4)
        guard case .commit(_, _, let generation, _) = first else { return }
        decisions.committed(generation: generation, claimed: 1, claimLimit: 4)
        #expect(decisions.nextStep(claimedNotStarted: 1, claimsAnyJob: true) == .sleep)
        _ = decisions.start(claimed(1), handle: "h1")
        #expect(!decisions.awaitsWork)
        decisions.noteNewWork()
        #expect(claimLimit(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)) == 3)
        // A worker without jobs never claims.
        var jobless = Decisions(maxConcurrentTasks: 4)
        #expect(jobless.nextStep(claimedNotStarted: 0, claimsAnyJob: false) == .sleep)
    }

    @Test("new work noted while a claim commits is not lost")
    func workDuringClaim() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { Issue.record("expected a claim"); return }
        decisions.noteNewWork()  // while the claim commits
        decisions.committed(generation: generation, claimed: 0, claimLimit: 2)
        #expect(claimLimit(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)) == 2)
    }

    @Test("one slot count: running tasks, awaiting tasks, reservations and claimed-not-started tasks")
    func slots() {
        var decisions = Decisions(maxConcurrentTasks: 5)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 0, claimLimit: 5)
        #expect(decisions.awaitsWork)
        _ = decisions.start(claimed(1), handle: "h1")
        _ = decisions.start(claimed(2), handle: "h2")
        #expect(decisions.freeSlots() == 3)
        decisions.noteAwaiting(true)  // a parent awaits its children: its slot is free meanwhile
        #expect(decisions.freeSlots() == 4)
        #expect(decisions.reserve(3) == 3)
        #expect(decisions.freeSlots() == 1)
        #expect(decisions.freeSlots(claimedNotStarted: 1) == 0)
        // Looks for work after others' commits count reservations too.
        let looksWithASlot = decisions.looksForWork(claimsAnyJob: true)
        #expect(looksWithASlot)
        #expect(decisions.reserve(5) == 1)
        let looksWithout = decisions.looksForWork(claimsAnyJob: true)
        #expect(!looksWithout)
        decisions.releaseReservation(4)
        decisions.noteNewWork()
        #expect(claimLimit(decisions.nextStep(claimedNotStarted: 1, claimsAnyJob: true)) == 3)
    }

    @Test("slots are reserved for tasks created here only while idle and not draining")
    func reservations() {
        var decisions = Decisions(maxConcurrentTasks: 3)
        #expect(decisions.reserve(2) == 0)  // not idle yet: older pending tasks come first
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 0, claimLimit: 3)
        #expect(decisions.reserve(2) == 2)
        decisions.beginShutdown()
        #expect(decisions.reserve(1) == 0)
    }

    @Test("a stop for a task whose claim is committing applies when it starts; the first reason stands")
    func earlyStops() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        guard case .notRunning = decisions.stop(TaskID(1), reason: .cancelRequested("early")) else {
            Issue.record("task 1 is not running yet")
            return
        }
        _ = decisions.stop(TaskID(1), reason: .leaseLost)
        #expect(decisions.start(claimed(1), handle: "h1").stopReason == .cancelRequested("early"))
        // Cleared once the commit's results were acted on with no commit in flight.
        _ = decisions.stop(TaskID(2), reason: .leaseLost)
        decisions.processed(completions: 0, nextCommitRunning: true)
        decisions.processed(completions: 0, nextCommitRunning: false)
        #expect(decisions.start(claimed(2), handle: "h2").stopReason == nil)
    }

    @Test("a cancel request replaces a shutdown or a timeout, and nothing else replaces a reason")
    func stopPrecedence() {
        var decisions = Decisions(maxConcurrentTasks: 4)
        _ = decisions.start(claimed(1), handle: "h1")
        _ = decisions.start(claimed(2), handle: "h2")
        _ = decisions.start(claimed(3), handle: "h3")
        guard case .stop("h1") = decisions.stop(TaskID(1), reason: .shutdown) else { Issue.record("h1"); return }
        guard case .stop("h1") = decisions.stop(TaskID(1), reason: .cancelRequested("m")) else {
            Issue.record("a cancel replaces a shutdown")
            return
        }
        guard case .alreadyStopping = decisions.stop(TaskID(1), reason: .shutdown) else {
            Issue.record("a shutdown does not replace a cancel")
            return
        }
        let timeout = StoredError.timeout("t")
        _ = decisions.stop(TaskID(2), reason: .timedOut(timeout, retryable: true))
        guard case .stop = decisions.stop(TaskID(2), reason: .cancelRequested(nil)) else {
            Issue.record("a cancel replaces a timeout")
            return
        }
        _ = decisions.stop(TaskID(3), reason: .leaseLost)
        guard case .alreadyStopping = decisions.stop(TaskID(3), reason: .cancelRequested(nil)) else {
            Issue.record("a lost lease stands")
            return
        }
        #expect(decisions.finish(TaskID(1), attempt: 1)?.stopReason == .cancelRequested("m"))
        #expect(decisions.finish(TaskID(2), attempt: 1)?.stopReason == .cancelRequested(nil))
        #expect(decisions.finish(TaskID(1), attempt: 1) == nil)
    }

    @Test("shutdown: no more claims or expiries; interrupting stops running tasks and those that start later")
    func shutdown() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        _ = decisions.start(claimed(1), handle: "h1")
        decisions.deadlinePassed()
        decisions.beginShutdown()
        decisions.noteNewWork()
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .sleep)
        decisions.deadlinePassed()
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .sleep)
        #expect(decisions.interrupt() == [TaskID(1)])
        #expect(decisions.start(claimed(2), handle: "h2").stopReason == .shutdown)
        _ = decisions.finish(TaskID(1), attempt: 1)
        _ = decisions.finish(TaskID(2), attempt: 1)
        decisions.complete(completion(1))
        guard case .commit(let completions, 0, _, false) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else {
            Issue.record("the last completions are committed without a claim")
            return
        }
        #expect(completions.map(\.id) == [TaskID(1)])
        #expect(decisions.nextStep(claimedNotStarted: 1, claimsAnyJob: true) == .sleep)
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .finish)
    }

    @Test("a failed commit puts its completions back first in line, and its expiry unless draining")
    func failedCommit() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        decisions.complete(completion(1))
        decisions.deadlinePassed()
        guard case .commit(let first, _, _, true) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: false)
        else {
            Issue.record("expected a commit with the expiry")
            return
        }
        decisions.complete(completion(2))
        decisions.commitFailed(first, failingExpired: true)
        guard case .commit(let retried, _, _, true) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: false)
        else {
            Issue.record("expected the retry with the expiry")
            return
        }
        #expect(retried.map(\.id) == [TaskID(1), TaskID(2)])
        decisions.beginShutdown()
        decisions.commitFailed(retried, failingExpired: true)
        guard case .commit(_, _, _, false) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: false) else {
            Issue.record("no expiry while draining")
            return
        }
        decisions.commitFailed(retried, failingExpired: false)
        #expect(decisions.dropCompletions().count == 2)
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: false) == .finish)
    }

    @Test("a task claimed here again while its earlier run still ends: the earlier run is stopped, both endings are kept apart")
    func claimedAgain() {
        var decisions = Decisions(maxConcurrentTasks: 3)
        _ = decisions.start(claimed(1, attempt: 1), handle: "first")
        let again = decisions.start(claimed(1, attempt: 2), handle: "second")
        #expect(again.superseded == "first" && again.stopReason == nil)
        #expect(decisions.freeSlots() == 1)  // both runs hold a slot until they end
        // The earlier run's timeout cannot stop the new run.
        guard case .alreadyStopping = decisions.stop(TaskID(1), attempt: 1, reason: .leaseLost) else {
            Issue.record("the earlier run is stopping already")
            return
        }
        let first = decisions.finish(TaskID(1), attempt: 1)
        #expect(first?.handle == "first" && first?.stopReason == .leaseLost)
        #expect(decisions.running[TaskID(1)]?.handle == "second")
        #expect(decisions.finish(TaskID(1), attempt: 2)?.handle == "second")
        #expect(decisions.freeSlots() == 3)
    }

    @Test("a draining worker does not finish while slots are reserved for tasks being created")
    func finishWaitsForReservations() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 0, claimLimit: 2)
        #expect(decisions.reserve(1) == 1)
        decisions.beginShutdown()
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .sleep)
        decisions.releaseReservation(1)
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .finish)
    }

    @Test("a look for others' work skipped for lack of a slot notes new work once a slot frees")
    func skippedLook() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 0, claimLimit: 1)
        #expect(decisions.reserve(1) == 1)
        let looked = decisions.looksForWork(claimsAnyJob: true)  // another process committed meanwhile
        #expect(!looked)
        decisions.releaseReservation(1)  // the created task was not claimed after all
        #expect(claimLimit(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)) == 1)
        // Without a skipped look, a freed slot claims nothing new.
        var quiet = Decisions(maxConcurrentTasks: 1)
        guard case .commit(_, _, let quietGeneration, _) = quiet.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        quiet.committed(generation: quietGeneration, claimed: 0, claimLimit: 1)
        _ = quiet.reserve(1)
        quiet.releaseReservation(1)
        #expect(quiet.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .sleep)
    }

    @Test("tasks claimed with their creation are known as claimed from the moment their slots are given back until they start")
    func createdAndClaimedAreKnown() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 0, claimLimit: 2)
        #expect(decisions.reserve(2) == 2)
        decisions.releaseReservation(2, claimed: [claimed(7), claimed(8)])
        #expect(decisions.takeStartable().map(\.id) == [TaskID(7), TaskID(8)])
        #expect(decisions.claimedNotStarted == [TaskID(7), TaskID(8)])
        decisions.refused(TaskID(8))
        #expect(decisions.claimedNotStarted == [TaskID(7)])
    }

    @Test("while runs are short, a claim takes tasks ahead of the free slots; they start as slots free, in claim order")
    func claimsAhead() {
        var decisions = Decisions(maxConcurrentTasks: 2)
        // No run has ended yet: nothing is claimed ahead.
        guard case .commit(_, 2, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { Issue.record("expected a claim of the 2 free slots"); return }
        decisions.committed(generation: generation, claimed: 2, claimLimit: 2, claimedIDs: [TaskID(1), TaskID(2)])
        decisions.admit([claimed(1), claimed(2)])
        for task in decisions.takeStartable() { _ = decisions.start(task, handle: "h\(task.id)") }
        #expect(decisions.freeSlots() == 0)
        _ = decisions.finish(TaskID(1), attempt: 1)
        decisions.runEnded(after: .microseconds(100))
        // 2 slots start 100 tasks in 5 ms at this pace; at most four times the slots wait.
        #expect(decisions.claimAheadDepth == 8)
        let step = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        #expect(claimLimit(step) == 9)
        guard case .commit(_, _, let next, _) = step else { return }
        let more = (3...11).map { claimed(Int64($0)) }
        decisions.committed(generation: next, claimed: 9, claimLimit: 9, claimedIDs: more.map(\.id))
        decisions.admit(more)
        #expect(decisions.takeStartable().map(\.id) == [TaskID(3)])
        #expect(decisions.takeStartable().isEmpty)  // task 3 holds its slot while it starts
        #expect(decisions.ready.count == 8 && decisions.freeSlots() == 0)
        #expect(!decisions.awaitsWork)
        _ = decisions.start(claimed(3), handle: "h3")
        _ = decisions.finish(TaskID(2), attempt: 1)
        #expect(decisions.takeStartable().map(\.id) == [TaskID(4)])
        // 7 wait of 8 ahead: the next claim takes one; 1 claimed and not acted on yet: none.
        #expect(decisions.claimRoom(claimedNotStarted: 0) == 1)
        #expect(decisions.claimRoom(claimedNotStarted: 1) == 0)
        // Runs grew long: nothing more is claimed ahead; the waiting tasks keep their place.
        decisions.runEnded(after: .seconds(1))
        #expect(decisions.claimAheadDepth == 0)
        #expect(decisions.ready.map(\.id) == (5...11).map { TaskID(Int64($0)) })
        // A limit of 0 (EngineConfiguration.maxTasksClaimedAhead) claims only for free slots.
        var never = Decisions(maxConcurrentTasks: 2, claimAheadLimit: 0)
        never.runEnded(after: .microseconds(1))
        #expect(never.claimAheadDepth == 0 && never.claimRoom(claimedNotStarted: 0) == 2)
    }

    @Test("a ready task ends cancelled or is forgotten without running; shutdown hands the rest back")
    func readyTasksStopWithoutRunning() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        decisions.runEnded(after: .microseconds(10))
        guard case .commit(_, let limit, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { Issue.record("expected a claim"); return }
        #expect(limit == 5)  // 1 slot and 4 ahead
        let tasks = (1...4).map { claimed(Int64($0)) }
        decisions.committed(generation: generation, claimed: 4, claimLimit: 5, claimedIDs: tasks.map(\.id))
        decisions.admit(tasks)
        let first = decisions.takeStartable()
        #expect(first.map(\.id) == [TaskID(1)])
        _ = decisions.start(first[0], handle: "h1")
        guard case .removedBeforeStart(let cancelled) = decisions.stop(TaskID(2), reason: .cancelRequested("no"))
        else { Issue.record("a cancel takes a ready task out of the line"); return }
        #expect(cancelled.id == TaskID(2))
        // A lost lease of another attempt leaves the ready task; of its own, forgets it.
        guard case .notRunning = decisions.stop(TaskID(3), attempt: 7, reason: .leaseLost) else {
            Issue.record("another attempt's lease is not this run's"); return
        }
        guard case .removedBeforeStart = decisions.stop(TaskID(3), attempt: 1, reason: .leaseLost) else {
            Issue.record("a lost lease forgets the ready task"); return
        }
        // A shutdown stops nothing waiting: it is handed back instead.
        guard case .notRunning = decisions.stop(TaskID(4), reason: .shutdown) else {
            Issue.record("a ready task is not running"); return
        }
        #expect(decisions.takeReadyToHandBack().isEmpty)  // not draining
        decisions.beginShutdown()
        #expect(decisions.takeReadyToHandBack().map(\.id) == [TaskID(4)])
        #expect(decisions.claimedNotStarted.isEmpty)
        _ = decisions.finish(TaskID(1), attempt: 1)
        #expect(decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true) == .finish)
    }

    @Test("a stop for a claimed task not started yet is kept until it starts")
    func earlyStopOfClaimedTask() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        decisions.committed(generation: generation, claimed: 1, claimLimit: 1, claimedIDs: [TaskID(1)])
        decisions.admit([claimed(1)])
        let starting = decisions.takeStartable()
        guard case .notRunning = decisions.stop(TaskID(1), reason: .timedOut(.deadlinePassed, retryable: false)) else {
            Issue.record("task 1 is starting, not running"); return
        }
        decisions.processed(completions: 0, nextCommitRunning: false)
        #expect(decisions.start(starting[0], handle: "h1").stopReason == .timedOut(.deadlinePassed, retryable: false))
    }

    @Test("ready tasks none of which started for the wait limit are handed back, and claiming ahead stops until a run ends")
    func staleReadyTasks() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        decisions.runEnded(after: .microseconds(10))
        _ = decisions.start(claimed(1), handle: "h1")  // holds the one slot
        decisions.admit([claimed(2), claimed(3)], now: 1_000)
        #expect(decisions.takeStaleReady(now: 1_999, wait: 1_000).isEmpty)
        #expect(decisions.takeStaleReady(now: 2_000, wait: 1_000).map(\.id) == [TaskID(2), TaskID(3)])
        #expect(decisions.ready.isEmpty && decisions.claimedNotStarted.isEmpty)
        #expect(decisions.claimAheadDepth == 0)
        // A line that moves is not stale: each start counts.
        decisions.runEnded(after: .microseconds(10))
        _ = decisions.finish(TaskID(1), attempt: 1)
        decisions.admit([claimed(4), claimed(5)], now: 5_000)
        #expect(decisions.takeStartable(now: 5_900).map(\.id) == [TaskID(4)])
        #expect(decisions.takeStaleReady(now: 6_500, wait: 1_000).isEmpty)
        #expect(decisions.takeStaleReady(now: 6_900, wait: 1_000).map(\.id) == [TaskID(5)])
    }

    @Test("a task a cancel request or a lost lease reached while its claim committed does not join the line")
    func stoppedWhileClaimCommitted() {
        var decisions = Decisions(maxConcurrentTasks: 1)
        guard case .commit(_, _, let generation, _) = decisions.nextStep(claimedNotStarted: 0, claimsAnyJob: true)
        else { return }
        guard case .notRunning = decisions.stop(TaskID(1), reason: .cancelRequested("no")) else { return }
        _ = decisions.stop(TaskID(2), reason: .leaseLost)
        _ = decisions.stop(TaskID(3), reason: .timedOut(.deadlinePassed, retryable: false))
        let ids = [TaskID(1), TaskID(2), TaskID(3)]
        decisions.committed(generation: generation, claimed: 3, claimLimit: 3, claimedIDs: ids)
        let stopped = decisions.admit([claimed(1), claimed(2), claimed(3)])
        #expect(stopped.map(\.task.id) == [TaskID(1), TaskID(2)])
        #expect(stopped.map(\.reason) == [.cancelRequested("no"), .leaseLost])
        // A passed deadline stops the task once it starts (its run ends failed, as a run would).
        #expect(decisions.ready.map(\.id) == [TaskID(3)])
        #expect(decisions.claimedNotStarted == [TaskID(3)])
        let starting = decisions.takeStartable()
        #expect(decisions.start(starting[0], handle: "h3").stopReason == .timedOut(.deadlinePassed, retryable: false))
    }
}
