import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of the issue-17 launch path (session 7): what root does with a cache directory
/// named by the caller's environment (`sudo -E`).
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

    @Test("Root never loads or stores a seccomp cache under a directory another user controls, whatever $BULKHEAD_SECCOMP_CACHE, $XDG_CACHE_HOME or $HOME say")
    func rootCacheNotInUserDirectory() throws {
        let base = "/tmp/bh-rtl7-\(token())"
        try #require(mkdir(base, 0o755) == 0)
        chmod(base, 0o755)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let user: uid_t = 65534
        // A user's directory (think $HOME under `sudo -E`): alice can rename what is in it.
        try #require(mkdir(base + "/alice", 0o755) == 0 && chown(base + "/alice", user, user) == 0)

        // 1. The directory does not exist yet: root must not make it there and store.
        let fresh = base + "/alice/cache"
        let c1 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": fresh]))
        c1.store(key: "k", Self.entry)
        #expect(access(fresh, F_OK) != 0, "root made and used \(fresh) inside a directory uid \(user) owns")
        // And the launch says why it compiles every time (the report's cacheUnavailable, a warning).
        #expect(c1.unavailable?.contains("owned by uid \(user)") == true, "\(String(describing: c1.unavailable))")

        // 2. A root-owned cache directory already there (alice can swap it for a symlink or
        // another directory at any time): nothing is loaded from it.
        let old = base + "/alice/old"
        try Self.plantRootCache(old)
        let c2 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": old]))
        #expect(c2.load(key: "k") == nil, "root loaded a seccomp program from \(old), in a directory uid \(user) owns")

        // 3. A user's symbolic link on the way to a root-owned directory.
        try #require(mkdir(base + "/real", 0o755) == 0)
        try Self.plantRootCache(base + "/real/cache")
        try #require(symlink(base + "/real", base + "/link") == 0 && lchown(base + "/link", user, user) == 0)
        let c3 = try #require(SeccompCache.standard(environment: ["BULKHEAD_SECCOMP_CACHE": base + "/link/cache"]))
        #expect(c3.load(key: "k") == nil, "root followed uid \(user)'s symbolic link to a cache")

        // 4. A user's $XDG_CACHE_HOME and $HOME are not root's: /var/cache/bulkhead.
        let c5 = SeccompCache.standard(environment: ["XDG_CACHE_HOME": base + "/alice", "HOME": base + "/alice"])
        #expect(c5?.directory == "/var/cache/bulkhead/seccomp", "\(String(describing: c5?.directory))")

        // 5. The same directory reached through root's own path is used (the test can fail).
        let c4 = SeccompCache(directory: base + "/real/cache")
        #expect(c4.load(key: "k") == Self.entry)
    }
}
