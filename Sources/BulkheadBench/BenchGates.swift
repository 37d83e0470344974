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

extension BenchContext {
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
