import BulkheadConfig
import BulkheadModel
import Foundation
import Glibc

/// Disk bandwidth and disk space.
enum StorageExperiments {
    /// Every layer shares the node's disk: without io.max (cgroup v2, or v1 blkio for direct
    /// I/O) a writer slows a neighbour's fsync. The io.max run (the mitigation) needs cgroup v2:
    /// here on a v2 host, else in the VM lane with `--vm`.
    static func diskBandwidth(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.diskBandwidth, layer, expect: .cannot, vmScenarios: [Mitigations.ioMaxScenario],
            claim: "a writer slows a neighbour's fsync latency: the node's disk is shared by every layer unless io.max bounds the writer",
            method: "Victim: a sandbox writing 4 KiB and fsync'ing in a loop (ops/s, p50/p90 latency), in a directory of the host's disk bound in, in interleaved windows alone and loaded; aggressor: a second sandbox with two writers of 64 MiB files with fsync on the same disk, writing only in the loaded windows. Slowed means: fsync rate or p90 latency at most 67% as good as alone. Neither has an I/O limit, as by default at every layer; what closes it, io.max, is measured with --vm in the VM lane's cgroup v2 kernel (Tests/vm/scenarios/34-bench-io-max.sh).") { ctx in
            // Interleaved windows of one run of two sandboxes: the writers write only in the
            // loaded windows (what they wrote is still flushed after, so a baseline window next
            // to a loaded one may be slowed too: that only hides the effect).
            // A start gate unless the VM lane's C programs run it (they take the start as a number).
            let sched = BenchSchedule(ctx, [.baseline, .loaded], gated: BenchDiskPrograms.hog == nil)
            let bind = ["--bind", "\(ctx.shared):/mnt"]
            let victim = bind + ["--", "/bin/sh", "-c", BenchScheduled.fsyncLatency(sched, prefix: "v", file: "/mnt/victim-\(layer.rawValue)")]
            let writer = bind + ["--", "/bin/sh", "-c", BenchScheduled.diskWriters(sched, .loaded, dir: "/mnt", procs: 2, mib: 64)]
            let runs = try ctx.runSandboxes([writer, victim], seconds: sched.deadline, schedule: sched)
            let v = runs.reduce(into: [String: String]()) { $0.merge($1.values) { a, _ in a } }
            var w = BenchWindows()
            for (key, name, unit) in [("ops", "victim fsync rate", "ops/s"), ("p50", "victim fsync p50 latency", "ms"), ("p90", "victim fsync p90 latency", "ms")] {
                for win in sched.windows {
                    w.record(name, win.phase, round: win.round, v[win.key("v") + "_\(key)"].flatMap(Double.init), unit)
                }
            }
            // The victim's service level per round: the worse of its fsync rate and its p90
            // latency (inverted, so that 0.5 means "half as good" for both).
            let ops = w.ratios("victim fsync rate", .loaded), p90 = w.ratios("victim fsync p90 latency", .loaded, inverted: true)
            let service = zip(ops, p90).map { min($0, $1) }
            let r = BenchRatioSummary(metric: "victim fsync service (the worse of rate and p90 latency)", phase: .loaded,
                                      ratios: service, band: 0.67, side: .atMost)
            let b90 = w.median("victim fsync p90 latency", .baseline), l90 = w.median("victim fsync p90 latency", .loaded)
            var o = BenchOutcome(judging: r, by: { q in
                BenchJudgement(verdict: BenchVerdict.judgeSlowdown(summary: q, what: "fsync rate or p90 latency next to a writer"),
                               keyFigure: "victim \(q?.text ?? "?"), p90 \(b90.map { BenchFormat.value($0, "") } ?? "?") → \(l90.map { BenchFormat.value($0, "") } ?? "?") ms",
                               shown: q)
            }, chartMetric: "victim fsync p90 latency")
            o.measurements = w.measurements + [
                BenchMeasurement("writers' 64 MiB rounds", .evidence, (Double(v["w0_rounds"] ?? "") ?? .nan) + (Double(v["w1_rounds"] ?? "") ?? .nan), ""),
                // The C writers (BenchDiskPrograms) count MiB instead of files.
                BenchMeasurement("writers' MiB written", .evidence, (Double(v["loaded_writer0_mib"] ?? "") ?? .nan) + (Double(v["loaded_writer1_mib"] ?? "") ?? .nan), "MiB"),
            ] + ctx.serviceMeasurements(v, sched, prefix: "v")
            o.evidence += sched.late(v, prefix: "v")
            return o
        }
    }

    static func diskSpaceContainer() -> BenchExperiment {
        BenchExperiment(.diskSpace, .container, expect: .can,
            claim: "a size-limited tmpfs (the ephemeral-storage quota) stops a filler with ENOSPC at its quota; a directory shared by the containers is not bounded per container",
            method: "Aggressor: a container with limits.ephemeral-storage 8Mi fills its /tmp, then fills the pod's shared emptyDir (16Mi); victim: a sibling container writes 2 MiB to its own /tmp and 2 MiB to the shared emptyDir afterwards.") { ctx in
            // The victim writes once the filler has filled both, and the filler stays until the
            // victim has written (gates, not a fixed 1.2 s and 1.5 s).
            let filled = ctx.gate(after: "a_shared_mib", "disk-filled"), written = ctx.gate(after: "v_shared_mib", "disk-written")
            let filler = BenchWorkload(name: "filler", script: BenchPrograms.fill("a_tmp", dir: "/tmp", maxMiB: 64) + "; "
                                       + BenchPrograms.fill("a_shared", dir: "/mnt", maxMiB: 64) + "; " + BenchGate.shell(written.path),
                                       limits: ["ephemeral-storage": "8Mi"])
            let victim = BenchWorkload(name: "victim", script: BenchGate.shell(filled.path) + "; " + BenchPrograms.fill("v_tmp", dir: "/tmp", maxMiB: 2) + "; "
                                       + BenchPrograms.fill("v_shared", dir: "/mnt", name: "victim", maxMiB: 2))
            let run = try ctx.runPods(.samePod, [filler, victim], gates: [filled, written])
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
            let filled = ctx.gate(after: "a_mib", "disk-filled"), written = ctx.gate(after: "v_mib", "disk-written")
            let filler = BenchWorkload(name: "filler", script: BenchPrograms.fill("a", dir: "/mnt", maxMiB: 64) + "; " + BenchGate.shell(written.path))
            let victim = BenchWorkload(name: "victim", script: BenchGate.shell(filled.path) + "; " + BenchPrograms.fill("v", dir: "/mnt", maxMiB: 4))
            let run = try ctx.runPods(.ownPods, [filler, victim], gates: [filled, written])
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

/// The disk cells' victims and writers where the host has no python3: the VM lane's kernel
/// (cgroup v2, busybox only) runs the disk cell and its io.max run through this bench as a v2
/// host would (`Tests/vm/scenarios/35-bench-disk-cell.sh`), with the lane's C hog
/// (`Tests/vm/hog.c`: `fsyncwin`, `writewin`) as the programs. Same windows (start, length,
/// gap, keys), same figures under the same keys (`BH` lines: hog's `hog:` prefix rewritten by
/// busybox sed); only the language differs. Chosen by `BULKHEAD_BENCH_HOG` (the lane sets it),
/// an absolute path of an executable regular file, never found on PATH.
enum BenchDiskPrograms {
    static var hog: String? {
        guard let p = ProcessInfo.processInfo.environment["BULKHEAD_BENCH_HOG"], p.hasPrefix("/"), !p.contains("'") else { return nil }
        var st = stat()
        guard stat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(p, X_OK) == 0 else { return nil }
        return p
    }

    /// The windows' keys as hog takes them (`v_r0_baseline,v_r0_loaded,…`).
    static func keys(_ s: BenchSchedule, _ prefix: String) -> String { s.windows.map { $0.key(prefix) }.joined(separator: ",") }

    /// hog's `hog: K=V` lines as the bench's `BH K=V` lines.
    static func bh(_ command: String) -> String { "\(command) 2>&1 | sed 's/^hog: /BH /'" }

    /// `kind`: fsync (the cell's victim), dread (O_DIRECT 4 KiB reads of a preallocated file).
    static func victim(_ hog: String, _ s: BenchSchedule, prefix: String, file: String, kind: String) -> String {
        bh("\(hog) fsyncwin \(file) \(s.startLiteral) \(BenchPrograms.fmt(s.window)) \(BenchPrograms.fmt(s.gap)) \(keys(s, prefix)) \(kind)")
    }

    /// `procs` writers of `mib` MiB files in `dir` during the windows of `phase`:
    /// `BH PHASE_writerN_mib=M` each.
    static func writers(_ hog: String, _ s: BenchSchedule, _ phase: BenchPhase, dir: String, procs: Int, mib: Int, direct: Bool) -> String {
        bh("\(hog) writewin \(dir) \(s.startLiteral) \(BenchPrograms.fmt(s.window)) \(BenchPrograms.fmt(s.gap)) \(keys(s, "v")) \(phase.rawValue) \(mib) \(procs)\(direct ? " direct" : "")")
    }
}

extension BenchScheduled {
    /// 4 KiB O_DIRECT reads at spread offsets of a preallocated 8 MiB file in each window (no
    /// page cache, no metadata, no cache flush: the victim shares only the disk's queue), the
    /// victim io.max is the tool for: `KEY_ops`, `KEY_p50`, `KEY_p90`, `KEY_p99`, `KEY_n`,
    /// `KEY_t0`, `KEY_t1`, as `fsyncLatency`.
    static func directReadLatency(_ s: BenchSchedule, prefix: String, file: String) -> String {
        if let hog = BenchDiskPrograms.hog { return BenchDiskPrograms.victim(hog, s, prefix: prefix, file: file, kind: "dread") + "; rm -f \(file)" }
        let setup = """
            import mmap
            fd=os.open("\(file)",os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600)
            for i in range(2048): os.write(fd,b"x"*4096)
            os.fsync(fd); os.close(fd); fd=os.open("\(file)",os.O_RDONLY|os.O_DIRECT); m=mmap.mmap(-1,4096)
            """ + "\n" + BenchPrograms.percentiles
        return victim(s, prefix: prefix, setup: setup, body: """
            lat=[]; t0=time.monotonic(); end=t0+W
            while time.monotonic()<end and len(lat)<200000:
                t=time.monotonic(); os.preadv(fd,[m],((len(lat)*389)%2048)*4096); lat.append((time.monotonic()-t)*1000)
            t1=time.monotonic(); lat.sort()
            print("BH %s_ops=%.1f %s_p50=%.3f %s_p90=%.3f %s_p99=%.3f %s_n=%d %s_t0=%.3f %s_t1=%.3f" % (key, len(lat)/W, key, pct(lat,50), key, pct(lat,90), key, pct(lat,99), key, len(lat), key, t0, key, t1), flush=True)
            """) + "; rm -f \(file)"
    }

    /// `procs` writers of `mib` MiB files with O_DIRECT 1 MiB writes (each bio submitted, and
    /// throttled, in the writer's own context) in `dir` during the spans of `phase`:
    /// `BH PHASE_writerN_mib=M`.
    static func directWriters(_ s: BenchSchedule, _ phase: BenchPhase, dir: String, procs: Int, mib: Int) -> String {
        if let hog = BenchDiskPrograms.hog { return BenchDiskPrograms.writers(hog, s, phase, dir: dir, procs: procs, mib: mib, direct: true) }
        return aggressor(s, phase, procs: procs, setup: "import mmap; blk=mmap.mmap(-1,1<<20); blk.write(b\"\\xa5\"*(1<<20)); tot=0", body: """
            f="\(dir)/writer-\(phase.rawValue)-%d" % me
            while time.time()<end:
                fd=os.open(f,os.O_WRONLY|os.O_CREAT|os.O_TRUNC|os.O_DIRECT,0o600)
                for _ in range(\(mib)):
                    if time.time()>=end: break
                    os.write(fd,blk); tot+=1
                os.fsync(fd); os.close(fd)
            print("BH \(phase.rawValue)_writer%d_mib=%d" % (me, tot), flush=True)
            """) + "; rm -f \(dir)/writer-\(phase.rawValue)-*"
    }
}
