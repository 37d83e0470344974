import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of the launch executable (issue 17, branch launch-bin): `bulkhead`, which runs
/// `run`'s fast path from the caches and execs `bulkhead-cli` for everything else.
/// What it promised: the same launch, report and errors as the full command line.
@Suite(.serialized) struct RedTeamLaunchBinTests {
    /// A root-owned 0755 directory in /tmp holding a hard link of the launch executable and no
    /// `bulkhead-cli`: every cache miss there has no full command line to go to.
    static func installationWithoutFullCommandLine() throws -> String {
        let dir = "/tmp/bh-rtlaunchbin-\(token())"
        #expect(mkdir(dir, 0o755) == 0 && chmod(dir, 0o755) == 0)
        #expect(link(Bulkhead.binary, dir + "/bulkhead") == 0, "link \(Bulkhead.binary): errno \(errno)")
        return dir
    }

    /// Finding 1. `--report FILE` (or `-`) promises a report for every launch: a refused one
    /// (status 125) writes one saying why (`RunLaunch.failBeforeLaunch`). A cache miss the
    /// launch executable cannot hand to the full command line (none there, or one it refuses)
    /// ended with status 125 and no report at all: a caller that reads the report (a CI
    /// runner) found nothing, or nothing on standard output with `--report -`.
    @Test("A cache miss whose full command line cannot run still writes the refused launch's report",
          .enabled(if: Gate.root, Gate.rootReason))
    func missWithoutFullCommandLineWritesTheReport() throws {
        let dir = try Self.installationWithoutFullCommandLine()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Empty caches: the launch is a miss, which goes to bulkhead-cli (absent here).
        let env = ["BULKHEAD_PROFILE_CACHE": dir + "/profiles", "BULKHEAD_SECCOMP_CACHE": dir + "/seccomp"]
        let r = try Bulkhead.run(["run", "--", "/bin/true"], report: true, env: env, binary: dir + "/bulkhead")
        #expect(r.status == ExitStatus.launchFailed, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("cannot run the full command line") && r.stderr.contains(dir + "/bulkhead-cli"), "\(r.stderr)")
        #expect(r.report != nil, "--report FILE: no report written for a launch that failed with status 125: \(r.stderr)")
        #expect(r.report?.reason == .launchFailed && r.report?.exitCode == ExitStatus.launchFailed)
        #expect(r.report?.error?.message.contains("bulkhead-cli") == true, "the report names what failed: \(String(describing: r.report?.error))")
        #expect(r.report?.command == ["/bin/true"])
        // `--report -`: the report on standard output, as for every other refused launch.
        let s = try Bulkhead.run(["run", "--report", "-", "--", "/bin/true"], env: env, binary: dir + "/bulkhead")
        #expect(s.status == ExitStatus.launchFailed)
        let decoded = try? JSONDecoder().decode(RunReport.self, from: Data(s.stdout.utf8))
        #expect(decoded?.reason == .launchFailed, "--report -: stdout is not the report: [\(s.stdout)] \(s.stderr)")
    }

    /// Finding 2. The launch's report is written after the workload ran; `OutputFile.Handle.write`
    /// (which replaced FileHandle when the launch left Foundation) returns false on a failed
    /// write, and `RunLaunch.launch` ignored it, as `out` ignores a failed write to standard
    /// output: the report was lost (ENOSPC, EIO, a closed pipe) and nothing said so, where a
    /// refused launch's report says "cannot write the report to FILE". /dev/full fails every
    /// write with ENOSPC.
    @Test("A report that cannot be written after the launch is said on stderr, under both executables",
          .enabled(if: Gate.root, Gate.rootReason), arguments: ["launch executable", "full command line"])
    func lostReportIsSaid(binary: String) throws {
        let bin = binary == "launch executable" ? Bulkhead.binary : Bulkhead.fullBinary
        // Twice: the first may be a cache miss (the full command line's launch), the second is
        // then the launch executable's own.
        for _ in 0..<2 {
            let r = try Bulkhead.run(["run", "--report", "/dev/full", "--", "/bin/true"], binary: bin)
            #expect(r.stderr.contains("cannot write the report to /dev/full"), "\(binary): the report was lost silently: \(r.status) [\(r.stderr)]")
        }
        // `--report -` with standard output on /dev/full.
        let s = try Bulkhead.run(["run", "--report", "-", "--", "/bin/true"], prefix: ["/bin/sh", "-c", "exec \"$@\" >/dev/full", "sh"], binary: bin)
        #expect(s.stderr.contains("cannot write the report to standard output"), "\(binary): --report - lost silently: \(s.status) [\(s.stderr)]")
    }
}
