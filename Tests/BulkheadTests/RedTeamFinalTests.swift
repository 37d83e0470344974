@testable import Bulkhead
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, the merged result attacked as a whole: what falls between the pieces.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamFinalTests {
    /// The state of `pid` from /proc/PID/stat ("R", "S", "T", "t"...), nil when it is gone.
    static func state(_ pid: Int32) -> String? {
        guard let s = FileIO.read("/proc/\(pid)/stat"), let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    @Test("A tenant's range cannot overlap a running pod's when the two launches interleave (the check and info.json are not one step)")
    func rangeCheckRacesTheRunningPodsInfo() throws {
        // PodLoader checks a tenant's range against PodRunner.list() (the info.json of running
        // pods), with no lock; the pod's own info.json is written later, in PodRunner.run. Tenant
        // B's launcher, past its check and before its pod directory (held there by strace's
        // SIGSTOP at its first mkdir under /run/bulkhead), lets tenant A's pod start on an
        // overlapping range; then both run: B's ids are A's host ids (B's uid 1 is host uid
        // START, A's root: its processes, volumes, token).
        let start = UInt32(3_700_000_000) + UInt32.random(in: 0..<1000) * 131_072
        let t = token()
        let (na, nb) = ("rfa-\(t)", "rfb-\(t)")
        let dir = NSTemporaryDirectory() + "bh-redfinal-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(RedTeamPodTests.tenant(nb, range: "\(start - 1):65536")
                                               + RedTeamPodTests.pod("b", namespace: nb, "cat /proc/self/uid_map"), into: dir)
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = ["-o", "/dev/null", "-P", "/run/bulkhead", "-e", "trace=mkdir",
                            "-e", "inject=mkdir:signal=SIGSTOP:when=1", "--", Bulkhead.binary, "pod", "run"] + files
        strace.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        strace.standardOutput = out
        strace.standardError = err
        try strace.run()
        defer { if strace.isRunning { kill(strace.processIdentifier, SIGKILL) } }
        // B's launcher, stopped past its admission.
        var launcher: Int32?
        for _ in 0..<300 where launcher == nil {
            let children = FileIO.read("/proc/\(strace.processIdentifier)/task/\(strace.processIdentifier)/children") ?? ""
            if let pid = children.split(separator: " ").first.flatMap({ Int32($0) }),
               let s = Self.state(pid), s == "t" || s == "T" { launcher = pid } else { usleep(50_000) }
        }
        let b = try #require(launcher, "tenant \(nb)'s launcher never reached its pod directory")

        let a = BackgroundRunPod(yaml: RedTeamPodTests.tenant(na, range: "\(start):65536") + RedTeamPodTests.pod("a", namespace: na, "sleep 30"))
        var finished = false
        defer { if !finished { _ = try? PodNetworkTests.stop("a", namespace: na, a) } }
        var running = false
        for _ in 0..<300 where !running {
            running = PodRunner.list().contains { $0.namespace == na && $0.hostIDRange?.hostStart == start }
            if !running { usleep(50_000) }
        }
        #expect(running, "tenant \(na)'s pod never ran")

        kill(b, SIGCONT)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        strace.waitUntilExit()
        let (stdout, stderr) = (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        let overlaps = stdout.split(separator: "\n").contains { line in
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            return f.count == 3 && f[1] < UInt64(start) + 65536 && UInt64(start) < f[1] + f[2]
        }
        #expect(!overlaps, "tenant \(nb)'s pod ran on host ids of tenant \(na)'s running pod (\(start):65536): \(stdout) \(stderr.suffix(300))")
        #expect(overlaps || stderr.contains("hostIDRange") || stderr.contains("\(start)"), "\(stderr.suffix(400))")
        _ = try PodNetworkTests.stop("a", namespace: na, a)
        finished = true
    }
}
