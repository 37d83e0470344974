import BulkheadConfig
import BulkheadModel
import Foundation

/// The windows of an experiment's rounds: every figure with its round and phase (the JSON
/// keeps them all), and the per-round ratios a verdict is judged on.
struct BenchWindows {
    var measurements: [BenchMeasurement] = []

    /// Records a window's figure; a window that reported nothing is left out (its round then
    /// gives no ratio), never recorded as NaN.
    mutating func record(_ name: String, _ phase: BenchPhase, round: Int, _ value: Double?, _ unit: String) {
        guard let value, value.isFinite else { return }
        measurements.append(BenchMeasurement(name, phase, value, unit, round: round))
    }

    func value(_ name: String, _ phase: BenchPhase, round: Int) -> Double? {
        measurements.first { $0.name == name && $0.phase == phase && $0.round == round }?.value
    }

    /// The rounds measured, in order.
    var rounds: [Int] { Array(Set(measurements.compactMap(\.round))).sorted() }

    /// Per round, `phase` over the same round's `base` (a rate); `inverted`, base over phase
    /// (a latency, so that 0.5 means "half as good" as for a rate).
    func ratios(_ name: String, _ phase: BenchPhase, over base: BenchPhase = .baseline, inverted: Bool = false) -> [Double] {
        rounds.compactMap { r in
            let p = value(name, phase, round: r), b = value(name, base, round: r)
            return inverted ? ratio(b, p) : ratio(p, b)
        }
    }

    /// The ratio summary of `name` in `phase` over baseline, against `band` on `side`.
    func summary(_ name: String, _ phase: BenchPhase, band: Double, side: BenchBandSide, inverted: Bool = false) -> BenchRatioSummary? {
        BenchRatioSummary(metric: name, phase: phase, ratios: ratios(name, phase, inverted: inverted), band: band, side: side)
    }

    /// The median of `name` in `phase` over the rounds.
    func median(_ name: String, _ phase: BenchPhase) -> Double? {
        BenchStatistics.median(measurements.filter { $0.name == name && $0.phase == phase }.map(\.value))
    }
}

/// Windows of one run on a shared clock: a victim measures window after window, and an
/// aggressor runs only during the windows of its phase. The clock is the wall clock
/// (CLOCK_REALTIME, which no namespace of a sandbox changes), so containers and pods started
/// a little apart still agree on when each window begins.
struct BenchSchedule {
    typealias Window = BenchWindowPlan.Window

    /// Wall-clock seconds (since 1970) of the first window's start without a start gate.
    let start: Double
    /// The windows and the aggressors' spans (BulkheadModel, pure).
    let plan: BenchWindowPlan
    /// Where the first window's start comes from once every program of the run is ready
    /// (BenchGates.swift); nil: `start`, a fixed lead from now.
    let startGate: BenchStartGate?
    var window: Double { plan.window }
    var gap: Double { plan.gap }
    var windows: [Window] { plan.windows }
    var length: Double { plan.length }

    /// `rounds` rounds of `phases` (ABBA order), windows of `window` s with `gap` s between,
    /// the first `lead` s from now (time for the pods to start), or, with `startGate`, once the
    /// bench has opened it (`BenchContext.openStart`).
    init(rounds: Int, phases: [BenchPhase], window: Double, gap: Double, lead: Double, startGate: BenchStartGate? = nil) {
        start = Date().timeIntervalSince1970 + lead
        plan = BenchWindowPlan(rounds: rounds, phases: phases, window: window, gap: gap)
        self.startGate = startGate
    }

    /// Python literals for scripts: the start, the windows as (key, at) pairs, spans as (a, b).
    var startLiteral: String { String(format: "%.3f", start) }

    /// Python (top-level statements; `os` and `time` imported) that sets `T0`, the first
    /// window's start: the fixed start, or with a start gate, once this program has said it is
    /// ready (`procs` processes of one program, `me` the Python expression of each one's index),
    /// the start the bench wrote into the gate; a program that never sees the gate ends
    /// without a figure (never a window on a clock the others do not share).
    func startPython(procs: Int = 1, me: String = "0") -> String {
        guard let g = startGate else { return "T0=\(startLiteral)" }
        let n = g.register(procs: procs)
        return """
            print("BH \(BenchStartGate.keyPrefix)\(n)_%d=1" % (\(me)), flush=True)
            _g0=time.monotonic()+\(BenchPrograms.fmt(BenchStartGate.wait + 5))
            while not os.path.exists("\(g.path)") and time.monotonic()<_g0: time.sleep(0.01)
            if not os.path.exists("\(g.path)"): raise SystemExit(0)
            T0=float(open("\(g.path)").read())
            """
    }
    func windowsLiteral(_ prefix: String) -> String {
        "[" + windows.map { "(\"\($0.key(prefix))\",\(BenchPrograms.fmt($0.at)))" }.joined(separator: ",") + "]"
    }
    func spansLiteral(_ phase: BenchPhase, pre: Double = 0.15) -> String {
        "[" + plan.spans(phase, pre: pre).map { "(\(BenchPrograms.fmt($0.from)),\(BenchPrograms.fmt($0.to)))" }.joined(separator: ",") + "]"
    }

