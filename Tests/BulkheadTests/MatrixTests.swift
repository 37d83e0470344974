import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The isolation matrix, one test per cell: `bulkhead bench --only CELL` with short phases, and
/// the verdict the cell's claim needs. A "can" needs the victim in its band and the aggressor
/// contained; a "cannot" needs the shared effect observed; "not-observed" fails either. The
/// bands are the experiments' own (wide for a shared 2-core machine); nothing here times bulkhead.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct MatrixTests {
    /// The expected verdict of every cell, from LAYERS.md, with one difference found by the
    /// experiments and explained in docs/bench.md: a tenant's bandwidth is not held (bulkhead
    /// shapes per pod, not per tenant). fds/node needs the VM lane (`bench --vm`): here it says
    /// so (skipped); CgroupV2LaneTests runs it in the VM.
    static let expected: [String: String] = [
        "cpu/container": "can", "cpu/pod": "can", "cpu/namespace": "can", "cpu/node": "can",
        "cache-bandwidth/container": "cannot", "cache-bandwidth/pod": "cannot", "cache-bandwidth/namespace": "cannot",
        "memory/container": "can", "memory/pod": "can", "memory/namespace": "can", "memory/node": "can",
        "pids/container": "can", "pids/pod": "can", "pids/namespace": "can", "pids/node": "cannot",
        "fds/container": "cannot", "fds/pod": "cannot", "fds/namespace": "cannot", "fds/node": "skipped",
        "disk-space/container": "can", "disk-space/pod": "can",
        "disk-bandwidth/container": "cannot", "disk-bandwidth/pod": "cannot", "disk-bandwidth/namespace": "cannot",
        "network-bandwidth/container": "cannot", "network-bandwidth/pod": "can", "network-bandwidth/namespace": "cannot",
        "ports/container": "cannot", "ports/pod": "can", "ports/namespace": "can",
        "ipc/container": "cannot", "ipc/pod": "can", "ipc/namespace": "can",
        "identity/container": "cannot", "identity/pod": "can", "identity/namespace": "can",
        "inotify/container": "cannot", "inotify/namespace": "can",
        "syscalls/container": "can", "syscalls/pod": "can", "syscalls/namespace": "can", "syscalls/node": "cannot",
        "processes/container": "can", "processes/pod": "can", "processes/namespace": "can",
        "proc-sys/container": "can",
        // The cluster layer: plans a second node runs (ClusterPlans), never a blank.
        "network-bandwidth/cluster": "planned", "api-server/cluster": "planned", "dns/cluster": "planned",
        "scheduling/cluster": "planned", "node-failure/cluster": "planned",
    ]

    /// What closes each "cannot" here (Sources/BulkheadBench/Mitigations.swift, docs/bench.md):
    /// the verdicts the cell's run with the control in place may give. CPU pinning does not
    /// reliably close the cache cells on this VM: both vCPUs share the last-level cache and
    /// there is no resctrl, so the victim's interval with the aggressor on the other CPU lands
    /// above, below or across the band from run to run (64% to 98% measured); what must hold is
    /// that the pinning was in place and the figure came (never not-observed; not-measurable
    /// when other work held CPU 0 in too many of its rounds, as the cell). io.max needs
    /// cgroup v2: on a v1 or hybrid host the disk cells' mitigation is skipped, naming the VM lane.
    static let mitigated: [String: Set<String>] = {
        let pinning: Set<String> = ["can", "cannot", "inconclusive", "not-measurable"]
        var m: [String: Set<String>] = [
            "cache-bandwidth/container": pinning, "cache-bandwidth/pod": pinning, "cache-bandwidth/namespace": pinning,
            "network-bandwidth/container": ["can"], "network-bandwidth/namespace": ["can"],
            "fds/container": ["can"], "fds/pod": ["can"], "fds/namespace": ["can"],
            "pids/node": ["can"], "inotify/container": ["can"],
        ]
        let v2 = (try? CgroupHost.detect())?.mode == .unified
        for l in ["container", "pod", "namespace"] { m["disk-bandwidth/\(l)"] = [v2 ? "can" : "skipped"] }
        return m
    }()

    static let cells: [String] = {
        (try? Bulkhead.run(["bench", "--list"]).stdout.split(separator: "\n").map(String.init)) ?? []
    }()

    /// Cells whose mitigation is a third phase of the cell's own run (Mitigations.inCellRun).
    static let mitigatedInCellRun: Set<String> = ["cache-bandwidth/container", "cache-bandwidth/pod", "cache-bandwidth/namespace",
                                                  "network-bandwidth/container", "network-bandwidth/namespace"]

    /// Rounds per ratio cell here: fewer than the default (the suite runs every cell), enough
    /// for an interval, so that a cell can be inconclusive.
    static let rounds = "3"
    /// Rounds of the one retry of a not-observed or inconclusive cell, or of a cell whose
    /// control did not decide (the bench does not measure a control again): an odd count, whose
    /// bootstrap median keeps a single wild round out of its interval (BenchRemeasure).
    static let retryRounds = "7"

    /// Runs cells through the binary and returns the typed JSON report (nil when none was written).
    static func bench(_ cells: [String], rounds: String = rounds, extra: [String] = []) throws -> (status: Int32, report: BenchMatrixReport?, stderr: String) {
        let path = NSTemporaryDirectory() + "bh-bench-\(token()).json"
        defer { unlink(path) }
        let r = try Bulkhead.run(["bench", "--only"] + cells + ["--duration", "1", "--rounds", rounds, "--json", path] + extra, timeout: 240)
        return (r.status, try ReportFile.decode(BenchMatrixReport.self, at: path), r.stderr)
    }

    @Test("Every cell the binary lists has an expected verdict here, and the other way round")
    func catalogueMatches() {
        #expect(Set(Self.cells) == Set(Self.expected.keys))
    }

    /// The cells with a mitigation run in `mitigatedCell` (filter on it to run only those).
    @Test("cell", arguments: MatrixTests.expected.keys.filter { MatrixTests.mitigated[$0] == nil }.sorted())
    func cell(_ cell: String) throws {
        // The bench measures an inconclusive cell once more itself, its rounds judged with the
        // first run's (BenchCellMeasure, BulkheadBenchTests); not a control that alone did not
        // decide. A cell or a control still undecided: its effect did not show ("not-observed"),
        // its interval straddles its band ("inconclusive"), or the machine's other load kept it
        // from testing its claim ("not-measurable"), is measured once more with 7 rounds
        // (as a reader of the report would), and the test fails when that run does not show the
        // cell's verdict (and its control's): an inconclusive cell or control never passes. A
        // verdict the wrong way round ("can" for a "cannot") fails at once.
        var earlier: [String] = []
        var run = try Self.bench([cell])
        let id = try #require(BenchCellID(parsing: cell), "not RESOURCE/LAYER: \(cell)")
        let undecided: Set<BenchVerdictKind> = [.notObserved, .inconclusive, .notMeasurable]
        for _ in 0..<1 {
            let first = run.report?.result(id)
            let cellUndecided = first.map { undecided.contains($0.verdict.kind) } ?? false
            let controlUndecided = first?.mitigation.map { undecided.contains($0.verdict.kind) && Self.mitigated[cell]?.contains($0.verdict.kind.rawValue) != true } ?? false
            guard cellUndecided || controlUndecided, Self.expected[cell] != "not-observed" else { break }
            earlier.append((first?.verdict.reason ?? "?") + (controlUndecided ? "; its control: \(first?.mitigation?.verdict.reason ?? "?")" : ""))
            run = try Self.bench([cell], rounds: Self.retryRounds)
        }
        let r = run
        let report = try #require(r.report, "no bench report for \(cell): \(r.stderr)")
        let result = try #require(report.result(id), "no result for \(cell): \(r.stderr)")
        let kind = result.verdict.kind.rawValue
        let reason = result.verdict.reason
        print("matrix \(cell): \(kind): \(result.keyFigure) (\(reason))\(earlier.isEmpty ? "" : "; first run: \(earlier)")")
        if kind == "not-measurable" {
            try Self.checkNotMeasurable(cell, result)
        } else {
            #expect(kind == Self.expected[cell], "\(cell): \(kind): \(reason); evidence \(result.evidence); an earlier run: \(earlier)")
        }
        #expect(!reason.isEmpty, "every verdict says why")
        if kind == "can" || kind == "cannot" {
            let measured = result.measurements.count + result.evidence.count
            #expect(measured > 0 || !result.keyFigure.contains("?"), "a finding comes with its evidence")
            // A verdict measured on this host launched its workloads, and the report counts them.
            #expect((result.launches ?? 0) >= 1, "\(cell): launches \(String(describing: result.launches))")
        }
        if kind == "blocked" { #expect(reason.contains("needs"), "blocked names what it needs: \(reason)") }
        // A ratio cell keeps every window with its round, and its verdict agrees with where
        // its interval lies against its band.
        if let q = result.ratio {
            #expect([Int(Self.rounds), Int(Self.retryRounds)].contains(report.rounds) && q.rounds >= 2, "\(cell): \(q.rounds) rounds gave a ratio")
            #expect(q.low <= q.median && q.median <= q.high)
            let windows = result.measurements.filter { $0.round != nil }
            #expect(Set(windows.compactMap(\.round)).count >= 2, "every window is kept with its round")
            // Adaptive rounds: a cell the bench measured again (its first run, or its control's,
            // inconclusive) reports both runs' windows, the second run's rounds numbered after
            // the report's (a window begun late gives none, so the count of rounds with a ratio
            // may be fewer). This only fires when a cell happens to be undecided: the rules are
            // tested on synthetic runs (BenchCellMeasureTests).
            if let again = result.evidence.first(where: { $0.hasPrefix("measured again with ") }) {
                let last = result.measurements.compactMap(\.round).max() ?? -1
                #expect(again.contains("inconclusive") && last >= report.rounds, "\(cell): windows up to round \(last) after \(again)")
            }
            if kind == "can" { #expect(q.side == .atLeast && q.low >= q.band, "\(cell): \(q.text) against \(q.band)") }
            if kind == "cannot" { #expect(q.side == .atMost && q.high <= q.band, "\(cell): \(q.text) against \(q.band)") }
        }
        if kind == "skipped" && id.layer == .node {
            #expect(reason.contains("bulkhead bench --vm --only \(cell)"), "a VM cell names the command that runs it: \(reason)")
        }
        if kind == "planned" {
            #expect(result.method.contains("1. ") && result.method.contains("2. "), "a planned cell carries its steps: \(result.method)")
        }
        // The third value: the run with the control that closes the cannot, where this host has it.
        let m = result.mitigation
        #expect(m.map { Self.mitigated[cell]?.contains($0.verdict.kind.rawValue) == true } ?? (Self.mitigated[cell] == nil),
                "\(cell) with \(m?.control ?? "no mitigation"): \(m?.verdict.kind.rawValue ?? "none"): \(m?.verdict.reason ?? ""); evidence \(m?.evidence ?? [])")
        if let m, m.verdict.kind == .can || m.verdict.kind == .cannot {
            #expect(!m.measurements.isEmpty, "a mitigation's finding comes with its figures")
        }
        if cell.hasPrefix("fds/"), let m, m.verdict.kind == .can {
            // The bound holding: what the aggressor held is at most pids.max × RLIMIT_NOFILE.
            let held = try #require(m.value("descriptors the aggressor held", .evidence))
            let bound = try #require(m.value("bound: pids.max × RLIMIT_NOFILE", .evidence))
            #expect(held > 0 && held <= bound, "\(held) ≤ \(bound)")
        }
        if cell.hasPrefix("network-bandwidth/"), let m {
            // The mitigated value runs the cell's rounds: every window kept with its round, and
            // a ratio with its interval that agrees with the verdict.
            let q = try #require(m.ratio, "\(cell): the mitigated value has an interval: \(m.verdict.reason)")
            #expect(q.phase == .contained && q.low <= q.median && q.median <= q.high)
            #expect(q.rounds >= 2 && Set(m.measurements.filter { $0.name == "victim throughput" && $0.phase == .contained }.compactMap(\.round)).count >= 2,
                    "\(cell): \(q.rounds) rounds with the control")
            if m.verdict.kind == .can { #expect(q.low >= q.band, "\(cell): \(q.text) against \(q.band)") }
        }
        if Self.mitigatedInCellRun.contains(cell), let m, result.ratio != nil {
            // Measured in the cell's own run (a third phase of its windows), not a second run
            // repeating its baseline: the mitigation's baseline windows are the cell's, value
            // for value, and the cell keeps only its own two phases.
            let metric = cell.hasPrefix("cache-bandwidth/") ? "victim sweep rate" : "victim throughput"
            let base = { (ms: [BenchMeasurement]) in ms.filter { $0.name == metric && $0.phase == .baseline }.map { "\($0.round ?? -1):\($0.value)" }.sorted() }
            #expect(!base(result.measurements).isEmpty && base(m.measurements) == base(result.measurements),
                    "\(cell): the control's baseline windows are the cell's: \(base(m.measurements)) vs \(base(result.measurements))")
            #expect(!result.measurements.contains { $0.name == metric && $0.phase == .contained }, "\(cell): the control's windows are the mitigation's")
            #expect(m.evidence.contains { $0.contains("measured in the cell's run") }, "\(m.evidence)")
        }
        if cell.hasPrefix("disk-bandwidth/"), let m, m.verdict.kind == .skipped {
            #expect(m.verdict.reason.contains("bulkhead bench --vm --only \(cell)"), "io.max names the command that measures it: \(m.verdict.reason)")
        }
        if cell.hasPrefix("cache-bandwidth/"), let m {
            let resctrl = access("/sys/fs/resctrl/info", F_OK) == 0
            #expect(m.evidence.contains { $0.contains(resctrl ? "resctrl is mounted" : "no resctrl on this host") }, "says whether resctrl is there: \(m.evidence)")
            #expect(m.verdict.reason.contains("cpuset.cpus written for the aggressor's sandbox: yes"), "the pinning was in place: \(m.verdict.reason)")
            #expect(m.value("victim sweep rate", .contained) != nil, "the victim's figure with the pinning")
        }
        if cell.hasPrefix("cache-bandwidth/") {
            // The victim's figure is its caches', not the page allocator's: no page faults in
            // its windows (a sweep source made per sweep cost about 100 a sweep, 10,240 per
            // half-second window at load average 13, whose kernel time the per-CPU-second rate
            // counted; the first window's few dozen are the interpreter's own).
            let faults = result.measurements.filter { $0.name == "victim page faults" }.map(\.value)
            #expect(!faults.isEmpty && (BenchStatistics.median(faults) ?? .infinity) < 100 && faults.allSatisfy { $0 < 1000 },
                    "\(cell): page faults per window \(faults)")
            // Judged only on the rounds in which CPU 0 was the cell's (BenchCacheRounds).
            let judged = BenchCacheRounds.judged(result.measurements, .loaded)
            if kind != "not-measurable" {
                #expect(result.ratio.map { $0.rounds == judged.count } ?? judged.isEmpty, "\(cell): judged rounds \(judged), ratio \(result.ratio?.text ?? "none")")
            }
            let base = BenchCacheRounds.only(judged, result.measurements).filter { $0.name == "victim sweep rate" && $0.phase == .baseline }.map(\.value)
            // How far apart the judged baseline windows lie is printed, not asserted: judging only
            // the rounds that had CPU 0 did not make them close on this host. The clean-clone CI
            // run of session 10, alone on the machine, judged all three rounds of
            // cache-bandwidth/namespace and its baselines were 23,812 to 38,347 (61% apart; the
            // verdict, cannot at 73% [64-87%], was right). docs/bench.md, "Cache cells: judged rounds".
            let spread = BenchCacheRounds.spread(base).map { BenchFormat.percent($0) } ?? "none"
            // Beside it, what else could move them (docs/bench.md, cache cells): the vCPU's
            // speed (the calibrated reference after each window) and CPU 0's steal time.
            let kept = BenchCacheRounds.only(judged, result.measurements).filter { $0.phase == .baseline }
            let ref = kept.filter { $0.name == BenchCacheRounds.reference }.map(\.value)
            let steal = kept.filter { $0.name == BenchCacheRounds.steal }.map(\.value)
            print("matrix \(cell): judged rounds \(judged) of \(Set(result.measurements.compactMap(\.round)).sorted()); baseline windows judged \(base.map { Int($0) }), \(spread) apart; their reference \(BenchCacheRounds.spread(ref).map { BenchFormat.percent($0) } ?? "none") apart, CPU 0 steal \(steal.map { BenchFormat.percent($0) })")
        }
    }

    /// A cpu or cache cell whose aggressor (or, for the caches, the victim alone) did not get
    /// the CPU its experiment needs is not measurable, never a pass: the test accepts it only
    /// with that figure in the cell's evidence, below the need the reason names (the machine's
    /// other load took the CPU, load average in the reason). Any other cell must not say it.
    static func checkNotMeasurable(_ cell: String, _ r: BenchResult) throws {
        #expect(!r.confirmsClaim && r.verdict.reason.contains("could not test its claim") && r.verdict.reason.contains("load average"), "\(r.verdict.reason)")
        if cell.hasPrefix("cpu/") && cell != "cpu/namespace" && cell != "cpu/node" {
            let share = try #require(r.value("hog CPU share", .evidence), "the hog's own CPU: \(r.measurements.map(\.name))")
            #expect(share < 0.4 && r.verdict.reason.contains("the hog's own CPU over its windows"), "\(cell): hog \(share) CPU: \(r.verdict.reason)")
        } else if cell.hasPrefix("cache-bandwidth/") {
            let sweeper = r.value("aggressor CPU over its windows (cgroup usage)", .evidence)
            let alone = BenchStatistics.median(r.measurements.filter { $0.name == "victim CPU share" && $0.phase == .baseline }.map(\.value))
            let judged = BenchCacheRounds.judged(r.measurements, .loaded)
            #expect((sweeper.map { $0 < 0.25 } ?? false) || (alone.map { $0 < 0.5 } ?? false) || judged.count < 2,
                    "\(cell): aggressor \(String(describing: sweeper)) CPU, victim alone \(String(describing: alone)) CPU, judged rounds \(judged): \(r.verdict.reason)")
        } else {
            Issue.record("\(cell) has no precondition that could make it not measurable: \(r.verdict.reason)")
        }
    }

    @Test("The cluster layer is a plan: `--list --layer cluster` prints each cell with the steps a second node runs")
    func clusterPlansAreListed() throws {
        let r = try Bulkhead.run(["bench", "--list", "--layer", "cluster"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let cells = lines.filter { !$0.hasPrefix(" ") }
        #expect(cells == ["network-bandwidth/cluster", "api-server/cluster", "dns/cluster", "scheduling/cluster", "node-failure/cluster"], "\(r.stdout)")
        let plans = lines.filter { $0.hasPrefix("  planned, needs a second node: 1. ") }
        #expect(plans.count == cells.count, "every cluster cell has its plan: \(r.stdout)")
        #expect(plans.allSatisfy { $0.contains(" 2. ") && $0.contains(" 3. ") }, "a plan has its steps")
        // Without --layer cluster, --list stays one cell per line (what scripts read).
        let all = try Bulkhead.run(["bench", "--list"]).stdout.split(separator: "\n")
        #expect(all.allSatisfy { !$0.hasPrefix(" ") } && all.contains("dns/cluster"))
    }

    @Test("--vm checks what the VM needs before anything runs, and fails with the fix")
    func vmPreflightFailsWithTheFix() throws {
        // This build's bulkhead is linked dynamically: the VM cannot run it.
        let r = try Bulkhead.run(["bench", "--vm", "--vm-bulkhead", Bulkhead.binary, "--only", "fds/node"], timeout: 60)
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.isEmpty, "no cell ran: \(r.stdout)")
        let fixes = ["statically linked", "apt-get install", "run-lane.sh", "BULKHEAD_VM_LANE_DIR"]
        #expect(r.stderr.contains("--vm: ") && fixes.contains { r.stderr.contains($0) }, "\(r.stderr)")
        if FileManager.default.fileExists(atPath: "/usr/bin/qemu-system-x86_64"),
           FileIO.listDirectory("/var/cache/bulkhead-vm").contains(where: { $0.hasSuffix("-cloud-amd64") }) {
            #expect(r.stderr.contains("is not one: build it with") && r.stderr.contains("--vm-bulkhead"), "\(r.stderr)")
        }
        let r2 = try Bulkhead.run(["bench", "--vm-bulkhead", Bulkhead.binary, "--only", "fds/node"])
        #expect(r2.status == 125 && r2.stderr.contains("--vm-bulkhead: only with --vm"), "\(r2.stderr)")
    }

    @Test("--vm runs the lane's scripts as root only when no one else can write them")
    func vmRefusesAWritableLane() throws {
        let dir = NSTemporaryDirectory() + "bh-lane-\(token())"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/Tests", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        try fm.copyItem(atPath: Bulkhead.packageRoot + "/Tests/vm", toPath: dir + "/Tests/vm")
        try fm.copyItem(atPath: Bulkhead.packageRoot + "/Profiles", toPath: dir + "/Profiles")
        chmod(dir + "/Tests/vm/scenarios/30-node-fd-exhaustion.sh", 0o666)
        let r = try Bulkhead.run(["bench", "--vm", "--only", "fds/node"], env: ["BULKHEAD_VM_LANE_DIR": dir + "/Tests/vm"], timeout: 60)
        #expect(r.status == 2 && r.stdout.isEmpty, "\(r.stdout) \(r.stderr)")
        if FileManager.default.fileExists(atPath: "/usr/bin/qemu-system-x86_64"),
           FileIO.listDirectory("/var/cache/bulkhead-vm").contains(where: { $0.hasSuffix("-cloud-amd64") }) {
            #expect(r.stderr.contains("30-node-fd-exhaustion.sh is writable by group or others") && r.stderr.contains("chmod go-w"), "\(r.stderr)")
        }
    }

    @Test("cell with what closes its cannot", arguments: MatrixTests.mitigated.keys.sorted())
    func mitigatedCell(_ cell: String) throws {
        try self.cell(cell)
    }

    @Test("Nothing is left behind: no experiment cgroup of a finished bench, no scratch directory")
    func noLeftovers() throws {
        _ = try Self.bench(["ipc/container"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/var/tmp").filter { $0.hasPrefix("bh-bench-") }
            .filter { name in
                // Another bench may be running (another engineer's suite): only dead owners count.
                guard let pid = Int32(name.dropFirst("bh-bench-".count)) else { return true }
                return kill(pid, 0) != 0
            }
        #expect(leftovers.isEmpty, "\(leftovers)")
        // The experiments' ceilings sit right under bulkhead's base in every hierarchy the host
        // gives it (v1, hybrid or v2 alike): look there, not at v1 paths a v2 host lacks.
        let targets = try CgroupHost.detect().targets
        try #require(!targets.isEmpty, "no cgroup hierarchy to look in")
        for target in targets {
            let dirs = FileIO.listDirectory(target.baseDirectory)
            let dead = dirs.filter { d in
                let parts = d.split(separator: "-")
                guard parts.count == 4, parts[0] == "c", let pid = Int32(parts[1]), let seq = Int(parts[3]), seq >= 1_000_000 else { return false }
                return kill(pid, 0) != 0
            }
            #expect(dead.isEmpty, "experiment cgroups of finished benches in \(target.baseDirectory): \(dead)")
        }
    }

    @Test("The HTML report renders in headless Chromium: the matrix and a chart per measured cell")
    func htmlInChromium() throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let chromium else {
            #expect(!Gate.inCI, "chromium is missing: apt-get install chromium")
            return
        }
        let dir = NSTemporaryDirectory() + "bh-html-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.bench(["fds/container", "ipc/pod", "cache-bandwidth/container"], extra: ["--html", dir + "/report.html"])
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg"), "a chart for the file-nr experiment: \(r.stderr)")
        #expect(html.contains("class=\"errorbar\"") && html.contains("class=\"band\""),
                "the cache cell's rounds drawn as error bars and its interval against the band: \(r.stderr)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1400",
                       "--screenshot=\(dir)/shot.png", "file://\(dir)/report.html"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let png = FileManager.default.contents(atPath: dir + "/shot.png") ?? Data()
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot")
        #expect(png.count > 20_000, "the page rendered content, not a blank page: \(png.count) bytes")
    }
}
