import BulkheadConfig
import BulkheadModel
import BulkheadSystem

/// CPU time, caches and memory bandwidth, memory: a victim's work rate alone and next to a
/// hog or a bomb (the Isolation Benchmark Suite's CPU-hog and memory-bomb experiments).
enum ComputeExperiments {
    /// Victim band of the "can" cells: the victim keeps at least this share of its baseline.
    /// Wide, for a shared 2-core machine; a hog without its limit takes about half.
    static let band = 0.7

    /// The CPU a hog limited to 0.5 CPU must get for the cpu cells to test cpu.max: 80% of it.
    static let hogNeed = 0.4
    /// The cache cells' needs: the aggressor sweeping beside the victim on CPU 0 for at least
    /// half its fair share there (0.25 CPU), and the victim alone on CPU 0 for at least half of
    /// it (0.5 CPU): below that, other work shares the victim's CPU (and so its caches) in the
    /// baseline windows more than the aggressor does in the loaded ones.
    static let sweeperNeed = 0.25
    static let victimAloneNeed = 0.5

    /// The 1-minute load average, for the evidence of a cell the machine's load decided.
    static func loadAverage() -> String {
        (FileIO.read("/proc/loadavg") ?? "?").split(separator: " ").first.map(String.init) ?? "?"
    }