    /// Records every window's figure (`BH PREFIX_rN_PHASE=V`) from a run's values.
    func collect(_ values: [String: String], prefix: String, as name: String, unit: String, into w: inout BenchWindows) {
        for win in windows { w.record(name, win.phase, round: win.round, values[win.key(prefix)].flatMap(Double.init), unit) }
    }
}

extension BenchContext {
    /// Runs `body` once per round and phase, interleaved in ABBA order, for experiments whose
    /// windows are separate runs (a sandbox or pod per window).
    func interleave(_ phases: [BenchPhase], _ body: (Int, BenchPhase) throws -> Void) rethrows {
        for r in 0..<rounds {
            for p in BenchWindowPlan.order(phases, round: r) { try body(r, p) }
        }
    }
}

/// The defaults of `bulkhead bench` (docs/bench.md explains how they were chosen).
public enum BenchDefaults {
    /// Seconds of one measured window.
    public static let windowSeconds = 1.0
    /// Interleaved rounds per ratio cell: 3, the fewest whose interval (the rounds' range)
    /// means anything. The whole matrix takes about the 3 minutes issue 18 asks on 2 CPUs:
    /// 174 and 183 s quiet in session 13 (its schedule alone, windows, gaps and fixed waits,
    /// 152.7 s since session 11; a cell measured again adds 10 to 18 s; docs/bench.md says
    /// where the time goes).
    public static let rounds = 3
}

/// Victims and aggressors on a `BenchSchedule`: a victim reports one `BH PREFIX_rN_PHASE=V`
/// per window (and `PREFIX_rN_PHASE_late=S` for a window it started too late to measure); an
/// aggressor runs only in the spans of its phase, so one started aggressor serves every window
/// of a run (ABBA puts two loaded windows side by side: one span covers both).
enum BenchScheduled {
    /// The loop over a victim's windows, `body` measuring window `key` for `W` seconds.
    static func victim(_ s: BenchSchedule, prefix: String, setup: String = "pass", body: String) -> String {
        """
        python3 -c 'import time,os
        W=\(BenchPrograms.fmt(s.window))
        \(setup)
        \(s.startPython())
        for key,at in \(s.windowsLiteral(prefix)):
            d=T0+at-time.time()
            if d<0:
                print("BH %s_late=%.3f" % (key,-d), flush=True); continue
            time.sleep(d)
        \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))'
        """
    }

    /// CPU work units per second in each window.
    static func cpuRate(_ s: BenchSchedule, prefix: String) -> String {
        victim(s, prefix: prefix, body: """
            n=0; end=time.monotonic()+W
            while time.monotonic()<end:
                for _ in range(2000): pass
                n+=1
            print("BH %s=%.1f" % (key, n/W), flush=True)
            """)
    }

    /// MB swept per second of wall time in each window, over a buffer of `mebibytes`.
    static func memorySweep(_ s: BenchSchedule, prefix: String, mebibytes: Int = 16) -> String {
        victim(s, prefix: prefix, setup: "b=bytearray(\(mebibytes)<<20)", body: """
            n=0; end=time.monotonic()+W
            while time.monotonic()<end:
                b[0::64]=bytes(len(b)//64); n+=1
            print("BH %s=%.1f" % (key, n*\(mebibytes)/W), flush=True)
            """)
    }

