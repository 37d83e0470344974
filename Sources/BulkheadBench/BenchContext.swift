import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// What experiments run with: the `bulkhead` binary to launch sandboxes and pods with (as a
/// user would, so the bench measures the installed tool), the length of a measured phase,
/// a scratch directory, and the experiment's outer cgroup.
public final class BenchContext: @unchecked Sendable {
    /// The `bulkhead` binary experiments launch.
    public let binary: String
    /// Seconds of one measured phase (victim alone, or victim with aggressor): one window.
    public let phaseSeconds: Double
    /// Interleaved rounds of baseline and loaded (and contained) windows per ratio cell: the
    /// asked number, or more while an inconclusive cell is measured again (`withRounds`).
    public private(set) var rounds: Int
    /// Scratch directory on the real disk (the disk experiments need one), removed by `close()`.
    /// Root's own directory (0755): manifests, reports and the launched processes' output. The
    /// launcher reads manifests only from directories no one else can write.
    public let scratch: String
    /// `scratch/shared` (sticky, 01777): a directory of the host's disk the sandboxes' mapped
    /// users write into when it is bound in (the disk cells).
    public var shared: String { scratch + "/shared" }
    /// Extra environment for launched processes (the tests point the profile search path).
    public let environment: [String: String]
    private(set) var ceiling: BenchCeiling?
    /// What `bench --vm` boots (nil without `--vm`), and what the VM run found once booted.
    public let vm: BenchVM.Options?
    var vmRun: BenchVM.Run?
    /// Processes launched so far (`launch`): a cell's setup count is the difference.
    public private(set) var launches = 0
    /// Failures of launched processes during the current experiment (status and stderr), for
    /// the evidence of an experiment that did not observe its effect.
    var failures: [String] = []
    /// When the current experiment's start gates opened (`openStart`), for its evidence.
    var startNotes: [String] = []
    /// What other work on the host held of its CPUs over the latest ceiling's run (`withCeiling`).
    var hostLoad: BenchHostLoad?
    /// PSI samples of the current experiment, taken while its processes run (BenchPressure.swift).
    var pressure: [PressureSample] = []
    /// A mitigation measured in the cell's own run (extra windows on the same schedule, sharing
    /// the cell's baseline windows) and the seconds its windows added; `Mitigations.run` takes it
    /// instead of a run of its own.
    var cellMitigation: (outcome: BenchOutcome, seconds: Double)?
    /// The cell's run of its victim alone (the drift of a global counter without the
    /// aggressor), which its mitigation reuses rather than running the same victim again.
    var cellBaseline: BenchPods?

    public init(binary: String, phaseSeconds: Double, rounds: Int = 1, environment: [String: String] = [:],
                vm: BenchVM.Options? = nil) throws(BenchError) {
        self.binary = binary
        self.vm = vm
        self.phaseSeconds = phaseSeconds
        self.rounds = max(1, rounds)
        self.environment = environment
        let dir = "/var/tmp/bh-bench-\(getpid())"
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { throw BenchError("create \(dir): \(Errno.current)") }
        chmod(dir, 0o755)
        guard mkdir(dir + "/shared", 0o755) == 0 || errno == EEXIST else { throw BenchError("create \(dir)/shared: \(Errno.current)") }
        chmod(dir + "/shared", 0o1777)
        scratch = dir
    }

    /// Removes the scratch directory (and any ceiling still standing).
    public func close() {
        ceiling?.remove(); ceiling = nil
        _ = try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Runs `body` with `n` rounds per ratio cell, then the asked number again.
    func withRounds<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let asked = rounds
        rounds = max(1, n)
        defer { rounds = asked }
        return try body()
    }

    /// Runs `body` inside a fresh outer cgroup, removed afterwards on every path.
    func withCeiling<T>(_ body: () throws -> T) throws -> T {
        let c = try BenchCeiling.create()
        ceiling = c
        let before = BenchHostLoad.sample()
        defer {
            if let before, let after = BenchHostLoad.sample() {
                hostLoad = BenchHostLoad.between(before, after, cellMicros: c.cgroup.stats().cpuUsageMicros)
            }
            c.remove(); ceiling = nil
        }
        return try body()
    }

    // MARK: launching

    /// A launched `bulkhead` process whose output goes to files (never a pipe that could fill).
    final class Launched {
        let child: BenchChild
        let outPath: String
        let errPath: String
        let deadline: Double
        init(child: BenchChild, outPath: String, errPath: String, deadline: Double) {
            self.child = child; self.outPath = outPath; self.errPath = errPath; self.deadline = deadline
        }
    }

