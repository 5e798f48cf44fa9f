import ArgumentParser
import Durable
import Foundation

/// How the commands that act on one task (`show`, `cancel`, `retry`) name it:
/// its id (`42`), or a line of a `durable run` batch (`jobs.txt:12`: the task of
/// line 12 of that file, as the line was numbered when its task was created).
enum TaskReference: ExpressibleByArgument, CustomStringConvertible, Sendable {
    case id(Int64)
    case line(file: String, number: Int)

    init?(argument: String) {
        if let id = Int64(argument) {
            self = .id(id)
            return
        }
        guard let colon = argument.lastIndex(of: ":"), let number = Int(argument[argument.index(after: colon)...]),
            number > 0, colon > argument.startIndex
        else { return nil }
        self = .line(file: String(argument[..<colon]), number: number)
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String {
        switch self {
        case .id(let id): "\(id)"
        case .line(let file, let number): "\(file):\(number)"
        }
    }

    /// The task meant, in `engine`'s database (`database`: how the batch of a
    /// `FILE:LINE` is named there, and what errors call it).
    func resolve(in engine: TaskEngine, database: DatabaseOption) async throws -> TaskID {
        switch self {
        case .id(let id):
            return TaskID(id)
        case .line(let file, let number):
            let queue = RunBatch.queue(of: try RunBatch.identity(ofFile: file, on: database))
            let matches = try await engine.tasks(
                matching: TaskQuery(nameGlob: "line \(number): *", job: ShellCommand.name, queue: queue, limit: 1))
            guard let task = matches.first else {
                throw CommandError(
                    "no task of line \(number) of \(file) in \(database.location) (durable run \(file) creates them)")
            }
            return task.id
        }
    }
}