    /// The cache cells' victim, on `cpu`: sweeps a buffer of `mebibytes` (one byte per 64-byte
    /// line, from a source made once: a source made per sweep cost ~100 page faults a sweep,
    /// whose kernel time the per-CPU-second rate counted; the buffer touched once before the
    /// first window) in each window. Per window: `KEY`
    /// (MB per second of its own CPU time), `KEY_cpu` (its share of the window's wall time: the
    /// rest went to other work on its CPU), `KEY_ivcsw` (times other work took its CPU),
    /// `KEY_minflt` (page faults); and what else could move its rate with CPU 0 its own
    /// (docs/bench.md, cache cells): `KEY_ref` (the calibrated reference after the window, loops
    /// per CPU-second: the vCPU's speed), `KEY_steal0` (CPU 0's steal time over the window, as a
    /// share of it: the hypervisor ran something else on its physical CPU) and `KEY_busy1` (CPU 1's
    /// busy share: the other vCPU, which shares the last-level cache).
    static func cacheSweep(_ s: BenchSchedule, prefix: String, mebibytes: Int, cpu: Int) -> String {
        victim(s, prefix: prefix, setup: "import resource; os.sched_setaffinity(0, {\(cpu)}); b=bytearray(\(mebibytes)<<20); z=bytes(len(b)//64); b[0::64]=z\n" + cpuTimes, body: """
            n=0; t0=cpus(); end=time.monotonic()+W; c0=time.process_time(); u0=resource.getrusage(resource.RUSAGE_SELF)
            while time.monotonic()<end:
                b[0::64]=z; n+=1
            spent=max(1e-3, time.process_time()-c0); u1=resource.getrusage(resource.RUSAGE_SELF); t1=cpus()
            m=0; c1=time.process_time(); rend=time.monotonic()+\(BenchPrograms.fmt(referenceSeconds))
            while time.monotonic()<rend:
                for _ in range(2000): pass
                m+=1
            rs=max(1e-4, time.process_time()-c1)
            print("BH %s=%.1f %s_cpu=%.3f %s_ivcsw=%d %s_minflt=%d %s_ref=%.1f %s_steal0=%.3f %s_busy1=%.3f" % (key, n*\(mebibytes)/spent, key, spent/W, key, u1.ru_nivcsw-u0.ru_nivcsw, key, u1.ru_minflt-u0.ru_minflt, key, m/rs, key, (t1[0]-t0[0])/HZ/W, key, (t1[1]-t0[1])/HZ/W), flush=True)
            """)
    }

    /// How long the cache victim's calibrated reference runs after each window: a loop that
    /// touches no memory (`for _ in range(2000): pass`), per CPU-second, so its rate is the
    /// vCPU's own speed (clock frequency, the hypervisor's time slicing, a host SMT sibling)
    /// next to the window's sweep rate. It runs in the gap after the window, where no aggressor
    /// sweeps (the next span starts 0.15 s before its window; the gap is 0.25 s).
    static let referenceSeconds = 0.05

    /// Python: `cpus()` reads /proc/stat (not namespaced) and returns CPU 0's steal and CPU 1's
    /// busy time (user, nice, system, irq, softirq, steal excluded) in clock ticks; `HZ` their rate.
    static let cpuTimes = """
        HZ=os.sysconf("SC_CLK_TCK")
        def cpus():
            st=0; busy=0
            for l in open("/proc/stat"):
                f=l.split()
                if f[0]=="cpu0": st=int(f[8])
                elif f[0]=="cpu1": busy=int(f[1])+int(f[2])+int(f[3])+int(f[6])+int(f[7])
            return (st,busy)
        """

    /// 4 KiB write+fsync in a loop in each window, each one request of a disk-bound service:
    /// `KEY_ops` (per second), `KEY_p50`, `KEY_p90`, `KEY_p99` (ms, exact nearest rank:
    /// `BenchPrograms.percentiles`), `KEY_n` (requests), `KEY_t0`, `KEY_t1` (the window, CLOCK_MONOTONIC).
    static func fsyncLatency(_ s: BenchSchedule, prefix: String, file: String) -> String {
        if let hog = BenchDiskPrograms.hog { return BenchDiskPrograms.victim(hog, s, prefix: prefix, file: file, kind: "fsync") + "; rm -f \(file)" }
        return victim(s, prefix: prefix, setup: "fd=os.open(\"\(file)\",os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600); buf=b\"x\"*4096\n" + BenchPrograms.percentiles, body: """
            lat=[]; t0=time.monotonic(); end=t0+W
            while time.monotonic()<end and len(lat)<200000:
                t=time.monotonic(); os.pwrite(fd,buf,(len(lat)%256)*4096); os.fsync(fd); lat.append((time.monotonic()-t)*1000)
            t1=time.monotonic(); lat.sort()
            print("BH %s_ops=%.1f %s_p50=%.3f %s_p90=%.3f %s_p99=%.3f %s_n=%d %s_t0=%.3f %s_t1=%.3f" % (key, len(lat)/W, key, pct(lat,50), key, pct(lat,90), key, pct(lat,99), key, len(lat), key, t0, key, t1), flush=True)
            """) + "; rm -f \(file)"
    }