    /// The result of a finished `bulkhead` process.
    struct Finished {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        /// `BH key=value` lines of the workloads' output.
        var values: [String: String] { BenchContext.values(stdout + "\n" + stderr) }
    }

    /// Starts `bulkhead ARGS` inside the current ceiling: a shell writes its own pid into the
    /// ceiling's cgroup.procs files, then execs bulkhead, so nothing runs outside it.
    func launch(_ args: [String], timeout: Double) throws -> Launched {
        guard let ceiling else { throw BenchError("no experiment cgroup") }
        return try launch(command: [binary] + args, joining: ceiling.procsFiles, timeout: timeout)
    }

    /// Starts `command` (bulkhead or a host process the experiment measures) after joining the
    /// cgroups whose cgroup.procs files are given (the ceiling or a cgroup made inside it), in /.
    func launch(command: [String], joining procsFiles: [String], timeout: Double) throws -> Launched {
        let id = UUID().uuidString.prefix(8)
        let out = scratch + "/out-\(id)", err = scratch + "/err-\(id)"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let join = #"cd / || exit 125; while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let child = try BenchChild(path: "/bin/sh", arguments: ["-c", join, "sh"] + procsFiles + ["--"] + command,
                                   environment: env, stdout: out, stderr: err)
        launches += 1
        samplePressure()
        return Launched(child: child, outPath: out, errPath: err, deadline: Monotonic.now() + timeout)
    }

    /// Waits for a launched process (`waitpid` on its pid: it cannot miss the exit); past its
    /// deadline it is sent SIGTERM (bulkhead forwards it and cleans up), SIGKILL a second later,
    /// and the wait ends 10 s after that in any case (a process the kernel cannot end, in
    /// uninterruptible sleep, is named and left): every wait here has a bound.
    func finish(_ l: Launched) -> Finished {
        var timedOut = false
        var termAt: Double?
        var abandoned = false
        while l.child.isRunning {
            let now = Monotonic.now()
            if now > l.deadline && termAt == nil { timedOut = true; termAt = now; l.child.signal(SIGTERM) }
            if let t = termAt, now > t + 1 { l.child.signal(SIGKILL) }
            if let t = termAt, now > t + 11 { abandoned = true; break }
            samplePressure()
            usleep(20_000)
        }
        let o = FileIO.read(l.outPath) ?? "", e = FileIO.read(l.errPath) ?? ""
        unlink(l.outPath); unlink(l.errPath)
        let status = l.child.status ?? -1
        if status != 0 || timedOut {
            let detail = e.split(separator: "\n").filter { !$0.hasPrefix("BH ") && !$0.contains(": note: ") }.prefix(4).joined(separator: " / ")
            let what = l.child.arguments.dropFirst(3).first { $0 == "pod" || $0 == "run" } ?? "bulkhead"
            let how = abandoned ? " (did not end 10 s after SIGKILL: pid \(l.child.pid) left running)" : timedOut ? " (timeout)" : ""
            failures.append("\(what) exited \(status)\(how): \(detail.prefix(400))")
        }
        return Finished(status: status, stdout: o, stderr: e, timedOut: timedOut)
    }

    /// Waits until a launched process has printed `BH KEY=` (its output so far, read from its
    /// files), or it ended, or `timeout` s passed; whether the key was seen. The event a fixed
    /// sleep would otherwise guess the time of (a node cell's host process holding its memory).
    func waitFor(_ key: String, from l: Launched, timeout: Double) -> Bool {
        let end = Monotonic.now() + timeout
        while true {
            let text = (FileIO.read(l.outPath) ?? "") + "\n" + (FileIO.read(l.errPath) ?? "")
            if Self.values(text)[key] != nil { return true }
            if !l.child.isRunning || Monotonic.now() > end { return false }
            samplePressure()
            usleep(20_000)
        }
    }

    /// `KEY=VALUE` pairs from lines of the form `BH KEY=VALUE [KEY=VALUE…]`.
    static func values(_ text: String) -> [String: String] {
        var v: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("BH ") {
            for pair in line.dropFirst(3).split(separator: " ") {
                guard let eq = pair.firstIndex(of: "=") else { continue }
                v[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
        }
        return v
    }

    /// Whether a host tool is on PATH.
    static func hasTool(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }
}
