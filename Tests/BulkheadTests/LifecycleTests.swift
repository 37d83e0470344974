import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Exit statuses, signals, the init's duties, the deadline, and the launcher's death.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct LifecycleTests {
    @Test("Exit status: the workload's code, 128+signal, 127 not found, 126 not executable")
    func exitCodes() throws {
        #expect(try Bulkhead.sh("exit 3").status == 3)
        let sig = try Bulkhead.sh("kill -TERM $$", report: true)
        #expect(sig.status == 143)
        let sigReport = try #require(sig.report, "no report: \(sig.stderr)")
        #expect(sigReport.reason == .signaled)
        #expect(sigReport.signal == "SIGTERM")
        #expect(sigReport.exitCode == 143)
        let nf = try Bulkhead.run(["run", "--", "no-such-command-\(token())"], report: true)
        #expect(nf.status == 127)
        #expect(try #require(nf.report, "no report: \(nf.stderr)").reason == .execFailed)
        #expect(nf.stderr.contains("command not found"), "\(nf.stderr)")
        let ne = try Bulkhead.run(["run", "--", "/etc/hostname"])
        #expect(ne.status == 126, "\(ne.stderr)")
        let ok = try Bulkhead.run(["run", "--", "true"], report: true)
        #expect(ok.status == 0)
        let okReport = try #require(ok.report, "no report: \(ok.stderr)")
        #expect(okReport.reason == .exited && okReport.exitCode == 0 && okReport.signal == nil)
        #expect((okReport.launchTimeMs ?? 0) > 0)
        #expect(okReport.controls.noNewPrivs)
        #expect(okReport.controls.namespaces.sorted() == ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"])
    }

    @Test("Timeout: the whole sandbox is killed at the deadline, exit 124, even a workload that ignores SIGTERM")
    func timeout() throws {
        let marker = token()
        let r = try Bulkhead.sh("trap '' TERM; sleep 30 & echo ready; wait # \(marker)", ["--timeout", "500ms"], report: true)
        #expect(r.status == 124)
        let report = try #require(r.report, "no report: \(r.stderr)")
        #expect(report.reason == .timeout && report.exitCode == ExitStatus.timeout)
        #expect(r.stdout.contains("ready"), "the workload ran until the deadline")
        #expect(processesWith(marker: marker).isEmpty, "the TERM-ignoring workload is gone after the deadline")
    }

    @Test("Init reaps orphaned zombies")
    func zombieReaping() throws {
        // The subshell exits at once, orphaning `sleep 0.1` to PID 1; once it exits, nobody
        // but the init can reap it.
        let r = try Bulkhead.sh("(sleep 0.1 &); sleep 0.6; cat /proc/[0-9]*/stat 2>/dev/null | awk '{print $3}' | tr -d '\\n'")
        #expect(r.status == 0)
        // One state letter per process: at least the init, the shell and cat itself were read,
        // so an empty listing (no /proc, a failed cat) cannot pass.
        #expect(r.stdout.count >= 3 && r.stdout.allSatisfy { "RSDIZTtXWPK".contains($0) }, "process states: \(r.stdout)")
        #expect(!r.stdout.contains("Z"), "a zombie remained: \(r.stdout)")
    }

    @Test("Signals to the launcher reach the workload through the init")
    func signalForwarding() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        let report = NSTemporaryDirectory() + "bh-sig-\(token()).json"
        p.arguments = ["run", "--report", report, "--", "/bin/sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let first = out.fileHandleForReading.availableLine()
        #expect(first == "ready")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(rest.contains("got-term"))
        #expect(p.terminationStatus == 7)
        defer { try? FileManager.default.removeItem(atPath: report) }
        let decoded = try #require(try ReportFile.decode(RunReport.self, at: report), "no report")
        #expect(decoded.signalsForwarded == ["SIGTERM"])
        #expect(decoded.reason == .exited && decoded.exitCode == 7)
    }

    @Test("The launcher's death (SIGKILL) takes the whole sandbox with it")
    func launcherDeath() throws {
        let marker = token()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        // A workload with children of its own: all of them must go.
        p.arguments = ["run", "--", "/bin/sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait # \(marker)"]
        p.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        #expect(out.fileHandleForReading.availableLine() == "ready")
        let workload = try #require(processesWith(marker: marker).first, "the workload runs (else the check below proves nothing)")
        let pidns = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(workload)/ns/pid")
        #expect(processesIn(pidNamespace: pidns).count >= 4, "init, sh and two sleeps")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        var left = processesIn(pidNamespace: pidns)
        for _ in 0..<100 where !left.isEmpty { usleep(20_000); left = processesIn(pidNamespace: pidns) }
        #expect(left.isEmpty, "processes survived their launcher: \(left)")
    }

    @Test("Bad input: a malformed profile names file and field, exits 125, and runs nothing")
    func badProfiles() throws {
        let dir = NSTemporaryDirectory() + "bh-prof-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, String, String)] = [
            ("unknown-field", "extends: container\nsecurityContex: {}\n", "unknown field \"securityContex\"; did you mean \"securityContext\"?"),
            ("bad-cap", "extends: container\nsecurityContext:\n  capabilities:\n    add: [SYS_ADMN]\n", "securityContext.capabilities.add[0]: unknown capability \"SYS_ADMN\"; did you mean \"SYS_ADMIN\"?"),
            ("bad-quantity", "resources:\n  limits:\n    ephemeral-storage: lots\n", "resources.limits.ephemeral-storage"),
            ("cycle", "extends: cycle\n", "inheritance cycle"),
            ("nonroot", "extends: container\nsecurityContext:\n  runAsNonRoot: true\n", "runAsNonRoot is true but runAsUser is 0"),
        ]
        for (name, yaml, expected) in cases {
            let path = "\(dir)/\(name).yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/echo", "RAN"], env: ["BULKHEAD_PROFILE_PATH": dir])
            #expect(r.status == 125, "\(name): \(r.stderr)")
            #expect(r.stderr.contains(path), "\(name) names the file: \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(name): \(r.stderr)")
            #expect(!r.stdout.contains("RAN"), "\(name): the workload must not run")
        }
        let unknown = try Bulkhead.run(["run", "--profile", "contianer", "--", "/bin/echo", "RAN"])
        #expect(unknown.status == 125)
        #expect(unknown.stderr.contains("did you mean \"container\""), "\(unknown.stderr)")
    }

    @Test("Fault injection: whichever setup step fails, the workload never runs, exit 125 names the step, nothing is left")
    func everyStepFailsClosed() throws {
        let plan = try Bulkhead.run(["profile", "show", "container", "--plan"])
        let steps = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(steps.count > 40, "\(plan.stdout)")
        let marker = token()
        let before = Set(FileIO.listDirectory("/proc"))
        // Every hierarchy a launch of this profile uses: the directories a good run's report
        // names, plus every mounted hierarchy (v1 or v2) that has a bulkhead subtree.
        let parents = try LeftoverCgroups.parents()
        let leaves = { LeftoverCgroups.leaves(under: parents) }
        let leavesBefore = Set(leaves())
        for (i, line) in steps.enumerated() {
            let summary = line.drop(while: { $0 == " " }).drop(while: { $0.isNumber }).dropFirst(2)
            let r = try Bulkhead.run(["run", "--inject-fault", "step:\(i)", "--", "/bin/echo", marker])
            if summary.hasPrefix("execve") {
                #expect(r.status == 126, "step \(i) \(summary)")
            } else {
                #expect(r.status == 125, "step \(i) \(summary): \(r.status) \(r.stderr)")
            }
            #expect(!r.stdout.contains(marker), "step \(i): the workload ran")
            let named = summary.hasPrefix("execve") ? "step \(i) (execve" : "step \(i) (\(summary))"
            #expect(r.stderr.contains(named), "step \(i): \(r.stderr)")
            #expect(r.stderr.contains("ECANCELED"))
        }
        let launcherStep = try Bulkhead.run(["run", "--inject-fault=id-maps", "--", "/bin/echo", marker])
        #expect(launcherStep.status == 125 && launcherStep.stderr.contains("write the id maps"))
        // No process of those launches is left.
        let after = Set(FileIO.listDirectory("/proc")).subtracting(before)
        let leftovers = after.compactMap { FileIO.read("/proc/\($0)/cmdline") }.filter { $0.contains(marker) }
        #expect(leftovers.isEmpty)
        // And no cgroup: every failed launch removed the one it had made (the profile has limits).
        #expect(Set(leaves()).subtracting(leavesBefore).isEmpty, "cgroups left: \(Set(leaves()).subtracting(leavesBefore))")
        for fault in ["cgroup-create", "cgroup-leaves", "cgroup-limits", "cgroup-attach"] {
            let r = try Bulkhead.run(["run", "--inject-fault=\(fault)", "--", "/bin/echo", marker])
            #expect(r.status == 125 && !r.stdout.contains(marker), "launcher step \(fault): \(r.stderr)")
            #expect(r.stderr.contains("cgroup"), "\(r.stderr)")
        }
        #expect(Set(leaves()).subtracting(leavesBefore).isEmpty)
    }

    @Test("A failed cgroup step's report names its errno: the error is wrapped, not turned into text")
    func cgroupFailureReportsErrno() throws {
        // cgroup-attach fails the move into the v1 hierarchies (a v2 host's child is born in its
        // cgroup, so there is nothing to move); cgroup-create fails the cgroup's creation on
        // either. The old numbers (-4, -3) are aliases of the names.
        let v1 = FileIO.listDirectory("/sys/fs/cgroup/pids").contains("cgroup.procs")
        for fault in v1 ? ["cgroup-create", "-4"] : ["cgroup-create"] {
            let r = try Bulkhead.run(["run", "--inject-fault=\(fault)", "--", "/bin/true"], report: true)
            #expect(r.status == 125, "\(fault): \(r.stderr)")
            let data = try #require(r.reportData, "\(fault): no report")
            let error = try #require(try JSONDecoder().decode(RunReport.self, from: data).error, "\(fault): the report has no error")
            #expect(error.errno == "ECANCELED", "\(fault): \(error)")
            #expect(error.message.contains("ECANCELED"), "\(fault): \(error.message)")
            #expect(!error.operation.contains("ECANCELED"), "\(fault): the errno is a field, not part of the operation: \(error.operation)")
        }
    }

    @Test("Rootless: an unprivileged user runs the container layer, mapped to root inside")
    func rootless() throws {
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        // Without a delegated cgroup subtree the profile's limits cannot be enforced: refused,
        // with the reason and the fix, and nothing runs.
        let strict = try Bulkhead.sh("echo RAN", prefix: nobody)
        #expect(strict.status == 125)
        #expect(strict.stderr.contains("best-effort"), "\(strict.stderr)")
        #expect(!strict.stdout.contains("RAN"))
        let r = try Bulkhead.sh("cat /proc/self/uid_map; cat /proc/self/setgroups; id -u; grep CapEff /proc/self/status",
                                ["--limits", "best-effort"], report: true, prefix: nobody)
        let limits = try #require(r.report?.limits, "the report names the limits: \(r.stderr)")
        #expect(Set(limits.notEnforced.map(\.limit.rawValue)) == ["cpu.max", "memory.max", "pids.max"], "the report says which limits were not enforced")
        #expect(limits.enforced.isEmpty && limits.enforcement == "best-effort", "\(limits)")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.first == "0 65534 1", "\(r.stdout)")
        #expect(lines.contains("deny"))
        #expect(lines.contains("0"))
        // What rootless cannot do is refused with a reason: a second uid needs a mapped range.
        let u = try Bulkhead.sh("id", ["--user", "1000", "--limits", "best-effort"], prefix: nobody)
        #expect(u.status == 125)
        #expect(u.stderr.contains("rootless sandbox maps only your own uid"), "\(u.stderr)")
    }
}

