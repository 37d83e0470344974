import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// What closes each "cannot" (issue 18): for a cell whose claim is cannot, its experiment run
/// once more with the control that closes it, where this host has one, measured the same way
/// as the cell's loaded run (the same victim, aggressor and figure). The cell's claim and
/// verdict stay as they are (the control is not the layer's default), and a mitigation that
/// does not hold never changes the exit status: its verdict says so.
enum Mitigations {
    /// One cell's mitigation: the control's name, how it is applied, and the run.
    struct Plan {
        var control: String
        var method: String
        var body: (BenchContext) throws -> BenchOutcome
        /// Measured in the cell's own run (its body leaves the outcome in `ctx.cellMitigation`):
        /// the control's windows on the cell's schedule, sharing its baseline windows, instead
        /// of a second run that would repeat them.
        var inCellRun = false
    }

    /// A plan measured in the cell's own run; without the cell's figure (its run failed or
    /// was skipped) the mitigation is not observed, never a pass.
    static func inCellRun(control: String, method: String) -> Plan {
        Plan(control: control, method: method, body: { _ in notMeasuredInCell }, inCellRun: true)
    }

    static var notMeasuredInCell: BenchOutcome {
        BenchOutcome(verdict: BenchVerdict(.notObserved, "the cell's run did not measure the control (see the cell's verdict and evidence)"),
                     keyFigure: "not measured")
    }

    /// The mitigation of `cell`, or nil when the cell has none here.
    static func plan(_ cell: BenchCellID) -> Plan? {
        switch (cell.resource, cell.layer) {
        case (.cacheBandwidth, .container), (.cacheBandwidth, .pod), (.cacheBandwidth, .namespace): cpuPinning(cell.layer)
        case (.networkBandwidth, .container): ownPodsShaped()
        case (.networkBandwidth, .namespace): tenantBudgetShaped()
        case (.fileDescriptors, .container), (.fileDescriptors, .pod), (.fileDescriptors, .namespace): descriptorBound(cell.layer)
        case (.pids, .node): pidsBound()
        case (.kernelBudgets, .container): ownIDRanges()
        case (.diskBandwidth, .container), (.diskBandwidth, .pod), (.diskBandwidth, .namespace): ioMax(cell.layer)
        default: nil
        }
    }

    /// Runs the mitigation of `cell` in an outer cgroup of its own (as every experiment), or
    /// nil when it has none. A failure of the run is `not-observed`, never a pass.
    static func run(_ cell: BenchCellID, _ ctx: BenchContext) -> BenchMitigation? { runJudged(cell, ctx)?.result }

    /// `run`, with the outcome's judgement for a pooled second run (`BenchCellMeasure`).
    static func runJudged(_ cell: BenchCellID, _ ctx: BenchContext) -> BenchJudged<BenchMitigation>? {
        guard let p = plan(cell) else { return nil }
        let start = Monotonic.now()
        var o: BenchOutcome
        var seconds: Double?
        if p.inCellRun {
            // The cell's run measured it; its seconds are what its windows added to that run.
            o = ctx.cellMitigation?.outcome ?? notMeasuredInCell
            seconds = ctx.cellMitigation?.seconds
            ctx.cellMitigation = nil
        } else {
            ctx.failures = []
            do {
                o = try ctx.withCeiling { try p.body(ctx) }
            } catch {
                o = BenchOutcome(verdict: BenchVerdict(.notObserved, "the mitigation could not run: \(error)"), keyFigure: "error")
            }
            o = o.concluded(asked: ctx.rounds, failures: ctx.failures)
            seconds = Monotonic.now() - start
        }
        // As the cell's: a ratio judged on one round of several decides nothing (a control
        // measured in the cell's run has the cell's launch failures in the cell's evidence).
        if p.inCellRun { o = o.concluded(asked: ctx.rounds, failures: []) }
        let m = BenchMitigation(control: p.control, verdict: o.verdict, keyFigure: o.keyFigure, method: p.method,
                                measurements: o.measurements.filter(\.value.isFinite), evidence: o.evidence, ratio: o.ratio,
                                seconds: seconds ?? 0)
        return BenchJudged(result: m, judged: o.judged)
    }

    /// A sandbox run's report, as a loose dictionary (nil when none was written).
    static func report(_ path: String) -> [String: Any]? {
        defer { unlink(path) }
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONSerialization.jsonObject(with: d) as? [String: Any]
    }

    /// How much a global counter the victim read (at `from`, then at `to`) rose with the
    /// aggressor beyond its own drift alone: NaN without both figures of the aggressor's run.
    static func riseOver(_ run: BenchPods, _ alone: BenchPods, _ from: String, _ to: String) -> Double {
        (run.change(from, to) ?? .nan) - (alone.change(from, to) ?? 0)
    }

    /// The cell's run of the same victim alone (same placement, same program), or `run` when
    /// the cell left none: the victim alone is not run twice.
    static func baseline(_ ctx: BenchContext, _ run: () throws -> BenchPods) rethrows -> BenchPods {
        if let b = ctx.cellBaseline { return b }
        return try run()
    }

    /// The victim's figure alone (`baseline`) and next to the aggressor with the control in
    /// place (`contained`); a figure not reported is NaN, which `run` leaves out.
    static func victimFigures(_ metric: String, _ unit: String, alone: Double?, mitigated: Double?) -> [BenchMeasurement] {
        [BenchMeasurement(metric, .baseline, alone ?? .nan, unit), BenchMeasurement(metric, .contained, mitigated ?? .nan, unit)]
    }

