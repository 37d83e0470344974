import Foundation
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
    static let run: Run = {
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
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        let start = Date()
        do { try p.run() } catch {
            return Run(status: -1, output: "cannot start run-lane.sh: \(error)", seconds: 0, results: [:], done: nil)
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
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
        return Run(status: p.terminationStatus, output: output, seconds: Date().timeIntervalSince(start),
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
