import BulkheadModel
import Foundation
import Glibc
import Testing

/// Issue 17: the launch executable (`bulkhead`, no Foundation) and the full command line it
/// execs (`bulkhead-cli`, next to it). What it must never do: answer a command differently from
/// the full command line, launch differently, run a full command line someone else could have
/// replaced, or exec in a loop.
@Suite(.serialized) struct LaunchExecutableTests {
    /// The launch executable under test and its full command line.
    static let launcher = Bulkhead.binary
    static let full = (Bulkhead.binary as NSString).deletingLastPathComponent + "/bulkhead-cli"

    // MARK: - Everything but the fast path is the full command line's, word for word

    @Test("Every other command, help text and error is the full command line's, byte for byte", arguments: [
        ["--version"], ["--help"], ["run", "--help"], ["help", "run"], ["profile", "list"], ["profile", "show", "restricted"],
        ["frobnicate"], ["run"], ["run", "--", ], ["run", "--bogus", "--", "/bin/true"], ["run", "--profile", "container"],
        ["run", "--profile", "--", "/bin/true"], ["run", "--limits", "sometimes", "--", "/bin/true"], ["run", "--timeout", "x", "--", "/bin/true"],
        ["pool", "status", "--socket", "/nonexistent/bh.sock"], ["oci", "state", "bh-no-such-container"],
    ])
    func fallsThroughWordForWord(args: [String]) throws {
        let a = try Bulkhead.run(args, binary: Self.launcher)
        let b = try Bulkhead.run(args, binary: Self.full)
        #expect(a.status == b.status, "\(args): status \(a.status) under bulkhead, \(b.status) under bulkhead-cli; \(a.stderr)")
        #expect(a.stdout == b.stdout, "\(args): stdout differs:\n\(a.stdout)\n---\n\(b.stdout)")
        #expect(a.stderr == b.stderr, "\(args): stderr differs:\n\(a.stderr)\n---\n\(b.stderr)")
    }

    // MARK: - Launches: the same report, and a cache miss goes to the full command line

    /// `bulkhead ARGS` under `strace -f -e trace=execveat`: how many execveat calls the launcher
    /// made (the exec of bulkhead-cli is the only one; the init runs the workload with execve).
    static func execveats(_ args: [String], env: [String: String], binary: String = launcher) throws -> (Bulkhead.Result, Int) {
        let trace = NSTemporaryDirectory() + "bh-exec-\(token()).strace"
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let r = try Bulkhead.run(args, report: true, env: env, prefix: ["/usr/bin/strace", "-f", "-qq", "-e", "trace=execveat", "-o", trace],
                                 binary: binary)
        let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        return (r, text.split(separator: "\n").filter { $0.contains("execveat(") && $0.contains("AT_EMPTY_PATH") && $0.hasSuffix("= 0") }.count)
    }

    /// Fresh, private profile and seccomp caches for one test.
    static func freshCaches() throws -> (env: [String: String], dir: String) {
        let dir = "/tmp/bh-launchexec-\(token())"
        #expect(mkdir(dir, 0o700) == 0)
        return (["BULKHEAD_PROFILE_CACHE": dir + "/profiles", "BULKHEAD_SECCOMP_CACHE": dir + "/seccomp"], dir)
    }

    /// What a report says that does not depend on when or where it ran.
    static func stable(_ r: RunReport?) -> String {
        guard var r else { return "no report" }
        r.wallTimeMs = 0; r.launchTimeMs = nil; r.cpuUserMs = nil; r.cpuSystemMs = nil; r.maxRssKiB = nil
        r.phasesMs = []; r.cgroup = nil
        r.controls.seccomp?.cached = false
        r.controls.seccomp?.answerCPUMs = nil; r.controls.seccomp?.answerPausedMs = nil
        // The cgroup leaf's name holds the launcher's pid and start time.
        return ((try? JSONText.encode(r)) ?? "unencodable").replacing(/c-[0-9]+-[0-9]+-[0-9]+/, with: "c-LEAF")
    }

