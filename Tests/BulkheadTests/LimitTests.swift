import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// cgroup limits through `bulkhead run`, on this host's driver (v1 on hybrid hosts; the v2
/// driver runs in the virtual-machine lane). Assertions are on the cgroup's own counters.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct LimitTests {
    /// The run's `--report`, decoded as the typed `RunReport`: a renamed or retyped field fails
    /// the decoding instead of reading as absent.
    static func report(_ r: Bulkhead.Result) throws -> RunReport {
        let data = try #require(r.reportData, "the run wrote no report: \(r.stderr)")
        return try JSONDecoder().decode(RunReport.self, from: data)
    }

    /// The report's cgroup stats; a run under a limit must have them.
    static func stats(_ rep: RunReport) throws -> CgroupStats {
        try #require(rep.cgroup?.stats, "the report has no cgroup stats: \(String(describing: rep.cgroup))")
    }

    /// The report's cgroup directories; a run under a limit must have at least one, so that
    /// "all removed" cannot pass on an empty list.
    static func directories(_ rep: RunReport) throws -> [String] {
        let dirs = rep.cgroup?.directories ?? []
        try #require(!dirs.isEmpty, "the report names no cgroup directory: \(String(describing: rep.cgroup))")
        return dirs
    }

    /// Checks that `limit` is reported enforced with `value` (in the driver's unit) through a
    /// file inside one of the run's cgroup directories, and that no limit went unenforced.
    static func expectEnforced(_ rep: RunReport, _ limit: String, _ value: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let limits = try #require(rep.limits, "the report has no limits", sourceLocation: sourceLocation)
        #expect(limits.notEnforced.isEmpty, "\(limits.notEnforced)", sourceLocation: sourceLocation)
        let entries = limits.enforced.filter { $0.limit.rawValue == limit }
        #expect(entries.contains { $0.value == value }, "\(limit) = \(value) enforced: \(limits.enforced)", sourceLocation: sourceLocation)
        let dirs = try directories(rep)
        #expect(!entries.isEmpty && entries.allSatisfy { e in dirs.contains { e.file.hasPrefix($0 + "/") } },
                "\(limit) is written in the run's own cgroup: \(entries) in \(dirs)", sourceLocation: sourceLocation)
    }

    @Test("memory: a workload past memory.max is OOM-killed alone; the peak is the limit; a neighbour keeps running")
    func memoryLimit() throws {
        let neighbour = try BackgroundRun(["run", "--memory", "64Mi", "--", "/bin/sh", "-c", "sleep 1.5; echo alive"])
        let r = try Bulkhead.run(["run", "--memory", "32Mi", "--", "python3", "-c", "x = bytearray(256 << 20)"], report: true)
        #expect(r.status == 137, "SIGKILL from the OOM killer: \(r.stderr)")
        let rep = try Self.report(r)
        #expect(rep.reason == .oomKilled)
        try Self.expectEnforced(rep, "memory.max", String(32 << 20))
        let s = try Self.stats(rep)
        #expect((s.oomKills ?? 0) > 0)
        let peak = Double(s.memoryPeakBytes ?? 0)
        #expect(abs(peak - Double(32 << 20)) <= 0.05 * Double(32 << 20), "peak \(peak) within 5% of 32Mi")
        let n = try neighbour.finish()
        #expect(n.status == 0 && n.stdout.contains("alive"), "the neighbour is untouched: \(n.stdout) \(n.stderr)")
        #expect(try Self.directories(rep).allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "cgroup removed")
    }

    @Test("cpu: a busy loop under cpus 0.5 gets 45-55% of a core (cpu.stat), and is throttled")
    func cpuLimit() throws {
        let spin = "import time\nend = time.monotonic() + 2.5\nwhile time.monotonic() < end: pass"
        let r = try Bulkhead.run(["run", "--cpus", "0.5", "--", "python3", "-c", spin], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try Self.report(r)
        try Self.expectEnforced(rep, "cpu.max", "50000")
        let s = try Self.stats(rep)
        let usage = Double(s.cpuUsageMicros ?? 0)
        let periods = Double(s.cpuPeriods ?? 0)
        // Each enforcement period is 100 ms of a runnable cgroup: usage per period is the share.
        let share = usage / (periods * 100_000)
        #expect(periods >= 15, "periods \(periods)")
        #expect(share >= 0.45 && share <= 0.55, "share of one core: \(share) (usage \(usage) us over \(periods) periods)")
        #expect((s.cpuThrottledPeriods ?? 0) > 0)
    }

    @Test("pids: a fork bomb stops at pids.max with EAGAIN; a neighbour still forks")
    func pidsLimit() throws {
        let bomb = """
            import os, errno, time
            n = 0
            while True:
                try:
                    if os.fork() == 0:
                        time.sleep(5); os._exit(0)
                    n += 1
                except OSError as e:
                    print("EAGAIN" if e.errno == errno.EAGAIN else e, "after", n); break
            """
        let neighbour = try BackgroundRun(["run", "--", "/bin/sh", "-c", "sleep 0.5; for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true & done; wait; echo forked"])
        let r = try Bulkhead.run(["run", "--pids", "32", "--timeout", "4s", "--", "python3", "-c", bomb], report: true)
        #expect(r.stdout.contains("EAGAIN after"), "\(r.stdout) \(r.stderr)")
        let forks = Int(r.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        #expect(forks >= 25 && forks <= 31, "stopped at the limit (32 minus init and workload): \(forks)")
        let rep = try Self.report(r)
        try Self.expectEnforced(rep, "pids.max", "32")
        #expect((try Self.stats(rep).pidsMaxHits ?? 0) > 0)
        // The bomb filled the cgroup: its peak (pids.peak) is the limit.
        #expect(try Self.stats(rep).pidsPeak == 32)
        #expect(rep.reason == .pidsLimit)
        let n = try neighbour.finish()
        #expect(n.stdout.contains("forked"), "\(n.stdout) \(n.stderr)")
    }

    @Test("pids: the report's pidsPeak is the kernel's pids.peak: a shell with N children at once peaks at N+1 or more")
    func pidsPeak() throws {
        let children = 8
        let r = try Bulkhead.run(["run", "--pids", "64", "--", "/bin/sh", "-c",
                                  "for i in $(seq \(children)); do sleep 1 & done; wait; echo done"], report: true)
        #expect(r.status == 0 && r.stdout.contains("done"), "\(r.stdout) \(r.stderr)")
        let stats = try Self.stats(try Self.report(r))
        let peak = try #require(stats.pidsPeak, "no pidsPeak: pids.peak is Linux 6.1+ (v1 and v2), this is \(Self.kernelRelease)")
        #expect(peak >= UInt64(children) + 1, "the shell and its \(children) sleeps were in the cgroup at once: peak \(peak)")
        #expect(peak < 64 && stats.pidsMaxHits == 0, "below the limit: peak \(peak), hits \(String(describing: stats.pidsMaxHits))")
    }

    static var kernelRelease: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @Test("No leftovers: after an exit and after a timeout the cgroup is gone; after a SIGKILLed launcher, gc removes it")
    func noLeftovers() throws {
        let a = try Bulkhead.run(["run", "--pids", "16", "--", "true"], report: true)
        let aDirs = try Self.directories(Self.report(a))
        #expect(aDirs.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "\(aDirs)")
        let t = try Bulkhead.run(["run", "--pids", "16", "--timeout", "300ms", "--", "sleep", "10"], report: true)
        #expect(t.status == 124)
        let tDirs = try Self.directories(Self.report(t))
        #expect(tDirs.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "\(tDirs)")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        p.arguments = ["run", "--pids", "16", "--", "/bin/sh", "-c", "echo ready; sleep 100"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        #expect(out.fileHandleForReading.availableLine() == "ready")
        let leaf = "c-\(p.processIdentifier)-"
        // Every hierarchy a launch uses, from the first run's report (not one fixed v1 path).
        let parents = Set(aDirs.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }).sorted()
        let present = { parents.filter { FileIO.listDirectory($0).contains { $0.hasPrefix(leaf) } } }
        #expect(present() == parents, "the live sandbox has its cgroup in every hierarchy")
        // gc never touches a live launcher's cgroup.
        _ = try Bulkhead.run(["gc"])
        #expect(present() == parents, "gc left the live sandbox alone")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let g = try Bulkhead.run(["gc"])
        #expect(g.status == 0, "\(g.stderr)")
        #expect(present().isEmpty, "gc removed the dead launcher's cgroup everywhere: \(present()) \(g.stdout)")
    }

    @Test("Rootless with a delegated cgroup subtree: the limits are enforced")
    func rootlessDelegated() throws {
        // Delegation as systemd's Delegate=yes does it: a subtree in each hierarchy owned by the
        // user, and the user's processes inside it.
        let name = "bh-deleg-\(token())"
        var dirs: [String] = []
        for line in (FileIO.read("/proc/self/cgroup") ?? "").split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let ctrl = f[1].isEmpty ? "unified" : String(f[1])
            guard ["unified", "cpu", "cpuacct", "memory", "pids"].contains(ctrl) else { continue }
            let base = "/sys/fs/cgroup/\(ctrl)" + (f[2] == "/" ? "" : String(f[2]))
            dirs.append("\(base)/\(name)")
        }
        try #require(dirs.count == 5, "hybrid host layout: \(dirs)")
        // Removed on every path, a failed mkdir or expectation included: the launch keeps its
        // shared ancestors (`bulkhead/default/default`) in the delegated subtree, so a plain
        // rmdir of the subtree failed with EBUSY and left it behind on every run. Depth first;
        // whatever is still in it (nothing, normally) is killed first.
        defer { for d in dirs { removeCgroupTree(d) } }
        for d in dirs {
            try #require(mkdir(d, 0o755) == 0, "mkdir \(d): \(errno)")
            for entry in ["", "/cgroup.procs", "/tasks", "/cgroup.subtree_control"] where FileManager.default.fileExists(atPath: d + entry) {
                chown(d + entry, 65534, 65534)
            }
        }
        let join = dirs.map { "echo $$ > \($0)/cgroup.procs" }.joined(separator: "; ")
        let r = try Bulkhead.sh("python3 -c 'x = bytearray(128 << 20)'", ["--memory", "48Mi"], report: true,
                                prefix: ["/bin/sh", "-c", "\(join); exec /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups \"$0\" \"$@\""])
        #expect(r.controls?.uidMap == "0 65534 1", "ran unprivileged: \(String(describing: r.controls?.uidMap))")
        let rep = try Self.report(r)
        #expect(rep.reason == .oomKilled, "\(r.stderr)")
        try Self.expectEnforced(rep, "memory.max", String(48 << 20))
        let cgroupDirs = try Self.directories(rep)
        #expect(cgroupDirs.allSatisfy { $0.contains(name) }, "inside the delegated subtree: \(cgroupDirs)")
    }
}

/// A `bulkhead` run in the background, for neighbours.
final class BackgroundRun {
    let process = Process()
    let out = Pipe(), err = Pipe()

    init(_ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        process.arguments = args
        process.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    func finish() throws -> Bulkhead.Result {
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Bulkhead.Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                               stderr: String(decoding: e, as: UTF8.self), report: nil)
    }
}
