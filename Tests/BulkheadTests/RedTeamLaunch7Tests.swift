import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of the issue-17 launch path (session 7): what root does with a cache directory
/// named by the caller's environment (`sudo -E`); foreign system-call ABIs in a real launch; the
/// fds of the cgroup v1 join.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamLaunch7Tests {
    static let entry = SeccompCache.Entry(program: [UInt8](repeating: 6, count: 8), defaultAction: "SCMP_ACT_ERRNO", rules: 1)

    /// A root-owned 0700 cache directory holding one valid root-owned entry `k`, as an earlier
    /// root launch left it.
    static func plantRootCache(_ dir: String) throws {
        try #require(mkdir(dir, 0o700) == 0, "mkdir \(dir)")
        chmod(dir, 0o700)
        let bytes = Array("BHSECCOMP1 \(entry.defaultAction) \(entry.rules)\n".utf8) + entry.program
        try #require(FileManager.default.createFile(atPath: dir + "/k", contents: Data(bytes), attributes: [.posixPermissions: 0o600]))
    }

    static let user: uid_t = 65534

    /// A root scratch directory (0755) holding `alice`, a directory of uid 65534 (think $HOME
    /// under `sudo -E`: she can rename what is in it). The caller removes it.
    static func scratchWithUserDirectory() throws -> String {
        let base = "/tmp/bh-rtl7-\(token())"
        try #require(mkdir(base, 0o755) == 0)
        chmod(base, 0o755)
        try #require(mkdir(base + "/alice", 0o755) == 0 && chown(base + "/alice", user, user) == 0)
        return base
    }

    @Test("Root never loads or stores a seccomp cache under a directory another user controls, whatever $BULKHEAD_SECCOMP_CACHE, $XDG_CACHE_HOME or $HOME say")
    func rootCacheNotInUserDirectory() throws {
        let base = try Self.scratchWithUserDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }

        // 1. The directory does not exist yet: root must not make it there and store.
        let fresh = base + "/alice/cache"
        let c1 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": fresh]))
        c1.store(key: "k", Self.entry)
        #expect(access(fresh, F_OK) != 0, "root made and used \(fresh) inside a directory uid \(Self.user) owns")
        // And the launch says why it compiles every time (the report's cacheUnavailable, a warning).
        #expect(c1.unavailable?.contains("owned by uid \(Self.user)") == true, "\(String(describing: c1.unavailable))")

        // 2. A root-owned cache directory already there (alice can swap it for a symlink or
        // another directory at any time): nothing is loaded from it.
        let old = base + "/alice/old"
        try Self.plantRootCache(old)
        let c2 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": old]))
        #expect(c2.load(key: "k") == nil, "root loaded a seccomp program from \(old), in a directory uid \(Self.user) owns")

        // 3. A user's symbolic link on the way to a root-owned directory.
        try #require(mkdir(base + "/real", 0o755) == 0)
        try Self.plantRootCache(base + "/real/cache")
        try #require(symlink(base + "/real", base + "/link") == 0 && lchown(base + "/link", Self.user, Self.user) == 0)
        let c3 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": base + "/link/cache"]))
        #expect(c3.load(key: "k") == nil, "root followed uid \(Self.user)'s symbolic link to a cache")

        // 4. A user's $XDG_CACHE_HOME and $HOME are not root's: /var/cache/bulkhead.
        let c5 = SeccompCache.standard(environment: ["XDG_CACHE_HOME": base + "/alice", "HOME": base + "/alice"])
        #expect(c5?.directory == "/var/cache/bulkhead/seccomp", "\(String(describing: c5?.directory))")

        // 5. The same directory reached through root's own path is used (the test can fail).
        let c4 = SeccompCache(directory: base + "/real/cache")
        #expect(c4.load(key: "k") == Self.entry)
    }

    @Test("Root never loads or stores a parsed profile layer under a directory another user controls ($BULKHEAD_PROFILE_CACHE under sudo -E)")
    func rootProfileCacheNotInUserDirectory() throws {
        let base = try Self.scratchWithUserDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let text = EmbeddedProfiles.files.first { $0.path == "container.yaml" }!.text
        let file = "/etc/bulkhead/profiles/container.yaml"
        let key = ProfileLayerCache.key(text: text, file: file)

        // 1. Not made nor written inside alice's directory.
        let fresh = base + "/alice/cache"
        let c1 = try #require(ProfileLayerCache.standard(environment: ["BULKHEAD_PROFILE_CACHE": fresh]))
        _ = try c1.parse(text, file: file)
        #expect(access(fresh, F_OK) != 0, "root made and used \(fresh) inside a directory uid \(Self.user) owns")

        // 2. A root-owned 0700 directory with a good entry, inside alice's directory (she can swap
        // it at any time): not read. Made through root's own path, then moved there.
        try #require(mkdir(base + "/real", 0o755) == 0)
        let good = ProfileLayerCache(directory: base + "/real/cache")
        _ = try good.parse(text, file: file)
        #expect(good.lookup(key: key).isSuccess, "the entry is good through root's own path (the test can fail)")
        try #require(rename(base + "/real/cache", base + "/alice/old") == 0)
        let c2 = try #require(ProfileLayerCache.standard(environment: ["BULKHEAD_PROFILE_CACHE": base + "/alice/old"]))
        #expect(c2.lookup(key: key) == .failure(.directoryNotPrivate), "root read a layer from a directory uid \(Self.user) owns")

        // 3. alice's symbolic link on the way.
        try #require(rename(base + "/alice/old", base + "/real/cache") == 0)
        try #require(symlink(base + "/real", base + "/link") == 0 && lchown(base + "/link", Self.user, Self.user) == 0)
        let c3 = ProfileLayerCache(directory: base + "/link/cache")
        #expect(c3.lookup(key: key) == .failure(.directoryNotPrivate), "root followed uid \(Self.user)'s symbolic link to a cache")
    }

    /// Every foreign ABI a workload can reach on x86_64 (int 0x80 as i386; x32's bit through
    /// `syscall`; sysenter and a 32-bit-mode `syscall` enter the kernel as i386 too, so the
    /// filter sees them as int 0x80) under a real launch of the default profile, with the
    /// launcher's listener in place (report mode rewrites the refusing RETs), and under a copy
    /// of bulkhead's policy read from a user's file: refused with the policy's EPERM, never run.
    @Test("A real launch refuses i386 (int 0x80) and x32 calls under bulkhead's policy, its listener answering, and under a copy of it",
          arguments: ["default", "copy"])
    func foreignABIsRefusedInARealLaunch(_ how: String) throws {
        try SeccompViolationTests.requireCompiler()
        try #require(SeccompCompiler.nativeArchitecture == .x86_64, "x86_64 only")
        var args = ["run"]
        var copyToRemove: String?
        defer { if let c = copyToRemove { unlink(c) } }
        if how == "copy" {
            let copy = SeccompConsumerTests.work + "/rtl7-container-copy.json"
            try String(contentsOfFile: Bulkhead.packageRoot + "/Profiles/seccomp/container.json", encoding: .utf8)
                .write(toFile: copy, atomically: true, encoding: .utf8)
            chmod(copy, 0o644)
            args += ["--seccomp", copy]
            copyToRemove = copy
        }
        // getppid: allowed natively (64 on i386, 110 on x86_64); x32 getppid is 0x40000000 | 110.
        let x32 = 0x4000_0000 | 110
        let r = try Bulkhead.run(args + ["--", "/bin/sh", "-c",
                                         "\(SeccompViolationTests.sysloop) 1 110; \(SeccompViolationTests.sysloop) 2 64 i386; \(SeccompViolationTests.sysloop) 2 \(x32)"],
                                 report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let results = SeccompViolationTests.results(r.stderr)
        #expect(results.count == 5, "\(r.stderr)")
        // The native getppid runs (a pid, no error); every foreign call gets EPERM.
        #expect(results.first?.hasSuffix(" 0") == true, "\(results)")
        #expect(Array(results.dropFirst()) == Array(repeating: "-1 1", count: 4), "\(results)")
        let report = try #require(r.report)
        #expect(report.controls.seccomp?.bpfInstructions ?? 10_000 < 1000, "the native-only filter: \(String(describing: report.controls.seccomp))")
    }

    /// The cgroup v1 `tasks` files now travel after clone3 over the init's sync channel, a unix
    /// socket: none of them, and not the socket, is open in the workload (its fds are 0-2 and
    /// the directory it lists), on a launch whose limits are enforced through v1 leaves.
    @Test("No cgroup v1 tasks file and no end of the sync channel reaches the workload")
    func noJoinFileOrChannelInTheWorkload() throws {
        try SeccompViolationTests.requireCompiler()
        let r = try Bulkhead.run(["run", "--", SeccompViolationTests.sysloop, "fds"], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(r.report)
        let v1 = (report.limits?.enforced ?? []).filter { $0.driver == .v1 }
        try #require(!v1.isEmpty, "this launch joins v1 leaves (a host with cgroup v1 hierarchies): \(String(describing: report.limits))")
        let fds = r.stderr.split(separator: "\n").filter { $0.hasPrefix("fd ") }.map { $0.split(separator: " ", maxSplits: 2).map(String.init) }
        #expect(fds.count == 4, "\(r.stderr)")
        for f in fds where f.count == 3 {
            #expect(["0", "1", "2"].contains(f[1]) || f[2].hasPrefix("/proc/"), "fd \(f[1]) -> \(f[2]) in the workload")
            #expect(!f[2].contains("tasks") && !f[2].hasPrefix("socket:") && !f[2].contains("cgroup"), "fd \(f[1]) -> \(f[2]) in the workload")
        }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true }; return false }
}
