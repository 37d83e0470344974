import BulkheadSystem
import Foundation
import Glibc

/// Gates: the event a short cell's workload waited for with a fixed sleep ("the owner holds its
/// segment by now"), told across the boundary by the bench instead. The bench sees each
/// workload's `BH` lines as they are printed (its launcher's output files); once the line that
/// stands for the event appears, it creates a gate file in its scratch directory (root's, 0755),
/// which every sandbox sees read-only through the host's root, and the workload waiting on it
/// goes on. Every wait is bounded on both sides: the workload's by its own deadline (then it goes
/// on as it did after its fixed sleep), the bench's by `BenchGate.wait`.
struct BenchGate {
    /// What the bench waits for (`BH KEY=` printed by any of the cell's pods)…
    var key: String
    /// …and the gate file it then creates.
    var path: String
    /// How long the bench waits for the key (then opens the gate anyway).
    var timeout: Double = BenchGate.wait

    /// The longest a workload waits on a gate, and the bench on a key: far above what the
    /// events take on a loaded machine (tenths of a second), below a pod's deadline (3 windows + 6 s).
    static let wait = 5.0

    /// Shell: waits until the gate at `path` exists, polling every 20 ms, at most `max` s.
    static func shell(_ path: String, max: Double = wait) -> String {
        "i=0; while [ ! -e \(path) ] && [ $i -lt \(Int((max / 0.02).rounded())) ]; do sleep 0.02; i=$((i+1)); done"
    }

    /// Python (two top-level statements; needs `os` and `time` imported): waits until the gate
    /// at `path` exists, at most `max` s.
    static func python(_ path: String, max: Double = wait) -> String {
        "g=time.monotonic()+\(BenchPrograms.fmt(max))\nwhile not os.path.exists(\"\(path)\") and time.monotonic()<g: time.sleep(0.02)"
    }
}

/// The start gate of a schedule: when a run's windows begin. A fixed lead guessed how long the
/// run's pods and sandboxes take to start (1 s, 1.5 s for the cache cells, 2 s for the network
/// cells: about 17 s of the default matrix, most of it idle on a quiet machine, where a pod
/// starts in a few tenths of a second, and still too short at load average 20, where a first
/// window began 1.5 s late and its round gave no ratio). Instead every program of the schedule
/// (victim, aggressor, each forked copy) prints `BH rdyN_M=1` once its setup is done (buffers
/// allocated, its connection made) and waits; once all have, the bench writes the first
/// window's start, `margin` s ahead on the wall clock, into the gate file (written whole, then
/// renamed), and every program reads it. The windows, their gaps and the rounds are the
/// schedule's as before: only the idle time before the first window goes. Bounded as every
/// gate: the bench opens it after `wait` s, or at once when a launched process has ended (its
/// programs will never be ready), and a program not ready by then reports its windows late; a
/// program that never sees the gate ends without a figure.
final class BenchStartGate: @unchecked Sendable {
    /// The gate file, in the bench's scratch directory (root's, 0755: read-only to sandboxes).
    let path: String
    /// The `BH` keys the schedule's programs print when ready, one per process.
    private(set) var keys: [String] = []
    private var programs = 0

    /// The longest the bench waits for the programs (far above a pod's start at load 20).
    static let wait = 15.0
    /// Seconds from the gate's opening to the first window: every program polls for the gate
    /// every 10 ms and then sleeps to its window (0.3 s covers a poll and a wake-up delayed by
    /// other work at load 20).
    static let margin = 0.3
    /// The ready keys' prefix (`BH rdy0_0=1`).
    static let keyPrefix = "rdy"

    init(path: String) { self.path = path }

    /// A program of `procs` processes: its index, whose keys are `rdyN_0` … `rdyN_(procs-1)`.
    func register(procs: Int) -> Int {
        let n = programs
        programs += 1
        keys += (0..<max(1, procs)).map { "\(Self.keyPrefix)\(n)_\($0)" }
        return n
    }
}

extension BenchContext {
    /// A fresh start gate for a schedule (its file in the scratch directory).
    func startGate() -> BenchStartGate {
        BenchStartGate(path: scratch + "/start-\(UUID().uuidString.prefix(8))")
    }

