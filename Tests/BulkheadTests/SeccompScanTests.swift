import BulkheadConfig
import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead seccomp scan` on a program built here with clang: the direct syscall with a
/// constant, the libc imports, the library closure, a malformed copy, `--merge` and `--arch`.
@Suite(.serialized) struct SeccompScanTests {
    static let work: String = {
        let dir = "/var/tmp/bulkhead-scan-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return dir
    }()

    static func sh(_ script: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// The tiny program: getcpu (309) by a direct `syscall` with the number in eax, getrusage and
    /// fopen through libc.
    static let program: String? = {
        let src = work + "/tiny.c", exe = work + "/tiny"
        try? """
        #include <stdio.h>
        #include <sys/resource.h>
        int main(void) {
            long r;
            __asm__ volatile ("mov $309, %%eax\\n\\tsyscall" : "=a"(r) : : "rcx", "r11", "memory");
            struct rusage u;
            getrusage(RUSAGE_SELF, &u);
            FILE *f = fopen("/dev/null", "r");
            if (f) fclose(f);
            return 0;
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        for cc in ["clang", "cc"] where (try? sh("\(cc) -O1 -o \(exe) \(src) 2>/dev/null")) == 0 { return exe }
        return nil
    }()

    static func report(_ r: Bulkhead.Result) throws -> [String: String] {
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stderr)")
        let calls = try #require(obj["calls"] as? [[String: Any]])
        var out: [String: String] = [:]
        for c in calls { if let n = c["name"] as? String, let s = c["source"] as? String { out[n] = s } }
        return out
    }

    @Test func findsTheTinyProgramsCalls() throws {
        let exe = try #require(Self.program, "needs a C compiler (clang or cc)")
        let r = try Bulkhead.run(["seccomp", "scan", "--json", exe])
        #expect(r.status == 0, "\(r.stderr)")
        let calls = try Self.report(r)
        #expect(calls["getcpu"] == "scanned", "the direct syscall with 309 in eax")
        #expect(calls["getrusage"] == "scanned", "libc's getrusage")
        #expect(calls["openat"] == "scanned", "libc's fopen")
        #expect(calls["mount"] == nil)
        #expect(r.stderr.contains("libc table: glibc 2.36"))
        // The profile itself: allows what was found, with the safety set.
        let p = try Bulkhead.run(["seccomp", "scan", exe])
        #expect(p.status == 0)
        let policy = try SeccompPolicyParser.parse(text: p.stdout, file: "scan", context: SeccompContext())
        let allowed = Set(policy.rules.filter { $0.action == .allow }.flatMap(\.names))
        #expect(allowed.isSuperset(of: ["getcpu", "getrusage", "openat", "execve", "exit_group"]))
        #expect(!allowed.contains("mount"))
    }

    /// A static executable has no libraries and no imports: libc's calls are direct sites.
    @Test func scansAStaticExecutable() throws {
        _ = try #require(Self.program, "needs a C compiler (clang or cc)")
        let exe = Self.work + "/tiny-static"
        let built = try ["clang", "cc"].contains { cc in try Self.sh("\(cc) -O1 -static -o \(exe) \(Self.work)/tiny.c 2>/dev/null") == 0 }
        try #require(built, "needs a static libc (libc6-dev)")
        let r = try Bulkhead.run(["seccomp", "scan", "--json", exe])
        #expect(r.status == 0, "\(r.stderr)")
        let calls = try Self.report(r)
        for n in ["getcpu", "getrusage", "openat", "exit_group", "brk"] { #expect(calls[n] == "scanned", "\(n)") }
        #expect(r.stderr.contains("# scanned 1 files"))
    }

    @Test func mergeMarksSeenScannedAndBoth() throws {
        let exe = try #require(Self.program, "needs a C compiler (clang or cc)")
        let seen = Self.work + "/seen.json"
        try """
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getrusage", "mount"], "action": "SCMP_ACT_ALLOW"}]}
        """.write(toFile: seen, atomically: true, encoding: .utf8)
        let r = try Bulkhead.run(["seccomp", "scan", "--json", "--merge", seen, exe])
        #expect(r.status == 0, "\(r.stderr)")
        let calls = try Self.report(r)
        #expect(calls["getrusage"] == "both")
        #expect(calls["mount"] == "seen")
        #expect(calls["getcpu"] == "scanned")
        #expect(r.stderr.contains("seen only"))
    }

    @Test func malformedFilesAreRefusedCleanly() throws {
        let exe = try #require(Self.program, "needs a C compiler (clang or cc)")
        let bytes = try #require(FileManager.default.contents(atPath: exe))
        for (i, cut) in [Data(bytes.prefix(100)), Data(bytes.prefix(bytes.count / 2)), Data("#!/bin/sh\necho SECRETMARKER\n".utf8)].enumerated() {
            let bad = Self.work + "/bad\(i)"
            FileManager.default.createFile(atPath: bad, contents: cut, attributes: [.posixPermissions: 0o644])
            let r = try Bulkhead.run(["seccomp", "scan", bad])
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("cannot scan \(bad): not a usable ELF file"), "\(r.stderr)")
            #expect(!r.stderr.contains("SECRETMARKER"))
        }
        let missing = try Bulkhead.run(["seccomp", "scan", Self.work + "/nonexistent"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("ENOENT"), "\(missing.stderr)")
    }

    /// Root reads the files through TrustedFile: a file of another user, and a link another
    /// user owns, are refused before a byte is read.
    @Test(.enabled(if: getuid() == 0, "needs root to give files to another uid"))
    func refusesFilesAndLinksOfOtherUsers() throws {
        let exe = try #require(Self.program, "needs a C compiler (clang or cc)")
        let theirs = Self.work + "/theirs", link = Self.work + "/their-link"
        try? FileManager.default.removeItem(atPath: theirs)
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.copyItem(atPath: exe, toPath: theirs)
        #expect(chown(theirs, 65534, 65534) == 0)
        let r1 = try Bulkhead.run(["seccomp", "scan", theirs])
        #expect(r1.status == 1)
        #expect(r1.stderr.contains("cannot scan \(theirs)") && r1.stderr.contains("65534"), "\(r1.stderr)")
        #expect(symlink(exe, link) == 0)
        #expect(lchown(link, 65534, 65534) == 0)
        let r2 = try Bulkhead.run(["seccomp", "scan", link])
        #expect(r2.status == 1)
        #expect(r2.stderr.contains("symbolic link owned by uid 65534"), "\(r2.stderr)")
        // The same link owned by root is followed.
        #expect(lchown(link, 0, 0) == 0)
        #expect(try Bulkhead.run(["seccomp", "scan", link]).status == 0)
    }

    @Test func followsTheLibraryClosure() throws {
        // /bin/ls needs libselinux, which needs libpcre2; libc comes from the table.
        let r = try Bulkhead.run(["seccomp", "scan", "--json", "/bin/ls"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let files = try #require(obj["files"] as? [[String: Any]]).compactMap { $0["path"] as? String }
        #expect(files.first == "/bin/ls")
        #expect(files.contains { $0.hasSuffix("/libc.so.6") })
        #expect(files.contains { $0.hasSuffix("/libselinux.so.1") })
        #expect(files.contains { $0.hasSuffix("ld-linux-x86-64.so.2") })
        #expect((obj["missingLibraries"] as? [String]) == [])
    }

    @Test func archWritesOneProfileForAMixedCluster() throws {
        let exe = try #require(Self.program, "needs a C compiler (clang or cc)")
        let r = try Bulkhead.run(["seccomp", "scan", "--arch", "aarch64,x86_64", exe])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"SCMP_ARCH_AARCH64\""))
        #expect(r.stdout.contains("\"SCMP_ARCH_X86_64\""))
        #expect(r.stderr.contains("# architectures: SCMP_ARCH_AARCH64, SCMP_ARCH_X86_64"))
        let bad = try Bulkhead.run(["seccomp", "scan", "--arch", "sparc", exe])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("unknown architecture \"sparc\""))
    }
}