    /// The loop over an aggressor's spans of `phase`, `body` running until `end` (wall clock);
    /// `procs` copies of it (forked processes).
    static func aggressor(_ s: BenchSchedule, _ phase: BenchPhase, procs: Int = 1, pre: Double = 0.15, setup: String = "pass", body: String) -> String {
        """
        python3 -c 'import time,os
        me=0
        for i in range(1,\(max(1, procs))):
            if os.fork()==0:
                me=i; break
        \(setup)
        \(s.startPython(procs: max(1, procs), me: "me"))
        for a,z in \(s.spansLiteral(phase, pre: pre)):
            d=T0+a-time.time()
            if d>0: time.sleep(d)
            end=T0+z
            if time.time()>=end: continue
        \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        if me: os._exit(0)
        try:
            while True: os.wait()
        except ChildProcessError: pass'
        """
    }

    /// `procs` busy loops during the spans of `phase`.
    static func cpuHog(_ s: BenchSchedule, _ phase: BenchPhase, procs: Int) -> String {
        aggressor(s, phase, procs: procs, body: "while time.time()<end: pass")
    }

    /// In each span of `phase`, a fresh child allocates 8 MiB at a time (touched) up to
    /// `maxMiB` and holds it to the span's end: the OOM killer takes the child, the next span
    /// starts another. `BH bomb_mib=N` is what the last child held, `BH bomb_killed=N` how many
    /// children a SIGKILL (the OOM killer's) ended.
    static func memoryBomb(_ s: BenchSchedule, _ phase: BenchPhase, maxMiB: Int) -> String {
        aggressor(s, phase, setup: "k=0", body: """
            pid=os.fork()
            if pid==0:
                x=[]
                while time.time()<end and len(x)*8<\(maxMiB):
                    x.append(bytearray(8<<20)); print("BH bomb_mib=%d" % (len(x)*8), flush=True)
                time.sleep(max(0, end-time.time())); os._exit(0)
            st=os.waitpid(pid,0)[1]
            k+=1 if os.WIFSIGNALED(st) and os.WTERMSIG(st)==9 else 0
            print("BH bomb_killed=%d" % k, flush=True)
            """)
    }

    /// Sweeps a buffer of `mebibytes` (on `cpu` when given) during the spans of `phase`.
    static func memorySweeper(_ s: BenchSchedule, _ phase: BenchPhase, mebibytes: Int, cpu: Int? = nil) -> String {
        aggressor(s, phase, setup: "\(cpu.map { "os.sched_setaffinity(0, {\($0)})" } ?? "pass"); b=bytearray(\(mebibytes)<<20)",
                  body: "while time.time()<end: b[0::64]=bytes(len(b)//64)")
    }

    /// `procs` writers of `mib` MiB files with fsync in `dir` during the spans of `phase`.
    static func diskWriters(_ s: BenchSchedule, _ phase: BenchPhase, dir: String, procs: Int, mib: Int) -> String {
        if let hog = BenchDiskPrograms.hog { return BenchDiskPrograms.writers(hog, s, phase, dir: dir, procs: procs, mib: mib, direct: false) }
        return aggressor(s, phase, procs: procs, body: """
            n=0; f="\(dir)/w%d" % me
            while time.time()<end:
                fd=os.open(f,os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600); blk=bytes(1<<20)
                for _ in range(\(mib)):
                    os.write(fd,blk)
                    if time.time()>=end: break
                os.fsync(fd); os.close(fd); n+=1
            os.unlink(f); print("BH w%d_rounds=%d" % (me, n), flush=True)
            """)
    }
}

extension BenchSchedule {
    /// Seconds from now to the first window of a schedule without a start gate: time for the
    /// sandboxes to start (no window began late in a full run at load average 10). A window
    /// whose start a victim missed is reported late and gives no figure (its round no ratio).
    /// The cells' schedules have a start gate instead (1 to 2 s of leads, most of them idle on
    /// a quiet machine and too short on a loaded one: BenchStartGate).
    static let lead = 1.0
    /// Seconds between windows (the aggressor starts 0.15 s before a window of its phase).
    static let gap = 0.25

    /// `ctx.rounds` rounds of `phases` with `ctx.phaseSeconds` windows, starting once the run's
    /// programs are ready (a start gate), or `lead` s from now when `gated` is false (the VM
    /// lane's C disk programs take the start as a number).
    init(_ ctx: BenchContext, _ phases: [BenchPhase], gated: Bool = true) {
        self.init(rounds: ctx.rounds, phases: phases, window: ctx.phaseSeconds, gap: Self.gap, lead: Self.lead,
                  startGate: gated ? ctx.startGate() : nil)
    }

