import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The cgroup v2 lane: this host's cgroups are hybrid, so `Tests/vm/run-lane.sh` boots Debian's
/// cloud kernel (a pure cgroup v2 hierarchy) under QEMU TCG with a statically linked bulkhead
/// and runs the scenarios of `Tests/vm/scenarios` inside it. Each scenario prints one
/// `BHLANE PASS|FAIL <name> <detail>` line on the serial console; here every scenario is one
/// test case, so a failure names the scenario. A scenario that waits for a bulkhead interface
/// fails with "needs bulkhead flag X".
enum VMLane {
    static let enabled: Bool = {
        ProcessInfo.processInfo.environment["BULKHEAD_VM_LANE"] == "1" || Gate.inCI
    }()

    static let packageRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    /// Scenario names from the file names (`NN-name.sh`), in run order.
    static let scenarios: [String] = {
        let dir = packageRoot + "/Tests/vm/scenarios"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasSuffix(".sh") }.sorted().map { f in
            var n = String(f.dropLast(3))
            if n.count > 3, n.prefix(2).allSatisfy(\.isNumber), n.dropFirst(2).first == "-" { n = String(n.dropFirst(3)) }
            return n
        }
    }()

    struct Outcome: Sendable {
        var passed: Bool
        var detail: String
    }

    struct Run: Sendable {
        var status: Int32
        var output: String
        var seconds: Double
        var results: [String: Outcome]
        /// `BHLANE DONE n_pass n_fail`.
        var done: (pass: Int, fail: Int)?
    }

    /// The lane runs once per test process, the first time a case asks for it.
    /// Runs Tests/vm/run-lane.sh with the environment changed by `extra`: its exit status
    /// (-1 when it could not start) and its output.
    static func lane(_ extra: [String: String] = [:]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [packageRoot + "/Tests/vm/run-lane.sh"]
        p.currentDirectoryURL = URL(fileURLWithPath: packageRoot)
        // SwiftPM keeps its scratch path locked while tests run: when this test bundle was
        // built in the lane's default scratch path, the lane's static build must use another.
        var env = ProcessInfo.processInfo.environment
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        if env["BULKHEAD_VM_SCRATCH"] == nil, exe.hasPrefix(packageRoot + "/.build-vm/") {
            env["BULKHEAD_VM_SCRATCH"] = ".build-vm-lane"
        }
        env.merge(extra) { _, b in b }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            return (-1, "cannot start run-lane.sh: \(error)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static let run: Run = {
        let start = Date()
        let (status, output) = lane()
        guard status != -1 else { return Run(status: -1, output: output, seconds: 0, results: [:], done: nil) }
        var results: [String: Outcome] = [:]
        var done: (Int, Int)?
        for raw in output.split(separator: "\n") {
            guard let r = raw.range(of: "BHLANE ") else { continue }
            let fields = raw[r.upperBound...].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2 else { continue }
            switch fields[0] {
            case "PASS", "FAIL":
                results[fields[1]] = Outcome(passed: fields[0] == "PASS", detail: fields.count > 2 ? fields[2] : "")
            case "DONE":
                if fields.count > 2, let a = Int(fields[1]), let b = Int(fields[2]) { done = (a, b) }
            default: break
            }
        }
        return Run(status: status, output: output, seconds: Date().timeIntervalSince(start),
                   results: results, done: done)
    }()
}

@Suite("cgroup v2 lane (QEMU TCG VM)",
       .enabled(if: VMLane.enabled, "boots a VM under TCG (minutes); set BULKHEAD_VM_LANE=1"),
       .timeLimit(.minutes(15)))
struct CgroupV2LaneTests {
    @Test("scenario", arguments: VMLane.scenarios)
    func scenario(_ name: String) {
        let run = VMLane.run
        guard let outcome = run.results[name] else {
            Issue.record("\(name): no BHLANE result line (lane exit \(run.status)); tail of the output:\n\(run.output.suffix(1500))")
            return
        }
        if outcome.detail.hasPrefix("needs bulkhead flag") {
            Issue.record("\(name) waits for bulkhead: \(outcome.detail)")
            return
        }
        #expect(outcome.passed, "\(name): \(outcome.detail)")
    }