    /// The cgroup files a sandbox's report says were written (`limits.enforced[].file`).
    static func enforcedFiles(_ report: [String: Any]?) -> [String] {
        ((report?["limits"] as? [String: Any])?["enforced"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
    }

    // MARK: caches and memory bandwidth: CPU pinning

    /// The cell's victim and aggressor, with a second aggressor in a sandbox pinned to the other
    /// CPU by its cgroup's cpuset.cpus, measured in the cell's own run (its third phase).
    /// Pinning separates what belongs to one CPU (its L1 and L2); a last-level cache both CPUs
    /// share, and the memory bus, only resctrl partitions (Intel RDT / AMD PQoS), which
    /// bulkhead does not set.
    static func cpuPinning(_ layer: BenchLayer) -> Plan {
        inCellRun(control: "cpuset",
             method: "Measured in the cell's own run, a third phase of its interleaved windows (ABBA, sharing the cell's baseline windows): the cell's victim (a sweep of three eighths of the last-level cache, MB per CPU-second, on CPU 0) next to the same aggressor (a sweep of twice it) started as a sandbox on CPU 1 by its cgroup's cpuset.cpus (bulkhead run --cpuset-cpus 1), instead of the cell's aggressor on CPU 0 (which is idle in these windows). Holds when the victim keeps at least 90% (the cell's cannot is a fall to 90% or less), judged as the cell on the rounds in which other work held at most 40% of CPU 0. resctrl (cache allocation, memory bandwidth allocation) where /sys/fs/resctrl is mounted.")
    }

    /// The pinned aggressor of a cache cell's run: a sandbox on CPU 1 sweeping `mebibytes` in the
    /// `contained` windows of `sched`, its report at `report`; nil on a host with one CPU.
    static func pinnedSweeper(_ sched: BenchSchedule, mebibytes: Int, report: String) -> [String]? {
        guard sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 else { return nil }
        return ["run", "--cpuset-cpus", "1", "--report", report, "--", "/bin/sh", "-c", BenchScheduled.memorySweeper(sched, .contained, mebibytes: mebibytes)]
    }

    /// The verdict of CPU pinning from the cell's windows (`contained` over `baseline`) and
    /// whether the pinned aggressor's cgroup got its cpuset.cpus (`pinned`; nil: one CPU).
    static func cpuPinningOutcome(_ w: BenchWindows, pinned: Bool?, late: [String]) -> BenchOutcome {
        let online = FileIO.read("/sys/devices/system/cpu/online")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard let pinned else {
            return BenchOutcome(verdict: BenchVerdict(.skipped, "one CPU online (\(online)): pinning needs two"), keyFigure: "one CPU")
        }
        // Judged, as the cell, on the rounds in which CPU 0 was the victim's (BenchCacheRounds).
        let judged = BenchCacheRounds.judged(w.measurements, .contained)
        let r = BenchWindows(measurements: BenchCacheRounds.only(judged, w.measurements))
            .summary("victim sweep rate", .contained, band: 0.9, side: .atLeast)
        let l3 = FileIO.read("/sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list")?.trimmingCharacters(in: .whitespacesAndNewlines)
        let resctrl = access("/sys/fs/resctrl/info", F_OK) == 0
        let what = "victim on CPU 0, aggressor on CPU 1 (cpuset.cpus written for the aggressor's sandbox: \(pinned ? "yes" : "no"))"
        let need = min(2, w.rounds.count)
        let load = ComputeExperiments.loadAverage()
        var o = BenchOutcome(judging: r, by: { r in
            let fig = r.map { "victim at \($0.text) of baseline" + ($0.rounds > 1 ? " (median of \($0.rounds) rounds, 95% interval)" : "") } ?? "no victim figure"
            // The judged rounds its ratio has (the run's, or two runs' pooled: BenchCellMeasure).
            let count = r?.rounds ?? 0
            let verdict: BenchVerdict
            switch (r?.position, pinned) {
            case (_, true) where count < need:
                verdict = BenchVerdict(.notMeasurable, "the experiment could not test its claim: \(count) rounds judged (needs \(need)): in the others other work held more than \(BenchFormat.percent(BenchCacheRounds.othersAtMost)) of CPU 0 in a window (load average \(load)); the judged rounds gave \(fig); \(what)")
            case (.confirms?, true):
                verdict = BenchVerdict(.can, "\(fig) with the aggressor on another CPU (holds: at least 90%); \(what)")
            case (.refutes?, true):
                verdict = BenchVerdict(.cannot, "\(fig) with the aggressor on another CPU, below 90%: pinning separates L1 and L2, not the last-level cache\(l3.map { " (shared by CPUs \($0))" } ?? "") nor the memory bus; \(what)")
            case (.straddles?, true):
                verdict = BenchVerdict(.inconclusive, "\(fig): the interval straddles 90%, so the rounds do not decide whether pinning holds; \(what)")
            default:
                verdict = BenchVerdict(.notObserved, "pinning was not shown in place or the victim reported nothing: \(what); \(fig)")
            }
            return BenchJudgement(verdict: verdict, keyFigure: "victim \(r?.text ?? "?")\(verdict.kind == .notMeasurable ? " (\(count) rounds judged)" : "")", shown: r)
        })
        o.measurements = w.measurements.filter { $0.phase != .loaded }
        o.evidence += late
        o.evidence += [
            "measured in the cell's run: its baseline windows are the cell's; judged on rounds [\(judged.map(String.init).joined(separator: ", "))], those in which other work held at most \(BenchFormat.percent(BenchCacheRounds.othersAtMost)) of CPU 0",
            resctrl ? "resctrl is mounted here (/sys/fs/resctrl), but bulkhead sets no resctrl group: the last-level cache and memory bandwidth stay shared"
                    : "no resctrl on this host (/sys/fs/resctrl absent): nothing partitions the last-level cache or the memory bus; pinning separates only per-CPU caches",
            "last-level cache (index3) shared by CPUs: \(l3 ?? "unknown"); online CPUs: \(online)",
        ]
        return o
    }

    // MARK: network bandwidth: own pods with shaping

    /// The shaped flood's sender-side rate (Mbit/s) above which it is not taken as shaped:
    /// 80% of the bottleneck. A sender counts bytes handed to its socket, which over spans of
    /// a few seconds includes filling the socket buffers (6.5 to 13.8 Mbit/s was seen for a 4M
    /// limit in the pod cell), so the bound is the link's, not the limit's; an unshaped
    /// eight-stream flood fills the link.
    static let shapedFloodCeiling = 0.8 * NetworkExperiments.bottleneckBits / 1e6

    /// The container cell's victim and flood, moved into pods of their own, the flood shaped
    /// at 4 Mbit/s by its pod's egress-bandwidth (as the pod cell's shaped phase), in the
    /// cell's interleaved rounds of iperf3 windows.
    static func ownPodsShaped() -> Plan {
        inCellRun(control: "own pods + egress-bandwidth",
             method: "Measured in the cell's own run, a third phase of its interleaved iperf3 windows (sharing the cell's baseline windows). The cell's victim (one iperf3 stream from a pod whose link is a \(NetworkExperiments.bottleneck)bit/s token bucket, and its 64-byte requests every 5 ms for p50/p99) and flood (eight streams), moved into pods of their own, the flood's pod shaped by kubernetes.io/egress-bandwidth 4M, sending to the same sink behind its \(NetworkExperiments.bottleneck)bit/s bucket. In these windows the victim's pod holds only the victim (its sibling flood is idle) and the flood sends from its own pod, shaped at 4M; receiver-side Mbit/s. Holds when the 95% interval of the victim's ratio lies at or above 75%, the cell's own cannot band (so the fall the cell observed is gone), and the shaped flood ran, its sender counting under \(Int(shapedFloodCeiling)) Mbit/s (80% of the link: a sender's count includes filling its socket buffers).")
    }

    /// The verdict of own pods with shaping from the container cell's run: the `contained`
    /// windows over the shared baseline, the own pod's flood counted as `fo`.
    static func ownPodsShapedOutcome(_ sched: BenchSchedule, _ run: BenchPods, _ w: BenchWindows, _ service: [BenchMeasurement]) -> BenchOutcome {
        let f = run.double("fo")
        let held = f.map { $0 > 0.5 && $0 <= shapedFloodCeiling } ?? false
        return roundsOutcome(sched, run, w, service, band: 0.75, held: held,
                             containment: "the flood, in a pod of its own shaped at 4M, sent \(f.map { BenchFormat.value($0, "Mbit/s") } ?? "?") (sender side)",
                             keyFigure: "flood \(f.map { BenchFormat.value($0, "Mbit/s") } ?? "?")",
                             evidence: BenchMeasurement("flood throughput, own pod at egress-bandwidth 4M (sender side)", .evidence, f ?? .nan, "Mbit/s"))
    }

    /// A network mitigation's verdict over the rounds of the cell's run: the victim's ratio
    /// with the control in place (`contained` windows over the same rounds' baseline) wholly
    /// above `band`, the cell's own cannot band (the shared effect the cell observed is gone),
    /// and `held`. Its figures are the baseline and contained windows.
    static func roundsOutcome(_ sched: BenchSchedule, _ run: BenchPods, _ w: BenchWindows, _ service: [BenchMeasurement], band: Double, held: Bool,
                              containment: String, keyFigure: String, evidence: BenchMeasurement) -> BenchOutcome {
        let r = w.summary("victim throughput", .contained, band: band, side: .atLeast)
        var o = BenchOutcome(judging: r, by: { q in
            BenchJudgement(verdict: BenchVerdict.judgeCan(summary: q, contained: held, containment: containment),
                           keyFigure: "victim \(q?.text ?? "?"), \(keyFigure)", shown: q)
        })
        o.measurements = w.measurements.filter { $0.phase != .loaded } + [evidence] + service.filter { $0.phase != .loaded }
        o.evidence += sched.late(run.values, prefix: "v")
        o.evidence.append("measured in the cell's run: its baseline windows are the cell's")
        if !run.problems.isEmpty { o.evidence.append(run.problems) }
        return o
    }

    /// Tenant B's budget (4 Mbit/s) divided among its pods by their egress-bandwidth: bulkhead
    /// shapes per pod, so a tenant's total holds only while its pods' limits add up to it.
    static func tenantBudgetShaped() -> Plan {
        inCellRun(control: "egress-bandwidth = tenant budget ÷ pods",
             method: "Measured in the cell's own run, a third phase of its interleaved iperf3 windows (sharing the cell's baseline windows): the cell's sink and victim in tenant A; two more flooding pods of tenant B (two streams each), each shaped at 2M instead of the cell's 4M (whose pods are idle in these windows), so that their sum is the tenant's budget of 4 Mbit/s. The 2M pods send only in their windows. bulkhead has no per-tenant shaper: the division is the operator's, and holds only while it is kept as the tenant's pods change. Holds when tenant B's floods ran and the 95% interval of the victim's ratio lies at or above 80%, the cell's own cannot band (with two pods at 4M the victim fell below it). Tenant B's total is counted at its senders, which overstates a shaped rate (bytes handed to the socket include its buffers): evidence, not the criterion.")
    }

    /// The verdict of the divided tenant budget from the namespace cell's run: the `contained`
    /// windows over the shared baseline, the 2M pods counted as `fb1` and `fb2`.
    static func tenantBudgetShapedOutcome(_ sched: BenchSchedule, _ run: BenchPods, _ w: BenchWindows, _ service: [BenchMeasurement]) -> BenchOutcome {
        let total = (run.double("fb1") ?? 0) + (run.double("fb2") ?? 0)
        return roundsOutcome(sched, run, w, service, band: 0.8, held: total > 0.5,
                             containment: "tenant B's two pods at 2M each sent \(BenchFormat.value(total, "Mbit/s")) together (sender side, which overstates a shaped rate: the cell's two 4M pods counted 6.8 to 9.1)",
                             keyFigure: "tenant B \(BenchFormat.value(total, "Mbit/s")) (2 × 2M)",
                             evidence: BenchMeasurement("tenant B's total (two pods at 2M each, sender side)", .evidence, total, "Mbit/s"))
    }

    // MARK: file descriptors: RLIMIT_NOFILE × pids.max

    /// The pod's pids.max of the descriptor and task bounds.
    static let podPids = 10

    /// Once `after` opens (at most `BenchGate.wait` s), forks up to `procs` children until fork
    /// fails; each opens descriptors until its RLIMIT_NOFILE (raised to its hard limit) refuses,
    /// and holds them until `until` opens (at most `BenchGate.wait` s more). `BH hog_opened=TOTAL
    /// hog_procs=N hog_emfile=N hog_fork=ERRNO hog_rlimit=HARD`, where TOTAL counts every
    /// descriptor the children hold, and the parent's are added.
    static func boundedFDHog(procs: Int, after: String, until: String) -> String {
        """
        python3 -c 'import os,time,errno,resource
        \(BenchGate.python(after))
        t=time.monotonic()
        soft,hard=resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE,(hard,hard))
        except (ValueError, OSError): pass
        soft,hard=resource.getrlimit(resource.RLIMIT_NOFILE)
        r,w=os.pipe(); pids=[]; ferr="none"
        for i in range(\(procs)):
            try:
                p=os.fork()
            except OSError as e:
                ferr=errno.errorcode[e.errno]; break
            if p==0:
                base=len(os.listdir("/proc/self/fd"))-1; n=0; err="none"
                try:
                    while True: os.open("/dev/null",os.O_RDONLY); n+=1
                except OSError as e: err=errno.errorcode[e.errno]
                os.write(w, b"%d %s\\n" % (base+n, err.encode()))
                while not os.path.exists("\(until)") and time.monotonic()<t+\(BenchPrograms.fmt(BenchGate.wait)): time.sleep(0.02)
                os._exit(0)
            pids.append(p)
        os.close(w); f=os.fdopen(r); rows=[f.readline().split() for _ in pids]
        total=sum(int(x[0]) for x in rows if x)+len(os.listdir("/proc/self/fd"))-1
        print("BH hog_opened=%d hog_procs=%d hog_emfile=%d hog_fork=%s hog_rlimit=%d" % (total, len(pids), sum(1 for x in rows if x and x[1]=="EMFILE"), ferr, soft), flush=True)
        for p in pids: os.waitpid(p,0)'
        """
    }

    /// The cell's placement, with the aggressor's pod bounded by pids.max (the annotation
    /// bulkhead.dev/pod-limits) and each process by RLIMIT_NOFILE (the container profile's hard
    /// limit): however many processes it forks, it holds at most their product.
    static func descriptorBound(_ layer: BenchLayer) -> Plan {
        Plan(control: "RLIMIT_NOFILE × pids.max",
             method: "The cell's placement and victim (fs.file-nr before and during); the aggressor's pod under bulkhead.dev/pod-limits pids=\(podPids), forking up to 40 processes that each open descriptors until RLIMIT_NOFILE (raised to the profile's hard limit) refuses. Holds when the fork is refused (EAGAIN: pids.max), each process stops at EMFILE, and both the aggressor's own count and the rise the victim reads stay at or below pids.max × RLIMIT_NOFILE. The bound is per sandbox: the node stays safe while the sum over its sandboxes stays below fs.file-max.") { ctx in
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.fileNr("nr", at: 0.3, again: 1.3))
            let placement = BenchPlacement(layer)
            let base = try baseline(ctx) { try ctx.runPods(placement, [victim]) }
            // As the cell's loaded run: the aggressor opens once the victim has read the count,
            // the victim reads again once the aggressor holds its descriptors, which it holds
            // until then (gates, not fixed times of 0.3, 0.5, 1.3 and 1.8 s).
            let read = ctx.gate(after: "nr0", "fdbound-read"), holding = ctx.gate(after: "hog_opened", "fdbound-held"),
                reread = ctx.gate(after: "nr1", "fdbound-reread")
            let gatedVictim = BenchWorkload(name: "victim", script: BenchPrograms.fileNr("nr", thenAfter: holding.path))
            let hog = BenchWorkload(name: "hog", script: boundedFDHog(procs: 40, after: read.path, until: reread.path), podLimits: "pids=\(podPids)")
            let bounded = try ctx.runPods(placement, [hog, gatedVictim], gates: [read, holding, reread])
            let v = bounded.values
            let opened = Double(v["hog_opened"] ?? "") ?? .nan
            let nofile = Double(v["hog_rlimit"] ?? "") ?? .nan
            let bound = nofile * Double(podPids)
            let rise = riseOver(bounded, base, "nr0", "nr1")
            let procs = Int(v["hog_procs"] ?? "") ?? 0
            let emfile = Int(v["hog_emfile"] ?? "") ?? -1
            let hits = number(bounded.podStats(holding: "hog"), "pidsMaxHits")
            let stopped = v["hog_fork"] == "EAGAIN" && procs > 0 && emfile == procs
            let held = opened.isFinite && bound.isFinite && opened <= bound && rise.isFinite && rise <= bound
            let summary = "the aggressor forked \(procs) processes before \(v["hog_fork"] ?? "?") (pids.max \(podPids)\(hits.flatMap { $0 > 0 ? ", pids.events max \(Int($0))" : nil } ?? "")), \(emfile) of them stopped at EMFILE, and held \(opened.isFinite ? String(Int(opened)) : "?") descriptors; bound pids.max × RLIMIT_NOFILE = \(podPids) × \(nofile.isFinite ? String(Int(nofile)) : "?") = \(bound.isFinite ? String(Int(bound)) : "?"); the victim saw fs.file-nr rise by \(rise.isFinite ? String(Int(rise)) : "?")"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(stopped && held, .can, summary),
                                 keyFigure: "\(opened.isFinite ? String(Int(opened)) : "?") ≤ \(podPids) × \(nofile.isFinite ? String(Int(nofile)) : "?")")
            o.measurements = victimFigures("fs.file-nr change seen by the victim", "files", alone: base.change("nr0", "nr1"), mitigated: bounded.change("nr0", "nr1")) + [
                BenchMeasurement("descriptors the aggressor held", .evidence, opened, "files"),
                BenchMeasurement("bound: pids.max × RLIMIT_NOFILE", .evidence, bound, "files"),
                BenchMeasurement("aggressor processes forked before EAGAIN", .evidence, Double(procs), ""),
            ]
            o.evidence = ["fs.file-nr is the whole host's: other processes move it too (a shared machine), so the victim's figure is an upper estimate of the aggressor's",
                          "the victim alone is the cell's run of it (the same placement and program)"]
            if !bounded.problems.isEmpty { o.evidence.append(bounded.problems) }
            return o
        }
    }

