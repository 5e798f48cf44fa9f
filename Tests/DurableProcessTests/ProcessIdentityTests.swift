import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Dead-owner detection of a real child process: what lets a restarted process
/// take over at once.
@Suite("Process identity")
struct ProcessIdentityTests {
    private let me = ProcessIdentity.current

    private func worker(host: String? = nil, bootID: String? = nil, pid: Int32, start: String) -> WorkerInfo {
        WorkerInfo(
            id: "w", host: host ?? me.host, bootID: bootID ?? me.bootID, pid: pid, processStart: start,
            concurrency: 1, jobs: [])
    }

    @Test("a killed process not yet reaped (a zombie) is dead")
    func zombie() throws {
        var pid: pid_t = 0
        let arguments = ["/bin/sleep", "60"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, "/bin/sleep", nil, nil, &argv, environ)
        try #require(spawned == 0)
        guard case .running(let start?) = ProcessIdentity.liveness(of: pid) else {
            Issue.record("a running child must be seen running with a start time")
            return
        }
        #expect(!me.provesDead(worker(pid: pid, start: start)))
        kill(pid, SIGKILL)
        // Wait until the kernel shows it as a zombie, without reaping it.
        var waited = 0
        while ProcessIdentity.liveness(of: pid) != .gone, waited < 5000 {
            usleep(1000)
            waited += 1
        }
        #expect(me.provesDead(worker(pid: pid, start: start)))
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
