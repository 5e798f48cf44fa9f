import Synchronization

/// The jobs registered on an engine, by stored name.
final class JobRegistry: Sendable {
    private struct State {
        var runners: [String: JobRunner] = [:]
        var names: [String] = []
    }

    private let state = Mutex(State())

    /// Registers (or replaces) a job under `J.name`.
    func register<J: Job>(_ job: J) {
        let runner = JobRunner(job)
        state.withLock { state in
            state.runners[J.name] = runner
            state.names = state.runners.keys.sorted()
        }
    }

    func runner(named name: String) -> JobRunner? {
        state.withLock { $0.runners[name] }
    }

    /// The registered names, sorted.
    var names: [String] { state.withLock { $0.names } }
}

/// A registered job with its types erased: JSON in, JSON out.
struct JobRunner: Sendable {
    /// How one run of a job ended, before the worker decides what to store.
    enum Ending: Sendable {
        case returned(json: String)
        case threw(any Error)
        /// Input or output did not (de)code; always a failure, never retried.
        case codingFailed(StoredError)
    }

    let run: @Sendable (_ task: ClaimedTask, _ context: TaskContext) async -> Ending

    init<J: Job>(_ job: J) {
        run = { task, context in
            let input: J.Input
            do {
                input = try StoredJSON.decode(J.Input.self, from: task.input)
            } catch {
                return .codingFailed(
                    StoredError(
                        kind: .undecodableInput, type: String(reflecting: type(of: error)),
                        message: "task \(task.id) (\(task.name)) of job \(J.name): the stored input does not decode "
                            + "as \(String(reflecting: J.Input.self)): \(error)"))
            }
            let output: J.Output
            do {
                output = try await TaskContext.$current.withValue(context) {
                    try await job.run(input, context: context)
                }
            } catch {
                return .threw(error)
            }
            // A run that took another path through its steps than the stored one
            // must not store its result as a success.
            if let divergence = context.journal.divergence() {
                return .threw(divergence)
            }
            do {
                return .returned(json: try StoredJSON.encode(output))
            } catch {
                return .codingFailed(
                    StoredError(
                        kind: .unencodableOutput, type: String(reflecting: type(of: error)),
                        message: "task \(task.id) (\(task.name)) of job \(J.name): the output cannot be encoded "
                            + "as JSON: \(error)"))
            }
        }
    }
}
