import Testing
import BulkheadModel
@testable import BulkheadSystem
import CShimsTesting
#if canImport(Glibc)
import Glibc
#endif

/// The cgroup drivers against the real kernel. Serialized: they measure CPU time and
/// memory on a shared 2-core machine. Every test kills its processes and removes its
/// cgroups on every path.
@Suite("cgroup drivers (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct CgroupKernelTests {
    @Test func detectThisHost() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        // Every usable hierarchy has its bulkhead base below the caller's own cgroup (v1)
        // or at the cgroup2 root; the gate's controllers each have one, on v1, hybrid or v2.
        #expect(!host.targets.isEmpty, "no hierarchy for sandboxes")
        for c in ["memory", "cpu", "pids"] {
            #expect(host.v1Target(for: c) != nil || host.unifiedTarget?.controllers.contains(c) == true, "no hierarchy carries \(c)")
        }
        if host.mode != .legacy {
            let unified = try #require(host.unifiedTarget, "cgroup2 is mounted but has no target")
            #expect(unified.mountPoint == host.unifiedMountPoint)
            // Root hangs the v2 subtree from the top of the tree.
            #expect(unified.baseDirectory == unified.mountPoint + "/bulkhead", "\(unified.baseDirectory)")
        }
        for t in host.targets {
            #expect(t.baseDirectory.hasPrefix(t.mountPoint))
            #expect(t.baseDirectory.hasSuffix("/bulkhead"))
        }
        if host.mode == .hybrid {
            #expect(host.unifiedMountPoint != nil)
            #expect(host.v1MountPoints["memory"] != nil)
            let memory = try #require(host.v1Target(for: "memory"))
            let own = try #require(host.ownCgroups["memory"])
            #expect(memory.baseDirectory == memory.mountPoint + (own == "/" ? "" : own) + "/bulkhead")
        }
    }

    @Test func lifecycleLimitsAttachStatsKillRemove() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let limits = CgroupLimits(cpuQuotaMicros: 50_000, cpuPeriodMicros: 100_000, cpuWeight: 100,
                                  memoryMax: 256 << 20, pidsMax: 64)
        let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "life", sequence: 1), limits: limits, bestEffort: false)
        var child: pid_t = 0
        defer {
            cg.killAll()
            if child > 0 { var s: Int32 = 0; _ = waitpid(child, &s, 0) }
            try? cg.remove()
        }
        #expect(cg.notEnforced.isEmpty)
        #expect(Set(cg.enforced.map(\.limit)) == [.cpuMax, .cpuWeight, .memoryMax, .pidsMax])

        // Each enforced limit's file holds the value that was written.
        for e in cg.enforced {
            let onDisk = try #require(readTrimmed(e.file), "cannot read \(e.file)")
            #expect(onDisk == e.value, "\(e.file)")
        }
        if cg.enforced.contains(where: { $0.driver == .v1 }) {
            let memory = try #require(cg.enforced.first { $0.limit == .memoryMax })
            #expect(memory.file.hasSuffix("/memory.limit_in_bytes") && readTrimmed(memory.file) == "268435456")
            let quota = try #require(cg.enforced.first { $0.file.hasSuffix("cpu.cfs_quota_us") })
            #expect(readTrimmed(quota.file) == "50000")
            #expect(cg.enforced.contains { $0.file.hasSuffix("cpu.cfs_period_us") && readTrimmed($0.file) == "100000" })
            #expect(cg.enforced.contains { $0.file.hasSuffix("cpu.shares") && readTrimmed($0.file) == "1024" })
        } else {
            #expect(cg.enforced.contains { $0.file.hasSuffix("/cpu.max") && readTrimmed($0.file) == "50000 100000" })
        }

        // The child is born in the cgroup2 leaf (clone3 CLONE_INTO_CGROUP), then attached
        // to the v1 hierarchies before it could do anything of note.
        let fd = try #require(cg.cloneIntoFD, "no cgroup2 leaf on this host")
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { for p in argv { free(p) } }
        let rc = bh_testing_clone3_exec_into_cgroup(fd, "/bin/sleep", &argv, &child)
        try #require(rc == 0, "clone3(CLONE_INTO_CGROUP): errno \(rc)")
        try cg.attach(pid: child)

        let procCgroup = try #require(readTrimmedAll("/proc/\(child)/cgroup"))
        let entries = ProcCgroupEntry.parse(procCgroup)
        let suffix = "/bulkhead/" + cg.path.joined(separator: "/")
        #expect(entries.first(where: \.isUnified)?.path.hasSuffix(suffix) == true, "\(procCgroup)")
        if host.mode != .unified {
            for c in ["memory", "cpu", "pids"] {
                #expect(entries.first { $0.controllers.contains(c) }?.path.hasSuffix(suffix) == true, "\(c): \(procCgroup)")
            }
        }
        #expect(cg.memberPIDs() == [child])

        let stats = cg.stats()
        // pids.peak (Linux 6.1+, v1 and v2): the one child, the only task the leaf ever held.
        #expect(stats.pidsPeak == 1)
        #expect(stats.memoryPeakBytes != nil)
        #expect(stats.cpuUsageMicros != nil)
        #expect(stats.oomKills == 0)
        #expect(stats.pidsMaxHits == 0)

        #expect(cg.killAll())
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        child = 0
        #expect(termSignal(status) == SIGKILL)
        try cg.remove()
        for dir in cg.directories { #expect(access(dir, F_OK) != 0, "left: \(dir)") }
        expectNothingLeft(host)
    }

    @Test func memoryLimitOOMKillsTheHog() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let limit: UInt64 = 64 << 20
        let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "oom", sequence: 2),
                                          limits: CgroupLimits(memoryMax: limit, memorySwapMax: 0), bestEffort: false)
        defer { cg.killAll(); try? cg.remove(); expectNothingLeft(host) }
        // Touch 200 MiB (b'x' * n writes every page).
        let hog = try GatedChild(["/usr/bin/python3", "-c", "import sys; sys.stdin.readline(); s = b'x' * (200 << 20); print(len(s))"])
        try cg.attach(pid: hog.pid)
        hog.release()
        let status = try #require(hog.wait(timeoutSeconds: 8), "the hog was not OOM-killed within 8 s")
        #expect(termSignal(status) == SIGKILL, "status \(status)")
        let stats = cg.stats()
        let kills = try #require(stats.oomKills)
        #expect(kills > 0)
        let peak = try #require(stats.memoryPeakBytes)
        #expect(Double(peak) >= Double(limit) * 0.95 && Double(peak) <= Double(limit) * 1.05, "peak \(peak) vs limit \(limit)")
    }

    @Test func pidsLimitStopsAForkLoop() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "pids", sequence: 3),
                                          limits: CgroupLimits(pidsMax: 16), bestEffort: false)
        defer { cg.killAll(); try? cg.remove(); expectNothingLeft(host) }
        // Forks until fork() fails; exits 42 if it failed with EAGAIN, 43 for another errno.
        let script = """
            import errno, os, sys, time
            sys.stdin.readline()
            kids, code = [], 1
            for _ in range(64):
                try:
                    pid = os.fork()
                except OSError as e:
                    code = 42 if e.errno == errno.EAGAIN else 43
                    break
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
            for k in kids:
                os.kill(k, 9)
                os.waitpid(k, 0)
            sys.exit(code if len(kids) == 15 else 44)
            """
        let bomb = try GatedChild(["/usr/bin/python3", "-c", script])
        try cg.attach(pid: bomb.pid)
        bomb.release()
        let status = try #require(bomb.wait(timeoutSeconds: 8), "the fork loop did not finish within 8 s")
        #expect(exitCode(status) == 42, "status \(status): 42 = EAGAIN after 15 children, 43 = other errno, 44 = wrong count")
        let stats = cg.stats()
        let hits = try #require(stats.pidsMaxHits)
        #expect(hits > 0)
        // The loop filled the cgroup: its peak is the limit itself (the loop and 15 children).
        #expect(stats.pidsPeak == 16)
    }

    @Test func cpuQuotaHoldsABusyLoopToHalfACore() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "cpu", sequence: 4),
                                          limits: CgroupLimits(cpuQuotaMicros: 50_000, cpuPeriodMicros: 100_000), bestEffort: false)
        defer { cg.killAll(); try? cg.remove(); expectNothingLeft(host) }
        let loop = try GatedChild(shell: "while :; do :; done")
        try cg.attach(pid: loop.pid)
        loop.release()
        usleep(200_000)
        let before = cg.stats()
        let t0 = monotonicSeconds()
        usleep(2_000_000)
        let after = cg.stats()
        let wall = monotonicSeconds() - t0
        cg.killAll()
        _ = loop.wait(timeoutSeconds: 2)

        let used = Double(try #require(after.cpuUsageMicros) - (before.cpuUsageMicros ?? 0)) / 1e6
        let share = used / wall
        #expect(share >= 0.40 && share <= 0.60, "CPU share \(share) (\(used) s of \(wall) s)")
        #expect((after.cpuThrottledPeriods ?? 0) > 0)
        #expect((after.cpuThrottledMicros ?? 0) > 0)
    }

    /// The leaf name of a launcher that is gone: a child that has exited and been reaped.
    private func deadLauncherLeafName() throws -> CgroupLeafName {
        // Not released: /bin/true does not read its stdin, and a write into the pipe after it
        // exited would end the test process with SIGPIPE.
        let gone = try GatedChild(["/bin/true"])
        _ = gone.wait(timeoutSeconds: 5)
        return CgroupLeafName(launcherPID: gone.pid, launcherStartTime: 1, sequence: 0)
    }

    @Test func staleCollectionRemovesOnlyDeadLaunchers() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let deadName = try deadLauncherLeafName()
        // This very process but a different start time: a recycled pid, also stale.
        let live = try #require(CgroupLeafName.forCurrentProcess(sequence: 5))
        let recycled = CgroupLeafName(launcherPID: getpid(), launcherStartTime: live.launcherStartTime + 1, sequence: 6)

        let tenant = "bhtest-\(getpid())"
        let dead = try SandboxCgroup.create(host: host, path: [tenant, "stale", deadName.description],
                                            limits: CgroupLimits(), bestEffort: false)
        let recycledCgroup = try SandboxCgroup.create(host: host, path: [tenant, "stale", recycled.description],
                                                      limits: CgroupLimits(), bestEffort: false)
        let alive = try SandboxCgroup.create(host: host, path: [tenant, "stale", live.description],
                                             limits: CgroupLimits(), bestEffort: false)
        defer {
            for cg in [dead, recycledCgroup, alive] { cg.killAll(); try? cg.remove() }
            expectNothingLeft(host)
        }
        // A leftover member in the dead leaf must be killed by the collection.
        let leftover = try GatedChild(["/bin/sleep", "30"])
        try dead.attach(pid: leftover.pid)

        let removed = SandboxCgroup.collectStale(host: host)
        for dir in dead.directories + recycledCgroup.directories {
            #expect(removed.contains(dir), "not collected: \(dir)")
            #expect(access(dir, F_OK) != 0, "still there: \(dir)")
        }
        for dir in alive.directories {
            #expect(access(dir, F_OK) == 0, "a live launcher's cgroup was removed: \(dir)")
            #expect(!removed.contains(dir))
        }
        let status = try #require(leftover.wait(timeoutSeconds: 3))
        #expect(termSignal(status) == SIGKILL)
        try alive.remove()
    }

    /// A launch collects stale leaves only where it can write (`writableOnly`): an ordinary
    /// user's launch no longer walks root's hierarchies, in which it could remove nothing.
    /// `bulkhead gc` (writableOnly false) still looks everywhere.
    @Test func launchCollectsStaleLeavesOnlyWhereItCanWrite() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let deadName = try deadLauncherLeafName()
        let tenant = "bhtest-\(getpid())"
        let dead = try SandboxCgroup.create(host: host, path: [tenant, "ro", deadName.description],
                                            limits: CgroupLimits(), bestEffort: false)
        defer { dead.killAll(); try? dead.remove(); expectNothingLeft(host) }
        // The same host as a caller that may write none of its base directories sees it.
        var readOnly = host
        for i in readOnly.targets.indices { readOnly.targets[i].writable = false }
        let untouched = SandboxCgroup.collectStale(host: readOnly, writableOnly: true)
        for dir in dead.directories {
            #expect(!untouched.contains(dir), "collected where the caller cannot write: \(dir)")
            #expect(access(dir, F_OK) == 0, "removed where the caller cannot write: \(dir)")
        }
        let removed = SandboxCgroup.collectStale(host: host, writableOnly: true)
        for dir in dead.directories {
            #expect(removed.contains(dir), "not collected: \(dir)")
            #expect(access(dir, F_OK) != 0, "still there: \(dir)")
        }
    }

    /// Removal is one rmdir(2) per leaf; a leaf with cgroups nested below it (made by its
    /// workload under a writable cgroup mount) is still removed whole, depth first.
    @Test func removeTakesNestedCgroups() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let leaf = try #require(CgroupLeafName.forCurrentProcess(sequence: 41))
        let cg = try SandboxCgroup.create(host: host, path: ["bhtest-\(getpid())", "nest", leaf.description],
                                          limits: CgroupLimits(), bestEffort: false)
        defer { cg.killAll(); try? cg.remove(); expectNothingLeft(host) }
        for dir in cg.directories {
            #expect(mkdir(dir + "/inner", 0o755) == 0, "mkdir \(dir)/inner: errno \(errno)")
            #expect(mkdir(dir + "/inner/deeper", 0o755) == 0, "mkdir \(dir)/inner/deeper: errno \(errno)")
        }
        try cg.remove()
        for dir in cg.directories { #expect(access(dir, F_OK) != 0, "still there: \(dir)") }
    }

    @Test func unenforceableLimitThrowsUnlessBestEffort() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        // memory.high exists only in cgroup v2 with the memory controller.
        let v2Memory = host.unifiedTarget?.controllers.contains("memory") ?? false
        let limits = CgroupLimits(memoryMax: 128 << 20, memoryHigh: 96 << 20)
        if v2Memory {
            let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "high", sequence: 7), limits: limits, bestEffort: false)
            defer { try? cg.remove(); expectNothingLeft(host) }
            #expect(cg.enforced.contains { $0.limit == .memoryHigh && $0.driver == .v2 })
            return
        }
        let path = try testPath(pod: "high", sequence: 7)
        do {
            let cg = try SandboxCgroup.create(host: host, path: path, limits: limits, bestEffort: false)
            try? cg.remove()
            Issue.record("memory.high on a v1 memory hierarchy did not throw")
        } catch {
            #expect(error.code == .controllerUnavailable)
            #expect(error.fix.contains("memory.high"))
        }
        expectNothingLeft(host)

        let cg = try SandboxCgroup.create(host: host, path: path, limits: limits, bestEffort: true)
        defer { try? cg.remove(); expectNothingLeft(host) }
        #expect(cg.notEnforced.map(\.limit) == [.memoryHigh])
        #expect(cg.enforced.map(\.limit) == [.memoryMax])
        #expect(cg.enforced.first?.driver == .v1)
    }
}

func readTrimmedAll(_ path: String) -> String? {
    guard case .success(let s) = CgroupFS.read(path) else { return nil }
    return s
}
