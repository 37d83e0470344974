@testable import Bulkhead
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 12, the merged result attacked as a whole: what falls between the pieces.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamFinalTests {
    /// The state of `pid` from /proc/PID/stat ("R", "S", "T", "t"...), nil when it is gone.
    static func state(_ pid: Int32) -> String? {
        guard let s = FileIO.read("/proc/\(pid)/stat"), let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].split(separator: " ").first.map(String.init)
    }

    /// `bulkhead ARGS` under strace, stopped (SIGSTOP, injected by strace) at its first
    /// `syscall` touching `path`: a deterministic window between two steps of the launcher.
    /// `held` runs while it is stopped; then it continues and its result is returned.
    static func held(at syscall: String, path: String, _ args: [String], while held: () throws -> Void) throws -> Bulkhead.Result {
        let strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        strace.arguments = ["-o", "/dev/null", "-P", path, "-e", "trace=\(syscall)",
                            "-e", "inject=\(syscall):signal=SIGSTOP:when=1", "--", Bulkhead.binary] + args
        strace.environment = ["BULKHEAD_PROFILE_PATH": Bulkhead.packageRoot + "/Profiles", "PATH": "/usr/bin:/bin"]
        strace.currentDirectoryURL = URL(fileURLWithPath: "/")
        let out = Pipe(), err = Pipe()
        strace.standardOutput = out
        strace.standardError = err
        strace.standardInput = FileHandle.nullDevice
        try strace.run()
        defer { if strace.isRunning { kill(strace.processIdentifier, SIGKILL) } }
        var launcher: Int32?
        for _ in 0..<600 where launcher == nil {
            let children = FileIO.read("/proc/\(strace.processIdentifier)/task/\(strace.processIdentifier)/children") ?? ""
            if let pid = children.split(separator: " ").first.flatMap({ Int32($0) }),
               let s = state(pid), s == "t" || s == "T" { launcher = pid } else { usleep(50_000) }
        }
        let pid = try #require(launcher, "the launcher never reached \(syscall) on \(path)")
        do { try held() } catch { kill(pid, SIGCONT); throw error }
        kill(pid, SIGCONT)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        strace.waitUntilExit()
        return Bulkhead.Result(status: strace.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                               stderr: String(decoding: e, as: UTF8.self), report: nil)
    }

    static func asNobody(_ script: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", script]
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test("A bind source a local user owns cannot be swapped for a link between its check and the init's bind")
    func bindSourceSwappedForALinkAfterItsCheck() throws {
        // resolveBindSource walks the source's directories through TrustedFile, but the source
        // itself "may belong to anyone", and the init binds it by path (open_tree without
        // AT_SYMLINK_NOFOLLOW). Its owner may replace it, in sticky /tmp, after the check: root
        // then binds the directory the owner's link names (here the host's /etc, read-write),
        // "a host directory of their choosing", which the walk was there to prevent.
        let dir = "/tmp/bh-redfinal-bind-\(token())"
        let made = try Self.asNobody("mkdir \(dir)")
        #expect(made == 0)
        defer { unlink(dir); rmdir(dir) }
        // Held after the binds were resolved, at its first read under /etc (/etc/subuid).
        let r = try Self.held(at: "openat", path: "/etc", ["run", "--bind", "\(dir):/mnt", "--", "sh", "-c", "cat /mnt/passwd; ls /mnt | head -3"]) {
            let swapped = try Self.asNobody("rmdir \(dir) && ln -s ../etc \(dir)")
            #expect(swapped == 0)
        }
        #expect(!r.stdout.contains("root:x:0:0"), "nobody's link made root bind the host's /etc: \(r.stdout.prefix(300))")
    }

    @Test("A tenant's range cannot overlap a running pod's when the two launches interleave (the check and info.json are not one step)")
    func rangeCheckRacesTheRunningPodsInfo() throws {
        // PodLoader checks a tenant's range against PodRunner.list() (the info.json of running
        // pods), with no lock; the pod's own info.json is written later, in PodRunner.run. Tenant
        // B's launcher, past its check and before its pod directory (held there by strace's
        // SIGSTOP at its first mkdir under /run/bulkhead), lets tenant A's pod start on an
        // overlapping range; then both run: B's ids are A's host ids (B's uid 1 is host uid
        // START, A's root: its processes, volumes, token).
        let start = UInt32(3_700_000_000) + UInt32.random(in: 0..<1000) * 131_072
        let t = token()
        let (na, nb) = ("rfa-\(t)", "rfb-\(t)")
        let dir = NSTemporaryDirectory() + "bh-redfinal-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(RedTeamPodTests.tenant(nb, range: "\(start - 1):65536")
                                               + RedTeamPodTests.pod("b", namespace: nb, "cat /proc/self/uid_map"), into: dir)
        var a: BackgroundRunPod?
        defer { if let a { _ = try? PodNetworkTests.stop("a", namespace: na, a) } }
        // B's launcher, held past its admission at its first mkdir under /run/bulkhead, while A starts.
        let r = try Self.held(at: "mkdir", path: "/run/bulkhead", ["pod", "run"] + files) {
            a = BackgroundRunPod(yaml: RedTeamPodTests.tenant(na, range: "\(start):65536") + RedTeamPodTests.pod("a", namespace: na, "sleep 30"))
            var running = false
            for _ in 0..<300 where !running {
                running = PodRunner.list().contains { $0.namespace == na && $0.hostIDRange?.hostStart == start }
                if !running { usleep(50_000) }
            }
            #expect(running, "tenant \(na)'s pod never ran")
        }
        let (stdout, stderr) = (r.stdout, r.stderr)
        let overlaps = stdout.split(separator: "\n").contains { line in
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            return f.count == 3 && f[1] < UInt64(start) + 65536 && UInt64(start) < f[1] + f[2]
        }
        #expect(!overlaps, "tenant \(nb)'s pod ran on host ids of tenant \(na)'s running pod (\(start):65536): \(stdout) \(stderr.suffix(300))")
        #expect(overlaps || stderr.contains("hostIDRange") || stderr.contains("\(start)"), "\(stderr.suffix(400))")
    }
}

