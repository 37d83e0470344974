import BulkheadModel
import BulkheadSystem
import Glibc

/// The outer cgroup of one experiment: everything the experiment launches is born inside it
/// (the launcher joins it before exec), so a bomb that escaped its own limit still meets this
/// one.
///
/// Its name is a `CgroupLeafName` of the bench process, so when the bench is killed the next
/// bulkhead launch collects it (`SandboxCgroup.collectStale`), members and all.
struct BenchCeiling {
    /// 768 MiB and 1024 tasks: room for a victim and an aggressor, never the whole machine's
    /// memory or task table. No CPU bound: on cgroup v1 a child's cfs quota may not exceed its
    /// parent's (EINVAL), and a pod's default limit is the sum of its containers' (1 CPU each in
    /// the container profile), so a quota ceiling below the machine would refuse ordinary pods;
    /// a lower weight would only split the experiment's share under other load and blur the
    /// CPU cells. The experiments bound their own hogs with cpu.max and time limits.
    static let limits: CgroupLimits = {
        var l = CgroupLimits()
        l.memoryMax = 768 << 20
        l.pidsMax = 1024
        return l
    }()

    nonisolated(unsafe) private static var sequence: UInt64 = 1_000_000

    let cgroup: SandboxCgroup

    /// The files a process writes its pid to, to join the ceiling in every hierarchy.
    var procsFiles: [String] { cgroup.directories.map { $0 + "/cgroup.procs" } }

    static func create() throws(BenchError) -> BenchCeiling {
        sequence += 1
        guard let name = CgroupLeafName.forCurrentProcess(sequence: sequence) else {
            throw BenchError("name the experiment's cgroup (read /proc/self/stat)")
        }
        do {
            let host = try CgroupHost.detect()
            let cg = try SandboxCgroup.create(host: host, path: [name.description], limits: limits, bestEffort: false)
            return BenchCeiling(cgroup: cg)
        } catch {
            throw BenchError("create the experiment's outer cgroup: \(error)")
        }
    }

    /// Kills whatever is left inside and removes the ceiling with everything below it.
    func remove() {
        _ = cgroup.killAll()
        try? cgroup.remove(pruneAncestors: true)
    }
}

/// A failure of the bench itself (not of an experiment's claim).
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ message: String) { description = message }
}
