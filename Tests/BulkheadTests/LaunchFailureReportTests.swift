import BulkheadModel
import Foundation
import Glibc
import Testing

/// A launch refused before anything is set up (a bad flag value, a bad profile, a bind source
/// that cannot be used, a seccomp policy that cannot be read) still writes its `--report`, so CI
/// can read why: reason `launch-failed`, exit status 125, and `error` naming the file and field
/// (or the flag) and the errno where a system call gave one (issue 15). Each error names the
/// place the value was given: a profile's bind its file and `filesystem.binds[N]`, a flag's
/// bind `--bind`, a profile's missing `localhostProfile` its file and field.
/// These run as any user: every failure here happens before the launcher touches the system.
@Suite struct LaunchFailureReportTests {
    /// A profile file in a fresh directory of the caller's (root's when root runs the tests),
    /// extending `container` with `body`: the body's first line is line 6 of the file. The
    /// directory is readable by everyone, so errors may quote the file (a private one's do not).
    static func profile(_ body: String) throws -> (path: String, dir: String) {
        let written = try RootProfileFile.write(body, name: "failing")
        chmod(written.dir, 0o755)
        return written
    }

    @Test func badFlagValueWritesAReport() throws {
        let r = try Bulkhead.run(["run", "--memory", "1", "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let report = try #require(r.report, "no report for a bad flag value: \(r.stderr)")
        #expect(report.reason == .launchFailed && report.exitCode == ExitStatus.launchFailed)
        #expect(report.error?.file == "<command line>" && report.error?.field == "--memory", "\(String(describing: report.error))")
        #expect(report.error?.message.contains("at least 4Mi") == true, "\(String(describing: report.error))")
        #expect(report.controls == .nothingApplied, "a launch that never started reports controls it applied")
        // The same failure with the report on standard output.
        let out = try Bulkhead.run(["run", "--report", "-", "--memory", "1", "--", "/bin/true"])
        let decoded = try JSONDecoder().decode(RunReport.self, from: Data(out.stdout.utf8))
        #expect(decoded.error?.field == "--memory" && decoded.exitCode == ExitStatus.launchFailed)
    }

    /// Errors at lines 8 and 10; the parser reads securityContext (line 9) before resources
    /// (line 6), and used to report line 10: the first by position is line 8.
    @Test func badProfileWritesAReportNamingTheFirstErrorByPosition() throws {
        let (path, dir) = try Self.profile("resources:\n  limits:\n    memory: 1Ki\nsecurityContext:\n  runAsUser: -5\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let report = try #require(r.report, "no report for a bad profile: \(r.stderr)")
        #expect(report.reason == .launchFailed && report.exitCode == ExitStatus.launchFailed)
        let e = try #require(report.error)
        #expect(e.file == path && e.field == "resources.limits.memory" && e.line == 8, "\(e)")
        #expect(e.message.contains("1 more error in this file"), "\(e.message)")
        #expect(report.profile == path)
    }

    @Test func bindSourceErrorsNameWhereTheBindWasGiven() throws {
        let missing = "/nonexistent-\(token())"
        // From a profile: its file and the bind's index.
        let (path, dir) = try Self.profile("filesystem:\n  binds:\n    - source: /tmp\n    - source: \(missing)/data\n      destination: /data\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = try Bulkhead.run(["run", "--profile", path, "--", "/bin/true"], report: true)
        #expect(p.status == ExitStatus.launchFailed, "\(p.stderr)")
        let pe = try #require(p.report?.error, "no report: \(p.stderr)")
        #expect(pe.file == path && pe.field == "filesystem.binds[1]", "\(pe)")
        #expect(pe.errno == "ENOENT" && pe.message.contains(missing), "\(pe)")
        #expect(!p.stderr.contains("<command line>"), "a profile's bind is labelled as a flag: \(p.stderr)")
        // From the flag, over the same profile: the flag.
        let f = try Bulkhead.run(["run", "--profile", path, "--bind", "\(missing):/x", "--", "/bin/true"], report: true)
        let fe = try #require(f.report?.error, "no report: \(f.stderr)")
        #expect(fe.file == "<command line>" && fe.field == "--bind" && fe.errno == "ENOENT", "\(fe)")
    }

    @Test func missingLocalhostProfileNamesTheProfileAndField() throws {
        let (path, dir) = try Self.profile("securityContext:\n  seccompProfile:\n    type: Localhost\n    localhostProfile: missing-\(token()).json\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/true"], report: true)
        #expect(r.status == ExitStatus.launchFailed, "\(r.stderr)")
        let e = try #require(r.report?.error, "no report for a seccomp policy that cannot be read: \(r.stderr)")
        #expect(e.file == path && e.field == "securityContext.seccompProfile.localhostProfile", "\(e)")
        #expect(e.message.contains("ENOENT"), "\(e.message)")
        // `--seccomp FILE` names the flag.
        let f = try Bulkhead.run(["run", "--seccomp", "/nonexistent-\(token()).json", "--", "/bin/true"], report: true)
        let fe = try #require(f.report?.error, "no report: \(f.stderr)")
        #expect(fe.file == "<command line>" && fe.field == "--seccomp", "\(fe)")
    }

    /// The failure report goes through `OutputFile`, as every report does: a link that someone
    /// else planted where the report goes is not followed (the control: the caller's own link is).
    @Test(.enabled(if: Gate.root, Gate.rootReason)) func failureReportNeverFollowsAPlantedLink() throws {
        let dir = NSTemporaryDirectory() + "bh-planted-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777)
        let victim = dir + "/victim", link = dir + "/report.json"
        try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(symlink(victim, link) == 0)
        #expect(lchown(link, 12345, 12345) == 0)
        let r = try Bulkhead.run(["run", "--report", link, "--memory", "1", "--", "/bin/true"])
        #expect(r.status == ExitStatus.launchFailed)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious", "the failure report followed a planted link")
        #expect(r.stderr.contains("cannot write the report"), "\(r.stderr)")
        // Control: the caller's own link is followed, so the failure report is written there.
        #expect(lchown(link, getuid(), getgid()) == 0)
        let own = try Bulkhead.run(["run", "--report", link, "--memory", "1", "--", "/bin/true"])
        #expect(own.status == ExitStatus.launchFailed)
        let written = try #require(try ReportFile.decode(RunReport.self, at: victim))
        #expect(written.reason == .launchFailed && written.error?.field == "--memory")
    }

    /// `profile lint` prints every error of the file by position and the chain without a
    /// `<command line>` layer (it has none); `show --plan` the same chain.
    @Test func lintListsEveryErrorAndNoCommandLineLayer() throws {
        let ok = try Bulkhead.run(["profile", "lint", "container"])
        #expect(ok.status == 0 && ok.stdout == "container: ok (container)\n", "\(ok.stdout)\(ok.stderr)")
        let plan = try Bulkhead.run(["profile", "show", "--plan", "container"])
        #expect(plan.stdout.hasPrefix("# launch plan for profile container (container)\n"), "\(plan.stdout.prefix(120))")
        let (path, dir) = try Self.profile("resources:\n  limits:\n    memory: 1Ki\n  limitz: {}\nsecurityContext:\n  runAsUser: -5\n")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = try Bulkhead.run(["profile", "lint", path])
        #expect(bad.status == 1)
        let lines = bad.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(bad.stderr)")
        #expect(lines.count == 3 && lines[0].contains("\(path):8: resources.limits.memory")
                && lines[1].contains("\(path):9: resources.limitz: unknown field") && lines[2].contains("\(path):11: securityContext.runAsUser"),
                "\(bad.stderr)")
    }
}