/// Ids /etc/subuid and /etc/subgid delegate to local users (newuidmap(1), newgidmap(1)).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamFinalSubordinateTests {
    @Test("A tenant's or profile's range cannot be ids /etc/subuid and /etc/subgid give a local user")
    func rangeDelegatedToALocalUser() throws {
        // useradd gives every new user 65,536 subordinate ids (100000:65536, 165536:65536, ...),
        // and newuidmap/newgidmap let that user run processes under them: a pod on such a range
        // runs as host ids that user also holds (kill and ptrace its processes, its pod
        // directory's group, its volumes and token). Only /etc/subuid's "bulkhead:" line was
        // looked at; other users' lines were not.
        let start = UInt32(1_500_000_000) + UInt32.random(in: 0..<1000) * 65536
        var saved: [String: String?] = [:]
        for f in [SubordinateIDs.subuidPath, SubordinateIDs.subgidPath] {
            saved[f] = FileIO.read(f)
            try ((FileIO.read(f) ?? "") + "nobody:\(start):65536\n").write(toFile: f, atomically: true, encoding: .utf8)
            chmod(f, 0o644)
        }
        defer {
            for (f, text) in saved {
                if let text { try? text.write(toFile: f, atomically: true, encoding: .utf8); chmod(f, 0o644) } else { unlink(f) }
            }
        }
        let t = token()
        let dir = NSTemporaryDirectory() + "bh-redfinal-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try PodManifestFiles.write(RedTeamPodTests.tenant("rfs-\(t)", range: "\(start):65536")
                                               + RedTeamPodTests.pod("p", namespace: "rfs-\(t)", "cat /proc/self/uid_map"), into: dir)
        let pod = try Bulkhead.run(["pod", "run"] + files)
        #expect(pod.status != 0 && !pod.stdout.contains("\(start)"), "the pod ran on nobody's subordinate ids: \(pod.stdout)")
        #expect(pod.stderr.contains("/etc/subuid"), "\(pod.stderr.suffix(300))")
        let profile = dir + "/p.yaml"
        try "extends: container\nuserNamespace:\n  hostIDRange: \"\(start):65536\"\n".write(toFile: profile, atomically: true, encoding: .utf8)
        let run = try Bulkhead.sh("cat /proc/self/uid_map", ["--profile", profile])
        #expect(run.status == 125 && !run.stdout.contains("\(start)"), "the sandbox ran on nobody's subordinate ids: \(run.stdout)")
        #expect(run.stderr.contains("/etc/subuid"), "\(run.stderr.suffix(300))")
    }
}
