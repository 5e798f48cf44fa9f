import Foundation

/// Runs a command to its end; returns its exit status and its output (stdout and stderr).
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
    do {
        let finished = try SpawnedProcess.run(executable, arguments)
        return (finished.status, finished.standardOutput)
    } catch {
        return (-1, "cannot run \(executable): \(error)")
    }
}

/// The first of `candidates` that is an executable file.
public func findExecutable(_ candidates: [String]) -> String? {
    candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}
