@testable import DurableEngine
import Testing

/// The transition rules every store follows, decided once (``TransitionRules``);
/// the store conformance suite checks that each store applies them.
@Suite("Transition rules")
struct TransitionRulesTests {
    private func completion(_ ending: TaskCompletion.Ending) -> TaskCompletion {
        TaskCompletion(id: TaskID(7), owner: "w", attempt: 2, startedAt: 100, ending: ending)
    }

    private let failure = StoredError(kind: .failed, type: "T", message: "boom")

    @Test("a completion ends its task or hands it back, with the attempt row's outcome")
    func storing() {
        guard case .end(let succeeded) = TransitionRules.storing(completion(.succeeded(result: "1"))) else {
            Issue.record("a success must end its task")
            return
        }
        #expect(succeeded.status == .succeeded && succeeded.result == "1" && succeeded.attempt == 2)
        guard case .end(let failed) = TransitionRules.storing(completion(.failed(failure))) else {
            Issue.record("a failure must end its task")
            return
        }
        #expect(failed.status == .failed && failed.error == failure)
        guard case .requeue(let runAt, let outcome, _) = TransitionRules.storing(completion(.retry(failure, runAt: 9)))
        else {
            Issue.record("a retry must hand its task back")
            return
        }
        #expect(runAt == 9 && outcome == .failed)
        guard case .requeue(nil, .interrupted, _) = TransitionRules.storing(completion(.released(failure))) else {
            Issue.record("a released run must hand its task back at once, interrupted")
            return
        }
        guard case .requeue(5, .suspended, nil) = TransitionRules.storing(completion(.suspended(runAt: 5))) else {
            Issue.record("a suspension must hand its task back until it wakes")
            return
        }
    }

    @Test("a cancel request beats a requeue")
    func cancelBeatsRequeue() {
        #expect(TransitionRules.endingInsteadOfRequeue(cancelRequested: false, message: "x") == nil)
        let error = TransitionRules.endingInsteadOfRequeue(cancelRequested: true, message: "enough")
        #expect(error?.kind == .cancelled && error?.message == "enough")
    }

    @Test("finishing creates callback tasks, and a failure shuts the task's group down")
    func consequences() {
        let group = GroupID(rawValue: 3)
        #expect(TransitionRules.consequences(ofFinishing: TaskID(1), status: .succeeded, groupID: group, hasCallbacks: false).isEmpty)
        #expect(
            TransitionRules.consequences(ofFinishing: TaskID(1), status: .cancelled, groupID: group, hasCallbacks: true)
                == [.createCallbackTasks])
        #expect(
            TransitionRules.consequences(ofFinishing: TaskID(4), status: .failed, groupID: group, hasCallbacks: true)
                == [.createCallbackTasks, .shutDownGroup(group, message: "task group 3 is shutting down: task 4 failed")])
        #expect(TransitionRules.consequences(ofFinishing: TaskID(4), status: .failed, groupID: nil, hasCallbacks: false).isEmpty)
    }

    @Test("a cancel request finishes a pending task, asks a running one's owner, and leaves a finished one")
    func cancelDecision() {
        #expect(TransitionRules.cancelDecision(for: .pending, message: "m") == .cancelNow(.cancellation("m")))
        #expect(TransitionRules.cancelDecision(for: .running, message: "m") == .requestFromOwner)
        for status in [TaskStatus.succeeded, .failed, .cancelled] {
            #expect(TransitionRules.cancelDecision(for: status, message: nil) == .alreadyFinished)
        }
        #expect(TransitionRules.childCancelMessage(parent: TaskID(2), message: nil) == "parent task 2 was cancelled")
        #expect(TransitionRules.childCancelMessage(parent: TaskID(2), message: "x") == "parent task 2 was cancelled: x")
    }

    @Test("default names, callback tasks and abandonment errors")
    func namesAndTasks() {
        #expect(TransitionRules.defaultTaskName(id: 12) == "Task-12")
        #expect(TransitionRules.defaultGroupName(id: 5) == "TaskGroup-5")
        let callback = TransitionRules.callbackTask(job: "notify", input: "1", context: "{}", of: TaskID(8), now: 50)
        #expect(callback.callbackOf == TaskID(8) && callback.runAt == 50 && callback.context == "{}")
        #expect(callback.name == nil && callback.key == nil && callback.groupID == nil && callback.parentID == nil)
        #expect(TransitionRules.abandonment(owner: "w1", leaseExpired: true).message == "the lease of worker w1 expired")
        #expect(TransitionRules.abandonment(owner: "w1", leaseExpired: false).kind == .interrupted)
    }
}
