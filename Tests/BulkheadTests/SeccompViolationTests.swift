import BulkheadModel
import Foundation
import Glibc
import Testing

/// "Which call was blocked?" and "proof of no misses" (issue 14) on the real kernel: the
/// launcher's seccomp listener (SeccompNotifier, CShims/seccomp_notify.c) answers refused calls
/// with the policy's errno and counts them; `seccomp verify` counts and lets them run.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct SeccompViolationTests {
    /// SeccompConsumerTests' scratch directory (outside /tmp: the sandbox mounts its own /tmp).
    static var work: String { SeccompConsumerTests.work }

    /// A small C program: `sysloop N NR [i386]` makes system call NR N times (N < 0: for ever),
    /// through `int $0x80` with "i386", and writes "RESULT ERRNO" per call to stderr; `sysloop fds`
    /// writes each open fd and what it is.
    static let sysloop: String = {
        let src = work + "/sysloop.c", exe = work + "/sysloop"
        try? """
        #include <dirent.h>
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        int main(int argc, char **argv) {
            if (argc == 2 && strcmp(argv[1], "fds") == 0) {
                DIR *d = opendir("/proc/self/fd");
                struct dirent *e;
                while (d && (e = readdir(d)) != NULL) {
                    if (e->d_name[0] == '.') continue;
                    char p[64], t[256];
                    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
                    ssize_t n = readlink(p, t, sizeof t - 1);
                    t[n < 0 ? 0 : n] = 0;
                    fprintf(stderr, "fd %s %s\\n", e->d_name, t);
                }
                return 0;
            }
            long count = atol(argv[1]), nr = atol(argv[2]);
            int i386 = argc > 3 && strcmp(argv[3], "i386") == 0;
            setvbuf(stderr, NULL, _IOLBF, 0);
            for (long i = 0; count < 0 || i < count; i++) {
                long r;
                int e = 0;
                if (i386) {
                    __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(10L), "c"(0L), "d"(0L) : "memory");
                    if (r < 0 && r > -4096) { e = (int)-r; r = -1; }
                } else {
                    errno = 0;
                    r = syscall(nr, 10L, 0L, 0L);
                    e = r < 0 ? errno : 0;
                }
                fprintf(stderr, "%ld %d\\n", r, e);
            }
            return 0;
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        _ = system("cc -O1 -o \(exe) \(src) 2>/dev/null")
        return exe
    }()

    static let syslog64 = "103", syslog32 = "103", getppid64 = "110"

    /// A policy allowing everything but syslog, which gets `action` (on x86_64 and i386).
    static func policy(_ action: String, errnoRet: Int? = 13, name: String) throws -> String {
        let path = work + "/\(name).json"
        let ret = errnoRet.map { ", \"errnoRet\": \($0)" } ?? ""
        try """
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
         "syscalls": [{"names": ["syslog"], "action": "\(action)"\(ret)}]}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        return path
    }

    static func results(_ stderr: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter { $0.first == "-" || $0.first?.isNumber == true }
    }

    static func requireCompiler() throws {
        try #require(FileManager.default.isExecutableFile(atPath: sysloop), "needs a C compiler (cc)")
    }

    @Test func refusedCallsAreNamedWithArchitectureCountAndErrno() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "errno")
        let r = try Bulkhead.run(["run", "--seccomp", p, "--", "/bin/sh", "-c",
                                  "\(Self.sysloop) 3 \(Self.syslog64); \(Self.sysloop) 2 \(Self.syslog32) i386"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        // What the workload saw: exactly the policy's errno (EACCES), each time.
        #expect(Self.results(r.stderr) == Array(repeating: "-1 13", count: 5), "\(r.stderr)")
        let report = try #require(r.report)
        #expect(report.controls.seccomp?.violations == "reported")
        let v = try #require(report.seccompViolations)
        #expect(v == [
            SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86", number: 103, count: 2, errno: "EACCES"),
            SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86_64", number: 103, count: 3, errno: "EACCES"),
        ], "\(v)")
        #expect(r.stderr.contains("seccomp: syslog (SCMP_ARCH_X86_64, #103) refused 3 times with EACCES"), "\(r.stderr)")
        #expect(report.reason == .exited)
    }

    @Test func aKillActionStaysTheKernelsAndEndsWithSeccompViolation() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_KILL_PROCESS", errnoRet: nil, name: "kill")
        let r = try Bulkhead.run(["run", "--seccomp", p, "--", Self.sysloop, "3", Self.syslog64], report: true)
        let report = try #require(r.report)
        #expect(report.reason == .seccompViolation, "\(r.stderr)")
        #expect(report.signal == "SIGSYS")
        #expect(Self.results(r.stderr).isEmpty, "no call returned: the first one killed the process")
        #expect(r.stderr.contains("the seccomp policy killed the workload (SIGSYS)"))
    }

    @Test func theListenerNeverReachesTheWorkload() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "fds")
        let r = try Bulkhead.run(["run", "--seccomp", p, "--", Self.sysloop, "fds"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.report?.controls.seccomp?.violations == "reported", "the listener was handed over in this run")
        let fds = r.stderr.split(separator: "\n").filter { $0.hasPrefix("fd ") }
        #expect(!fds.isEmpty)
        for line in fds {
            #expect(!line.contains("seccomp") && !line.contains("socket:") && !line.contains("anon_inode"), "\(line)")
        }
        // 0-2 and the directory being listed, nothing else.
        #expect(fds.count == 4, "\(fds)")
    }

    @Test func launcherDeathLeavesRefusalsRefused() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "death")
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        proc.arguments = ["run", "--seccomp", p, "--", Self.sysloop, "-1", Self.syslog64]
        proc.environment = ProcessInfo.processInfo.environment.merging(["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles"]) { $1 }
        let err = Pipe()
        (proc.standardInput, proc.standardOutput, proc.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice, err)
        try proc.run()
        let data = LockedData()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var all = Data()
            while true {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                all.append(chunk)
                data.set(all)
            }
            done.signal()
        }
        // Let the workload make refused calls, then kill the launcher outright.
        let until = Date().addingTimeInterval(20)
        while Self.results(String(decoding: data.get(), as: UTF8.self)).count < 200, Date() < until { usleep(10_000) }
        kill(proc.processIdentifier, SIGKILL)
        proc.waitUntilExit()
        // The workload's stderr closes when the sandbox is gone (the init dies with the launcher).
        #expect(done.wait(timeout: .now() + 20) == .success, "the sandbox outlived its launcher")
        let lines = Self.results(String(decoding: data.get(), as: UTF8.self))
        #expect(lines.count >= 200)
        // Every call was refused: EACCES from the launcher, or ENOSYS from the kernel once the
        // listener closed; never run (an allowed syslog returns >= 0 or the kernel's EPERM).
        let bad = lines.filter { $0 != "-1 13" && $0 != "-1 38" }
        #expect(bad.isEmpty, "calls not refused: \(bad.prefix(5))")
    }

    @Test func aPolicyRefusingTheHandOverStillReportsAndStillRefusesIt() throws {
        try Self.requireCompiler()
        // sendmsg and seccomp refused: the workload's hand-over thread (no filter) still gets
        // the listener across, the workload's own sendmsg and seccomp are refused with the
        // policy's errno and reported, and none of bulkhead's calls is counted.
        let path = Self.work + "/handover.json"
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["syslog", "sendmsg", "seccomp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        let r = try Bulkhead.run(["run", "--seccomp", path, "--", "/bin/sh", "-c",
                                  "\(Self.sysloop) 2 \(Self.syslog64); \(Self.sysloop) 1 46; \(Self.sysloop) 1 317"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(r.report)
        #expect(report.controls.seccomp?.violations == "reported", "\(report.controls.seccomp?.violations ?? "nil")")
        #expect(Self.results(r.stderr) == Array(repeating: "-1 13", count: 4), "sendmsg and seccomp refused as the policy says: \(r.stderr)")
        #expect(report.seccompViolations == [
            SeccompViolation(name: "seccomp", arch: "SCMP_ARCH_X86_64", number: 317, count: 1, errno: "EACCES"),
            SeccompViolation(name: "sendmsg", arch: "SCMP_ARCH_X86_64", number: 46, count: 1, errno: "EACCES"),
            SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86_64", number: 103, count: 2, errno: "EACCES"),
        ], "\(report.seccompViolations ?? [])")
    }

    @Test func rootlessRunAndVerifyReportToo() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "rootless")
        let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let r = try Bulkhead.run(["run", "--limits", "best-effort", "--seccomp", p, "--", Self.sysloop, "2", Self.syslog64],
                                 report: true, prefix: nobody)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.results(r.stderr) == ["-1 13", "-1 13"], "\(r.stderr)")
        #expect(r.report?.seccompViolations == [SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86_64", number: 103, count: 2, errno: "EACCES")])
        let v = try Bulkhead.run(["seccomp", "verify", "--limits", "best-effort", p, "--", Self.sysloop, "2", Self.syslog64], prefix: nobody)
        #expect(v.status == 1, "\(v.stderr)")
        #expect(v.stderr.contains("missing: syslog (SCMP_ARCH_X86_64, #103) 2 calls, policy: SCMP_ACT_ERRNO(EACCES), by \(Self.sysloop)"), "\(v.stderr)")
    }

    // MARK: verify

    @Test func recordThenVerify() throws {
        try Self.requireCompiler()
        // A recorded policy refuses sendmsg (the command never sends): verify still observes.
        let policy = Self.work + "/recorded.json"
        let r = try Bulkhead.run(["seccomp", "record", "-o", policy, "--verify", "2", "--", Self.sysloop, "2", Self.getppid64])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("no call missing in 2 runs"), "\(r.stderr)")
        let (v, report) = try Self.verify([policy, "--json", "--", Self.sysloop, "2", Self.syslog64])
        #expect(v.status == 1, "\(v.stderr)")
        #expect(report?.missing.map(\.name) == ["syslog"], "\(report?.missing ?? [])")
        #expect(report?.missing.first?.action == "SCMP_ACT_ERRNO(EPERM)")
    }

    static func verify(_ args: [String]) throws -> (Bulkhead.Result, SeccompVerifyReport?) {
        let r = try Bulkhead.run(["seccomp", "verify"] + args)
        let json = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let report = json.isEmpty ? nil : try JSONDecoder().decode(SeccompVerifyReport.self, from: Data(json.utf8))
        return (r, report)
    }

    @Test func verifyFindsTheMissingCallAndLetsItRun() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "small")
        let (r, report) = try Self.verify([p, "--runs", "2", "--json", "--", Self.sysloop, "3", Self.syslog64])
        #expect(r.status == 1, "\(r.stderr)")
        let rep = try #require(report)
        #expect(rep.verdict == "missing")
        #expect(rep.runs == 2)
        #expect(rep.missing == [SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86_64", number: 103, count: 6,
                                                 action: "SCMP_ACT_ERRNO(EACCES)", executable: Self.sysloop)], "\(rep.missing)")
        // Not enforced: the workload's calls ran (the kernel's own answer, never the policy's EACCES).
        #expect(!Self.results(r.stderr).isEmpty)
        #expect(Self.results(r.stderr).allSatisfy { $0 != "-1 13" }, "\(r.stderr)")
        #expect(r.stderr.contains("missing: syslog (SCMP_ARCH_X86_64, #103) 6 calls"), "\(r.stderr)")
    }

    @Test func verifyPassesACompletePolicy() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_ERRNO", name: "complete")
        let (r, report) = try Self.verify([p, "--json", "--", Self.sysloop, "3", Self.getppid64])
        #expect(r.status == 0, "\(r.stderr)")
        let rep = try #require(report)
        #expect(rep.verdict == "complete")
        #expect(rep.missing.isEmpty)
        #expect(rep.exitCodes == [0])
    }

    @Test func verifyFindsAKillActionCallWithoutDying() throws {
        try Self.requireCompiler()
        let p = try Self.policy("SCMP_ACT_KILL_PROCESS", errnoRet: nil, name: "verify-kill")
        let (r, report) = try Self.verify([p, "--json", "--", Self.sysloop, "2", Self.syslog32, "i386"])
        #expect(r.status == 1, "\(r.stderr)")
        let rep = try #require(report)
        #expect(rep.exitCodes == [0], "the workload was not killed")
        #expect(rep.missing == [SeccompViolation(name: "syslog", arch: "SCMP_ARCH_X86", number: 103, count: 2,
                                                 action: "SCMP_ACT_KILL_PROCESS", executable: Self.sysloop)], "\(rep.missing)")
    }
}
