import BulkheadConfig
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
        e.append(NodeExperiments.cpu())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(ComputeExperiments.cacheBandwidth(layer)) }
        for layer in [BenchLayer.container, .pod] { e.append(ComputeExperiments.memory(layer)) }
        e.append(TenantExperiments.memory())
        e.append(NodeExperiments.memory())
        e.append(KernelTableExperiments.pidsContainer())
        e.append(KernelTableExperiments.pidsPod())
        e.append(TenantExperiments.pids())
        e.append(NodeExperiments.pids())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(KernelTableExperiments.fileDescriptors(layer)) }
        e.append(NodeExperiments.fileDescriptors())
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
        e.append(NodeExperiments.privilegedSyscalls())
        for layer in [BenchLayer.container, .pod, .namespace] { e.append(SurfaceExperiments.processes(layer)) }
        e.append(SurfaceExperiments.procSys())
        e += ClusterPlans.all
        return e
    }()

    /// The VM lane's scenarios that `cells` read when `--vm` boots it.
    public static func vmScenarios(_ cells: [BenchCellID]) -> [String] {
        experiments.filter { cells.contains($0.cell) }.flatMap(\.vmScenarios)
    }

    /// What a cell's experiment does (for a planned cell: the plan a second node would run).
    public static func method(of cell: BenchCellID) -> String? { experiments.first { $0.cell == cell }?.method }

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
        // `--vm`: one boot of the VM lane for every chosen cell that reads a scenario of it.
        let scenarios = vmScenarios(cells)
        if let vm = context.vm, !scenarios.isEmpty {
            context.vmRun = BenchVM.run(vm, scenarios: scenarios, scratch: context.scratch, rounds: context.rounds, window: context.phaseSeconds)
        }
        for var exp in experiments where cells.contains(exp.cell) {
            progress(exp.cell, nil)
            if let why = exp.onlyWhenNamed, !named.contains(exp.cell) {
                exp = .notRun(exp.cell.resource, exp.cell.layer, expect: exp.expected, claim: exp.claim, .skipped, why, keyFigure: "--only \(exp.cell)")
            }
            // Adaptive rounds: a ratio cell whose interval straddles its band is measured once
            // more, its rounds judged with the first run's (BenchCellMeasure: what the result
            // keeps of the first run; BulkheadBenchTests). The control that closes a "cannot" is
            // measured after the cell or in its run (Mitigations), once.
            let launched = context.launches
            var r = BenchCellMeasure(exp, rounds: context.rounds).result(
                cell: { n in context.withRounds(n) { exp.runJudged(context) } },
                control: { n in context.withRounds(n) { Mitigations.runJudged(exp.cell, context) } })
            r.launches = context.launches - launched
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
        let node = withUnsafeBytes(of: &u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        // "model name\t: Intel(R) Xeon(R) …" (x86); other architectures may have none.
        let model = (FileIO.read("/proc/cpuinfo") ?? "").split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).dropFirst().first }.map { $0.trimmingCharacters(in: .whitespaces) }
        return BenchHostFacts(kernel: release, cgroupMode: mode, cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                              memoryBytes: memKiB.map { $0 * 1024 }, bulkheadVersion: BulkheadVersion.string,
                              node: BenchMerge.isNodeName(node) ? node : nil, cpuModel: model.flatMap { $0.isEmpty ? nil : $0 })
    }
}
