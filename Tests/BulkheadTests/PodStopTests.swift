import Bulkhead
import Foundation
import Glibc
import Testing

/// `pod stop` signals the launcher the pod's directory names (pid and start time, through a
/// pidfd), never a pid read elsewhere. Global state (/run/bulkhead/pods): run under
/// /tmp/bh-podtests.lock like the other pod suites.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct PodStopTests {
    static func sleeper() throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["60"]
        try p.run()
        return p
    }

    /// A pod directory names launcher A while its info.json names B (a pid the file holds, the
    /// way a pid file goes stale): `pod stop` ends A and leaves B alone.
    @Test func stopSignalsOnlyTheLauncherTheDirectoryNames() throws {
        let a = try Self.sleeper(), b = try Self.sleeper()
        defer {
            for p in [a, b] where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            a.waitUntilExit(); b.waitUntilExit()
        }
        let start = try #require(CgroupStart.of(a.processIdentifier))
        let pod = "stop-\(token())"
        mkdir("/run/bulkhead", 0o711)
        mkdir(PodRunner.stateRoot, 0o711)
        let dir = "\(PodRunner.stateRoot)/review_\(pod)_\(a.processIdentifier)-\(start)"
        try #require(mkdir(dir, 0o700) == 0)
        defer { unlink(dir + "/info.json"); rmdir(dir) }
        let info = #"{"pod":"\#(pod)","namespace":"review","launcherPID":\#(b.processIdentifier),"containers":[],"started":0}"#
        #expect(FileManager.default.createFile(atPath: dir + "/info.json", contents: Data(info.utf8)))
        let listed = PodRunner.list().filter { $0.pod == pod }
        #expect(listed.count == 1 && listed.first?.launcherPID == a.processIdentifier && listed.first?.launcherStartTime == start, "\(listed)")
        let r = try Bulkhead.run(["pod", "stop", pod, "-n", "review", "--grace", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        a.waitUntilExit()
        // SIGTERM, or SIGKILL after the grace (a child of the test runner may start with SIGTERM blocked).
        #expect(a.terminationReason == .uncaughtSignal && [SIGTERM, SIGKILL].contains(a.terminationStatus), "\(a.terminationStatus)")
        #expect(b.isRunning, "the pid info.json named was signalled")
    }
}
