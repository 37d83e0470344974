import BulkheadModel

/// CPU time, caches and memory bandwidth, memory: a victim's work rate alone and next to a
/// hog or a bomb (the Isolation Benchmark Suite's CPU-hog and memory-bomb experiments).
enum ComputeExperiments {
    /// Victim band of the "can" cells: the victim keeps at least this share of its baseline.
    /// Wide, for a shared 2-core machine; a hog without its limit takes about half.
    static let band = 0.7

    /// The victim's request–response service, started in the background of its container
    /// before its two throughput windows and timed to match them (`vl0`, `vl1`): a paced
    /// client and a server of its own (BenchPrograms.requestLatency), a few % of one CPU.
    static func service(_ work: BenchPrograms.RequestWork, _ s: Double) -> String {
        "(" + BenchPrograms.requestLatency("vl", work: work, windows: 2, seconds: s, delay: 0.45) + ") & "
    }

    static func cpu(_ layer: BenchLayer) -> BenchExperiment {
        let podLevel = layer == .pod
        return BenchExperiment(.cpu, layer, expect: .can,
            claim: podLevel ? "the pod cgroup bounds the sum of its containers: a pod of hogs limited to 0.5 CPU gets about half a core, a neighbour pod keeps its share"
                            : "cpu.max: a hog container limited to 0.5 CPU gets about half a core, and a sibling container keeps its share",
            method: (podLevel ? "Aggressor: a pod of three containers with a busy loop and limits.cpu 500m each (1.5 CPUs together) and bulkhead.dev/pod-limits cpu=500m; victim: a pod next to it"
                              : "Aggressor: a container of three busy loops with limits.cpu 500m; victim: a second container of the same pod")
                + " counting work units in two windows of one run: alone, then with the hog running. On 2 CPUs, without the limit the four loops would share them and the victim would keep about half its rate.") { ctx in
            // One run, two windows of the victim: alone, then with the hog started between
            // them, so that the load of a shared machine drifts as little as possible between
            // baseline and measurement.
            let s = ctx.phaseSeconds
            let second = 0.4 + s + 0.3
            // requests.cpu as the kubelet sets it: the victim's weight is that of a whole CPU, the
            // hogs' a tenth, so that under other load on a shared machine the share follows the
            // requests and the limit still bounds the hogs.
            let victim = BenchWorkload(name: "victim", script: service(.cpu, s) + BenchPrograms.cpuRate("v_rate0", seconds: s, delay: 0.4) + "; "
                                       + BenchPrograms.cpuRate("v_rate1", seconds: s, delay: 0.3) + "; wait", requests: ["cpu": "1"])
            let hogScript = { (procs: Int) in "sleep \(BenchPrograms.fmt(second - 0.2)); " + BenchPrograms.cpuHog(procs: procs, seconds: s + 0.6) }
            let loaded: BenchPods
            if podLevel {
                // A pod of three hog containers of 0.5 CPU each under pod-limits cpu=500m: the pod
                // bounds their sum of 1.5, which their own limits would allow.
                let hogs = (1...3).map { BenchWorkload(name: "hog\($0)", script: hogScript(1), limits: ["cpu": "500m"], requests: ["cpu": "100m"]) }
                loaded = try ctx.runPodGroups([hogs.map { var h = $0; h.podLimits = "cpu=500m"; return h }, [victim]])
            } else {
                let hog = BenchWorkload(name: "hog", script: hogScript(3), limits: ["cpu": "500m"], requests: ["cpu": "100m"])
                loaded = try ctx.runPods(.samePod, [hog, victim])
            }
            let base = loaded
            // The pod's hogs are three containers: their sum is what the pod cgroup bounds.
            let hogNames = podLevel ? ["hog1", "hog2", "hog3"] : ["hog"]
            let (share, throttled) = loaded.cpuShare(ofContainers: hogNames)
            let r = ratio(loaded.double("v_rate1"), base.double("v_rate0"))
            // In the pod the throttling happens in the pod cgroup, not in the containers' own.
            let contained = (podLevel || throttled > 0) && share <= 0.65
            var o = BenchOutcome(
                verdict: BenchVerdict.judgeCan(victimRatio: r, band: band, contained: contained,
                                               containment: "the hog got \(BenchFormat.value(share, "CPU")), throttled in \(Int(throttled)) periods"),
                keyFigure: "victim \(r.map(BenchFormat.percent) ?? "?"), hog \(BenchFormat.value(share, "CPU"))",
                chartMetric: "victim work rate")
            o.measurements = [
                BenchMeasurement("victim work rate", .baseline, base.double("v_rate0") ?? .nan, "units/s"),
                BenchMeasurement("victim work rate", .contained, loaded.double("v_rate1") ?? .nan, "units/s"),
                BenchMeasurement("hog CPU share", .evidence, share, "CPU"),
                BenchMeasurement("hog throttled periods (cpu.stat nr_throttled)", .evidence, throttled, ""),
            ] + ctx.serviceMeasurements(loaded.values, "vl0", .baseline) + ctx.serviceMeasurements(loaded.values, "vl1", .contained)
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
                + " sweeping a 16 MiB buffer (MB/s) in two windows of one run, alone and then next to the bomb; the outer cgroup allows 768 MiB.") { ctx in
            let s = ctx.phaseSeconds
            // Two windows of one run, as for CPU: alone, then with the bomb started between them.
            let second = 0.4 + s + 0.3
            let victim = BenchWorkload(name: "victim", script: service(.memory, s) + BenchPrograms.memorySweep("v_sweep0", seconds: s, delay: 0.4) + "; "
                                       + BenchPrograms.memorySweep("v_sweep1", seconds: s, delay: 0.3) + "; wait")
            var bomb = BenchWorkload(name: "bomb", script: "sleep \(BenchPrograms.fmt(second - 0.2)); " + BenchPrograms.memoryBomb(maxMiB: 512, seconds: s + 0.6))
            if podLevel { bomb.podLimits = "memory=64Mi" } else { bomb.limits = ["memory": "64Mi"] }
            let loaded = try ctx.runPods(BenchPlacement(layer), [bomb, victim])
            let base = loaded
            let stats = podLevel ? loaded.podStats(holding: "bomb") : loaded.containerStats("bomb")
            let kills = number(stats, "oomKills") ?? 0
            let peak = (number(stats, "memoryPeakBytes") ?? 0) / 1_048_576
            let exit = loaded.exitCode("bomb")
            let victimExit = loaded.exitCode("victim")
            let contained = (kills > 0 || exit == 137) && victimExit == 0
            let r = ratio(loaded.double("v_sweep1"), base.double("v_sweep0"))
            var o = BenchOutcome(
                verdict: BenchVerdict.judgeCan(victimRatio: r, band: band, contained: contained,
                                               containment: "the bomb was OOM-killed (oom_kill \(Int(kills)), exit \(exit.map(String.init) ?? "?"), peak \(Int(peak)) MiB), the victim exited \(victimExit.map(String.init) ?? "?")"),
                keyFigure: "victim \(r.map(BenchFormat.percent) ?? "?"), bomb OOM at \(Int(peak)) MiB",
                chartMetric: "victim sweep rate")
            o.measurements = [
                BenchMeasurement("victim sweep rate", .baseline, base.double("v_sweep0") ?? .nan, "MB/s"),
                BenchMeasurement("victim sweep rate", .contained, loaded.double("v_sweep1") ?? .nan, "MB/s"),
                BenchMeasurement("bomb oom kills (memory.events oom_kill)", .evidence, kills, ""),
                BenchMeasurement("bomb memory peak", .evidence, peak, "MiB"),
                BenchMeasurement("bomb allocated before the kill", .evidence, loaded.double("bomb_mib") ?? 0, "MiB"),
            ] + ctx.serviceMeasurements(loaded.values, "vl0", .baseline) + ctx.serviceMeasurements(loaded.values, "vl1", .contained)
            if !loaded.problems.isEmpty { o.evidence.append(loaded.problems) }
            return o
        }
    }

