import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Dead-owner detection: what lets a restarted process take over at once.
@Suite("Process identity")
struct ProcessIdentityTests {
    private let me = ProcessIdentity.current

    private func worker(host: String? = nil, bootID: String? = nil, pid: Int32, start: String) -> WorkerInfo {
        WorkerInfo(
            id: "w", host: host ?? me.host, bootID: bootID ?? me.bootID, pid: pid, processStart: start,
            concurrency: 1, jobs: [])
    }

    @Test("this process is alive")
    func selfIsAlive() {
        #expect(!me.provesDead(worker(pid: me.pid, start: me.processStart)))
    }

    @Test("a pid with no process is dead; a reused pid (another start time) is dead")
    func goneOrReused() {
        #expect(me.provesDead(worker(pid: Int32.max - 7, start: "1")))
        #expect(me.provesDead(worker(pid: me.pid, start: "not-my-start-time")))
    }

    @Test("a worker of another host, or of another pid namespace, is never provably dead")
    func otherHostOrNamespace() {
        #expect(!me.provesDead(worker(host: "elsewhere", pid: Int32.max - 7, start: "1")))
        let boot = me.bootID.split(separator: "/").first.map(String.init) ?? ""
        #expect(!me.provesDead(worker(bootID: "\(boot)/pid:[1]", pid: Int32.max - 7, start: "1")))
    }

    @Test("after a reboot of this host, its old workers are dead")
    func rebooted() {
        #expect(me.provesDead(worker(bootID: "another-boot/pid:[1]", pid: me.pid, start: me.processStart)))
    }
}