    /// Opens `schedule`'s start gate (nothing without one) once every program of it has printed
    /// its ready key in the output of `launched` (the run's pods and sandboxes), or one of them
    /// has ended, or `BenchStartGate.wait` s passed: writes the first window's start into the
    /// gate file. A gate opened without every program ready is named in the failures.
    func openStart(_ schedule: BenchSchedule, for launched: [Launched]) {
        guard let g = schedule.startGate else { return }
        let began = Monotonic.now()
        let end = began + BenchStartGate.wait
        var missing = g.keys
        while true {
            let text = launched.map { (FileIO.read($0.outPath) ?? "") + "\n" + (FileIO.read($0.errPath) ?? "") }.joined(separator: "\n")
            let seen = Self.values(text)
            missing = g.keys.filter { seen[$0] == nil }
            if missing.isEmpty || launched.contains(where: { !$0.child.isRunning }) || Monotonic.now() > end { break }
            samplePressure()
            usleep(10_000)
        }
        if !missing.isEmpty {
            failures.append("start gate: \(missing.count) of \(g.keys.count) programs not ready (\(missing.prefix(4).joined(separator: ", "))); the windows started anyway")
        }
        let tmp = g.path + ".tmp"
        let start = String(format: "%.3f", Date().timeIntervalSince1970 + BenchStartGate.margin)
        _ = FileManager.default.createFile(atPath: tmp, contents: Data(start.utf8), attributes: [.posixPermissions: 0o644])
        rename(tmp, g.path)
        startNotes.append("start gate: \(g.keys.count - missing.count) of \(g.keys.count) programs ready \(String(format: "%.2f", Monotonic.now() - began)) s after the launches; the first window began \(BenchPrograms.fmt(BenchStartGate.margin)) s later")
    }

    /// A fresh gate: opened once `key` is printed.
    func gate(after key: String, _ name: String, timeout: Double = BenchGate.wait) -> BenchGate {
        BenchGate(key: key, path: scratch + "/gate-\(name)-\(UUID().uuidString.prefix(6))", timeout: timeout)
    }

    /// Waits until any of `launched` has printed `BH KEY=` (its output so far), or all ended, or
    /// `timeout` s passed; whether the key was seen.
    func waitFor(_ key: String, fromAny launched: [Launched], timeout: Double) -> Bool {
        let end = Monotonic.now() + timeout
        while true {
            for l in launched {
                let text = (FileIO.read(l.outPath) ?? "") + "\n" + (FileIO.read(l.errPath) ?? "")
                if Self.values(text)[key] != nil { return true }
            }
            if !launched.contains(where: { $0.child.isRunning }) || Monotonic.now() > end { return false }
            samplePressure()
            usleep(10_000)
        }
    }

    /// Opens each gate in order once its key was printed (or the bench's bounded wait for it
    /// ended: the gate opens anyway, so the workloads go on as after a fixed sleep); the gate
    /// files are removed when the pods have ended. The keys a wait did not see are returned
    /// (for the cell's evidence).
    func openGates(_ gates: [BenchGate], for launched: [Launched]) -> [String] {
        var missed: [String] = []
        for g in gates {
            if !waitFor(g.key, fromAny: launched, timeout: g.timeout) {
                missed.append(g.key)
                failures.append("gate: no BH \(g.key)= within \(BenchPrograms.fmt(g.timeout)) s; opened anyway")
            }
            _ = FileManager.default.createFile(atPath: g.path, contents: nil)
        }
        return missed
    }

    /// `runPods` with gates: the pods start at once, the gates open in order as their keys
    /// appear, and it returns when all pods have ended.
    func runPods(_ placement: BenchPlacement, _ workloads: [BenchWorkload], gates: [BenchGate],
                 emptyDir: String = "16Mi") throws -> BenchPods {
        let specs: [BenchPodSpec]
        switch placement {
        case .samePod: specs = [BenchPodSpec(group: workloads, tenant: nil)]
        case .ownPods: specs = workloads.map { BenchPodSpec(group: [$0], tenant: nil) }
        case .ownTenants: specs = workloads.enumerated().map { BenchPodSpec(group: [$1], tenant: $0) }
        }
        return try runPodSpecs(specs, gates: gates, emptyDir: emptyDir)
    }

    /// `runPodSpecs` with gates (above).
    func runPodSpecs(_ specs: [BenchPodSpec], gates: [BenchGate], emptyDir: String = "16Mi") throws -> BenchPods {
        defer { for g in gates { unlink(g.path) } }
        let started = try startPods(specs, emptyDir: emptyDir)
        _ = openGates(gates, for: started.launched)
        return finishPods(started)
    }

    /// `bulkhead run ARGS` side by side with gates (above).
    func runSandboxes(_ argLists: [[String]], gates: [BenchGate]) throws -> [Finished] {
        defer { for g in gates { unlink(g.path) } }
        let launched = try argLists.map { try launch(["run"] + $0, timeout: phaseSeconds * 3 + 10) }
        _ = openGates(gates, for: launched)
        return launched.map { finish($0) }
    }
}
