import BulkheadModel
@testable import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of ns-kernel (issue 17): on a hybrid host (a writable cgroup2 tree beside a v1
/// cpuacct hierarchy of its own) a launch no longer makes a cpuacct leaf, so the init and the
/// workload stay in the launcher's cpuacct cgroup, and the sandbox's cgroup namespace is rooted
/// there in that hierarchy.
@Suite("red team: ns-kernel (real kernel, root)", .serialized,
       .enabled(if: CgroupKernelGate.enabled,
                Comment(rawValue: (CgroupKernelGate.skipReason ?? "") + " (with CI=true this fails instead of skipping)")))
struct RedTeamNsKernelTests {
    /// A workload that may mount cgroupfs (a profile that keeps CAP_SYS_ADMIN in its user
    /// namespace, such as `unconfined`, with a limit so that it has a cgroup) mounts the v1
    /// cpuacct hierarchy inside its cgroup namespace. It must see its own cgroup only, as it did
    /// with a cpuacct leaf: no cgroup of the host's below the mount's root, and the root's
    /// cpuacct.usage its own (well under a minute). On ns-kernel the namespace's root in that
    /// hierarchy is the launcher's cgroup (here the host's root): the workload listed the host's
    /// cpuacct cgroups (anchors-bench, libpod_parent/conmon, bulkhead/...) and read the whole
    /// host's CPU time (25,417 s) with nanosecond resolution.
    @Test func aWorkloadThatMountsCpuacctSeesOnlyItsOwnCgroup() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        guard let acct = host.v1Target(for: "cpuacct"), acct.writable else { return }
        let script = """
            mkdir -p /tmp/acct || exit 3
            mount -t cgroup -o cpuacct none /tmp/acct || exit 4
            echo "usage $(cat /tmp/acct/cpuacct.usage)"
            find /tmp/acct -mindepth 1 -type d | sed 's/^/dir /'
            umount /tmp/acct
            """
        let r = try Bulkhead.run(["run", "--profile", "unconfined", "--memory", "64Mi", "--", "/bin/sh", "-c", script])
        try #require(r.status == 0, "the workload mounted the cpuacct hierarchy (else this proves nothing): \(r.status) \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let dirs = lines.filter { $0.hasPrefix("dir ") }
        #expect(dirs.isEmpty, "the sandbox sees cgroups that are not its own: \(dirs.prefix(10))")
        let usage = try #require(lines.first { $0.hasPrefix("usage ") }.flatMap { UInt64($0.dropFirst(6)) }, "\(r.stdout)")
        #expect(usage < 60_000_000_000, "the root of its cpuacct view counts \(usage) ns of CPU: not its own cgroup's")
    }

    /// docs/security.md, "What bulkhead does not defend against": the cgroup namespace's root
    /// in a v1 hierarchy where the launch made no leaf is the launcher's cgroup. A workload whose
    /// profile keeps CAP_SYS_ADMIN in its user namespace and mount(2) (`unconfined`) mounts
    /// blkio (no limit asks for a leaf there) and lists the launcher's cgroups below it, by
    /// name; `container` and `restricted` refuse the mount. When either changes, the doc must.
    @Test func anUnusedV1HierarchyShowsTheLaunchersCgroupsAsDocumented() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        guard let blkio = host.v1Target(for: "blkio") else { return }  // the doc's claim is about v1
        let script = "mkdir -p /tmp/c || exit 3; mount -t cgroup -o blkio none /tmp/c || exit 4; ls /tmp/c"
        let open = try Bulkhead.run(["run", "--profile", "unconfined", "--", "/bin/sh", "-c", script])
        try #require(open.status == 0, "the unconfined workload mounted blkio: \(open.status) \(open.stderr)")
        let seen = Set(open.stdout.split(separator: "\n").map(String.init))
        let launcher = blkio.mountPoint + (blkio.ownPath == "/" ? "" : blkio.ownPath)
        let hosts = Set(((try? FileManager.default.contentsOfDirectory(atPath: launcher)) ?? []).filter {
            var st = stat()
            return lstat(launcher + "/" + $0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        })
        #expect(!hosts.isEmpty && !seen.isDisjoint(with: hosts), "the workload saw \(seen.sorted().prefix(12)) below its namespace's root; the launcher's blkio cgroup \(launcher) holds \(hosts.sorted().prefix(12))")
        for profile in ["container", "restricted"] {
            let r = try Bulkhead.run(["run", "--profile", profile, "--", "/bin/sh", "-c", script])
            #expect(r.status == 4, "\(profile): the mount is refused: \(r.status) \(r.stdout) \(r.stderr)")
        }
    }

    /// Where no cgroup2 tree is writable (a v1-only host, a rootless launch without a delegated
    /// cgroup2 subtree) the cpuacct leaf is still made and the CPU usage comes from it: the
    /// other host shape the cut promises to leave alone (here: this host with its cgroup2 target
    /// made unwritable, as `CgroupHost.detect()` sees it for such a caller).
    @Test func theCpuacctLeafIsStillMadeWithoutAWritableCgroup2() throws {
        try CgroupKernelGate.require()
        var host = try CgroupHost.detect()
        guard let acct = host.v1Target(for: "cpuacct"), acct.writable, !acct.controllers.contains("cpu") else { return }
        for i in host.targets.indices where host.targets[i].hierarchy == "unified" { host.targets[i].writable = false }
        var limits = CgroupLimits()
        limits.memoryMax = 64 << 20
        let cg = try SandboxCgroup.create(host: host, path: try testPath(pod: "acct", sequence: 1), limits: limits, bestEffort: false)
        let child = try GatedChild(shell: "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
        defer {
            _ = child.wait(timeoutSeconds: 10)
            try? cg.remove()
            expectNothingLeft(host)
        }
        #expect(cg.unifiedDirectory == nil, "no cgroup2 leaf: \(cg.directories)")
        let leaf = try #require(cg.directories.first { $0.hasPrefix(acct.mountPoint + "/") }, "a cpuacct leaf: \(cg.directories)")
        try cg.attach(pid: child.pid)
        child.release()
        let status = try #require(child.wait(timeoutSeconds: 30))
        #expect(exitCode(status) == 0)
        let usage = try #require(cg.stats().cpuUsageMicros, "the usage from \(leaf)/cpuacct.usage")
        #expect(usage > 0)
    }

    /// The report's CPU usage is the sandbox's own, not its launcher's or a neighbour's: an idle
    /// sandbox (sleep) launched beside a busy one (a fixed amount of work, not a time) reports a
    /// small fraction of the busy one's usage.
    @Test func theReportedUsageIsTheSandboxsOwn() throws {
        try CgroupKernelGate.require()
        let busy = try BackgroundRun(["run", "--memory", "64Mi", "--", "/bin/sh", "-c",
                                      "echo ready; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
        #expect(busy.out.fileHandleForReading.availableLine() == "ready")
        let idle = try Bulkhead.run(["run", "--memory", "64Mi", "--", "/bin/sleep", "1"], report: true)
        _ = try busy.finish()
        #expect(idle.status == 0, "\(idle.stderr)")
        let rep = try JSONDecoder().decode(RunReport.self, from: try #require(idle.reportData, "no report: \(idle.stderr)"))
        let usage = try #require(rep.cgroup?.stats?.cpuUsageMicros, "no usage: \(idle.stderr)")
        #expect(usage < 100_000, "an idle sandbox reported \(usage) us of CPU")
    }
}