    /// A deadline for the run's pods: the schedule and a margin (with a start gate, the longest
    /// the bench waits for it to open).
    var deadline: Double {
        (startGate.map { _ in BenchStartGate.wait + BenchStartGate.margin } ?? (start - Date().timeIntervalSince1970)) + length + 8
    }

    /// "window v_r0_baseline began 0.31 s late" for each window a victim missed.
    func late(_ values: [String: String], prefix: String) -> [String] {
        windows.compactMap { w in values[w.key(prefix) + "_late"].map { "window \(w.key(prefix)) began \($0) s late: not measured" } }
    }
}

extension BenchScheduled {
    /// A schedule for iperf3 windows: whole seconds (iperf3's -t), and a gap of a second that
    /// covers a test's connection setup and teardown and lets the bottleneck's queue drain
    /// (with 0.75 s, a baseline window right after a flood's still lost a quarter). The first
    /// window begins once every program is ready (a start gate: the fixed leads of 2 s these
    /// cells had, where several pods start at once next to a running sink, were still late by
    /// up to 1.5 s at load average 20).
    static func iperfSchedule(_ ctx: BenchContext, _ phases: [BenchPhase]) -> BenchSchedule {
        BenchSchedule(rounds: ctx.rounds, phases: phases, window: max(1, ctx.phaseSeconds.rounded()), gap: 1.0, lead: BenchSchedule.lead,
                      startGate: ctx.startGate())
    }

    /// One iperf3 stream to `ip:port` in each window: `BH PREFIX_rN_PHASE=Mbit/s` as the
    /// receiver counted it (a test the busy server refused is tried again within the gap).
    static func iperfVictim(_ s: BenchSchedule, prefix: String, ip: String, port: Int) -> String {
        victim(s, prefix: prefix, setup: "import subprocess,json", body: """
            for i in range(4):
                r=subprocess.run(["iperf3","-c","\(ip)","-p","\(port)","-t","\(Int(s.window))","-J"],capture_output=True,text=True)
                try:
                    print("BH %s=%.2f" % (key, json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"]/1e6), flush=True); break
                except Exception: time.sleep(0.1)
            """)
    }

    /// `streams` iperf3 streams to `ip:port` during the spans of `phase` (from 0.6 s before
    /// each window, so that the streams are up when it begins), each test ended by SIGTERM at
    /// its span's end: `BH KEY=Mbit/s`, the sender's rate over the spans, from its one-second
    /// intervals after the first (the first also fills the socket buffers, so it overstates
    /// what a shaped link passes); a span of one interval counts whole.
    /// With `udpMbits`, one UDP stream offered at that rate instead (from 0.3 s before each
    /// window: UDP has no slow start to wait for), `BH KEY` then the offered rate: a UDP flood
    /// does not back off, where eight new TCP streams into a remote bucket's 25 ms queue lost
    /// so many packets at once that they sent 3.9 Mbit/s together (the pod cell, quiet machine).
    static func iperfFlood(_ s: BenchSchedule, _ phase: BenchPhase, key: String, ip: String, port: Int, streams: Int, udpMbits: Int? = nil) -> String {
        let mode = udpMbits.map { "\"-u\",\"-b\",\"\($0)M\"" } ?? "\"-P\",\"\(streams)\""
        return aggressor(s, phase, pre: udpMbits == nil ? 0.6 : 0.3, setup: "import subprocess,json; tot=0.0; n=0", body: """
            p=subprocess.Popen(["iperf3","-c","\(ip)","-p","\(port)","-t","600",\(mode),"-J"],stdout=subprocess.PIPE,stderr=subprocess.DEVNULL,text=True)
            time.sleep(max(0, end-time.time())); p.terminate(); out=p.communicate()[0]
            try:
                d=json.loads(out); iv=[i["sum"] for i in d.get("intervals",[]) if i["sum"]["seconds"]>0.5]
                rates=[i["bits_per_second"] for i in (iv[1:] if len(iv)>1 else iv)] or [(d["end"].get("sum_sent") or d["end"]["sum"])["bits_per_second"]]
                tot+=sum(rates)/len(rates)/1e6; n+=1
            except Exception: pass
            print("BH \(key)=%.2f" % (tot/max(1,n)), flush=True)
            """)
    }
}
