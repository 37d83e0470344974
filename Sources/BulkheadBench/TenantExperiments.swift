import BulkheadConfig
import BulkheadModel
import Glibc

/// The namespace (tenant) column's resource cells: a tenant's parent cgroup and its quota
/// decide what a tenant gets, whatever its pods do.
enum TenantExperiments {
    /// A quota that gives the tenant a cgroup without limiting CPU or memory.
    static let cgroupOnlyQuota = "{bulkhead.dev/pids: \"512\"}"

    static func cpu() -> BenchExperiment {
        BenchExperiment(.cpu, .namespace, expect: .can,
            claim: "the tenant cgroup decides the share, not the pod count: a tenant of one pod gets as much CPU as a tenant of three",
            method: "Four busy pods (one busy loop each, all pinned to CPU 0, spinning in one common wall-clock window): one in tenant A, three in tenant B, each tenant with a quota, so with a cgroup of its own under which its pods run. Baseline: the same four pods in one tenant. The figure is tenant A's part of the four pods' CPU time (each container's cpuacct): 1/4 by pod count, 1/2 by tenant.") { ctx in
            let s = max(1.5, ctx.phaseSeconds)
            // Every loop on CPU 0: one CPU's scheduler then divides it exactly by group weight
            // (across CPUs, CFS spreads a group's weight by load, which blurs the split). The four
            // loops spin in one wall-clock window of `s` seconds, 2 s after the run's launch (the
            // pods start one after another): timed from each loop's own start, launches 0.2 to
            // 0.3 s apart under load let tenant B's later pods run alone after A's loop ended, so
            // A's share of the four fell below the split it was given (31% and 38% at load
            // average 20, MatrixTests, session 11). A loop that starts after the window began
            // reports it (`BH NAME_late=S`): the evidence names it.
            let hog = { (name: String, window: BenchSchedule) in BenchWorkload(name: name, script: """
                python3 -c 'import os,time
                os.sched_setaffinity(0, {0}); T0=\(window.startLiteral); end=T0+\(BenchPrograms.fmt(s)); d=T0-time.time()
                if d<0: print("BH \(name)_late=%.3f" % -d, flush=True)
                time.sleep(max(0, d))
                while time.time()<end: pass'
                """) }
            let window = { BenchSchedule(rounds: 1, phases: [.baseline], window: s, gap: 0, lead: 2) }
            let names = ["a1", "b1", "b2", "b3"]
            func share(_ p: BenchPods) -> Double? {
                let u = names.map { number(p.containerStats($0), "cpuUsageMicros") ?? 0 }
                let total = u.reduce(0, +)
                return total > 0 ? u[0] / total : nil
            }
            // Baseline: one tenant (its cgroup is shared by all four pods).
            let flatWindow = window()
            let flat = try ctx.runPodSpecs(names.map { BenchPodSpec(group: [hog($0, flatWindow)], tenant: 0, quota: cgroupOnlyQuota) })
            let tenantsWindow = window()
            let tenants = try ctx.runPodSpecs(names.map { BenchPodSpec(group: [hog($0, tenantsWindow)], tenant: $0 == "a1" ? 1 : 2, quota: cgroupOnlyQuota) })
            let late = [("one tenant", flat), ("two tenants", tenants)].flatMap { run in
                names.compactMap { n in run.1.values["\(n)_late"].map { "\(run.0): \(n)'s loop began \($0) s after the common window: its share is short by that" } }
            }
            let base = share(flat), split = share(tenants)
            let summary = "tenant A's pod: \(base.map(BenchFormat.percent) ?? "?") of the CPU as one pod of four in one tenant, \(split.map(BenchFormat.percent) ?? "?") as a tenant of its own beside a tenant of three"
            var o = BenchOutcome.shareSplit(loaded: base, contained: split, label: "A:", metric: "tenant A's CPU share", summary: summary)
            o.evidence = ["loaded: four pods in one tenant (pod count decides); contained: tenants A (1 pod) and B (3 pods), each with its cgroup; every loop in one common window of \(BenchPrograms.fmt(s)) s"] + late
            if !tenants.problems.isEmpty { o.evidence.append(tenants.problems) }
            return o
        }
    }