    @Test func laneFinishedAndAgrees() {
        let run = VMLane.run
        guard let done = run.done else {
            Issue.record("no BHLANE DONE line (lane exit \(run.status)); tail of the output:\n\(run.output.suffix(2000))")
            return
        }
        let fails = run.results.filter { !$0.value.passed }.map(\.key).sorted()
        let waiting = run.results.filter { $0.value.detail.hasPrefix("needs bulkhead flag") }.map { "\($0.key) (\($0.value.detail))" }.sorted()
        for line in run.output.split(separator: "\n") where line.hasPrefix("lane: phase") || line.hasPrefix("lane: kernel ") {
            print(line)
        }
        print("cgroup v2 lane: \(done.pass) passed, \(done.fail) failed in \(Int(run.seconds)) s; waiting for bulkhead: \(waiting.isEmpty ? "none" : waiting.joined(separator: ", "))")
        #expect(done.fail == fails.count, "DONE says \(done.fail) failures, result lines show \(fails)")
        #expect(done.pass + done.fail == VMLane.scenarios.count, "every scenario reports once")
        #expect((run.status == 0) == (done.fail == 0), "run-lane.sh exit \(run.status) disagrees with DONE \(done)")
    }
}

/// `bulkhead bench --vm`: the node cells that need a kernel of their own, run in the lane's VM
/// with the static bulkhead the lane built, and the host's figures read around it. Gated as
/// the lane is; run it under both locks (`flock /tmp/bh-vmlane.lock flock /tmp/bh-podtests.lock`).
@Suite("bench --vm (the node column in the VM lane's kernel)",
       .enabled(if: VMLane.enabled, "boots a VM under TCG (minutes); set BULKHEAD_VM_LANE=1"),
       .timeLimit(.minutes(15)))
struct BenchVMLaneTests {
    /// The static bulkhead the lane's run built (or BULKHEAD_VM_BULKHEAD).
    static var staticBulkhead: String {
        let env = ProcessInfo.processInfo.environment
        if let b = env["BULKHEAD_VM_BULKHEAD"] { return b }
        _ = VMLane.run
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let scratch = env["BULKHEAD_VM_SCRATCH"] ?? (exe.hasPrefix(VMLane.packageRoot + "/.build-vm/") ? ".build-vm-lane" : ".build-vm")
        return (scratch.hasPrefix("/") ? scratch : VMLane.packageRoot + "/" + scratch) + "/release/bulkhead-cli"
    }

