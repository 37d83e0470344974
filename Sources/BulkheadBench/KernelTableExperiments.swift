import BulkheadConfig
import BulkheadModel

/// PIDs, file descriptors and per-user kernel budgets: the kernel's tables, which cgroups
/// bound only in part (pids.max) or not at all (open files, inotify instances).
enum KernelTableExperiments {
    static func pidsContainer() -> BenchExperiment {
        BenchExperiment(.pids, .container, expect: .can,
            claim: "with pids.max a fork bomb stops at the limit and a neighbour forks fine; without it, inside a shared parent (the pod cgroup) the bomb starves the neighbour's fork (EAGAIN)",
            method: "Part 1: a fork bomb in a sandbox with --pids 32 next to a sandbox forking 20 children. Part 2: the same bomb without its own limit, in a pod with bulkhead.dev/pod-limits pids=48, next to a sibling container forking 20 children.") { ctx in
            // The neighbour forks once the bomb has stopped (its count printed), and the bomb
            // holds its children until the neighbour has forked (gates, not a fixed 0.8 s and
            // the window + 0.5 s).
            func gated(_ part: String) -> (stopped: BenchGate, forked: BenchGate, bomb: String, probe: String) {
                let stopped = ctx.gate(after: "bomb_forks", "pids-\(part)-stopped"), forked = ctx.gate(after: "n_ok", "pids-\(part)-forked")
                return (stopped, forked, BenchPrograms.forkBomb(max: 400, hold: BenchGate.wait, until: forked.path),
                        BenchPrograms.forkProbe("n", after: stopped.path))
            }
            let g1 = gated("1"), g2 = gated("2")
            let part1 = try ctx.runSandboxes([["--pids", "32", "--", "/bin/sh", "-c", g1.bomb], ["--", "/bin/sh", "-c", g1.probe]],
                                             gates: [g1.stopped, g1.forked])
            let v1 = part1.reduce(into: [String: String]()) { $0.merge($1.values) { a, _ in a } }
            let part2 = try ctx.runPods(.samePod, [BenchWorkload(name: "bomb", script: g2.bomb, podLimits: "pids=48"),
                                                   BenchWorkload(name: "victim", script: g2.probe)], gates: [g2.stopped, g2.forked])
            let v2 = part2.values
            let forks = Double(v1["bomb_forks"] ?? "") ?? .nan
            let stopped = v1["bomb_errno"] == "EAGAIN" && forks < 32
            let neighbourOK = v1["n_ok"] == "20"
            let starved = v2["n_errno"] == "EAGAIN"
            let verdict: BenchVerdict
            let summary = "limited bomb: \(v1["bomb_errno"] ?? "?") after \(v1["bomb_forks"] ?? "?") forks, neighbour forked \(v1["n_ok"] ?? "?")/20; shared parent: neighbour forked \(v2["n_ok"] ?? "?")/20 (\(v2["n_errno"] ?? "?"))"
            if stopped && neighbourOK && starved {
                verdict = BenchVerdict(.can, summary)
            } else {
                verdict = BenchVerdict(.notObserved, summary)
            }
            var o = BenchOutcome(verdict: verdict, keyFigure: "bomb stops at \(v1["bomb_forks"] ?? "?"); unbounded: \(v2["n_errno"] ?? "?")")
            o.measurements = [
                BenchMeasurement("bomb forks before EAGAIN (pids.max 32)", .contained, forks, "forks"),
                BenchMeasurement("neighbour forks that succeeded", .contained, Double(v1["n_ok"] ?? "") ?? .nan, "of 20"),
                BenchMeasurement("neighbour forks that succeeded, shared parent pids.max 48", .loaded, Double(v2["n_ok"] ?? "") ?? .nan, "of 20"),
            ]
            o.evidence = ["bomb: \(v1["bomb_errno"] ?? "?")", "neighbour under the shared parent: \(v2["n_errno"] ?? "?")"]
            return o
        }
    }