/// Pids of the processes in a PID namespace (`pid:[INODE]`), seen from the host.
func processesIn(pidNamespace: String) -> [Int32] {
    FileIO.listDirectory("/proc").compactMap { Int32($0) }.filter {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\($0)/ns/pid")) == pidNamespace
    }
}

/// Pids of processes whose command line contains `marker`.
func processesWith(marker: String) -> [Int32] {
    FileIO.listDirectory("/proc").compactMap { Int32($0) }.filter { pid in
        guard let cmd = FileIO.read("/proc/\(pid)/cmdline") else { return false }
        return cmd.replacingOccurrences(of: "\0", with: " ").contains(marker) && !cmd.contains("bulkhead")
    }
}

extension FileHandle {
    /// Reads up to the first newline (blocking), without the newline.
    func availableLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let d = readData(ofLength: 1)
            if d.isEmpty || d.first == 10 { break }
            bytes.append(d.first!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The cgroup leaves (`c-…`) of `bulkhead run` launches, in every hierarchy they use, so that a
/// leftover check means something on a v1, hybrid or v2 host alike.
enum LeftoverCgroups {
    /// The directories holding the default tenant's leaves: the parents of the directories a
    /// successful run's typed report names (there must be some: the profile has limits), and
    /// `bulkhead/default/default` of every mounted hierarchy under /sys/fs/cgroup.
    static func parents() throws -> [String] {
        let probe = try Bulkhead.run(["run", "--", "/bin/true"], report: true)
        try #require(probe.status == 0, "\(probe.stderr)")
        let data = try #require(probe.reportData, "the run wrote no report")
        let cgroup = try #require(try JSONDecoder().decode(RunReport.self, from: data).cgroup, "the report has no cgroup")
        try #require(!cgroup.directories.isEmpty, "the report names no cgroup directory: \(cgroup)")
        var parents = Set(cgroup.directories.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
        for h in [""] + FileIO.listDirectory("/sys/fs/cgroup").map({ "/" + $0 }) {
            let dir = "/sys/fs/cgroup\(h)/bulkhead/default/default"
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue { parents.insert(dir) }
        }
        // The run removed its own leaf in each of them.
        for d in cgroup.directories {
            #expect(!FileManager.default.fileExists(atPath: d), "the good run left \(d)")
        }
        return parents.sorted()
    }

    /// Every `c-…` leaf under `parents`, as a full path.
    static func leaves(under parents: [String]) -> [String] {
        parents.flatMap { p in FileIO.listDirectory(p).filter { $0.hasPrefix("c-") }.map { p + "/" + $0 } }
    }
}
