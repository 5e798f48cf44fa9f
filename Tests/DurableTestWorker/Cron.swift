import ArgumentParser
import Durable
import Foundation

/// `cron`: reads lines `EXPRESSION<TAB>TIME ZONE<TAB>UNIX SECONDS<TAB>COUNT`
/// from standard input and answers each with one line: the next COUNT ticks
/// after that instant as Unix seconds (space-separated; fewer when the
/// expression stops matching), or `error POSITION MESSAGE`. The cron check
/// (scripts/cron-check) compares the answers with croniter's.
struct Cron: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Answer cron next-tick questions from standard input.")

    func run() throws {
        while let line = readLine() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 4, let zone = TimeZone(identifier: String(fields[1])),
                let seconds = Double(fields[2]), let count = Int(fields[3])
            else {
                print("error 0 a line must be EXPRESSION, TIME ZONE, UNIX SECONDS and COUNT, tab-separated")
                continue
            }
            do {
                let expression = try CronExpression(String(fields[0]))
                var after = Date(timeIntervalSince1970: seconds)
                var ticks: [String] = []
                for _ in 0..<count {
                    guard let tick = expression.nextTick(after: after, in: zone) else { break }
                    ticks.append(String(Int64(tick.timeIntervalSince1970)))
                    after = tick
                }
                print(ticks.joined(separator: " "))
            } catch {
                print("error \(error.position) \(error.message)")
            }
        }
    }
}
