import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 17: on a host with cgroup v1 hierarchies the v1 leaves are created after clone3, while
/// the kernel builds the namespaces and the init mounts; the init waits at `.joinCgroups` until
/// the launcher has made them, written their limits and sent their `tasks` files, so nothing of
/// the workload runs, and nothing forks, outside them.
@Suite(.enabled(if: Gate.root && V1Host.present, "needs root and cgroup v1 hierarchies (this hybrid host)"), .serialized)
struct CgroupAfterCloneTests {
    static func report(_ r: Bulkhead.Result) throws -> RunReport {
        let data = try #require(r.reportData, "the run wrote no report: \(r.stderr)")
        return try JSONDecoder().decode(RunReport.self, from: data)
    }

    @Test("The v1 leaves are made after clone3, and the workload's first instruction is already in every one of them")
    func firstInstructionInEveryLeaf() throws {
        // Without a cgroup namespace, /proc/self/cgroup shows the full paths.
        let dir = NSTemporaryDirectory() + "bh-cg-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "extends: container\nnamespaces:\n  cgroup: false\n".write(toFile: dir + "/nocgns.yaml", atomically: true, encoding: .utf8)
        let r = try Bulkhead.run(["run", "--profile", "nocgns", "--", "/bin/cat", "/proc/self/cgroup"], report: true,
                                 env: ["BULKHEAD_PROFILE_PATH": dir])
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try Self.report(r)
        let phases = (rep.phasesMs ?? []).map(\.phase)
        let clone = try #require(phases.firstIndex(of: "clone3"), "\(phases)")
        let v1 = try #require(phases.firstIndex(of: "cgroup v1 leaves and limits"), "the v1 leaves have a phase of their own: \(phases)")
        #expect(clone < v1, "the v1 leaves come after clone3: \(phases)")
        let cgroup = try #require(rep.cgroup?.path, "the report names the cgroup")
        let dirs = rep.cgroup?.directories ?? []
        // Every hierarchy the sandbox has a leaf in (memory, cpu, pids ... and the unified one).
        let v1Dirs = dirs.filter { !$0.hasPrefix("/sys/fs/cgroup/bulkhead/") && !$0.hasPrefix("/sys/fs/cgroup/unified/") }
        #expect(v1Dirs.count >= 3, "\(dirs)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for d in v1Dirs {
            // /sys/fs/cgroup/<hierarchy>/bulkhead/...: the hierarchy's line names the leaf.
            let hierarchy = d.dropFirst("/sys/fs/cgroup/".count).split(separator: "/").first.map(String.init) ?? ""
            let line = lines.first { $0.split(separator: ":", maxSplits: 2).dropFirst().first.map { $0.split(separator: ",").map(String.init).contains(hierarchy) || String($0) == hierarchy } ?? false }
            #expect(line?.hasSuffix("/" + cgroup) == true, "\(hierarchy): \(line ?? "none") is not the leaf \(cgroup)")
        }
        // The limits were written before the workload ran: the report lists them as enforced on v1.
        let enforced = rep.limits?.enforced ?? []
        #expect(enforced.contains { $0.limit == .pidsMax && $0.driver == .v1 }, "\(enforced)")
        #expect(enforced.contains { $0.limit == .memoryMax && $0.driver == .v1 }, "\(enforced)")
    }

    @Test("A fork bomb that is the workload's first act stops at pids.max: the limit is in place before it runs")
    func forkBombFirstThing() throws {
        // The workload forks before it does anything else; each child holds a pid for a while.
        let bomb = """
            import os, time
            n = 0
            while n < 200:
                try:
                    if os.fork() == 0:
                        time.sleep(3); os._exit(0)
                    n += 1
                except OSError:
                    break
            print("forked", n)
            """
        let r = try Bulkhead.run(["run", "--pids", "12", "--timeout", "20s", "--", "python3", "-c", bomb], report: true)
        let rep = try Self.report(r)
        #expect(rep.limits?.enforced.contains { $0.limit == .pidsMax && $0.value == "12" } == true, "\(String(describing: rep.limits))")
        let forks = Int(r.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
        // 12 minus the init and the workload: the bomb never had a pid outside the limit.
        #expect(forks >= 0 && forks <= 10, "forked \(forks): \(r.stdout) \(r.stderr)")
        let stats = try #require(rep.cgroup?.stats, "\(r.stderr)")
        #expect((stats.pidsMaxHits ?? 0) > 0, "the bomb hit pids.max: \(stats)")
        #expect((stats.pidsPeak ?? 0) <= 12, "never more than the limit at once: \(stats)")
    }

    @Test("A fault at each new step after clone3 fails closed: exit 125, the step named, nothing run, no leaf left",
          arguments: ["cgroup-leaves", "cgroup-limits", "cgroup-attach"])
    func faultAfterClone(_ fault: String) throws {
        let parents = try LeftoverCgroups.parents()
        let before = Set(LeftoverCgroups.leaves(under: parents))
        let marker = token()
        let r = try Bulkhead.run(["run", "--inject-fault=\(fault)", "--", "/bin/echo", marker], report: true)
        #expect(r.status == 125, "\(fault): \(r.status) \(r.stderr)")
        #expect(!r.stdout.contains(marker), "\(fault): the workload ran")
        let rep = try Self.report(r)
        let error = try #require(rep.error, "\(fault): the report has no error")
        #expect(error.errno == "ECANCELED", "\(fault): \(error)")
        #expect(error.message.contains(fault == "cgroup-attach" ? "move the sandbox into its cgroups" : "cgroup v1 leaves after clone3"),
                "\(fault): the step is named: \(error.message)")
        #expect((rep.phasesMs ?? []).map(\.phase).contains("clone3"), "\(fault) comes after clone3")
        #expect(Set(LeftoverCgroups.leaves(under: parents)).subtracting(before).isEmpty,
                "\(fault): leaves left: \(Set(LeftoverCgroups.leaves(under: parents)).subtracting(before))")
        #expect(processesWith(marker: marker).isEmpty, "\(fault): a process is left")
    }
}

/// Whether this host has cgroup v1 hierarchies (a hybrid host, as this one).
enum V1Host {
    static let present = FileIO.listDirectory("/sys/fs/cgroup/pids").contains("cgroup.procs")
}