    // MARK: PIDs at the node: pids.max per sandbox

    /// The cell's aggressor (200 children) in a pod bounded by pids.max: its share of the
    /// kernel's task table is bounded, whatever it forks.
    static func pidsBound() -> Plan {
        let limit = 64
        return Plan(control: "pids.max",
             method: "The cell's placement (two tenants) and victim (the kernel's task count, /proc/loadavg, before and during); the aggressor's pod under bulkhead.dev/pod-limits pids=\(limit) forks up to 200 children. Holds when the fork is refused (EAGAIN) below \(limit) children and the victim's count no longer rises by the cell's 80% of 200. The bound is per sandbox: the table stays safe while the sum of the sandboxes' pids.max stays below kernel.threads-max and pid_max.") { ctx in
            let victim = BenchWorkload(name: "victim", script: KernelTableExperiments.taskCountReader)
            let base = try baseline(ctx) { try ctx.runPods(.ownTenants, [victim]) }
            // As the cell's loaded run: the bomb forks once the victim has read the count, the
            // victim reads again once the bomb has stopped, which holds its children until then
            // (gates, not fixed times of 0.3, 0.6, 1.6 and 2.6 s).
            let read = ctx.gate(after: "t0", "pidbound-read"), holding = ctx.gate(after: "bomb_forks", "pidbound-held"),
                reread = ctx.gate(after: "t1", "pidbound-reread")
            let gatedVictim = BenchWorkload(name: "victim", script: KernelTableExperiments.taskCountReader(thenAfter: holding.path))
            let bomb = BenchWorkload(name: "bomb", script: BenchGate.shell(read.path) + "; " + BenchPrograms.forkBomb(max: 200, hold: BenchGate.wait, until: reread.path),
                                     podLimits: "pids=\(limit)")
            let bounded = try ctx.runPods(.ownTenants, [bomb, gatedVictim], gates: [read, holding, reread])
            let forks = bounded.double("bomb_forks") ?? .nan
            let rise = riseOver(bounded, base, "t0", "t1")
            let hits = number(bounded.podStats(holding: "bomb"), "pidsMaxHits")
            let stopped = bounded.values["bomb_errno"] == "EAGAIN" && forks < Double(limit)
            let held = rise.isFinite && rise < 0.8 * 200
            let summary = "the aggressor stopped at \(forks.isFinite ? String(Int(forks)) : "?") children (\(bounded.values["bomb_errno"] ?? "?"), pids.max \(limit)\(hits.flatMap { $0 > 0 ? ", pids.events max \(Int($0))" : nil } ?? "")); the other tenant saw the task count rise by \(rise.isFinite ? String(Int(rise)) : "?")"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(stopped && held, .can, summary),
                                 keyFigure: "tasks +\(rise.isFinite ? String(Int(rise)) : "?"), bomb \(forks.isFinite ? String(Int(forks)) : "?")/\(limit)")
            o.measurements = victimFigures("kernel task count change seen by the victim", "tasks", alone: base.change("t0", "t1"), mitigated: bounded.change("t0", "t1")) + [
                BenchMeasurement("aggressor children before EAGAIN", .evidence, forks, "tasks"),
            ]
            o.evidence = ["the task count is the whole host's: other processes move it too (a shared machine)",
                          "the victim alone is the cell's run of it (the same placement and program)"]
            if !bounded.problems.isEmpty { o.evidence.append(bounded.problems) }
            return o
        }
    }

    // MARK: inotify: per-pod id ranges

    /// The cell's aggressor and victim in pods of their own id ranges (one tenant each, so
    /// each pod's user namespace has its own owner in the owner band, and its own budget).
    static func ownIDRanges() -> Plan {
        Plan(control: "own id ranges",
             method: "The cell's aggressor (inotify instances until EMFILE, held until the victim has tried again) and a victim that made an instance with a watch before, moved into pods of their own host id ranges (a tenant each: each pod's user namespace is owned by its range's uid, whose fs.inotify.max_user_instances budget is its own). Holds when the aggressor reaches EMFILE and the victim then still makes a new instance and watch, and its first watch still reports an event.") { ctx in
            // The aggressor starts once the victim holds its first instance and watch, the
            // victim tries again once the aggressor holds its instances, which it holds until
            // then (gates, not fixed times of 0.2, 0.7 and 1.2 s).
            let first = ctx.gate(after: "v_first", "idrange-first"), full = ctx.gate(after: "hog_instances", "idrange-full"),
                tried = ctx.gate(after: "v_event", "idrange-tried")
            let hog = BenchWorkload(name: "hog", script: BenchGate.shell(first.path) + "; " + KernelTableExperiments.inotifyHog(until: tried.path))
            let victim = BenchWorkload(name: "victim", script: """
                python3 -c 'import ctypes,errno,time,select,os
                libc=ctypes.CDLL(None,use_errno=True)
                def err(x): return "ok" if x>=0 else errno.errorcode.get(ctypes.get_errno(),"?")
                fd1=libc.inotify_init(); w1=libc.inotify_add_watch(fd1,b"/mnt",0x100) if fd1>=0 else -1; first=err(w1)
                print("BH v_first=%s" % first, flush=True)
                \(BenchGate.python(full.path))
                fd2=libc.inotify_init(); second=err(fd2)
                watch=err(libc.inotify_add_watch(fd2,b"/mnt",0x100)) if fd2>=0 else second
                open("/mnt/bh-inotify-probe","w").close()
                ev="ok" if fd1>=0 and select.select([fd1],[],[],1.0)[0] else "none"
                print("BH v_inotify=%s v_watch=%s v_event=%s" % (second, watch, ev), flush=True)'
                """)
            let v = try ctx.runPods(.ownTenants, [hog, victim], gates: [first, full, tried]).values
            let exhausted = v["hog_errno"] == "EMFILE"
            let kept = v["v_first"] == "ok" && v["v_inotify"] == "ok" && v["v_watch"] == "ok" && v["v_event"] == "ok"
            let summary = "the aggressor made \(v["hog_instances"] ?? "?") instances (then \(v["hog_errno"] ?? "?")) in its own range; the victim's first watch: \(v["v_first"] ?? "?"), its event: \(v["v_event"] ?? "?"); a new instance: \(v["v_inotify"] ?? "?"), a new watch: \(v["v_watch"] ?? "?")"
            let verdict: BenchVerdict
            if exhausted && kept { verdict = BenchVerdict(.can, summary) }
            else if exhausted && v["v_inotify"] == "EMFILE" { verdict = BenchVerdict(.cannot, summary) }
            else { verdict = BenchVerdict(.notObserved, summary) }
            var o = BenchOutcome(verdict: verdict, keyFigure: "victim: \(v["v_inotify"] ?? "?"), watch \(v["v_event"] ?? "?")")
            o.measurements = [BenchMeasurement("aggressor inotify instances", .evidence, Double(v["hog_instances"] ?? "") ?? .nan, "")]
            return o
        }
    }

    // MARK: disk bandwidth: io.max

    /// The io.max bound of the writers, in bytes per second (4 MiB/s).
    static let ioMaxWBPS = 4 << 20

    /// The VM lane's scenario that measures io.max (Tests/vm/scenarios/34-bench-io-max.sh).
    static let ioMaxScenario = "bench-io-max"

    /// io.max bounds the writers' bandwidth on the victim's disk. It is a cgroup v2 control
    /// (v1 blkio throttles only direct I/O, and buffered writeback is not charged to the
    /// writer): on a cgroup v2 host this run measures it here; on a v1 or hybrid host `bench
    /// --vm` measures it in the VM lane's cgroup v2 kernel (34-bench-io-max.sh) and the cell
    /// reads that run's figures. Either way in the cell's interleaved rounds of windows.
    static func ioMax(_ layer: BenchLayer) -> Plan {
        let wbps = ioMaxWBPS
        return Plan(control: "io.max",
             method: "The victim and writers io.max is the tool for, in interleaved rounds of windows (ABBA) on one schedule: the victim alone, and next to the limited writers. Victim: a sandbox reading 4 KiB with O_DIRECT at spread offsets of its own preallocated 8 MiB file in every window (rate, p50, p90, p99: no page cache, no metadata, no cache flush, so it shares only the disk's queue); writers: a sandbox of two processes writing 8 MiB files in 1 MiB O_DIRECT writes (each bio submitted, and throttled, in the writer's own context), only in their windows, under --io-max 'MAJ:MIN wbps=\(wbps)' (4 MiB/s) on the victim's disk; with two CPUs or more the victim runs on CPU 0 and the writers on CPU 1 (--cpuset-cpus), so that what is measured is the disk's queue, not CPU time. The cell's own fsync victim next to buffered writers is not the shape io.max closes (docs/bench.md, What closes each cannot). Holds when the 95% interval of the victim's service (per round the worse of its read rate and its inverted p90 latency) lies at or above 70% of alone, and the io.max line was read back from the writers' own cgroup. io.max is a cgroup v2 control: on a v1 or hybrid host, bulkhead bench --vm measures it in the VM lane's cgroup v2 kernel (Tests/vm/scenarios/34-bench-io-max.sh: the same shape on the VM's virtio disk, with a third phase, the writers without a limit, and the pressure of the victim's own cgroup).") { ctx in
            let mode = (try? CgroupHost.detect())?.mode.rawValue ?? "unknown"
            guard mode == CgroupHost.Mode.unified.rawValue, FileIO.read("/sys/fs/cgroup/cgroup.controllers")?.split(separator: " ").contains(where: { $0.hasPrefix("io") }) == true else {
                if let run = ctx.vmRun { return ioMaxFromVM(run, layer: layer, hostMode: mode) }
                return BenchOutcome(verdict: BenchVerdict(.skipped, "io.max is a cgroup v2 control and this host's cgroups are \(mode) (v1 blkio throttles only direct I/O; buffered writeback is not charged to the writer): `\(BenchVM.command(for: BenchCellID(.diskBandwidth, layer)))` measures it in the VM lane's cgroup v2 kernel (Tests/vm/scenarios/34-bench-io-max.sh); --vm was not asked for"),
                                    keyFigure: "needs --vm (cgroup v2)")
            }
            guard let dev = diskDevice(ctx.shared) else {
                return BenchOutcome(verdict: BenchVerdict(.skipped, "the scratch directory \(ctx.shared) is not on a block device io.max can name"), keyFigure: "no block device")
            }
            let what = "O_DIRECT read"
            let sched = BenchSchedule(ctx, [.baseline, .contained], gated: BenchDiskPrograms.hog == nil)
            let bind = ["--bind", "\(ctx.shared):/mnt"]
            let two = sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2
            let victim = ["run"] + (two ? ["--cpuset-cpus", "0"] : []) + bind
                + ["--", "/bin/sh", "-c", BenchScheduled.directReadLatency(sched, prefix: "v", file: "/mnt/victim-io-\(layer.rawValue)")]
            let writer = ["run"] + (two ? ["--cpuset-cpus", "1"] : []) + ["--io-max", "\(dev) wbps=\(wbps)"] + bind
                + ["--", "/bin/sh", "-c", BenchScheduled.directWriters(sched, .contained, dir: "/mnt", procs: 2, mib: 8)]
            let wl = try ctx.launch(writer, timeout: sched.deadline), vl = try ctx.launch(victim, timeout: sched.deadline)
            defer { if let g = sched.startGate { unlink(g.path) } }
            ctx.openStart(sched, for: [wl, vl])
            // The writers' own cgroup (the launcher's leaf, c-PID-…), read back while they run.
            let read = ctx.readWhileRunning(wl, leafFile: "io.max")
            let runs = [ctx.finish(wl), ctx.finish(vl)]
            let v = runs.reduce(into: [String: String]()) { $0.merge($1.values) { a, _ in a } }
            var w = BenchWindows()
            for (key, name, unit) in victimFigures(what) {
                for win in sched.windows { w.record(name, win.phase, round: win.round, v[win.key("v") + "_\(key)"].flatMap(Double.init), unit) }
            }
            let line = read?.split(separator: "\n").first { $0.hasPrefix(dev + " ") }.map(String.init)
            var o = ioMaxOutcome(w, ioMaxLine: line, device: dev, where: "this host (cgroup v2)", what: what)
            o.measurements += ctx.serviceMeasurements(v, sched, prefix: "v")
            let wrote = ["contained_writer0_mib", "contained_writer1_mib"].compactMap { v[$0].flatMap(Double.init) }
            if wrote.count == 2 { o.measurements.append(BenchMeasurement("writers' MiB written", .contained, wrote.reduce(0, +), "MiB")) }
            o.evidence.append("victim: 4 KiB O_DIRECT reads of its own preallocated file\(two ? " on CPU 0" : ""); writers: two processes, O_DIRECT 1 MiB writes\(two ? " on CPU 1" : ""), \(wrote.count == 2 ? "\(Int(wrote.reduce(0, +))) MiB" : "? MiB") written under io.max over \(sched.windows.filter { $0.phase == .contained }.count) windows of \(BenchPrograms.fmt(sched.window)) s")
            o.evidence += sched.late(v, prefix: "v")
            return o
        }
    }

    /// The victim's figures: the program's key, the measurement's name and unit. `what` is the
    /// victim's operation: "fsync" (the cell's victim), or "O_DIRECT read" (the VM's io.max run).
    static func victimFigures(_ what: String = "fsync") -> [(String, String, String)] {
        [("ops", "victim \(what) rate", "ops/s"), ("p50", "victim \(what) p50 latency", "ms"),
         ("p90", "victim \(what) p90 latency", "ms"), ("p99", "victim \(what) p99 latency", "ms")]
    }

    /// The victim's service per round in `phase`: the worse of its rate and its p90 latency
    /// (inverted, so 0.5 is "half as good" for both), against `band` on `side`.
    static func fsyncService(_ w: BenchWindows, _ phase: BenchPhase, band: Double, side: BenchBandSide, what: String = "fsync") -> BenchRatioSummary? {
        let ops = w.ratios("victim \(what) rate", phase), p90 = w.ratios("victim \(what) p90 latency", phase, inverted: true)
        return BenchRatioSummary(metric: "victim \(what) service (the worse of rate and p90 latency)", phase: phase,
                                 ratios: zip(ops, p90).map { min($0, $1) }, band: band, side: side)
    }

    /// The verdict of an io.max run: the victim's service with the limited writers (the
    /// interval at or above 70%) and the io.max line read back from the writers' cgroup.
    static func ioMaxOutcome(_ w: BenchWindows, ioMaxLine: String?, device: String, where place: String, what: String = "fsync") -> BenchOutcome {
        let r = fsyncService(w, .contained, band: 0.7, side: .atLeast, what: what)
        let enforced = ioMaxLine.map { $0.split(separator: " ").contains("wbps=\(ioMaxWBPS)") } ?? false
        let containment = "the writers' cgroup's io.max read \(ioMaxLine.map { "'\($0)'" } ?? "nothing") on \(place)"
        let b90 = w.median("victim \(what) p90 latency", .baseline), c90 = w.median("victim \(what) p90 latency", .contained)
        var o = BenchOutcome(judging: r, by: { r in
            var verdict = BenchVerdict.judgeCan(summary: r, contained: enforced, containment: containment)
            if verdict.kind == .notObserved, enforced, r?.position == .refutes {
                verdict = BenchVerdict(.cannot, "the victim's \(what) service fell below 70% although \(containment): victim at \(r?.text ?? "?") of baseline")
            }
            return BenchJudgement(verdict: verdict,
                                  keyFigure: "victim \(r?.text ?? "?"), p90 \(b90.map { BenchFormat.value($0, "") } ?? "?") → \(c90.map { BenchFormat.value($0, "") } ?? "?") ms",
                                  shown: r)
        })
        o.measurements = w.measurements
        if let line = ioMaxLine, let bps = line.split(separator: " ").first(where: { $0.hasPrefix("wbps=") }).flatMap({ Double($0.dropFirst(5)) }) {
            o.measurements.append(BenchMeasurement("io.max wbps read back from the writers' cgroup", .evidence, bps, "B/s"))
        }
        o.evidence.append("io.max of the writers' own cgroup, read back while they ran: \(ioMaxLine ?? "not read") (asked: \(device) wbps=\(ioMaxWBPS))")
        return o
    }

    /// What the VM's disk was (run-lane.sh caps it: a provisioned volume) and whether the victim
    /// alone met its read cap: only then is its service the device's budget, which writers take and
    /// io.max gives back, rather than the emulated CPU's speed.
    static func diskCapEvidence(_ cap: (bytesPerSecond: Int, iops: Int)?, alone median: Double?) -> String {
        guard let cap, cap.bytesPerSecond > 0 || cap.iops > 0 else {
            return "the VM's disk: no cap (an image in the host's page cache: no bandwidth to share; every request is served as fast as the emulated CPU submits it, so the victim's service follows the host's load)"
        }
        let met = cap.iops > 0 ? median.map { $0 >= 0.8 * Double(cap.iops) ? "met" : "not met (the emulated CPU submitted less: the host's load set the baseline)" } : nil
        return "the VM's disk: a provisioned volume, capped at \(cap.bytesPerSecond > 0 ? "\(cap.bytesPerSecond >> 20) MiB/s of reads and writes" : "no byte rate") and \(cap.iops > 0 ? "\(cap.iops) reads/s" : "no read rate") (qemu block throttling, run-lane.sh), the budget the writers take from the victim and io.max gives back; the victim alone: median \(median.map { BenchPrograms.fmt($0) } ?? "?") reads/s\(met.map { ", the cap \($0)" } ?? "")"
    }

    /// The disk cell's io.max run from the VM lane (34-bench-io-max.sh): its windows with
    /// their rounds, the victim's own cgroup's PSI and the VM kernel's, the io.max line read
    /// back from the writers' cgroup, and the same shape without a limit (the cell's cannot,
    /// in the VM's kernel).
    static func ioMaxFromVM(_ run: BenchVM.Run, layer: BenchLayer, hostMode: String) -> BenchOutcome {
        guard let s = run.scenarios[ioMaxScenario], !s.values.isEmpty else {
            return BenchOutcome(verdict: BenchVerdict(.notObserved, "the VM lane gave no figures for \(ioMaxScenario): \(run.problem ?? run.scenarios[ioMaxScenario]?.detail ?? "no BHLANE line")"),
                                keyFigure: "VM: no figures")
        }
        let v = s.values
        let rounds = min(8, max(0, Int(v["rounds"] ?? "") ?? 0))
        // The run's victim: O_DIRECT reads next to O_DIRECT writers (the shape io.max bounds:
        // the writers' own bios), and, prefixed bf_, the cell's fsync victim next to buffered
        // writers (what io.max does not give back; docs/bench.md says why).
        func windows(_ p: String, _ what: String) -> BenchWindows {
            var w = BenchWindows()
            for r in 0..<rounds {
                for phase in [BenchPhase.baseline, .loaded, .contained] {
                    let k = "\(p)r\(r)_\(phase.rawValue)"
                    for (key, name, unit) in victimFigures(what) { w.record(name, phase, round: r, v["\(k)_\(key)"].flatMap(Double.init), unit) }
                    guard p.isEmpty else { continue }
                    for res in PressureResource.allCases {
                        for full in [false, true] {
                            let kind = full ? "full" : "some"
                            w.record(PressureWindow.name(res, full: full, scope: .victimCgroup), phase, round: r, v["\(k)_vpsi_\(res.rawValue)_\(kind)"].flatMap(Double.init), "%")
                            w.record(PressureWindow.name(res, full: full, scope: .host), phase, round: r, v["\(k)_hpsi_\(res.rawValue)_\(kind)"].flatMap(Double.init), "%")
                        }
                    }
                }
            }
            return w
        }
        let what = v["victim_io"] == "dread" ? "O_DIRECT read" : "fsync"
        let w = windows("", what)
        let line = v["io_max_read"].flatMap { $0 == "none" ? nil : $0.replacingOccurrences(of: ",", with: " ") }
        var o = ioMaxOutcome(w, ioMaxLine: line, device: v["dev"] ?? "?", where: "the VM lane's cgroup v2 kernel (\(v["writers_cgroup"] ?? "?"))", what: what)
        let loaded = fsyncService(w, .loaded, band: 0.67, side: .atMost, what: what)
        func mib(_ p: String, _ phase: String) -> Int { Int((Double(v["\(p)\(phase)_writer0_mib"] ?? "") ?? 0) + (Double(v["\(p)\(phase)_writer1_mib"] ?? "") ?? 0)) }
        o.evidence += [
            "the VM's accelerator: \(run.accel ?? "not reported") (under TCG the guest's CPU is emulated, and the host's other work sets its speed: the victim's latency carries its jitter)",
            diskCapEvidence(run.diskCap, alone: w.median("victim \(what) rate", .baseline)),
            "in the VM: \(rounds) rounds of \(v["window"] ?? "?") s windows (bench --vm passes --rounds and --duration, bounded to fit the VM's time: at most 8 rounds, 4 s windows, 100 s of windows)",
            "measured in the VM lane's cgroup v2 kernel (Tests/vm/scenarios/34-bench-io-max.sh, \(s.passed ? "PASS" : "FAIL"): \(s.detail)): this host's cgroups are \(hostMode); two sandboxes on the VM's virtio disk, whatever the layer (the control is the writers' own cgroup's io.max)",
            "victim: \(v["victim_io"] == "dread" ? "4 KiB O_DIRECT reads of its own preallocated file (no page cache, no metadata, no cache flush: it shares only the disk's queue)" : "4 KiB write + fsync"); writers: \(v["writers_io"] == "direct" ? "O_DIRECT 1 MiB writes (each bio submitted, and throttled, in the writer's own context)" : "buffered writes, then fsync")",
            "the same writers without a limit, in the VM: victim at \(loaded?.text ?? "?") of baseline (the cell's cannot: ≤ 67%)",
            "PSI (victim cgroup) is the victim sandbox's own cgroup (\(v["victim_cgroup"] ?? "?")); PSI (host) there is the VM kernel's /proc/pressure",
            "writers' MiB written: unlimited \(mib("", "loaded")), under io.max \(mib("", "contained")); charged to their own cgroup (io.stat wbytes): unlimited \(v["wbytes_mib_unlimited"] ?? "?"), under io.max \(v["wbytes_mib_contained"] ?? "?")",
            "writeback attribution: filesystem \(v["fs"] ?? "?"); cgroup.subtree_control from the root to the writers' leaf \(v["subtree_control"].map { $0.replacingOccurrences(of: ";", with: " ") } ?? "?") (memory and io delegated at every level: buffered writeback is charged to the writers' cgroup, and io.max applies to it)",
        ]
        for (phase, key) in [(BenchPhase.loaded, "unlimited"), (.contained, "contained")] {
            let written = Double(mib("", phase.rawValue))
            if written > 0 { o.measurements.append(BenchMeasurement("writers' MiB written", phase, written, "MiB")) }
            if let charged = v["wbytes_mib_\(key)"].flatMap(Double.init) { o.measurements.append(BenchMeasurement("writers' MiB charged to their cgroup (io.stat wbytes)", phase, charged, "MiB")) }
        }
        // The cell's own victim (fsync) next to buffered writers: what io.max leaves.
        let bf = windows("bf_", "fsync")
        if let bc = fsyncService(bf, .contained, band: 0.7, side: .atLeast), let bl = fsyncService(bf, .loaded, band: 0.67, side: .atMost) {
            o.evidence.append("the cell's fsync victim next to buffered writers, same schedule: unlimited \(bl.text), under io.max \(bc.text) of baseline (writers wrote \(mib("bf_", "loaded")) and \(mib("bf_", "contained")) MiB; charged to their cgroup \(v["bf_wbytes_mib_unlimited"] ?? "?") and \(v["bf_wbytes_mib_contained"] ?? "?") MiB; dirty page cache of the limited writers up to \(v["bf_dirty_max_kib_contained"] ?? "?") KiB): io.max bounds their writeback, and the victim's fsync still waits (docs/bench.md, What closes each cannot)")
        }
        for win in (0..<rounds).flatMap({ r in ["baseline", "loaded", "contained"].map { "r\(r)_\($0)" } }) where v[win + "_late"] != nil {
            o.evidence.append("window \(win) began \(v[win + "_late"] ?? "?") s late: not measured")
        }
        return o
    }

    /// `MAJ:MIN` of the whole disk holding `path` (io.max names disks, not partitions), or nil.
    static func diskDevice(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        // glibc's gnu_dev_major/minor (sys/sysmacros.h), which Swift does not import.
        let d = UInt64(st.st_dev)
        let major = ((d >> 8) & 0xfff) | ((d >> 32) & ~UInt64(0xfff)), minor = (d & 0xff) | ((d >> 12) & ~UInt64(0xff))
        guard major != 0 else { return nil }
        let sys = "/sys/dev/block/\(major):\(minor)"
        guard access(sys, F_OK) == 0 else { return nil }
        if access(sys + "/partition", F_OK) == 0 {
            return FileIO.read(sys + "/../dev")?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return "\(major):\(minor)"
    }
}