    /// No cgroup controller partitions the last-level cache or memory bandwidth here (no
    /// resctrl): a memory-bound victim slows next to a sweeping neighbour, whatever the layer.
    static func cacheBandwidth(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.cacheBandwidth, layer, expect: .cannot,
            claim: "a cache and memory-bandwidth hog slows a memory-bound victim: no layer partitions the caches or the memory bus",
            method: "Victim: sweeps a 24 MiB buffer, in MB per second of its own CPU time (CPU time it loses to the aggressor or anything else does not count), in two windows of one run: alone, then with the aggressor started between them. Aggressor: a process sweeping a 64 MiB buffer of its own. Both run on CPU 0: this VM's two vCPUs do not always share a last-level cache (the hypervisor places them), while one CPU's caches are always shared by whatever runs on it; "
                + "placed across the \(layer.rawValue) boundary. The effect must be a fall to 90% or less.") { ctx in
            let s = ctx.phaseSeconds
            let second = 0.4 + s + 0.3
            let victim = BenchWorkload(name: "victim", script: service(.memory, s) + BenchPrograms.memorySweep("v_sweep0", seconds: s, delay: 0.4, mebibytes: 24, perCPUSecond: true, cpu: 0) + "; "
                                       + BenchPrograms.memorySweep("v_sweep1", seconds: s, delay: 0.3, mebibytes: 24, perCPUSecond: true, cpu: 0) + "; wait")
            let hog = BenchWorkload(name: "hog", script: "sleep \(BenchPrograms.fmt(second - 0.2)); "
                                    + BenchPrograms.memorySweep("a_sweep", seconds: s + 0.6, delay: 0, mebibytes: 64, cpu: 0))
            let run = try ctx.runPods(BenchPlacement(layer), [hog, victim])
            let r = ratio(run.double("v_sweep1"), run.double("v_sweep0"))
            var o = BenchOutcome(verdict: BenchVerdict.judgeSlowdown(victimRatio: r, atMost: 0.9, what: "memory sweep next to a sweeping neighbour"),
                                 keyFigure: "victim \(r.map(BenchFormat.percent) ?? "?")", chartMetric: "victim sweep rate")
            o.measurements = [
                BenchMeasurement("victim sweep rate", .baseline, run.double("v_sweep0") ?? .nan, "MB/CPU-s"),
                BenchMeasurement("victim sweep rate", .loaded, run.double("v_sweep1") ?? .nan, "MB/CPU-s"),
            ] + ctx.serviceMeasurements(run.values, "vl0", .baseline) + ctx.serviceMeasurements(run.values, "vl1", .loaded)
            if !run.problems.isEmpty { o.evidence.append(run.problems) }
            return o
        }
    }
}