    static func memory() -> BenchExperiment {
        BenchExperiment(.memory, .namespace, expect: .can,
            claim: "a tenant's quota bounds its pods together: the pod that would pass limits.memory is refused, and the tenant cgroup's memory limit holds the sum",
            method: "Tenant B has a ResourceQuota of limits.memory 96Mi. Its first pod (limit 48Mi) holds 40 MiB; a second pod asks 64Mi while it runs. Victim: a pod of tenant A allocating and sweeping 64 MiB. Evidence: the second pod's admission error, the tenant cgroup's memory limit in the first pod's report, and the victim's exit.") { ctx in
            let s = ctx.phaseSeconds
            let quota = "{limits.memory: 96Mi}"
            // The victim sweeps and the second pod asks once the holder holds its memory, and the
            // holder holds it until both are done (gates, not a fixed 0.8 s and window + 1.5 s).
            let held = ctx.gate(after: "h_held", "memory-held"), swept = ctx.gate(after: "v_sweep", "memory-swept", timeout: s + BenchGate.wait)
            defer { unlink(held.path); unlink(swept.path) }
            let holder = BenchWorkload(name: "holder", script: """
                python3 -c 'import time,os; x=bytearray(40<<20); print("BH h_held=40", flush=True)
                \(BenchGate.python(swept.path, max: s + BenchGate.wait))'
                """, limits: ["memory": "48Mi"])
            let victim = BenchWorkload(name: "victim", script: BenchGate.shell(held.path) + "; " + BenchPrograms.memorySweep("v_sweep", seconds: s, delay: 0, mebibytes: 64))
            let first = try ctx.startPods([BenchPodSpec(group: [holder], tenant: 1, quota: quota),
                                           BenchPodSpec(group: [victim], tenant: 0)])
            _ = ctx.openGates([held], for: first.launched)
            let second = try ctx.runPodSpecs([BenchPodSpec(group: [BenchWorkload(name: "second", script: "true", limits: ["memory": "64Mi"])],
                                                           tenant: 1, quota: quota)])
            _ = ctx.openGates([swept], for: first.launched)
            let run = ctx.finishPods(first)
            let refusal = second.runs.first?.stderr.split(separator: "\n").first { $0.contains("limits.memory would be") }.map(String.init)
            let tenantLimit = run.reports.compactMap { r -> String? in
                let enforced = ((r["tenantLimits"] as? [String: Any])?["enforced"] as? [[String: Any]]) ?? []
                return enforced.first { $0["limit"] as? String == "memory.max" }?["value"] as? String
            }.first
            let victimOK = run.exitCode("victim") == 0 && run.exitCode("holder") == 0
            let summary = "second pod: \(refusal ?? "admitted (status \(second.runs.first?.status ?? -1))"); tenant cgroup memory limit \(tenantLimit ?? "absent"); victim exit \(run.exitCode("victim").map(String.init) ?? "?")"
            let ok = refusal != nil && tenantLimit == String(96 << 20) && victimOK
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, summary),
                                 keyFigure: ok ? "refused past 96Mi" : "see evidence")
            o.measurements = [
                BenchMeasurement("tenant memory limit (cgroup)", .evidence, Double(tenantLimit ?? "").map { $0 / 1_048_576 } ?? .nan, "MiB"),
                BenchMeasurement("victim sweep rate", .contained, run.double("v_sweep") ?? .nan, "MB/s"),
            ]
            if let refusal { o.evidence.append(refusal) }
            return o
        }
    }

    static func pids() -> BenchExperiment {
        BenchExperiment(.pids, .namespace, expect: .can,
            claim: "a tenant pids quota (bulkhead.dev/pids) bounds the tenant's pods together; another tenant forks fine",
            method: "Tenant B has a ResourceQuota of bulkhead.dev/pids 40 (the tenant cgroup's pids.max) and runs a fork bomb in a pod whose own limit is 1024; a pod of tenant A forks 20 children meanwhile.") { ctx in
            let stopped = ctx.gate(after: "bomb_forks", "pids-stopped"), forked = ctx.gate(after: "n_ok", "pids-forked")
            let bomb = BenchWorkload(name: "bomb", script: BenchPrograms.forkBomb(max: 400, hold: BenchGate.wait, until: forked.path))
            let victim = BenchWorkload(name: "victim", script: BenchPrograms.forkProbe("n", after: stopped.path))
            let run = try ctx.runPodSpecs([BenchPodSpec(group: [bomb], tenant: 1, quota: "{bulkhead.dev/pids: \"40\"}"),
                                           BenchPodSpec(group: [victim], tenant: 0)], gates: [stopped, forked])
            let v = run.values
            let forks = Double(v["bomb_forks"] ?? "") ?? .nan
            let ok = v["bomb_errno"] == "EAGAIN" && forks < 40 && v["n_ok"] == "20"
            let summary = "bomb in tenant B: \(v["bomb_errno"] ?? "?") after \(v["bomb_forks"] ?? "?") forks (tenant pids.max 40, pod limit 1024); tenant A's pod forked \(v["n_ok"] ?? "?")/20"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, summary),
                                 keyFigure: "bomb stops at \(v["bomb_forks"] ?? "?"), other tenant \(v["n_ok"] ?? "?")/20")
            o.measurements = [
                BenchMeasurement("bomb forks before EAGAIN (tenant pids.max 40)", .contained, forks, "forks"),
                BenchMeasurement("other tenant's forks that succeeded", .contained, Double(v["n_ok"] ?? "") ?? .nan, "of 20"),
            ]
            return o
        }
    }
}