extension BenchContext {
    /// The text of `file` in the cgroup v2 leaf the launcher `l` made for its sandbox
    /// (`bulkhead/…/c-PID-…`, PID the launcher's: the launching shell execs it), read while it
    /// runs (looking until it ends, at most until its deadline: a launcher can take seconds to
    /// make its leaf, more than 5 s under the VM lane's TCG), once the file holds something (an
    /// empty io.max is a leaf whose limits are not written yet), or nil.
    func readWhileRunning(_ l: Launched, leafFile: String) -> String? {
        let prefix = "c-\(l.child.pid)-"
        let until = l.deadline
        while l.child.isRunning && Monotonic.now() < until {
            var dirs = ["/sys/fs/cgroup/bulkhead"]
            for _ in 0..<3 {
                var next: [String] = []
                for d in dirs {
                    for e in FileIO.listDirectory(d) where access("\(d)/\(e)/cgroup.procs", F_OK) == 0 {
                        // Not yet written (the launcher makes its leaf, then writes the limits): look again.
                        if e.hasPrefix(prefix), let text = FileIO.read("\(d)/\(e)/\(leafFile)", limit: 4096),
                           !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return text }
                        next.append("\(d)/\(e)")
                    }
                }
                dirs = next
            }
            samplePressure()
            usleep(20_000)
        }
        return nil
    }
}

extension BenchPods {
    /// The victim's figure `to` minus its figure `from`, or nil without both.
    func change(_ from: String, _ to: String) -> Double? {
        guard let a = double(from), let b = double(to) else { return nil }
        return b - a
    }
}