    @Test("A cache miss execs the full command line, which fills the caches; the next launch is the launch executable's own, with the same report",
          .enabled(if: Gate.root, Gate.rootReason))
    func cacheMissGoesToTheFullCommandLine() throws {
        let (env, dir) = try Self.freshCaches()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = ["run", "--", "/bin/true"]
        let (cold, coldExecs) = try Self.execveats(args, env: env)
        #expect(cold.status == 0, "\(cold.stderr)")
        #expect(coldExecs == 1, "a launch with empty caches must exec bulkhead-cli once (it parses and fills them): \(coldExecs)")
        #expect(cold.report?.controls.seccomp?.cached != true, "the cold launch compiled its filter")
        let (warm, warmExecs) = try Self.execveats(args, env: env)
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(warmExecs == 0, "with the caches the full command line filled, the launch executable launches itself: \(warmExecs) execs")
        #expect(warm.report?.controls.seccomp?.cached == true, "the warm launch's filter came from the cache the cold one filled")
        // The full command line's own launch, with the same caches: the same report.
        let (direct, directExecs) = try Self.execveats(args, env: env, binary: Self.full)
        #expect(directExecs == 0)
        #expect(Self.stable(warm.report) == Self.stable(direct.report))
        #expect(Self.stable(cold.report) == Self.stable(direct.report))
    }

    @Test("The same report under both executables: a refused launch, a failing workload, --limits, --report -",
          .enabled(if: Gate.root, Gate.rootReason))
    func sameReportUnderBoth() throws {
        let (env, dir) = try Self.freshCaches()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for args in [["run", "--", "/bin/sh", "-c", "exit 3"], ["run", "--profile", "nosuch", "--", "/bin/true"],
                     ["run", "--limits", "best-effort", "--", "/bin/true"], ["run", "--", "/nonexistent/cmd"]] {
            _ = try Bulkhead.run(args, env: env, binary: Self.full)   // fills the caches
            let (a, execs) = try Self.execveats(args, env: env)
            let b = try Bulkhead.run(args, report: true, env: env, binary: Self.full)
            #expect(execs == 0, "\(args): served by the launch executable")
            #expect(a.status == b.status && a.stderr == b.stderr, "\(args): \(a.status) \(a.stderr) / \(b.status) \(b.stderr)")
            #expect(Self.stable(a.report) == Self.stable(b.report), "\(args)")
        }
        let a = try Bulkhead.run(["run", "--report", "-", "--", "/bin/true"], env: env)
        let b = try Bulkhead.run(["run", "--report", "-", "--", "/bin/true"], env: env, binary: Self.full)
        let ra = try JSONDecoder().decode(RunReport.self, from: Data(a.stdout.utf8))
        let rb = try JSONDecoder().decode(RunReport.self, from: Data(b.stdout.utf8))
        #expect(Self.stable(ra) == Self.stable(rb))
    }

    // MARK: - The exec of bulkhead-cli: what root agrees to run

    /// A directory of root's (0755) in /tmp holding a hard link of the launch executable.
    static func installation() throws -> String {
        let dir = "/tmp/bh-launchexec-\(token())"
        #expect(mkdir(dir, 0o755) == 0 && chmod(dir, 0o755) == 0)
        #expect(link(launcher, dir + "/bulkhead") == 0, "link \(launcher): errno \(errno)")
        return dir
    }

    /// `bulkhead frobnicate x` from `dir`: what it printed and its status.
    static func runInstalled(_ dir: String, env: [String: String] = [:]) throws -> Bulkhead.Result {
        try Bulkhead.run(["frobnicate", "x"], env: env, timeout: 20, binary: dir + "/bulkhead")
    }

