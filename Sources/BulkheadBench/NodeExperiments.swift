import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// The node column: the host's kernel against everything on it. Two cells run on this host
/// inside cgroups the bench creates (the node's reserve for CPU and memory, as the kubelet's
/// system-reserved/allocatable split builds it); the cells whose evidence needs a kernel of
/// their own (exhausting a global table, a second kernel to compare with) read the VM lane's
/// scenarios when `bench --vm` boots it, and say what `--vm` would run when it was not given.
enum NodeExperiments {
    // MARK: the node's reserve, on this host

    /// A node built from cgroups the bench owns, inside the experiment's ceiling: `system`
    /// (the host's own processes) and the workloads' cgroups, either side by side with it
    /// (no reserve) or under `allocatable`, which bounds them together (the reserve).
    struct Node {
        let host: CgroupHost
        let root: [String]
        var made: [SandboxCgroup] = []

        init(_ ctx: BenchContext) throws {
            guard let ceiling = ctx.ceiling else { throw BenchError("no experiment cgroup") }
            host = try CgroupHost.detect()
            root = ceiling.cgroup.path
        }

        /// Creates `node/<path>` with `limits`; the ceiling's removal takes it away.
        mutating func cgroup(_ path: [String], _ limits: CgroupLimits = CgroupLimits()) throws -> SandboxCgroup {
            let cg = try SandboxCgroup.create(host: host, path: root + path, limits: limits, bestEffort: false)
            made.append(cg)
            return cg
        }
    }

    static func procs(_ cg: SandboxCgroup) -> [String] { cg.directories.map { $0 + "/cgroup.procs" } }

