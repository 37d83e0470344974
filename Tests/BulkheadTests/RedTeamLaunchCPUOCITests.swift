import Foundation
import Testing
@testable import Bulkhead
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// Red team of launch-cpu (session 10): `bulkhead-runc`'s own reader of /proc/PID/stat
/// (`OCIRuntime.processStart`, behind `state`, `kill`, `delete`, `start`) against a command name
/// the container's init chose. It searched the last Character ")": a name ending in a grapheme
/// Prepend (U+0600) joins the kernel's ')' into one Character, the search lands inside the name
/// and every field shifts, so a running container read as "stopped": `kill` refused it as not
/// running (ESRCH), `state` said pid 0, `delete` took it as stopped.
@Suite("red team: launch-cpu, the OCI runtime's stat reader")
struct RedTeamLaunchCPUOCITests {
    @Test(arguments: [Array("x) Z\u{600}".utf8), Array("a) R 1 2\u{600}".utf8), Array("x) X\u{110BD}".utf8)])
    func hostileCommandNameOfTheInit(name: [UInt8]) throws {
        var template = Array("/tmp/bh-rt-oci-comm-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } })
        let linkC = (Array(dir.utf8) + [0x2F] + name).map { CChar(bitPattern: $0) } + [0]
        defer { _ = unlink(linkC); _ = rmdir(dir) }
        try #require(symlink("/bin/sleep", linkC) == 0, "symlink: errno \(errno)")
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("30"), nil]
        defer { for a in argv { free(a) } }
        try #require(posix_spawn(&pid, linkC, nil, nil, argv, environ) == 0)
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); var s: Int32 = 0; _ = waitpid(pid, &s, 0) } }
        // Wait for the exec: /proc/PID/stat then shows the hostile name (unescaped).
        let want = Array("\(pid) (".utf8) + name.prefix(15) + Array(") ".utf8)
        var text = ""
        for _ in 0..<2000 {
            text = FileIO.read("/proc/\(pid)/stat") ?? ""
            if Array(text.utf8).starts(with: want) { break }
            usleep(1000)
        }
        try #require(Array(text.utf8).starts(with: want))
        let start = try #require(ProcStat.startTime(fromStat: text))
        let live = OCIRuntime.processStart(pid)
        #expect(live?.start == start && live.map { "RSD".contains($0.state) } == true, "\(String(describing: live)) for \(text.debugDescription)")
        kill(pid, SIGKILL)
        var info = siginfo_t()
        try #require(waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == 0)
        let dead = OCIRuntime.processStart(pid)
        #expect(dead?.start == start && dead?.state == "Z", "\(String(describing: dead))")
        var s: Int32 = 0
        _ = waitpid(pid, &s, 0)
        reaped = true
    }

    /// End to end: the workload (the container's init after `start`) names itself `x) Z<U+0600>`
    /// through /proc/self/comm and keeps running. `state` must say running and `kill` must
    /// reach it; before the fix `state` said stopped and `kill` refused it (ESRCH).
    @Test func hostileInitIsRunningAndKillable() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "printf 'x) Z\\330\\200' > /proc/self/comm && touch /out/named; while :; do sleep 1; done"])
        #expect(try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot).status == 0)
        #expect(try OCIRuntimeTests.rt(["start", b.id], root: b.stateRoot).status == 0)
        for _ in 0..<300 where !FileManager.default.fileExists(atPath: b.out + "/named") { usleep(10_000) }
        try #require(FileManager.default.fileExists(atPath: b.out + "/named"), "the workload did not rename itself")
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String == "running")
        let k = try OCIRuntimeTests.rt(["kill", b.id, "KILL"], root: b.stateRoot)
        #expect(k.status == 0, "kill: \(k.stderr)")
        for _ in 0..<300 where try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
        #expect(try OCIRuntimeTests.rt(["delete", b.id], root: b.stateRoot).status == 0)
    }
}