    static func copy(_ from: String, to: String, mode: mode_t) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
        #expect(chmod(to, mode) == 0)
    }

    @Test("A full command line root can trust is executed, from the launch executable's own directory, with the same argv",
          .enabled(if: Gate.root, Gate.rootReason))
    func trustedFullCommandLineRuns() throws {
        let dir = try Self.installation()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.copy("/bin/echo", to: dir + "/bulkhead-cli", mode: 0o755)
        let r = try Self.runInstalled(dir)
        #expect(r.status == 0 && r.stdout == "frobnicate x\n", "\(r.status) \(r.stdout) \(r.stderr)")
    }

    @Test("The exec fails closed on a full command line someone else could change, naming the file, the check and the fix",
          .enabled(if: Gate.root, Gate.rootReason), arguments: ["group-writable", "world-writable", "other owner", "symlink", "writable directory", "sticky directory", "absent", "directory"])
    func untrustedFullCommandLineIsRefused(kind: String) throws {
        let dir = try Self.installation()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = dir + "/bulkhead-cli"
        var check = "", fix = "install -m 0755 -o root"
        switch kind {
        case "group-writable": try Self.copy("/bin/echo", to: cli, mode: 0o775); check = "is writable by its group"
        case "world-writable": try Self.copy("/bin/echo", to: cli, mode: 0o757); check = "is writable by others"
        case "other owner":
            try Self.copy("/bin/echo", to: cli, mode: 0o755)
            #expect(chown(cli, 65534, 65534) == 0)
            check = "is owned by uid 65534"
        case "symlink": #expect(symlink("/bin/echo", cli) == 0); check = "is a symbolic link"
        case "writable directory":
            // Refused on the walk from /, as every directory root reads from is.
            try Self.copy("/bin/echo", to: cli, mode: 0o755)
            #expect(chmod(dir, 0o777) == 0)
            check = "is writable by its group"; fix = "chmod go-w \(dir)"
        case "sticky directory":
            try Self.copy("/bin/echo", to: cli, mode: 0o755)
            #expect(chmod(dir, 0o1777) == 0)
            check = "which is writable by its group"
        case "absent": check = "ENOENT"
        default: #expect(mkdir(cli, 0o755) == 0); check = "is a directory, not a regular file"
        }
        let r = try Self.runInstalled(dir)
        #expect(r.status == ExitStatus.launchFailed, "\(kind): \(r.status) \(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("frobnicate"), "\(kind): it ran: \(r.stdout)")
        #expect(r.stderr.contains(cli), "\(kind): names the file: \(r.stderr)")
        #expect(r.stderr.contains(check), "\(kind): names the check (\(check)): \(r.stderr)")
        #expect(r.stderr.contains(fix), "\(kind): names the fix (\(fix)): \(r.stderr)")
    }

    @Test("A bulkhead-cli that is a launch executable itself is refused, not executed without end",
          .enabled(if: Gate.root, Gate.rootReason))
    func neverLoops() throws {
        let dir = try Self.installation()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(link(Self.launcher, dir + "/bulkhead-cli") == 0)
        let r = try Self.runInstalled(dir)
        #expect(r.status == ExitStatus.launchFailed, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("started the launch executable again"), "\(r.stderr)")
        // The marker is the launch executable's alone: the full command line removes it before
        // anything (a workload never sees it).
        let e = try Bulkhead.run(["run", "--env", "BULKHEAD_LAUNCH_EXEC", "--env", "A=1", "--", "/bin/sh", "-c", "echo \"[${BULKHEAD_LAUNCH_EXEC-unset}]\""])
        #expect(e.status == 0 && e.stdout == "[unset]\n", "\(e.status) \(e.stdout) \(e.stderr)")
    }

    @Test("A loop marker the caller set is refused as the caller's environment, not blamed on bulkhead-cli",
          .enabled(if: Gate.root, Gate.rootReason), arguments: ["1", "", "0"])
    func callerSetMarkerBlamesTheEnvironment(value: String) throws {
        let dir = try Self.installation()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.copy("/bin/echo", to: dir + "/bulkhead-cli", mode: 0o755)
        let r = try Self.runInstalled(dir, env: ["BULKHEAD_LAUNCH_EXEC": value])
        #expect(r.status == ExitStatus.launchFailed, "\(r.status) \(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("frobnicate"), "it ran: \(r.stdout)")
        #expect(r.stderr.contains("BULKHEAD_LAUNCH_EXEC is set in the environment") && r.stderr.contains("env -u BULKHEAD_LAUNCH_EXEC"),
                "\(r.stderr)")
        #expect(!r.stderr.contains("started the launch executable again"), "\(r.stderr)")
    }

    @Test("A `#!` script installed as bulkhead-cli is refused with the reason, not a bare ENOENT",
          .enabled(if: Gate.root, Gate.rootReason))
    func scriptAsFullCommandLineNamesTheCause() throws {
        let dir = try Self.installation()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = dir + "/bulkhead-cli"
        #expect(FileManager.default.createFile(atPath: cli, contents: Data("#!/bin/sh\necho \"$@\"\n".utf8)))
        #expect(chmod(cli, 0o755) == 0)
        let r = try Self.runInstalled(dir)
        #expect(r.status == ExitStatus.launchFailed, "\(r.status) \(r.stdout) \(r.stderr)")
        #expect(!r.stdout.contains("frobnicate"), "it ran: \(r.stdout)")
        #expect(r.stderr.contains(cli) && r.stderr.contains("ENOENT") && r.stderr.contains("`#!` script"), "\(r.stderr)")
    }
}