    static func cpu() -> BenchExperiment {
        BenchExperiment(.cpu, .node, expect: .can,
            claim: "a node reserve keeps CPU for the host: every workload under one allocatable cgroup (cpu quota 1 of 2 CPUs, one weight), the host's processes outside it, so the host's share does not fall with the number of workloads",
            method: "The node is a cgroup the bench creates with two parts, as the kubelet splits a node: system (the host's own processes) and the workloads. Victim: a host process (not a sandbox) in system, a busy loop. Aggressor: three sandboxes (bulkhead run --profile unconfined: no limit of their own, so no cgroup of their own, and they stay in the cgroup their launcher joined on cgroup v1 and v2 alike), a busy loop each. All are pinned to CPU 0, where the scheduler divides the CPU by group weight. Loaded: each sandbox's launcher in a cgroup of its own beside system (no reserve: the host is one group of four, 25%). Contained: the same three under allocatable (one group, cpu quota 1 CPU: the node's reserve, the host keeps half of CPU 0 and all of CPU 1). The figure is the host process's part of the node's CPU time (cpuacct of system and of the workloads' cgroups) over a window after every launch: robust to what else the machine runs. bulkhead has no reserve setting of its own: this is the kernel mechanism a node agent sets.") { ctx in
            var node = try Node(ctx)
            // The window: 15 of cpu.cfs_period's 100 ms periods (the quota's unit), where the
            // scheduler's split by weight shows within a few slices. It begins once every loop
            // has used CPU in its cgroup (at most `ready` s after the launches: a debug
            // sandbox's launch at load average 20), not after a fixed 2 s; the loops stop at
            // its end (a stop file), not 1 s after it.
            let s = max(1.5, ctx.phaseSeconds), ready = 6.0
            let system = try node.cgroup(["system"])
            var quota = CgroupLimits()
            quota.cpuQuotaMicros = 100_000; quota.cpuPeriodMicros = 100_000
            let allocatable = try node.cgroup(["allocatable"], quota)
            let loose = try (1...3).map { try node.cgroup(["w\($0)"]) }
            let bounded = try (1...3).map { try node.cgroup(["allocatable", "w\($0)"]) }
            /// A busy loop on CPU 0 until `stop` exists (looked for every 50 ms; the unconfined
            /// sandboxes see the host's files) or `ready + s + 1` s, whichever is first.
            func spin(_ stop: String) -> String {
                """
                python3 -c 'import os,time
                os.sched_setaffinity(0, {0}); end=time.monotonic()+\(BenchPrograms.fmt(ready + s + 1))
                while time.monotonic()<end and not os.path.exists("\(stop)"):
                    t=time.monotonic()+0.05
                    while time.monotonic()<t: pass'
                """
            }
            func usage(_ cgs: [SandboxCgroup]) -> Double { cgs.map { Double($0.stats().cpuUsageMicros ?? 0) }.reduce(0, +) }
            /// The host's part of the node's CPU time in the window, and the workloads' CPUs.
            func phase(_ name: String, _ workloads: [SandboxCgroup], counted: [SandboxCgroup]) throws -> (share: Double?, workloadCPUs: Double, wait: Double) {
                let stop = ctx.scratch + "/node-cpu-stop-\(name)"
                let start = Monotonic.now()
                let before = ([system] + workloads).map { usage([$0]) }
                let v = try ctx.launch(command: ["/bin/sh", "-c", spin(stop)], joining: procs(system), timeout: ready + s + 8)
                let hogs = try workloads.map { try ctx.launch(command: [ctx.binary, "run", "--profile", "unconfined", "--", "/bin/sh", "-c", spin(stop)], joining: procs($0), timeout: ready + s + 10) }
                // Every loop running: each cgroup has used 20 ms of CPU since the launches.
                while Monotonic.now() < start + ready,
                      zip([system] + workloads, before).contains(where: { usage([$0.0]) - $0.1 < 20_000 }) {
                    ctx.samplePressure()
                    usleep(20_000)
                }
                let wait = Monotonic.now() - start
                let h0 = usage([system]), w0 = usage(counted), t0 = Monotonic.now()
                usleep(useconds_t(s * 1e6))
                let h = usage([system]) - h0, w = usage(counted) - w0, wall = Monotonic.now() - t0
                _ = FileManager.default.createFile(atPath: stop, contents: nil)
                _ = ctx.finish(v)
                hogs.forEach { _ = ctx.finish($0) }
                unlink(stop)
                return (h + w > 0 ? h / (h + w) : nil, w / 1e6 / max(0.1, wall), wait)
            }
            let loaded = try phase("loaded", loose, counted: loose)
            let contained = try phase("contained", bounded, counted: [allocatable])
            let l = loaded.share, c = contained.share
            let summary = "the host process got \(l.map(BenchFormat.percent) ?? "?") of the node's CPU beside three workload cgroups, \(c.map(BenchFormat.percent) ?? "?") with them under allocatable (which used \(String(format: "%.2f", contained.workloadCPUs)) CPU of its 1)"
            var o = BenchOutcome.shareSplit(loaded: l, contained: c, alsoHeld: contained.workloadCPUs <= 1.1, label: "host",
                                            metric: "host process's share of the node's CPU", summary: summary)
            o.measurements += [
                BenchMeasurement("workloads' CPU without the reserve", .evidence, loaded.workloadCPUs, "CPUs"),
                BenchMeasurement("allocatable CPU used (cpu quota 1 CPU)", .evidence, contained.workloadCPUs, "CPUs"),
            ]
            o.evidence = ["loaded: three workload cgroups beside system (no reserve); contained: the same under allocatable (cpu quota 100000/100000)",
                          "each \(BenchPrograms.fmt(s)) s window began once every loop had used CPU: \(String(format: "%.2f", loaded.wait)) s and \(String(format: "%.2f", contained.wait)) s after the launches"]
            return o
        }
    }

