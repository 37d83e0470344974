import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// Every cell of the matrix with its experiment, in the matrix's order, and the runner.
public enum BenchCatalogue {
    static let experiments: [BenchExperiment] = {
        var e: [BenchExperiment] = []
        for layer in [BenchLayer.container, .pod] {
            e.append(ComputeExperiments.cpu(layer))
        }
        e.append(TenantExperiments.cpu())
        e.append(.notRun(.cpu, .node, expect: .can, claim: "a host reserve keeps CPU for the host", .skipped,
                         "bulkhead has no node reserve setting; the bench bounds its own experiments (an outer cgroup of 768 MiB and 1024 tasks, hogs under cpu.max)", keyFigure: "see method"))
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(ComputeExperiments.cacheBandwidth(layer)) }
        for layer in [BenchLayer.container, .pod] { e.append(ComputeExperiments.memory(layer)) }
        e.append(TenantExperiments.memory())
        e.append(.notRun(.memory, .node, expect: .can, claim: "a host reserve; global reclaim still slows everyone", .skipped,
                         "see VM lane: Tests/vm/scenarios/31-node-memory.sh (the node's reserve, a parent cgroup bounding every workload, OOM-kills a limitless sandbox at its bound while a host process keeps its memory; the node's PSI is recorded; CgroupV2LaneTests)", keyFigure: "see VM lane"))
        e.append(KernelTableExperiments.pidsContainer())
        e.append(KernelTableExperiments.pidsPod())
        e.append(TenantExperiments.pids())
        e.append(KernelTableExperiments.pidsNode())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(KernelTableExperiments.fileDescriptors(layer)) }
        e.append(.notRun(.fileDescriptors, .node, expect: .cannot, claim: "one kernel, one file table: only a VM's own kernel separates it", .skipped,
                         "see VM lane: Tests/vm/scenarios/30-node-fd-exhaustion.sh (ENFILE for a neighbour inside the VM's kernel; CgroupV2LaneTests)", keyFigure: "see VM lane"))
        e.append(StorageExperiments.diskSpaceContainer())
        e.append(StorageExperiments.diskSpacePod())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(StorageExperiments.diskBandwidth(layer)) }
        e.append(NetworkExperiments.bandwidthContainer())
        e.append(NetworkExperiments.bandwidthPod())
        e.append(NetworkExperiments.bandwidthNamespace())
        e.append(NetworkExperiments.ports(.container))
        e.append(NetworkExperiments.ports(.pod))
        e.append(NetworkExperiments.policyNamespace())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(SurfaceExperiments.ipc(layer)) }
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(SurfaceExperiments.identity(layer)) }
        e.append(KernelTableExperiments.inotify(.container))
        e.append(KernelTableExperiments.inotify(.namespace))
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(SurfaceExperiments.privilegedSyscalls(layer)) }
        e.append(.notRun(.privilegedSyscalls, .node, expect: .cannot, claim: "one kernel: a kernel bug breaks every layer", .skipped,
                         "not an experiment: what a kernel exploit does is not run here", keyFigure: "by design"))
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(SurfaceExperiments.processes(layer)) }
        e.append(SurfaceExperiments.procSys())
        return e
    }()

    /// The cells, in the matrix's order.
    public static var cells: [BenchCellID] { experiments.map(\.cell) }

    /// Selects cells: by layer, and by `--only` names (`memory/pod`, or `memory` for its row).
    public static func select(layer: BenchLayer?, only: [String]) throws(BenchError) -> [BenchCellID] {
        var chosen = cells
        if let layer { chosen = chosen.filter { $0.layer == layer } }
        guard !only.isEmpty else { return chosen }
        let keep = try named(only)
        return chosen.filter { keep.contains($0) }
    }

    /// The cells that `--only` names, directly or by their row.
    public static func named(_ only: [String]) throws(BenchError) -> Set<BenchCellID> {
        var keep = Set<BenchCellID>()
        for o in only {
            if let id = BenchCellID(parsing: o) {
                guard cells.contains(id) else { throw BenchError("no experiment for \(o)") }
                keep.insert(id)
            } else if let r = BenchResource(rawValue: o) {
                cells.filter { $0.resource == r }.forEach { keep.insert($0) }
            } else {
                throw BenchError("unknown cell \(o): give RESOURCE/LAYER or RESOURCE, with RESOURCE one of \(BenchResource.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        return keep
    }

    /// Runs the chosen cells one after another; `progress` hears of each start and result.
    /// A cell that takes a budget others share runs only when it is in `named`.
    public static func run(_ cells: [BenchCellID], named: Set<BenchCellID> = [], context: BenchContext,
                           progress: (BenchCellID, BenchResult?) -> Void = { _, _ in }) -> BenchMatrixReport {
        let started = Date()
        let start = Monotonic.now()
        var results: [BenchResult] = []
        for var exp in experiments where cells.contains(exp.cell) {
            progress(exp.cell, nil)
            if let why = exp.onlyWhenNamed, !named.contains(exp.cell) {
                exp = .notRun(exp.cell.resource, exp.cell.layer, expect: exp.expected, claim: exp.claim, .skipped, why, keyFigure: "--only \(exp.cell)")
            }
            let r = exp.run(context)
            results.append(r)
            progress(exp.cell, r)
        }
        let f = ISO8601DateFormatter()
        return BenchMatrixReport(host: hostFacts(), startedAt: f.string(from: started), phaseSeconds: context.phaseSeconds,
                                 rounds: context.rounds, totalSeconds: Monotonic.now() - start, results: results)
    }

    static func hostFacts() -> BenchHostFacts {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let mode = (try? CgroupHost.detect())?.mode.rawValue ?? "unknown"
        let memKiB = (FileIO.read("/proc/meminfo") ?? "").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { UInt64($0) }
        return BenchHostFacts(kernel: release, cgroupMode: mode, cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                              memoryBytes: memKiB.map { $0 * 1024 }, bulkheadVersion: BulkheadVersion.string)
    }
}