    static func cpu(_ layer: BenchLayer) -> BenchExperiment {
        let podLevel = layer == .pod
        return BenchExperiment(.cpu, layer, expect: .can,
            claim: podLevel ? "the pod cgroup bounds the sum of its containers: a pod of hogs limited to 0.5 CPU gets about half a core, a neighbour pod keeps its share"
                            : "cpu.max: a hog container limited to 0.5 CPU gets about half a core, and a sibling container keeps its share",
            method: (podLevel ? "Aggressor: a pod of three containers with a busy loop and limits.cpu 500m each (1.5 CPUs together) and bulkhead.dev/pod-limits cpu=500m; victim: a pod next to it"
                              : "Aggressor: a container of three busy loops with limits.cpu 500m; victim: a second container of the same pod")
                + " counting work units in interleaved windows of one run (per round: alone and with the hogs running, in ABBA order; the hogs run only in their windows). On 2 CPUs, without the limit the four loops would share them and the victim would keep about half its rate.") { ctx in
            // One run, interleaved windows of the victim (BenchSchedule, ABBA): alone, then with
            // the hog running, round after round, so that the load of a shared machine drifts as
            // little as possible between baseline and measurement. The hogs run only in the
            // contained windows, one start serving each pair of adjacent ones.
            let sched = BenchSchedule(ctx, [.baseline, .contained])
            // requests.cpu as the kubelet sets it: the victim's weight is that of a whole CPU, the
            // hogs' a tenth, so that under other load on a shared machine the share follows the
            // requests and the limit still bounds the hogs.
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.withService(sched, .cpu, BenchScheduled.cpuRate(sched, prefix: "v")), requests: ["cpu": "1"])
            let hogScript = { (procs: Int) in BenchScheduled.cpuHog(sched, .contained, procs: procs) }
            let loaded: BenchPods
            if podLevel {
                // A pod of three hog containers of 0.5 CPU each under pod-limits cpu=500m: the pod
                // bounds their sum of 1.5, which their own limits would allow.
                let hogs = (1...3).map { BenchWorkload(name: "hog\($0)", script: hogScript(1), limits: ["cpu": "500m"], requests: ["cpu": "100m"]) }
                loaded = try ctx.runPodGroups([hogs.map { var h = $0; h.podLimits = "cpu=500m"; return h }, [victim]], seconds: sched.deadline, schedule: sched)
            } else {
                let hog = BenchWorkload(name: "hog", script: hogScript(3), limits: ["cpu": "500m"], requests: ["cpu": "100m"])
                loaded = try ctx.runPods(.samePod, [hog, victim], seconds: sched.deadline, schedule: sched)
            }
            var w = BenchWindows()
            sched.collect(loaded.values, prefix: "v", as: "victim work rate", unit: "units/s", into: &w)
            // The pod's hogs are three containers: their sum is what the pod cgroup bounds.
            let hogNames = podLevel ? ["hog1", "hog2", "hog3"] : ["hog"]
            let (share, throttled) = loaded.cpuShare(ofContainers: hogNames)
            let r = w.summary("victim work rate", .contained, band: band, side: .atLeast)
            // In the pod the throttling happens in the pod cgroup, not in the containers' own.
            let contained = (podLevel || throttled > 0) && share <= 0.65
            // cpu.max holds a hog only once it reaches the limit: a hog that the machine's other
            // load kept below it (load average 11 to 20 here) tests nothing, and a "can" then
            // would be the other load's, not the limit's. Its own cgroups' usage says.
            let measured = hogNames.contains { number(loaded.containerStats($0), "cpuUsageMicros") != nil }
            let load = Self.loadAverage()
            var o = BenchOutcome(judging: r, by: { q in
                let v = BenchVerdict.judgeCan(summary: q, contained: contained,
                                              containment: "the hog got \(BenchFormat.value(share, "CPU")), throttled in \(Int(throttled)) periods")
                    .requiring([.init("the hog's own CPU over its windows (cpu.stat usage of its cgroup\(podLevel ? "s" : ""))", measured ? share : nil,
                                      atLeast: Self.hogNeed, "CPU")],
                               context: "cpu.max bounds a hog only once it reaches its 0.5 CPU; the machine's other load kept it below (load average \(load))")
                return BenchJudgement(verdict: v, keyFigure: "victim \(q?.text ?? "?"), hog \(BenchFormat.value(share, "CPU"))", shown: q)
            }, chartMetric: "victim work rate")
            o.measurements = w.measurements + [
                BenchMeasurement("hog CPU share", .evidence, share, "CPU"),
                BenchMeasurement("hog throttled periods (cpu.stat nr_throttled)", .evidence, throttled, ""),
            ] + ctx.serviceMeasurements(loaded.values, sched, prefix: "vl")
            o.evidence += sched.late(loaded.values, prefix: "v")
            if !loaded.problems.isEmpty { o.evidence.append(loaded.problems) }
            return o
        }
    }

    static func memory(_ layer: BenchLayer) -> BenchExperiment {
        let podLevel = layer == .pod
        return BenchExperiment(.memory, layer, expect: .can,
            claim: podLevel ? "pod memory.max: a pod whose containers together pass the pod's limit is OOM-killed inside its pod; a neighbour pod's rate holds"
                            : "memory.max: a container past its limit is OOM-killed alone; the neighbour container's rate holds",
            method: (podLevel ? "Aggressor: a pod with bulkhead.dev/pod-limits memory=64Mi whose container allocates 8 MiB at a time up to 512 MiB; victim: a pod next to it"
                              : "Aggressor: a container with limits.memory 64Mi allocating 8 MiB at a time up to 512 MiB; victim: a sibling container")
                + " sweeping a 16 MiB buffer (MB/s) in interleaved windows of one run, alone and next to the bomb (a fresh bomb in each of its spans); the outer cgroup allows 768 MiB.") { ctx in
            // Interleaved windows of one run, as for CPU; in each contained span a fresh bomb
            // child allocates until the OOM killer takes it.
            let sched = BenchSchedule(ctx, [.baseline, .contained])
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.withService(sched, .memory, BenchScheduled.memorySweep(sched, prefix: "v")))
            var bomb = BenchWorkload(name: "bomb", script: BenchScheduled.memoryBomb(sched, .contained, maxMiB: 512))
            if podLevel { bomb.podLimits = "memory=64Mi" } else { bomb.limits = ["memory": "64Mi"] }
            let loaded = try ctx.runPods(BenchPlacement(layer), [bomb, victim], seconds: sched.deadline, schedule: sched)
            var w = BenchWindows()
            sched.collect(loaded.values, prefix: "v", as: "victim sweep rate", unit: "MB/s", into: &w)
            let stats = podLevel ? loaded.podStats(holding: "bomb") : loaded.containerStats("bomb")
            let kills = number(stats, "oomKills") ?? 0
            let peak = (number(stats, "memoryPeakBytes") ?? 0) / 1_048_576
            let exit = loaded.exitCode("bomb")
            let victimExit = loaded.exitCode("victim")
            // A bomb child killed by the OOM killer does not end its container: the kill count,
            // or (cgroup v1 counts a pod's kills elsewhere) the bomb's children ended by SIGKILL.
            let killed = loaded.double("bomb_killed") ?? 0
            let contained = (kills > 0 || exit == 137 || killed > 0) && victimExit == 0
            let r = w.summary("victim sweep rate", .contained, band: band, side: .atLeast)
            var o = BenchOutcome(judging: r, by: { q in
                BenchJudgement(verdict: BenchVerdict.judgeCan(summary: q, contained: contained,
                                                              containment: "the bomb was OOM-killed (oom_kill \(Int(kills)), SIGKILLed children \(Int(killed)), exit \(exit.map(String.init) ?? "?"), peak \(Int(peak)) MiB), the victim exited \(victimExit.map(String.init) ?? "?")"),
                               keyFigure: "victim \(q?.text ?? "?"), bomb OOM at \(Int(peak)) MiB", shown: q)
            }, chartMetric: "victim sweep rate")
            o.measurements = w.measurements + [
                BenchMeasurement("bomb oom kills (memory.events oom_kill)", .evidence, kills, ""),
                BenchMeasurement("bomb memory peak", .evidence, peak, "MiB"),
                BenchMeasurement("bomb allocated before the kill", .evidence, loaded.double("bomb_mib") ?? 0, "MiB"),
            ] + ctx.serviceMeasurements(loaded.values, sched, prefix: "vl")
            o.evidence += sched.late(loaded.values, prefix: "v")
            if !loaded.problems.isEmpty { o.evidence.append(loaded.problems) }
            return o
        }
    }

    /// The cache cells' working sets, from the last-level cache CPU 0 reports (index3): the
    /// victim's three eighths of it, the aggressor's twice it (BenchCacheRounds.sizes says why).
    static func cacheSizes() -> (victim: Int, aggressor: Int, llc: Int?) {
        BenchCacheRounds.sizes(llc: FileIO.read("/sys/devices/system/cpu/cpu0/cache/index3/size") ?? "")
    }

    /// No cgroup controller partitions the last-level cache or memory bandwidth here (no
    /// resctrl): a memory-bound victim slows next to a sweeping neighbour, whatever the layer.
    static func cacheBandwidth(_ layer: BenchLayer) -> BenchExperiment {
        let size = cacheSizes()
        return BenchExperiment(.cacheBandwidth, layer, expect: .cannot,
            claim: "a cache and memory-bandwidth hog slows a memory-bound victim: no layer partitions the caches or the memory bus",
            method: "Victim: sweeps a \(size.victim) MiB buffer (three eighths of the last-level cache, \(size.llc.map { "\($0) MiB" } ?? "unknown, 32 MiB assumed")), in MB per second of its own CPU time (CPU time it loses to the aggressor or anything else does not count), in interleaved windows of one run: alone and with the aggressor sweeping (it sweeps only in its windows). Aggressor: a process sweeping a \(size.aggressor) MiB buffer of its own. Both run on CPU 0: this VM's two vCPUs do not always share a last-level cache (the hypervisor places them), while one CPU's caches are always shared by whatever runs on it; "
                + "placed across the \(layer.rawValue) boundary. Other work on CPU 0 evicts the victim's caches as the aggressor does, so a round is judged only when the victim's own CPU share says other work held at most \(BenchFormat.percent(BenchCacheRounds.othersAtMost)) of CPU 0 in its windows (at least \(BenchCacheRounds.need(.baseline)) CPU alone, \(BenchCacheRounds.need(.loaded)) next to the aggressor); with fewer than two such rounds the cell is not measurable. The effect must be a fall to 90% or less. The same run has a third phase for what closes the cell (CPU pinning, its mitigation).") { ctx in
            // A third phase on the same schedule measures what closes the cell (Mitigations,
            // CPU pinning): the aggressor as a sandbox on CPU 1, sweeping only in the contained
            // windows, sharing the cell's baseline windows instead of a second run repeating them.
            // The first window begins once the pods and the pinned sandbox are ready (a start
            // gate: with a fixed lead of 1 s the first window of all three cells began late at
            // load average 20, and 1.5 s was idle on a quiet machine).
            let sched = BenchSchedule(ctx, [.baseline, .loaded, .contained])
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.withService(sched, .memory, BenchScheduled.cacheSweep(sched, prefix: "v", mebibytes: size.victim, cpu: 0)))
            let hog = BenchWorkload(name: "hog", script: BenchScheduled.memorySweeper(sched, .loaded, mebibytes: size.aggressor, cpu: 0))
            let pinnedReport = ctx.scratch + "/cache-pinned-\(layer.rawValue).json"
            let pinned = try Mitigations.pinnedSweeper(sched, mebibytes: size.aggressor, report: pinnedReport).map { try ctx.launch($0, timeout: sched.deadline + 4) }
            let run: BenchPods
            do { run = try ctx.runPods(BenchPlacement(layer), [hog, victim], seconds: sched.deadline, schedule: sched, beside: pinned.map { [$0] } ?? []) } catch {
                _ = pinned.map { ctx.finish($0) }
                throw error
            }
            let pinnedRun = pinned.map { ctx.finish($0) }
            var w = BenchWindows()
            sched.collect(run.values, prefix: "v", as: "victim sweep rate", unit: "MB/CPU-s", into: &w)
            // The victim's own CPU per window (its sweep is counted per CPU-second of it), the
            // times other work took CPU 0 from it and its page faults; and the aggressor's own
            // CPU over its spans (its container's cgroup usage).
            for win in sched.windows {
                let key = win.key("v")
                w.record(BenchCacheRounds.share, win.phase, round: win.round, run.values[key + "_cpu"].flatMap(Double.init), "CPU")
                w.record("victim involuntary context switches", win.phase, round: win.round, run.values[key + "_ivcsw"].flatMap(Double.init), "")
                w.record("victim page faults", win.phase, round: win.round, run.values[key + "_minflt"].flatMap(Double.init), "")
                w.record(BenchCacheRounds.reference, win.phase, round: win.round, run.values[key + "_ref"].flatMap(Double.init), "loops/CPU-s")
                w.record(BenchCacheRounds.steal, win.phase, round: win.round, run.values[key + "_steal0"].flatMap(Double.init), "CPU")
                w.record("CPU 1 busy", win.phase, round: win.round, run.values[key + "_busy1"].flatMap(Double.init), "CPU")
            }
            // Judged on the rounds in which CPU 0 was the cell's (BenchCacheRounds); the report
            // keeps every window.
            let judged = BenchCacheRounds.judged(w.measurements, .loaded)
            let r = BenchWindows(measurements: BenchCacheRounds.only(judged, w.measurements))
                .summary("victim sweep rate", .loaded, band: 0.9, side: .atMost)
            let spans = sched.plan.spans(.loaded).reduce(0.0) { $0 + $1.to - $1.from }
            let sweeper = number(run.containerStats("hog"), "cpuUsageMicros").map { $0 / 1e6 / max(spans, 1e-3) }
            let alone = w.median(BenchCacheRounds.share, .baseline)
            // Fewer than two judged rounds (one with --quick) decide nothing, a cannot included:
            // the interval of one round is a point. A cell with too few shows its ratio over all
            // rounds (the report's strip and key figure), marked as such; its verdict is
            // not-measurable. The judgement counts the judged rounds its ratio has (the
            // run's, or two runs' pooled: BenchCellMeasure).
            let need = min(2, ctx.rounds)
            let all = w.summary("victim sweep rate", .loaded, band: 0.9, side: .atMost)
            let load = Self.loadAverage()
            var o = BenchOutcome(judging: r, by: { q in
                let count = q?.rounds ?? 0
                guard count >= need else {
                    return BenchJudgement(
                        verdict: BenchVerdict(.notMeasurable, "the experiment could not test its claim: \(count) rounds judged (needs \(need)): in the others other work held more than \(BenchFormat.percent(BenchCacheRounds.othersAtMost)) of CPU 0 in a window (the victim's CPU share); other work shared CPU 0 (load average \(load)); all rounds of the run gave victim at \(all?.text ?? "?") of baseline"),
                        keyFigure: "victim \(all?.text ?? "?") over all rounds, \(count) judged", shown: all)
                }
                let v = BenchVerdict.judgeSlowdown(summary: q, what: "memory sweep next to a sweeping neighbour")
                    .requiring([.init("the aggressor's own CPU over its windows (cgroup usage)", sweeper, atLeast: Self.sweeperNeed, "CPU"),
                                .init("the victim's CPU alone on CPU 0 (median of its baseline windows)", alone, atLeast: Self.victimAloneNeed, "CPU")],
                               context: "other work shared CPU 0 (load average \(load))")
                return BenchJudgement(verdict: v, keyFigure: "victim \(q?.text ?? "?")", shown: q)
            }, chartMetric: "victim sweep rate")
            let service = ctx.serviceMeasurements(run.values, sched, prefix: "vl")
            o.measurements = w.measurements.filter { $0.phase != .contained } + service.filter { $0.phase != .contained }
                + [BenchMeasurement("aggressor CPU over its windows (cgroup usage)", .evidence, sweeper ?? .nan, "CPU"),
                   BenchMeasurement("rounds judged (CPU 0 the cell's)", .evidence, Double(judged.count), "")]
            o.evidence.append("judged on rounds [\(judged.map(String.init).joined(separator: ", "))] of 0–\(ctx.rounds - 1): in the others, other work held more than \(BenchFormat.percent(BenchCacheRounds.othersAtMost)) of CPU 0 in a window (the victim's CPU share)")
            let late = sched.late(run.values, prefix: "v")
            o.evidence += late
            if !run.problems.isEmpty { o.evidence.append(run.problems) }
            var m = Mitigations.cpuPinningOutcome(w, pinned: pinnedRun.map { $0.status == 0 && Mitigations.enforcedFiles(Mitigations.report(pinnedReport)).contains { $0.hasSuffix("/cpuset.cpus") } },
                                                  late: late)
            m.measurements += service.filter { $0.phase != .loaded }
            ctx.cellMitigation = (m, Double(ctx.rounds) * (sched.window + sched.gap))
            return o
        }
    }
}