    static func memory() -> BenchExperiment {
        BenchExperiment(.memory, .node, expect: .can, vmScenarios: ["node-memory"],
            claim: "a node reserve keeps memory for the host: the workloads' allocatable cgroup is bounded below the node, so their OOM stays inside it; global reclaim still slows everyone",
            method: "The node is a cgroup the bench creates (the experiment's 768 MiB ceiling) with system (the host's own processes) and the workloads. Victim: a host process (not a sandbox) in system holding 448 MiB, touched. Aggressor: a sandbox (bulkhead run --profile unconfined: no limit of its own, it stays in its launcher's cgroup) allocating 32 MiB at a time up to 640 MiB. Loaded: the sandbox beside system (no reserve): the node fills, and its OOM killer picks the largest process. Contained: the sandbox under allocatable, bounded at 256 MiB (the node's reserve). The verdict needs, with the reserve, the host process alive with its memory and the aggressor OOM-killed inside allocatable, and without it the aggressor felt (the host process killed, or the aggressor past 256 MiB).") { ctx in
            var node = try Node(ctx)
            let s = ctx.phaseSeconds
            let system = try node.cgroup(["system"])
            var bound = CgroupLimits()
            bound.memoryMax = 256 << 20
            let allocatable = try node.cgroup(["allocatable"], bound)
            let loose = try node.cgroup(["w1"])
            let bounded = try node.cgroup(["allocatable", "w1"])
            // What the holds must show: the host process holding its 448 MiB when the aggressor
            // fills the node, and alive (or not) once the aggressor has ended; the kernel's OOM
            // kill is synchronous with the allocation that overflows. So the aggressor starts
            // once the host process says it holds its memory (not after a fixed 0.8 s), ends
            // when it reaches 640 MiB or is killed (not at a fixed s + 3 s), and the host
            // process looks at its memory as soon as the aggressor has ended (a stop file), not
            // after a fixed s + 5 s. Each bound stays as a cap.
            let hold = s + 5
            func victim(_ stop: String) -> [String] {
                ["/bin/sh", "-c", """
                python3 -c 'import time,os
                b=bytearray(448<<20); b[0::4096]=b"\\x01"*(len(b)//4096)
                print("BH host_held=448", flush=True); end=time.monotonic()+\(BenchPrograms.fmt(hold))
                while time.monotonic()<end and not os.path.exists("\(stop)"): time.sleep(0.02)
                print("BH host_alive=%d" % (b[4096]), flush=True)'
                """]
            }
            // 32 MiB at a time (touched), up to 640 MiB, for at most s + 3 s: the node's 768 MiB
            // is reached within the host process's hold even on a loaded machine.
            let bomb = ["run", "--profile", "unconfined", "--", "/bin/sh", "-c", """
                python3 -c 'import time
                x=[]; end=time.monotonic()+\(BenchPrograms.fmt(s + 3))
                while time.monotonic()<end and len(x)*32<640:
                    x.append(bytearray(32<<20)); print("BH bomb_mib=%d" % (len(x)*32), flush=True)'
                """]
            var timings: [String] = []
            func phase(_ name: String, _ w: SandboxCgroup) throws -> (host: BenchContext.Finished, bomb: BenchContext.Finished) {
                let stop = ctx.scratch + "/node-memory-stop-\(name)"
                defer { unlink(stop) }
                let t0 = Monotonic.now()
                let v = try ctx.launch(command: victim(stop), joining: procs(system), timeout: hold + 8)
                _ = ctx.waitFor("host_held", from: v, timeout: hold)
                let t1 = Monotonic.now()
                let a = ctx.finish(try ctx.launch(command: [ctx.binary] + bomb, joining: procs(w), timeout: s + 12))
                let t2 = Monotonic.now()
                _ = FileManager.default.createFile(atPath: stop, contents: nil)
                let h = ctx.finish(v)
                timings.append(String(format: "%@: the host process held its memory %.2f s after its launch, the aggressor ran %.2f s, the host process ended %.2f s later", name, t1 - t0, t2 - t1, Monotonic.now() - t2))
                return (h, a)
            }
            let loaded = try phase("loaded", loose)
            let contained = try phase("contained", bounded)
            let peak = allocatable.stats().memoryPeakBytes.map { Double($0) / 1_048_576 }
            ctx.failures.removeAll { $0.contains("exited 137") }
            func mib(_ f: BenchContext.Finished) -> String { f.values["bomb_mib"] ?? "0" }
            let hostLoaded = loaded.host.values["host_alive"] == "1"
            let hostContained = contained.host.values["host_alive"] == "1"
            let bombKilled = contained.bomb.status == 137 || contained.bomb.status == 9
            let bombStopped = (Double(mib(contained.bomb)) ?? 999) <= 256
            let summary = "with the reserve the aggressor stopped at \(mib(contained.bomb)) MiB (exit \(contained.bomb.status), allocatable peak \(peak.map { String(Int($0)) } ?? "?") MiB of 256) and the host process kept its 448 MiB: \(hostContained ? "alive" : "killed"); without it the node's OOM killer left the host process \(hostLoaded ? "alive" : "killed") (aggressor reached \(mib(loaded.bomb)) MiB)"
            // The aggressor must have been felt without the reserve: the host process killed, or
            // the aggressor past what allocatable allows.
            let felt = !hostLoaded || (Double(mib(loaded.bomb)) ?? 0) > 256
            let ok = hostContained && bombKilled && bombStopped && (peak ?? 0) <= 256 * 1.02 && felt
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(ok, .can, summary),
                                 keyFigure: "host \(hostLoaded ? "kept" : "OOM-killed") → \(hostContained ? "kept" : "killed"), bomb OOM at \(mib(contained.bomb)) MiB")
            o.measurements = [
                BenchMeasurement("host process alive with its 448 MiB", .loaded, hostLoaded ? 1 : 0, "yes=1"),
                BenchMeasurement("host process alive with its 448 MiB", .contained, hostContained ? 1 : 0, "yes=1"),
                BenchMeasurement("aggressor's last allocation", .loaded, Double(mib(loaded.bomb)) ?? .nan, "MiB"),
                BenchMeasurement("aggressor's last allocation", .contained, Double(mib(contained.bomb)) ?? .nan, "MiB"),
                BenchMeasurement("allocatable memory peak (bound 256 MiB)", .evidence, peak ?? .nan, "MiB"),
            ]
            o.evidence = ["loaded: the workload's cgroup beside system under the 768 MiB node (no reserve); contained: under allocatable (memory limit 256 MiB)"] + timings
            // With --vm, the same reserve on cgroup v2 in the VM's kernel, with the node's PSI.
            if let run = ctx.vmRun {
                let v = run.scenarios["node-memory"]
                let vals = v?.values ?? [:]
                o.measurements += [
                    BenchMeasurement("VM (cgroup v2): allocatable peak (bound 384 MiB)", .evidence, (Double(vals["peak"] ?? "") ?? .nan) / 1_048_576, "MiB"),
                    BenchMeasurement("VM (cgroup v2): node memory PSI some, during", .evidence, Double(vals["psi_us"] ?? "") ?? .nan, "us"),
                ]
                o.evidence.append("VM lane, cgroup v2 (31-node-memory.sh): \(v.map { ($0.passed ? "PASS " : "FAIL ") + $0.detail } ?? (run.problem ?? "no result for node-memory"))")
                let psi = vmPressure(vals, scenario: "31-node-memory.sh; the victim is the node's own process, in node-system beside the reserve")
                o.measurements += psi.measurements
                o.evidence += psi.evidence
                if v?.passed != true, o.verdict.kind == .can {
                    o.verdict = BenchVerdict(.notObserved, "the reserve held here but not in the VM's cgroup v2 kernel: \(v?.detail ?? run.problem ?? "no result")")
                }
            } else {
                o.evidence.append("cgroup v2: \(BenchVM.command(for: BenchCellID(.memory, .node))) runs the same reserve in the VM lane's kernel (31-node-memory.sh, with the node's PSI)")
            }
            return o
        }
    }

    /// The pressure (PSI) a node scenario read in the VM's cgroup v2 kernel over the aggressor's
    /// run: the victim's own cgroup (`vpsi_…`, its leaf named by `victim_cgroup`) beside the VM
    /// kernel's /proc/pressure (`hpsi_…`), as `.loaded` measurements of the cell, and the line
    /// that says whose they are. Empty when the scenario gave none.
    static func vmPressure(_ values: [String: String], scenario: String) -> (measurements: [BenchMeasurement], evidence: [String]) {
        var out: [BenchMeasurement] = []
        for res in PressureResource.allCases {
            for full in [false, true] {
                let kind = full ? "full" : "some"
                for (prefix, scope) in [("vpsi", PressureScope.victimCgroup), ("hpsi", .host)] {
                    guard let v = values["\(prefix)_\(res.rawValue)_\(kind)"].flatMap(Double.init), v.isFinite, v >= 0, v <= 100 else { continue }
                    out.append(BenchMeasurement(PressureWindow.name(res, full: full, scope: scope), .loaded, v, "%"))
                }
            }
        }
        guard !out.isEmpty else { return ([], []) }
        let span = values["vpsi_seconds"].map { " (\($0) s)" } ?? ""
        return (out, ["PSI in the VM (\(scenario)), over the aggressor's run\(span): (victim cgroup) is the victim's own cgroup, \(values["victim_cgroup"] ?? "?"); (host) there is the VM kernel's /proc/pressure, not this host's"])
    }

    // MARK: kernel-global tables and the kernel itself

    /// kernel.pid_max and threads-max are one table: another tenant's task count moves the
    /// global count every tenant sees (/proc/loadavg's total is not namespaced). Exhausting it
    /// is done only in the VM's kernel (`--vm`: 32-node-pids.sh).
    static func pids() -> BenchExperiment {
        BenchExperiment(.pids, .node, expect: .cannot, vmScenarios: ["node-pids"],
            claim: "threads-max and pid_max are kernel-global: tasks in one tenant count against the table every tenant shares",
            method: "Aggressor: a tenant's pod holding 200 sleeping children; victim: a pod of another tenant reading the kernel's total task count (/proc/loadavg) before and during. With --vm, the table itself is exhausted in the VM lane's kernel: kernel.threads-max lowered to the task count + 300, sandbox A forks until EAGAIN, and sandbox B, already running under its own pids limit, then fails its one fork (Tests/vm/scenarios/32-node-pids.sh).") { ctx in
            let victim = BenchWorkload(name: "victim", script: KernelTableExperiments.taskCountReader)
            // The victim alone: the same program as the pids.max bound's victim, which reuses this
            // run (Mitigations.baseline).
            let base = try ctx.runPods(.ownTenants, [victim])
            ctx.cellBaseline = base
            // Loaded: the bomb forks once the victim has read the count, the victim reads again
            // once the bomb holds its children, which it holds until then (gates, not fixed times
            // of 0.3, 0.6, 1.6 and 2.6 s).
            let read = ctx.gate(after: "t0", "pids-node-read"), held = ctx.gate(after: "bomb_forks", "pids-node-held"),
                reread = ctx.gate(after: "t1", "pids-node-reread")
            let gatedVictim = BenchWorkload(name: "victim", script: KernelTableExperiments.taskCountReader(thenAfter: held.path))
            let bomb = BenchWorkload(name: "bomb", script: BenchGate.shell(read.path) + "; "
                                     + BenchPrograms.forkBomb(max: 200, hold: BenchGate.wait, until: reread.path))
            let loaded = try ctx.runPods(.ownTenants, [bomb, gatedVictim], gates: [read, held, reread])
            func delta(_ p: BenchPods) -> Double? {
                guard let a = p.double("t0"), let b = p.double("t1") else { return nil }
                return b - a
            }
            let forks = loaded.double("bomb_forks") ?? 0
            let rise = (delta(loaded) ?? .nan) - (delta(base) ?? 0)
            var observed = forks >= 200 && rise >= 0.8 * forks
            var summary = "another tenant saw the kernel's task count rise by \(Int(rise.isFinite ? rise : -1)) while the aggressor held \(Int(forks)) children"
            var key = "tasks +\(rise.isFinite ? String(Int(rise)) : "?")"
            var o = BenchOutcome(verdict: BenchVerdict(.can, ""), keyFigure: "")
            o.measurements = [
                BenchMeasurement("kernel task count change seen by the victim", .baseline, delta(base) ?? .nan, "tasks"),
                BenchMeasurement("kernel task count change seen by the victim", .loaded, delta(loaded) ?? .nan, "tasks"),
                BenchMeasurement("aggressor children", .evidence, forks, "tasks"),
            ]
            if let run = ctx.vmRun {
                let v = run.scenarios["node-pids"]
                let a = v?.values["a_errno"] ?? "?", b = v?.values["b_errno"] ?? "?"
                let exhausted = v?.passed == true && a == "EAGAIN" && b == "EAGAIN"
                observed = observed && exhausted
                summary += "; in the VM's kernel (threads-max \(v?.values["threads_max"] ?? "?")) sandbox A stopped at \(v?.values["a_forks"] ?? "?") forks (\(a)) and neighbour B's one fork failed: \(b)"
                key += "; VM: neighbour \(b)"
                o.measurements.append(BenchMeasurement("VM: forks of sandbox A before the table was full", .evidence, Double(v?.values["a_forks"] ?? "") ?? .nan, "forks"))
                o.evidence.append("VM lane (\(run.hostRelease) host, \(Int(run.seconds)) s): \(v.map { ($0.passed ? "PASS " : "FAIL ") + $0.detail } ?? (run.problem ?? "no result for node-pids"))")
                let psi = vmPressure(v?.values ?? [:], scenario: "32-node-pids.sh; the victim is sandbox B")
                o.measurements += psi.measurements
                o.evidence += psi.evidence
            } else {
                o.evidence.append("table exhaustion runs in a VM's own kernel: \(BenchVM.command(for: BenchCellID(.pids, .node))) (not asked for)")
            }
            o.verdict = BenchVerdict.judgeObserved(observed, .cannot, summary)
            o.keyFigure = key
            o.chartMetric = "kernel task count change seen by the victim"
            return o
        }
    }

    /// One kernel, one file table: shown where exhausting it is safe, the VM's own kernel,
    /// while the host's fs.file-nr is read around the VM's run.
    static func fileDescriptors() -> BenchExperiment {
        let cell = BenchCellID(.fileDescriptors, .node)
        return BenchExperiment(.fileDescriptors, .node, expect: .cannot, vmScenarios: ["node-fd-exhaustion"],
            claim: "one kernel, one file table: only a VM's own kernel separates it",
            method: "In the VM lane's kernel (bench --vm): fs.file-max lowered to the open-file count + 2000; sandbox B starts and waits; sandbox A (RLIMIT_NOFILE 4096, so not EMFILE) opens files until the kernel refuses (ENFILE); B then opens one file: ENFILE too (Tests/vm/scenarios/30-node-fd-exhaustion.sh). Meanwhile the host's fs.file-nr is sampled every 100 ms around the VM's run: a second kernel's table does not move the host's.") { ctx in
            guard let run = ctx.vmRun else {
                return BenchOutcome(verdict: BenchVerdict(.skipped, "needs a kernel of its own: `\(BenchVM.command(for: cell))` boots the VM lane (Tests/vm/run-lane.sh, QEMU) and exhausts the file table there; --vm was not asked for"),
                                    keyFigure: "--vm not asked for")
            }
            let v = run.scenarios["node-fd-exhaustion"]
            let vals = v?.values ?? [:]
            let opened = Double(vals["a_opened"] ?? "") ?? .nan
            let drift = (run.hostFileNrMax ?? .nan) - (run.hostFileNrFirst ?? .nan)
            let exhausted = v?.passed == true && vals["a_stopped"] == "ENFILE" && vals["b"] == "ENFILE"
            let still = drift.isFinite && opened.isFinite && drift < opened
            let summary = "in the VM's kernel sandbox A opened \(vals["a_opened"] ?? "?") files until \(vals["a_stopped"] ?? "?") and neighbour B's open got \(vals["b"] ?? "?"); the host's fs.file-nr rose by at most \(drift.isFinite ? String(Int(drift)) : "?") meanwhile (from \(run.hostFileNrFirst.map { String(Int($0)) } ?? "?"))"
            var o = BenchOutcome(verdict: BenchVerdict.judgeObserved(exhausted && still, .cannot, summary),
                                 keyFigure: "VM: neighbour \(vals["b"] ?? "?"); host file-nr +\(drift.isFinite ? String(Int(drift)) : "?")")
            o.measurements = [
                BenchMeasurement("VM: files sandbox A held at ENFILE", .evidence, opened, "files"),
                BenchMeasurement("host fs.file-nr rise during the VM run (max - first)", .evidence, drift, "files"),
                BenchMeasurement("VM run", .evidence, run.seconds, "s"),
            ]
            o.evidence = ["VM lane: \(v.map { ($0.passed ? "PASS " : "FAIL ") + $0.detail } ?? (run.problem ?? "no result for node-fd-exhaustion"))"]
            let psi = vmPressure(vals, scenario: "30-node-fd-exhaustion.sh; the victim is sandbox B")
            o.measurements += psi.measurements
            o.evidence += psi.evidence
            return o
        }
    }

    /// The boundary a kernel bug crosses is the kernel: the same probe, run in a sandbox of
    /// another tenant, answers with the host's own kernel (boot id, release); in a VM it
    /// answers with another.
    static func privilegedSyscalls() -> BenchExperiment {
        BenchExperiment(.privilegedSyscalls, .node, expect: .cannot, vmScenarios: ["node-kernel"],
            claim: "one kernel: a kernel bug breaks every layer (every sandbox's system calls enter the host's kernel)",
            method: "Probe: the kernel's boot id (/proc/sys/kernel/random/boot_id, set once per boot of a kernel) and release (uname -r), read on the host and in a pod of another tenant: the same kernel answers both, so a bug reached by any system call a sandbox may make is a bug of the host. With --vm the same probe runs in the VM lane's kernel and in a sandbox there (Tests/vm/scenarios/33-node-kernel.sh): another boot id, another kernel, the boundary a node does not have. What a kernel exploit does is not run.") { ctx in
            let probe = BenchWorkload(name: "probe", script: "echo \"BH sb_boot=$(cat /proc/sys/kernel/random/boot_id) sb_release=$(uname -r)\"")
            let run = try ctx.runPods(.ownTenants, [probe])
            let hostBoot = BenchVM.hostBootID(), hostRelease = BenchVM.hostRelease()
            let sb = run.values["sb_boot"] ?? "?"
            var same = !hostBoot.isEmpty && sb == hostBoot && run.values["sb_release"] == hostRelease
            var summary = "a pod of another tenant read boot id \(sb.prefix(8))… and release \(run.values["sb_release"] ?? "?"): \(sb == hostBoot ? "the host's own" : "not the host's (\(hostBoot.prefix(8))…)")"
            var key = same ? "one kernel: boot id =" : "boot id ≠"
            var o = BenchOutcome(verdict: BenchVerdict(.can, ""), keyFigure: "")
            o.evidence = ["host: boot id \(hostBoot), release \(hostRelease)", "sandbox of another tenant: boot id \(sb), release \(run.values["sb_release"] ?? "?")"]
            if let vm = ctx.vmRun {
                let v = vm.scenarios["node-kernel"]?.values ?? [:]
                let other = (v["vm_boot"] ?? hostBoot) != hostBoot && v["sb_boot"] == v["vm_boot"]
                same = same && other
                summary += "; in the VM the same probe read \(v["vm_boot"]?.prefix(8) ?? "?")… (\(v["vm_release"] ?? "?")), and a sandbox there the VM's own: \(other ? "two kernels" : "not shown")"
                key += other ? "; VM: another kernel" : "; VM: ?"
                o.evidence.append("VM: boot id \(v["vm_boot"] ?? "?"), release \(v["vm_release"] ?? "?"); sandbox in the VM: \(v["sb_boot"] ?? "?")")
            } else {
                o.evidence.append("the second kernel: \(BenchVM.command(for: BenchCellID(.privilegedSyscalls, .node))) (not asked for)")
            }
            o.verdict = BenchVerdict.judgeObserved(same, .cannot, summary)
            o.keyFigure = key
            if !run.problems.isEmpty { o.evidence.append(run.problems) }
            return o
        }
    }
}