    @Test func nodeCellsMeasuredInTheVM() throws {
        let path = NSTemporaryDirectory() + "bh-bench-vm-\(token()).json"
        defer { unlink(path) }
        let r = try Bulkhead.run(["bench", "--vm", "--vm-bulkhead", Self.staticBulkhead, "--only", "memory/node", "fds/node", "pids/node", "syscalls/node",
                                  "--duration", "1", "--json", path], timeout: 600)
        let report = try #require(try ReportFile.decode(BenchMatrixReport.self, at: path), "no report: \(r.stderr)")
        let fds = try #require(report.result(BenchCellID(.fileDescriptors, .node)))
        #expect(fds.verdict.kind == .cannot, "\(fds.verdict.reason); \(fds.evidence)")
        let held = try #require(fds.value("VM: files sandbox A held at ENFILE", .evidence), "the VM's figure, not a pointer")
        let drift = try #require(fds.value("host fs.file-nr rise during the VM run (max - first)", .evidence))
        #expect(held >= 1000 && drift < held, "the VM's table filled (\(held)) while the host's moved by \(drift)")
        let pids = try #require(report.result(BenchCellID(.pids, .node)))
        #expect(pids.verdict.kind == .cannot && pids.keyFigure.contains("VM: neighbour EAGAIN"), "\(pids.keyFigure): \(pids.verdict.reason)")
        let sys = try #require(report.result(BenchCellID(.privilegedSyscalls, .node)))
        #expect(sys.verdict.kind == .cannot && sys.keyFigure.contains("VM: another kernel"), "\(sys.keyFigure): \(sys.verdict.reason)")
        let mem = try #require(report.result(BenchCellID(.memory, .node)))
        #expect(mem.verdict.kind == .can && mem.evidence.contains { $0.hasPrefix("VM lane, cgroup v2 (31-node-memory.sh): PASS") },
                "\(mem.verdict.reason); \(mem.evidence)")
        let vmPeak = try #require(mem.value("VM (cgroup v2): allocatable peak (bound 384 MiB)", .evidence), "the VM's figure joins the cell")
        #expect(vmPeak > 0 && vmPeak <= 384 * 1.02)
        // The victim's own cgroup's PSI (cgroup v2, in the VM) beside the VM kernel's, over the
        // aggressor's run, in the cells whose victim is a sandbox (or the node's own process).
        for (cell, victim) in [(fds, "sandbox B"), (pids, "sandbox B"), (mem, "node-system")] {
            for res in PressureResource.allCases {
                let v = cell.value(PressureWindow.name(res, full: false, scope: .victimCgroup), .loaded)
                let h = cell.value(PressureWindow.name(res, full: false, scope: .host), .loaded)
                #expect(v.map { $0 >= 0 && $0 <= 100 } == true && h.map { $0 >= 0 && $0 <= 100 } == true,
                        "\(cell.cell): \(res) PSI of the victim's cgroup (\(String(describing: v))) and the VM kernel's (\(String(describing: h))): \(cell.evidence)")
            }
            #expect(cell.evidence.contains { $0.hasPrefix("PSI in the VM (") && $0.contains(victim) && $0.contains("(victim cgroup) is the victim's own cgroup, ") && !$0.contains("cgroup, ?;") },
                    "\(cell.cell): whose PSI it is: \(cell.evidence)")
        }
        #expect(r.stdout.contains("fds/node: Pressure stalls as a share of each window (victim cgroup)"), "\(r.stdout)")
        // Nothing left behind: no qemu of a bench, no scratch directory of a finished bench.
        let qemus = FileIO.listDirectory("/proc").filter { Int32($0) != nil }.filter { pid in
            let cmd = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data(), as: UTF8.self)
            return cmd.contains("qemu-system") && cmd.contains("/bh-bench-")
        }
        #expect(qemus.isEmpty, "qemu of a bench still running: \(qemus)")
        let dirs = FileIO.listDirectory("/var/tmp").filter { $0.hasPrefix("bh-bench-") }.filter { kill(Int32($0.dropFirst(9)) ?? 0, 0) != 0 }
        #expect(dirs.isEmpty, "\(dirs)")
    }

    /// What closes the disk cell's cannot, measured: io.max is a cgroup v2 control, so `bench
    /// --vm` runs the cell's shape in the VM lane's kernel (34-bench-io-max.sh) in rounds of
    /// windows, and the typed report carries the io.max line read back from the writers' own
    /// cgroup, the mitigated value with its interval, and the victim's own cgroup's PSI beside
    /// the kernel's.
    @Test func diskMitigationMeasuredInTheVM() throws {
        let path = NSTemporaryDirectory() + "bh-bench-vm-io-\(token()).json"
        defer { unlink(path) }
        let r = try Bulkhead.run(["bench", "--vm", "--vm-bulkhead", Self.staticBulkhead, "--only", "disk-bandwidth/container",
                                  "--duration", "1", "--rounds", "3", "--json", path], timeout: 600)
        let report = try #require(try ReportFile.decode(BenchMatrixReport.self, at: path), "no report: \(r.stderr)")
        let disk = try #require(report.result(BenchCellID(.diskBandwidth, .container)))
        let m = try #require(disk.mitigation, "the cell's io.max run")
        #expect(m.control == "io.max")
        print("bench --vm disk-bandwidth/container: \(disk.verdict.kind.rawValue) → \(m.summary) (\(m.keyFigure)); \(m.verdict.reason); \(m.evidence.joined(separator: " | "))")
        // io.max really written: read back from the cgroup file of the victim's neighbour.
        let wbps = try #require(m.value("io.max wbps read back from the writers' cgroup", .evidence), "\(m.verdict.reason); \(m.evidence)")
        #expect(wbps == 4_194_304)
        #expect(m.evidence.contains { $0.hasPrefix("io.max of the writers' own cgroup, read back while they ran: 254:") && $0.contains(" wbps=4194304") },
                "\(m.evidence)")
        // The mitigated value, in the cell's rounds, with its interval; the verdict agrees.
        let q = try #require(m.ratio, "\(m.verdict.reason)")
        // The rounds and windows the VM ran: the bench's 3 of 1 s, or under TCG at least 8
        // (34-bench-io-max.sh: one round's jittery p90 moved the range of 3 to 5 across the band).
        let tcg = m.evidence.contains { $0.hasPrefix("the VM's accelerator: tcg") }
        let ran = try #require(m.evidence.first { $0.hasPrefix("in the VM: ") }, "\(m.evidence)")
        let fields = ran.split(separator: " ")
        let rounds = try #require(Int(fields[3]), "\(ran)"), window = try #require(Double(fields[6]), "\(ran)")
        #expect(tcg ? rounds == 8 && window == 1 : ran.hasPrefix("in the VM: 3 rounds of 1.00 s windows"), "the bench's rounds and windows went to the VM: \(ran)")
        #expect(q.phase == .contained && q.rounds >= rounds - 1 && q.low <= q.median && q.median <= q.high, "\(q)")
        // The victim io.max is the tool for: O_DIRECT reads next to O_DIRECT writers (the
        // writers' own bios, throttled in their own context), measured with its own names.
        let windows = m.measurements.filter { $0.name == "victim O_DIRECT read rate" }
        #expect(m.evidence.contains { $0.hasPrefix("victim: 4 KiB O_DIRECT reads") && $0.contains("writers: O_DIRECT 1 MiB writes") }, "\(m.evidence)")
        // io.max bounds what the writers write: 4 MiB/s over their windows (each from 0.15 s
        // before its start; 8 MiB of slack for the throttle's first slice), and charged to
        // their own cgroup; without it they write more.
        let wrote = try #require(m.value("writers' MiB written", .contained)), charged = try #require(m.value("writers' MiB charged to their cgroup (io.stat wbytes)", .contained))
        let unlimited = try #require(m.value("writers' MiB written", .loaded))
        #expect(wrote <= 4 * Double(rounds) * (window + 0.4) + 8 && charged <= wrote + 1 && unlimited > wrote, "under io.max \(wrote) MiB written, \(charged) charged; unlimited \(unlimited)")
        // Writeback attribution needs memory and io delegated at every level down to the leaf.
        let attribution = try #require(m.evidence.first { $0.hasPrefix("writeback attribution: ") }, "\(m.evidence)")
        #expect(attribution.contains("/bulkhead=[") && !attribution.contains("?"), "\(attribution)")
        // The cell's own fsync victim next to buffered writers, on the same schedule, for the
        // record, when its windows fit (not after 8 rounds under TCG).
        #expect(tcg || m.evidence.contains { $0.hasPrefix("the cell's fsync victim next to buffered writers, same schedule: unlimited ") }, "\(m.evidence)")
        #expect(Set(windows.filter { $0.phase == .contained }.compactMap(\.round)).count >= rounds - 1, "every window with its round: \(windows)")
        #expect(Set(windows.map(\.phase)) == [.baseline, .loaded, .contained], "alone, the writers unlimited, and under io.max")
        // The VM's disk is a provisioned volume (run-lane.sh caps it with qemu's block
        // throttling), so the victim's service is the device's budget, not the emulated CPU's
        // speed: the writers without a limit take it (the cell's cannot, in the VM's kernel), and
        // io.max gives it back (can). Without the cap (BULKHEAD_VM_DISK_BPS=0
        // BULKHEAD_VM_DISK_IOPS=0) neither decided under TCG on this host: the unlimited writers
        // left the victim 100% [14–185%] and io.max "can" at 139% [120–157%] of a baseline the
        // host's load had slowed (docs/bench.md, io.max measured in the VM).
        #expect(m.evidence.contains { $0.hasPrefix("the VM's disk: a provisioned volume, capped at 16 MiB/s of reads and writes and 100 reads/s") }, "\(m.evidence)")
        let without = try #require(m.evidence.first { $0.hasPrefix("the same writers without a limit, in the VM: victim at ") }, "the cell's shape without io.max, in the VM: \(m.evidence)")
        // Per round, the victim's read rate next to the unlimited writers, and under io.max,
        // over its rate alone: the writers take the device's budget, io.max gives it back.
        func rate(_ phase: BenchPhase, _ round: Int) -> Double? { windows.first { $0.phase == phase && $0.round == round }?.value }
        func ratios(_ phase: BenchPhase) -> [Double] { (0..<rounds).compactMap { r in rate(phase, r).flatMap { x in rate(.baseline, r).map { x / $0 } } } }
        #expect(ratios(.loaded).count >= 2 && ratios(.loaded).allSatisfy { $0 <= 0.67 }, "without a limit the writers take the victim's reads to 67% or less in every round: \(ratios(.loaded)); \(without)")
        #expect(ratios(.contained).count >= 2 && ratios(.contained).allSatisfy { $0 >= 0.7 }, "under io.max the victim keeps 70% of its reads or more in every round: \(ratios(.contained))")
        // The verdict (the worse of the read rate and the inverted p90) follows where the
        // interval lies; the p90 carries the emulated CPU's jitter (docs/bench.md).
        switch m.verdict.kind {
        case .can: #expect(q.low >= 0.7, "\(q.text)")
        case .cannot: #expect(q.high < 0.7, "\(q.text)")
        case .inconclusive: #expect(q.low < 0.7 && q.high >= 0.7, "\(q.text)")
        default: Issue.record("the io.max run decided nothing: \(m.verdict.kind.rawValue): \(m.verdict.reason); \(m.evidence)")
        }
        // The victim's own cgroup's PSI (cgroup v2) beside the kernel's, for every phase.
        for phase in [BenchPhase.baseline, .contained] {
            #expect(m.value(PressureWindow.name(.io, full: false, scope: .victimCgroup), phase) != nil, "victim-cgroup PSI, \(phase)")
            #expect(m.value(PressureWindow.name(.io, full: false, scope: .host), phase) != nil, "the kernel's PSI, \(phase)")
        }
        #expect(r.stdout.contains("disk-bandwidth/container, with io.max: Pressure stalls as a share of each window (victim cgroup)"), "\(r.stdout)")
        #expect(r.stdout.contains("→ with io.max: \(m.verdict.kind.rawValue) (victim \(q.text)"), "\(r.stdout)")
        // The lane's disk image (in /dev/shm) is removed with the run (lanes run one at a time,
        // under the lane's lock, so any image there would be this run's).
        let images = FileIO.listDirectory("/dev/shm").filter { $0.hasPrefix("bh-lane-disk.") }
        #expect(images.isEmpty, "left behind: \(images)")
    }

    /// The disk cell and its io.max run through the bench's own code on a cgroup v2 kernel, as
    /// on a v2 host (`Mitigations.ioMax`'s v2 path, not the lane's scenario 34): the lane boots
    /// with only 35-bench-disk-cell, whose `bulkhead bench --only disk-bandwidth/container`
    /// runs inside the VM (its scratch directory on the VM's virtio disk, the disk programs the
    /// C hog: the VM has no python3) and sends its JSON report out on the console. The typed
    /// report's io.max run must read can, measured here, not read from a scenario.
    /// What is asserted is the io.max run (the control, on the v2 path); the cell's own verdict
    /// is printed, not asserted: under the VM's emulated disk its fsync victim next to buffered
    /// writers measured anywhere from 20% to 87% of its baseline across boots (cannot,
    /// inconclusive, not-observed around the 67% band), while the io.max run decided can in every
    /// boot that reached it. The cell's claim on a host is MatrixTests'.
    @Test func diskCellAndIOMaxRunByTheBenchOnCgroupV2() throws {
        let (report, disk) = try Self.benchDiskCellInTheVM()
        let m = try #require(disk.mitigation, "the cell's io.max run: \(disk.evidence)")
        print("bench in the VM, disk-bandwidth/container: \(disk.verdict.kind.rawValue) (\(disk.keyFigure)) → \(m.summary) (\(m.keyFigure)); \(m.verdict.reason); \(m.evidence.joined(separator: " | "))")
        #expect(m.control == "io.max")
        // Mitigations.ioMax's v2 path, not the VM scenario's figures.
        #expect(m.verdict.reason.contains("on this host (cgroup v2)") && !m.evidence.contains { $0.hasPrefix("measured in the VM lane's") }, "\(m.verdict.reason); \(m.evidence)")
        #expect(m.value("io.max wbps read back from the writers' cgroup", .evidence) == 4_194_304, "\(m.evidence)")
        let q = try #require(m.ratio, "\(m.verdict.reason)")
        #expect(q.phase == .contained && q.rounds >= 2, "\(q)")
        #expect(m.verdict.kind == .can && q.low >= 0.7, "with io.max: \(m.verdict.kind.rawValue): \(m.verdict.reason)")
        // The writers were held to io.max's 4 MiB/s over their windows (each from 0.15 s before
        // its start; 8 MiB of slack for the throttle's first slice).
        let wrote = try #require(m.value("writers' MiB written", .contained), "\(m.measurements.map(\.name))")
        let windows = Double(m.measurements.filter { $0.name == "victim O_DIRECT read rate" && $0.phase == .contained }.count)
        #expect(wrote > 0 && wrote <= 4 * max(windows, 3) * (report.phaseSeconds + 0.15) + 8, "\(wrote) MiB under io.max")
        #expect(FileIO.listDirectory("/dev/shm").filter { $0.hasPrefix("bh-lane-disk.") }.isEmpty, "the lane's disk image is removed")
    }

    static func benchDiskCellInTheVM() throws -> (report: BenchMatrixReport, disk: BenchResult) {
        let out = NSTemporaryDirectory() + "bh-lane-disk-cell-\(token())"
        defer { _ = try? FileManager.default.removeItem(atPath: out) }
        let (status, text) = VMLane.lane(["BULKHEAD_VM_BULKHEAD": Self.staticBulkhead, "BULKHEAD_VM_OUT": out, "BULKHEAD_VM_ONLY": "bench-disk-cell",
                                          "BULKHEAD_VM_BENCH": "3:1", "BULKHEAD_VM_TIMEOUT": "750"])
        let lines = text.split(separator: "\n")
        let b64 = lines.compactMap { l -> Substring? in
            guard let r = l.range(of: "BHLANE JSON bench-disk-cell ") else { return nil }
            return l[r.upperBound...]
        }.joined()
        for l in lines where l.contains("BHLANE PASS") || l.contains("BHLANE FAIL") || l.contains("BHLANE INFO") { print(l) }
        let data = try #require(b64.isEmpty ? nil : Data(base64Encoded: b64), "no report from the VM (lane exit \(status)):\n\(text.suffix(2500))")
        let report = try JSONDecoder().decode(BenchMatrixReport.self, from: data)
        #expect(report.host.cgroupMode == "unified", "the bench ran on the VM's cgroup v2 kernel: \(report.host)")
        return (report, try #require(report.result(BenchCellID(.diskBandwidth, .container))))
    }
}