    static func pidsPod() -> BenchExperiment {
        BenchExperiment(.pids, .pod, expect: .can,
            claim: "a pod pids.max stops a fork bomb inside its pod; a neighbour pod forks fine",
            method: "Aggressor: a pod with bulkhead.dev/pod-limits pids=32 running a fork bomb; victim: a neighbour pod forking 20 children.") { ctx in
            let stopped = ctx.gate(after: "bomb_forks", "pids-stopped"), forked = ctx.gate(after: "n_ok", "pids-forked")
            let bomb = BenchWorkload(name: "bomb", script: BenchPrograms.forkBomb(max: 400, hold: BenchGate.wait, until: forked.path), podLimits: "pids=32")
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.forkProbe("n", after: stopped.path))
            let run = try ctx.runPods(.ownPods, [bomb, victim], gates: [stopped, forked])
            let v = run.values
            let hits = number(run.podStats(holding: "bomb"), "pidsMaxHits") ?? 0
            let ok = v["bomb_errno"] == "EAGAIN" && v["n_ok"] == "20"
            let summary = "bomb: \(v["bomb_errno"] ?? "?") after \(v["bomb_forks"] ?? "?") forks (pids.events max \(Int(hits))); neighbour pod forked \(v["n_ok"] ?? "?")/20"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, summary),
                                 keyFigure: "bomb stops at \(v["bomb_forks"] ?? "?"), neighbour \(v["n_ok"] ?? "?")/20")
            o.measurements = [
                BenchMeasurement("bomb forks before EAGAIN", .contained, Double(v["bomb_forks"] ?? "") ?? .nan, "forks"),
                BenchMeasurement("pod pids.events max", .evidence, hits, ""),
                BenchMeasurement("neighbour forks that succeeded", .contained, Double(v["n_ok"] ?? "") ?? .nan, "of 20"),
            ]
            return o
        }
    }

    /// The kernel's total task count (/proc/loadavg, not namespaced) at once (`BH t0=N`), then
    /// once `gate` opens (at most `BenchGate.wait` s): `BH t1=N`.
    static func taskCountReader(thenAfter gate: String) -> String {
        """
        python3 -c 'import time,os
        print("BH t0=%s" % open("/proc/loadavg").read().split()[3].split("/")[1], flush=True)
        \(BenchGate.python(gate))
        print("BH t1=%s" % open("/proc/loadavg").read().split()[3].split("/")[1], flush=True)'
        """
    }

    /// The kernel's total task count (/proc/loadavg, not namespaced) at 0.3 s and at 1.6 s:
    /// `BH t0=N t1=N` (pids/node and its pids.max mitigation).
    static let taskCountReader = """
        python3 -c 'import time
        t=time.monotonic(); time.sleep(0.3); a=open("/proc/loadavg").read().split()[3].split("/")[1]
        time.sleep(max(0,t+1.6-time.monotonic())); b=open("/proc/loadavg").read().split()[3].split("/")[1]
        print("BH t0=%s t1=%s" % (a,b), flush=True)'
        """

    /// No cgroup counts open files: N processes each within RLIMIT_NOFILE raise the global
    /// fs.file-nr that a sandbox across the layer's boundary reads.
    static func fileDescriptors(_ layer: BenchLayer) -> BenchExperiment {
        BenchExperiment(.fileDescriptors, layer, expect: .cannot,
            claim: "no cgroup bounds open files as a whole: RLIMIT_NOFILE is per process (EMFILE), and every layer shares the kernel's file table (fs.file-nr)",
            method: "Aggressor: 6 processes each opening up to 1500 descriptors within RLIMIT_NOFILE (one then goes on to EMFILE), across the \(layer.rawValue) boundary from the victim, which reads fs.file-nr before and while they hold them. Far below fs.file-max; the real exhaustion (ENFILE for a neighbour) runs in the VM lane.") { ctx in
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.fileNr("nr", at: 0.3, again: 1.3))
            let placement = BenchPlacement(layer)
            // The victim alone: the same program as the descriptor bound's victim, which reuses
            // this run (Mitigations.baseline).
            let base = try ctx.runPods(placement, [victim])
            ctx.cellBaseline = base
            // Loaded: the aggressor opens once the victim has read the count, the victim reads
            // again once the aggressor holds its descriptors, and the aggressor holds them until
            // then (gates, not fixed times of 0.3, 0.5, 1.3 and 1.8 s).
            let read = ctx.gate(after: "nr0", "fds-read"), held = ctx.gate(after: "hog_opened", "fds-held"),
                reread = ctx.gate(after: "nr1", "fds-reread")
            let gatedVictim = BenchWorkload(name: "victim", script: BenchPrograms.fileNr("nr", thenAfter: held.path))
            let hog = BenchWorkload(name: "hog", script: BenchPrograms.fdHog(procs: 6, each: 1500, after: read.path, until: reread.path))
            let loaded = try ctx.runPods(placement, [hog, gatedVictim], gates: [read, held, reread])
            func delta(_ p: BenchPods) -> Double? {
                guard let a = p.double("nr0"), let b = p.double("nr1") else { return nil }
                return b - a
            }
            let opened = loaded.double("hog_opened") ?? 0
            let rise = (delta(loaded) ?? .nan) - (delta(base) ?? 0)
            let observed = opened > 0 && rise >= 0.8 * opened
            let v = loaded.values
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(observed, .cannot,
                                    "fs.file-nr seen across the boundary rose by \(rise.isFinite ? String(Int(rise)) : "?") while the aggressor held \(Int(opened)); one process alone hit \(v["hog_errno"] ?? "?") at its RLIMIT_NOFILE \(v["hog_rlimit"] ?? "?")"),
                                 keyFigure: "file-nr +\(rise.isFinite ? String(Int(rise)) : "?")", chartMetric: "fs.file-nr change seen by the victim")
            o.measurements = [
                BenchMeasurement("fs.file-nr change seen by the victim", .baseline, delta(base) ?? .nan, "files"),
                BenchMeasurement("fs.file-nr change seen by the victim", .loaded, delta(loaded) ?? .nan, "files"),
                BenchMeasurement("descriptors the aggressor held", .evidence, opened, "files"),
                BenchMeasurement("one aggressor process's RLIMIT_NOFILE", .evidence, Double(v["hog_rlimit"] ?? "") ?? .nan, "files"),
            ]
            o.evidence = ["per process: \(v["hog_errno"] ?? "?")", "node cell: bulkhead bench --vm --only fds/node (ENFILE in the VM's own kernel, Tests/vm/scenarios/30-node-fd-exhaustion.sh)"]
            if !loaded.problems.isEmpty { o.evidence.append(loaded.problems) }
            return o
        }
    }

    /// Creates inotify instances until the kernel refuses (`BH hog_instances=N hog_errno=NAME`),
    /// and holds them until `gate` opens (at most `BenchGate.wait` s): the inotify cells and
    /// their mitigation.
    static func inotifyHog(until gate: String) -> String {
        """
        python3 -c 'import ctypes,errno,time,os
        libc=ctypes.CDLL(None,use_errno=True); n=0
        while n<100000 and libc.inotify_init()>=0: n+=1
        print("BH hog_instances=%d hog_errno=%s" % (n, errno.errorcode.get(ctypes.get_errno(),"?")), flush=True)
        \(BenchGate.python(gate))'
        """
    }

    /// inotify instances are counted per user, and hierarchically: a user namespace's
    /// charges also count against the user that created it, in every ancestor namespace
    /// (kernel/ucount.c, inc_ucount). bulkhead creates every sandbox's user namespace as root,
    /// so distinct uid ranges do not separate the budget: every sandbox draws on host root's
    /// fs.inotify.max_user_instances. The aggressor therefore exhausts root's budget for about
    /// a second, which is why these cells run only when named (`--only inotify`).
    static func inotify(_ layer: BenchLayer) -> BenchExperiment {
        let claim = layer == .container
            ? "containers that share a host uid share its inotify budget (fs.inotify.max_user_instances)"
            : "tenants run under distinct host uid ranges, so one tenant's inotify budget is not another's"
        let e = BenchExperiment(.kernelBudgets, layer, expect: layer == .container ? .cannot : .can, claim: claim,
            method: "Aggressor: creates inotify instances until the kernel refuses (EMFILE) and holds them for a second; victim across the \(layer.rawValue) boundary creates one meanwhile. The verdict is what the victim saw: EMFILE is cannot, success is can.") { ctx in
            // The victim tries once the aggressor holds its instances, and the aggressor holds them
            // until the victim has tried (gates, not a fixed 0.7 s and 1.2 s).
            let full = ctx.gate(after: "hog_instances", "inotify-full"), tried = ctx.gate(after: "v_inotify", "inotify-tried")
            let hog = BenchWorkload(name: "hog", script: inotifyHog(until: tried.path))
            let victim = BenchWorkload(name: "victim", script: """
                python3 -c 'import ctypes,errno,time,os
                \(BenchGate.python(full.path))
                libc=ctypes.CDLL(None,use_errno=True); fd=libc.inotify_init()
                print("BH v_inotify=%s" % ("ok" if fd>=0 else errno.errorcode.get(ctypes.get_errno(),"?")), flush=True)'
                """)
            let v = try ctx.runPods(BenchPlacement(layer), [hog, victim], gates: [full, tried]).values
            let exhausted = v["hog_errno"] == "EMFILE"
            let summary = "the aggressor made \(v["hog_instances"] ?? "?") instances (then \(v["hog_errno"] ?? "?")); the victim's inotify_init: \(v["v_inotify"] ?? "?")"
            let verdict: BenchVerdict
            if exhausted && v["v_inotify"] == "EMFILE" { verdict = BenchVerdict(.cannot, summary) }
            else if exhausted && v["v_inotify"] == "ok" { verdict = BenchVerdict(.can, summary) }
            else { verdict = BenchVerdict(.notObserved, summary) }
            var o = BenchOutcome(verdict: verdict, keyFigure: "victim: \(v["v_inotify"] ?? "?")")
            o.measurements = [BenchMeasurement("aggressor inotify instances", .evidence, Double(v["hog_instances"] ?? "") ?? .nan, "")]
            o.evidence = ["a user namespace's charges go to its owner in the initial namespace (kernel/ucount.c); a pod's user namespace is owned by its tenant range's uid in the owner band (one per 65,536-id block), so the aggressor exhausts its own tenant's budget, never host root's"]
            return o
        }
        return e
    }
}
