import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Soak and load: many launches in a row and at once, launchers SIGKILLed at random points,
/// the launcher's own fds over a run, signals. CI-sized by default; `BULKHEAD_SOAK=full` (what
/// scripts/soak.sh sets) runs the full counts: 1000 sequential, 50 concurrent, 100 killed.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct SoakTests {
    static let full = ProcessInfo.processInfo.environment["BULKHEAD_SOAK"] == "full"
    static let sequential = full ? 1000 : 100
    static let concurrent = full ? 50 : 20
    static let killed = full ? 100 : 20

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
    }

    @Test("Sequential launches: every one exits with its own status")
    func sequentialLaunches() throws {
        var wrong: [String] = []
        var times: [Double] = []
        for i in 0..<Self.sequential {
            let t0 = Date()
            let r = try Bulkhead.run(["run", "--", "/bin/sh", "-c", "exit \(i % 8)"])
            times.append(Date().timeIntervalSince(t0) * 1000)
            if r.status != Int32(i % 8) { wrong.append("#\(i): \(r.status) \(r.stderr)") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(Self.sequential) wrong: \(wrong.prefix(5))")
        print("soak sequential: \(Self.sequential) launches, \(wrong.count) wrong, ms median \(Int(Self.percentile(times, 0.5))) p99 \(Int(Self.percentile(times, 0.99))) max \(Int(times.max() ?? 0))")
    }

    @Test("Concurrent launches: all at once, each with its own status and report")
    func concurrentLaunches() throws {
        let results = LockedResults()
        let group = DispatchGroup()
        let t0 = Date()
        for i in 0..<Self.concurrent {
            group.enter()
            Thread {
                let r = try? Bulkhead.run(["run", "--", "/bin/sh", "-c", "sleep 0.2; exit \(i % 100)"], report: true, timeout: 120)
                results.set(i, r)
                group.leave()
            }.start()
        }
        group.wait()
        let wall = Date().timeIntervalSince(t0)
        var wrong: [String] = []
        for i in 0..<Self.concurrent {
            let r = results.get(i)
            if r?.status != Int32(i % 100) || r?.report?.reason != .exited || r?.report?.exitCode != Int32(i % 100) {
                wrong.append("#\(i): \(String(describing: r?.status)) \(r?.stderr ?? "no result")")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(Self.concurrent) wrong: \(wrong.prefix(5))")
        print("soak concurrent: \(Self.concurrent) launches at once, \(wrong.count) wrong, wall \(String(Int(wall * 1000))) ms")
    }

    /// Processes whose command line contains `marker`, the sandbox's init included (it is a
    /// clone of the launcher and carries the launcher's command line).
    static func anyProcess(with marker: String) -> [Int32] {
        FileIO.listDirectory("/proc").compactMap { Int32($0) }.filter { pid in
            pid != getpid() && (FileIO.read("/proc/\(pid)/cmdline")?.contains(marker) ?? false)
        }
    }

    static func cgroupLeaves(ofLauncher pid: Int32) -> [String] {
        var found: [String] = []
        for ctrl in FileIO.listDirectory("/sys/fs/cgroup") {
            let base = "/sys/fs/cgroup/\(ctrl)"
            // bulkhead/<tenant>/<pod>/<leaf>, under the caller's own cgroup (any depth).
            guard let e = FileManager.default.enumerator(atPath: base) else { continue }
            while let rel = e.nextObject() as? String {
                let last = (rel as NSString).lastPathComponent
                if rel.contains("bulkhead/") && last.hasPrefix("c-\(pid)-") { found.append("\(base)/\(rel)") }
                if rel.split(separator: "/").count > 8 { e.skipDescendants() }
            }
        }
        return found
    }

    static func nsfsMounts() -> Int {
        (FileIO.read("/proc/self/mountinfo") ?? "").split(separator: "\n").filter { $0.contains(" - nsfs ") }.count
    }

    @Test("Launchers SIGKILLed at random points: no process of theirs survives; after gc no cgroup or mount namespace of theirs remains")
    func killedLaunchers() throws {
        let marker = token()
        var rng = SystemRandomNumberGenerator()
        var pids: [Int32] = []
        let nsfsBefore = Self.nsfsMounts()
        for i in 0..<Self.killed {
            let sanity = i == 0  // the first one is killed only after its cgroup is seen, so the check below can fail
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
            p.arguments = ["run", "--", "/bin/sh", "-c", "sleep 1000 & echo ready; wait # \(marker)-\(i)"]
            p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
            let out = Pipe()
            p.standardOutput = sanity ? out : FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            if sanity {
                #expect(out.fileHandleForReading.availableLine() == "ready")
                #expect(!Self.cgroupLeaves(ofLauncher: p.processIdentifier).isEmpty, "a live launcher's cgroup is found")
                #expect(!Self.anyProcess(with: marker).isEmpty, "a live sandbox's processes are found")
            }
            // Anywhere from before the clone to well after execve (a launch takes ~30-80 ms here).
            usleep(UInt32.random(in: 0...150_000, using: &rng))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            pids.append(p.processIdentifier)
        }
        var left = Self.anyProcess(with: marker)
        for _ in 0..<100 where !left.isEmpty { usleep(20_000); left = Self.anyProcess(with: marker) }
        #expect(left.isEmpty, "processes survived their launchers: \(left.map { "\($0): \(FileIO.read("/proc/\($0)/cmdline") ?? "")" })")
        let gc = try Bulkhead.run(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let leaves = pids.flatMap { Self.cgroupLeaves(ofLauncher: $0) }
        #expect(leaves.isEmpty, "cgroups left after gc: \(leaves.prefix(5))")
        // A mount namespace lives while a process, an fd or an nsfs bind mount holds it. The
        // processes are checked above (all of them carry the marker); no nsfs mount appeared.
        #expect(Self.nsfsMounts() <= nsfsBefore)
        print("soak killed: \(Self.killed) launchers SIGKILLed, \(left.count) processes left, \(leaves.count) cgroups after gc")
    }

    @Test("The launcher's fd count does not grow over a run (signals forwarded, stats read)")
    func launcherFDs() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        let report = "/var/tmp/bh-fd-\(token()).json"
        p.arguments = ["run", "--report", report, "--", "/bin/sh", "-c",
                       "trap ':' USR1; echo ready; i=0; while [ $i -lt 150 ]; do sleep 0.01; i=$((i+1)); done; echo done"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        #expect(out.fileHandleForReading.availableLine() == "ready")
        // The launcher is a host process: its fd table is read from outside.
        func fds() -> [String] {
            FileIO.listDirectory("/proc/\(p.processIdentifier)/fd").sorted().map {
                "\($0)->" + ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p.processIdentifier)/fd/\($0)")) ?? "?")
            }
        }
        let start = fds()
        for _ in 0..<40 { kill(p.processIdentifier, SIGUSR1); usleep(10_000) }
        let late = fds()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(!start.isEmpty && start.count == late.count, "fds at start \(start.count), after 40 signals \(late.count): \(start) / \(late)")
        defer { try? FileManager.default.removeItem(atPath: report) }
        let forwarded = try #require(try ReportFile.decode(RunReport.self, at: report), "no report").signalsForwarded
        #expect(!forwarded.isEmpty && forwarded.allSatisfy { $0 == "SIGUSR1" }, "\(forwarded)")
        print("soak launcher fds: \(start.count) at start, \(late.count) after \(forwarded.count) forwarded signals")
    }

    @Test("SIGINT and SIGTERM to the launcher reach the workload; the report lists them", arguments: [("SIGINT", SIGINT, 3), ("SIGTERM", SIGTERM, 4)])
    func signals(_ name: String, _ sig: Int32, _ code: Int32) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        let report = "/var/tmp/bh-sig-\(token()).json"
        p.arguments = ["run", "--report", report, "--", "/bin/sh", "-c",
                       "trap 'echo got-INT; exit 3' INT; trap 'echo got-TERM; exit 4' TERM; echo ready; while :; do sleep 0.05; done"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        #expect(out.fileHandleForReading.availableLine() == "ready")
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(rest.contains(name == "SIGINT" ? "got-INT" : "got-TERM"), "\(rest)")
        #expect(p.terminationStatus == code)
        defer { try? FileManager.default.removeItem(atPath: report) }
        #expect(try #require(try ReportFile.decode(RunReport.self, at: report), "no report").signalsForwarded == [name])
    }

    @Test("A workload that ignores a forwarded SIGTERM is killed at --timeout")
    func ignoredTermThenTimeout() throws {
        let marker = token()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        let report = "/var/tmp/bh-tt-\(token()).json"
        p.arguments = ["run", "--timeout", "1500ms", "--report", report, "--", "/bin/sh", "-c",
                       "trap '' TERM; echo ready; sleep 30 & wait # \(marker)"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        #expect(out.fileHandleForReading.availableLine() == "ready")
        let t0 = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 124)
        #expect(Date().timeIntervalSince(t0) > 0.5, "the TERM was ignored; the deadline ended it")
        defer { try? FileManager.default.removeItem(atPath: report) }
        let decoded = try #require(try ReportFile.decode(RunReport.self, at: report), "no report")
        #expect(decoded.reason == .timeout)
        #expect(decoded.signalsForwarded == ["SIGTERM"])
        #expect(Self.anyProcess(with: marker).isEmpty)
    }
}

final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Bulkhead.Result] = [:]
    func set(_ i: Int, _ r: Bulkhead.Result?) { lock.lock(); results[i] = r; lock.unlock() }
    func get(_ i: Int) -> Bulkhead.Result? { lock.lock(); defer { lock.unlock() }; return results[i] }
}