/// The lane's accelerator (run-lane.sh): KVM where the host has hardware virtualization, TCG
/// otherwise, and the choice said. Not gated: the choice is made before the lane installs,
/// downloads or builds anything, so asking for KVM on a host without it fails at once.
struct VMLaneAccelTests {
    @Test("BULKHEAD_VM_ACCEL=kvm fails at once with the reason on a host without vmx/svm; an unknown value is refused")
    func accelChoice() throws {
        let tmp = NSTemporaryDirectory() + "bh-lane-accel-\(token())"
        defer { _ = try? FileManager.default.removeItem(atPath: tmp) }
        let env = ["BULKHEAD_VM_OFFLINE": "1", "BULKHEAD_VM_CACHE": tmp + "/cache", "BULKHEAD_VM_OUT": tmp + "/out"]
        let bad = VMLane.lane(env.merging(["BULKHEAD_VM_ACCEL": "fast"]) { _, b in b })
        #expect(bad.status == 2 && bad.output.contains("BULKHEAD_VM_ACCEL must be auto, kvm or tcg, not 'fast'"), "\(bad.status): \(bad.output)")
        let cpuinfo = FileIO.read("/proc/cpuinfo") ?? ""
        let hardware = cpuinfo.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains { $0 == "vmx" || $0 == "svm" } }
        guard !hardware else { return }
        // This project's machines: /dev/kvm is PVM (kvm_pvm), which runs only guest kernels
        // built for it; the lane runs under TCG and says why.
        let kvm = VMLane.lane(env.merging(["BULKHEAD_VM_ACCEL": "kvm"]) { _, b in b })
        #expect(kvm.status == 2 && kvm.output.contains("BULKHEAD_VM_ACCEL=kvm, but KVM cannot be used here: "), "\(kvm.status): \(kvm.output)")
        if access("/sys/module/kvm_pvm", F_OK) == 0 {
            #expect(kvm.output.contains("/dev/kvm is PVM (kvm_pvm, no vmx/svm)"), "\(kvm.output)")
        }
    }
}
