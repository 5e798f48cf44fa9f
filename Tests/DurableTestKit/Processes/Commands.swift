import Foundation

/// Runs a short command (`chattr`, `mkfs`) to its end, blocking this thread;
/// returns its exit status and its output (stdout and stderr).
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
    do {
        let finished = try SpawnedProcess.runBlocking(executable, arguments)
        return (finished.status, finished.standardOutput)
    } catch {
        return (-1, "cannot run \(executable): \(error)")
    }
}

/// The first of `candidates` that is an executable file.
public func findExecutable(_ candidates: [String]) -> String? {
    candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Sets or clears the immutable attribute with `chattr` (which stops root too,
/// unlike permission bits).
@discardableResult
public func setImmutable(_ on: Bool, _ paths: [String]) -> (ok: Bool, output: String) {
    guard let chattr = findExecutable(["/usr/bin/chattr", "/bin/chattr", "/sbin/chattr"]) else {
        return (false, "chattr not found")
    }
    let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
    guard !existing.isEmpty else { return (true, "") }
    let result = runCommand(chattr, [on ? "+i" : "-i"] + existing)
    return (result.status == 0, result.output)
}