/// The cluster layer: what only a second node can show. One machine has one link, one kernel
/// and no API server, so each cell is `planned`: its method is the experiment the node bench
/// of the Kubernetes work (issue 13: `bulkhead bench --json` on every node from a DaemonSet,
/// merged with `bulkhead bench merge`) runs across two nodes, A and B, with its victim, its
/// aggressor, its figure and the control that would close it. `bulkhead bench --list --layer
/// cluster` prints them.
enum ClusterPlans {
    static func plan(_ resource: BenchResource, expect: BenchVerdictKind, claim: String, _ steps: [String]) -> BenchExperiment {
        let text = steps.enumerated().map { "\($0 + 1). \($1)" }.joined(separator: " ")
        return .notRun(resource, .cluster, expect: expect, claim: claim, .planned,
                       "planned, needs a second node: " + text, keyFigure: "needs 2 nodes")
    }

    static let all: [BenchExperiment] = [
        plan(.networkBandwidth, expect: .cannot,
             claim: "pods on different nodes share the link between the nodes: one pod's flood slows another pod's stream across it, unless each pod is shaped at its own node",
             ["On node B: a sink pod running `iperf3 -s` (the network-bandwidth/pod cell's sink, without its ingress bound).",
              "On node A: a victim pod's `iperf3 -c SINK -t 5` alone (baseline), then next to a pod on A sending 8 streams to B (loaded), then with that pod's `bulkhead.dev/egress-bandwidth` set to half the link (contained).",
              "Figure: the victim's Mbit/s at B in each window; cannot when loaded ≤ 75% of baseline, closed when contained ≥ 60%.",
              "Both nodes' matrices: `bulkhead bench --json node-A.json` and `node-B.json` from the DaemonSet, then `bulkhead bench merge node-A.json node-B.json`."]),
        plan(.apiServer, expect: .can,
             claim: "the API server is one for every node and tenant; API Priority and Fairness queues one tenant's request storm so another tenant's requests keep their latency",
             ["A victim pod in namespace A (its service account may `get` one ConfigMap) times 200 `kubectl get configmap` requests: p50 and p99.",
              "An aggressor pod in namespace B issues `kubectl get pods -A` LIST requests from 20 clients for 30 s, then the victim measures again (loaded).",
              "Contained: a FlowSchema giving namespace B's service account its own PriorityLevelConfiguration with 5 seats; the victim measures again.",
              "Figure: the victim's p99 latency ratio loaded/baseline and contained/baseline; `apiserver_flowcontrol_rejected_requests_total` of B's level as the aggressor's containment."]),
        plan(.dns, expect: .cannot,
             claim: "cluster DNS is one service for every node: one namespace's query flood raises every pod's lookup latency (no per-tenant DNS quota)",
             ["A victim pod on node A resolves `kubernetes.default.svc.cluster.local` 500 times (`dig +tries=1 +time=1`): p50, p99 and failures.",
              "An aggressor pod of another namespace on node B sends 20,000 queries per second of random names to the cluster DNS for 20 s (loaded).",
              "Contained: NodeLocal DNSCache on each node, or the aggressor's egress to the DNS service limited by a NetworkPolicy-backed rate; measure again.",
              "Figure: the victim's p99 and failure count per window; cannot when p99 loaded ≥ 2× baseline."]),
        plan(.scheduling, expect: .can,
             claim: "the scheduler places pods by their requests against each node's allocatable (the node cell's reserve, cluster-wide): a tenant's ResourceQuota bounds its pods across nodes, and a pod that fits nowhere stays Pending instead of squeezing another tenant's",
             ["Both nodes report their allocatable (`kubectl get node -o jsonpath={.status.allocatable}`) and run the node bench's cpu/node and memory/node cells (the reserve each node keeps).",
              "Tenant B with a ResourceQuota of requests.cpu equal to one node's allocatable creates 2 replicas × that request: one is refused by the quota.",
              "Tenant A's victim Deployment (2 replicas, one per node) must be Running on both nodes within 30 s and its cpu/container figure within its band.",
              "Figure: pods Pending per tenant, the quota's refusal, the victim's CPU rate on each node."]),
        plan(.nodeFailure, expect: .cannot,
             claim: "a node's failure takes every pod on it, whatever its tenant: the node isolates nothing from its own failure; only replicas on a second node (anti-affinity, a PodDisruptionBudget) keep a service",
             ["A victim Deployment of 2 replicas with pod anti-affinity (one per node), behind a Service; a probe pod on node B requests it 10 times per second.",
              "Node A fails: its kubelet and bulkhead stopped (or the VM powered off), then `kubectl drain` on recovery.",
              "Figure: the probe's failed requests and the seconds until the Service answered from B only; every pod on A is lost whatever its layer (cannot), the replica on B serves (what closes it).",
              "Control: the same with both replicas on node A (no anti-affinity): the service is down until A returns."]),
    ]
}
