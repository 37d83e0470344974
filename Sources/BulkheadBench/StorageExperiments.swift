import BulkheadModel

/// Disk bandwidth and disk space.
enum StorageExperiments {
    /// Every layer shares the node's disk: without io.max (cgroup v2, or v1 blkio for direct
    /// I/O) a writer slows a neighbour's fsync. The io.max half runs in the VM lane.
    static func diskBandwidth(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.diskBandwidth, layer, expect: .cannot,
            claim: "a writer slows a neighbour's fsync latency: the node's disk is shared by every layer unless io.max bounds the writer",
            method: "Victim: a sandbox writing 4 KiB and fsync'ing in a loop (ops/s, p50/p90 latency), in a directory of the host's disk bound in; aggressor: a second sandbox with two writers of 64 MiB files with fsync (dd conv=fsync) on the same disk. Slowed means: fsync rate or p90 latency at most 67% as good as alone. Neither has an I/O limit, as by default at every layer; io.max containment: Tests/vm/scenarios/23-bh-io.sh.") { ctx in
            let s = ctx.phaseSeconds
            let bind = ["--bind", "\(ctx.shared):/mnt"]
            let victim = bind + ["--", "/bin/sh", "-c", BenchPrograms.fsyncLatency("v", file: "/mnt/victim-\(layer.rawValue)", seconds: s, delay: 0.5)]
            let writer = bind + ["--", "/bin/sh", "-c", "(\(BenchPrograms.diskWriter(dir: "/mnt", name: "w1", mib: 64, seconds: s + 1))) & (\(BenchPrograms.diskWriter(dir: "/mnt", name: "w2", mib: 64, seconds: s + 1))) & wait"]
            let base = try ctx.runSandboxes([victim])
            let loaded = try ctx.runSandboxes([writer, victim])
            let b = base.reduce(into: [String: String]()) { $0.merge($1.values) { a, _ in a } }
            let l = loaded.reduce(into: [String: String]()) { $0.merge($1.values) { a, _ in a } }
            // The victim's service level: the worse of its fsync rate and its p90 latency
            // (inverted, so that 0.5 means "half as good" for both).
            let opsRatio = ratio(Double(l["v_ops"] ?? ""), Double(b["v_ops"] ?? ""))
            let p90Ratio = ratio(Double(b["v_p90"] ?? ""), Double(l["v_p90"] ?? ""))
            let r = [opsRatio, p90Ratio].compactMap { $0 }.min()
            var o = BenchOutcome(verdict: BenchVerdict.judgeSlowdown(victimRatio: r, atMost: 0.67, what: "fsync rate or p90 latency next to a writer"),
                                 keyFigure: "fsync p90 \(b["v_p90"] ?? "?") → \(l["v_p90"] ?? "?") ms", chartMetric: "victim fsync p90 latency")
            o.measurements = [
                BenchMeasurement("victim fsync p90 latency", .baseline, Double(b["v_p90"] ?? "") ?? .nan, "ms"),
                BenchMeasurement("victim fsync p90 latency", .loaded, Double(l["v_p90"] ?? "") ?? .nan, "ms"),
                BenchMeasurement("writers' 64 MiB rounds", .evidence, (Double(l["w1_rounds"] ?? "") ?? .nan) + (Double(l["w2_rounds"] ?? "") ?? .nan), ""),
            ] + ctx.serviceMeasurements(b, "v", .baseline) + ctx.serviceMeasurements(l, "v", .loaded)
            return o
        }
    }

    static func diskSpaceContainer() -> BenchExperiment {
        BenchExperiment(.diskSpace, .container, expect: .can,
            claim: "a size-limited tmpfs (the ephemeral-storage quota) stops a filler with ENOSPC at its quota; a directory shared by the containers is not bounded per container",
            method: "Aggressor: a container with limits.ephemeral-storage 8Mi fills its /tmp, then fills the pod's shared emptyDir (16Mi); victim: a sibling container writes 2 MiB to its own /tmp and 2 MiB to the shared emptyDir afterwards.") { ctx in
            let filler = BenchWorkload(name: "filler", script: BenchPrograms.fill("a_tmp", dir: "/tmp", maxMiB: 64) + "; "
                                       + BenchPrograms.fill("a_shared", dir: "/mnt", maxMiB: 64) + "; sleep 1.5",
                                       limits: ["ephemeral-storage": "8Mi"])
            let victim = BenchWorkload(name: "victim", script: "sleep 1.2; " + BenchPrograms.fill("v_tmp", dir: "/tmp", maxMiB: 2) + "; "
                                       + BenchPrograms.fill("v_shared", dir: "/mnt", name: "victim", maxMiB: 2))
            let run = try ctx.runPods(.samePod, [filler, victim])
            let v = run.values
            let quota = v["a_tmp_errno"] == "ENOSPC" && (Int(v["a_tmp_mib"] ?? "") ?? 99) <= 8
            let victimOwn = v["v_tmp_errno"] == "none" && v["v_tmp_mib"] == "2"
            let sharedFull = v["v_shared_errno"] == "ENOSPC"
            let summary = "filler: /tmp \(v["a_tmp_errno"] ?? "?") after \(v["a_tmp_mib"] ?? "?") MiB; victim's own /tmp took \(v["v_tmp_mib"] ?? "?") MiB (\(v["v_tmp_errno"] ?? "?")); the shared emptyDir gave the victim \(v["v_shared_errno"] ?? "?")"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(quota && victimOwn && sharedFull, .can, summary),
                                 keyFigure: "ENOSPC at \(v["a_tmp_mib"] ?? "?") MiB")
            o.measurements = [
                BenchMeasurement("filler's /tmp before ENOSPC", .contained, Double(v["a_tmp_mib"] ?? "") ?? .nan, "MiB"),
                BenchMeasurement("victim's own /tmp written", .contained, Double(v["v_tmp_mib"] ?? "") ?? .nan, "MiB"),
                BenchMeasurement("victim's write to the shared directory", .loaded, Double(v["v_shared_mib"] ?? "") ?? .nan, "MiB"),
            ]
            o.evidence = ["shared emptyDir: \(v["v_shared_errno"] ?? "?") for the victim once the filler took it"]
            return o
        }
    }

    static func diskSpacePod() -> BenchExperiment {
        BenchExperiment(.diskSpace, .pod, expect: .can,
            claim: "an emptyDir with sizeLimit stops a filler at its limit (ENOSPC); a neighbour pod's volume is its own",
            method: "Aggressor: a pod fills its emptyDir (sizeLimit 16Mi); victim: a neighbour pod writes 4 MiB to its own emptyDir meanwhile.") { ctx in
            let filler = BenchWorkload(name: "filler", script: BenchPrograms.fill("a", dir: "/mnt", maxMiB: 64) + "; sleep 1.5")
            let victim = BenchWorkload(name: "victim", script: "sleep 1.0; " + BenchPrograms.fill("v", dir: "/mnt", maxMiB: 4))
            let run = try ctx.runPods(.ownPods, [filler, victim])
            let v = run.values
            let ok = v["a_errno"] == "ENOSPC" && (Int(v["a_mib"] ?? "") ?? 99) <= 16 && v["v_errno"] == "none" && v["v_mib"] == "4"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, "filler: \(v["a_errno"] ?? "?") after \(v["a_mib"] ?? "?") MiB; neighbour pod wrote \(v["v_mib"] ?? "?") MiB (\(v["v_errno"] ?? "?"))"),
                                 keyFigure: "ENOSPC at \(v["a_mib"] ?? "?") MiB")
            o.measurements = [
                BenchMeasurement("filler's emptyDir before ENOSPC", .contained, Double(v["a_mib"] ?? "") ?? .nan, "MiB"),
                BenchMeasurement("neighbour pod's write", .contained, Double(v["v_mib"] ?? "") ?? .nan, "MiB"),
            ]
            return o
        }
    }
}
