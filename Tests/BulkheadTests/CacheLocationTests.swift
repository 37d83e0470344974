import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Issue 17, "Rootless launches": every cache's directory comes from `CacheLocation.directory`,
/// which works for every user and refuses a directory someone else controls.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct CacheLocationTests {
    /// A scratch base (root's, 0755, like /var/tmp is reachable) removed afterwards.
    static func scratch() throws -> String {
        let dir = "/tmp/bh-cacheloc-\(token())"
        try #require(mkdir(dir, 0o755) == 0)
        chmod(dir, 0o755)
        return dir
    }
    static func makeDir(_ path: String, owner: uid_t, mode: mode_t) throws {
        try #require(mkdir(path, mode) == 0 || errno == EEXIST, "mkdir \(path)")
        try #require(chown(path, owner, owner) == 0 && chmod(path, mode) == 0, "chown/chmod \(path)")
    }

    @Test("The first usable of $XDG_CACHE_HOME, $XDG_RUNTIME_DIR, then the per-uid directory; each refusal is named")
    func order() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let uid: uid_t = 65534
        for d in ["xdg", "run", "var"] { try Self.makeDir(base + "/" + d, owner: uid, mode: 0o700) }
        // Nothing made yet for uid 65534 (this process is root: it checks, it does not create).
        let none = CacheLocation.directory("t", uid: uid, environment: ["XDG_CACHE_HOME": base + "/xdg", "XDG_RUNTIME_DIR": base + "/run"],
                                           perUIDBase: base + "/var")
        #expect(none.directory == nil && none.refused.count == 3, "\(none)")
        #expect(none.problem?.contains("$XDG_CACHE_HOME") == true && none.problem?.contains("per-uid") == true, "\(String(describing: none.problem))")
        // The per-uid directory, made as its owner would make it.
        try Self.makeDir(base + "/var/bulkhead-cache-65534", owner: uid, mode: 0o700)
        try Self.makeDir(base + "/var/bulkhead-cache-65534/t", owner: uid, mode: 0o700)
        let perUID = CacheLocation.directory("t", uid: uid, environment: [:], perUIDBase: base + "/var")
        #expect(perUID.directory == base + "/var/bulkhead-cache-65534/t", "\(perUID)")
        // $XDG_RUNTIME_DIR before it, $XDG_CACHE_HOME before both.
        try Self.makeDir(base + "/run/bulkhead", owner: uid, mode: 0o700)
        try Self.makeDir(base + "/run/bulkhead/t", owner: uid, mode: 0o700)
        let env = ["XDG_CACHE_HOME": base + "/xdg", "XDG_RUNTIME_DIR": base + "/run"]
        #expect(CacheLocation.directory("t", uid: uid, environment: env, perUIDBase: base + "/var").directory == base + "/run/bulkhead/t")
        try Self.makeDir(base + "/xdg/bulkhead", owner: uid, mode: 0o755)  // an older bulkhead's 0755 parent is fine
        try Self.makeDir(base + "/xdg/bulkhead/t", owner: uid, mode: 0o700)
        #expect(CacheLocation.directory("t", uid: uid, environment: env, perUIDBase: base + "/var").directory == base + "/xdg/bulkhead/t")
        // Root's is /var/cache/bulkhead/<name>, whatever the environment says.
        #expect(CacheLocation.directory("seccomp", uid: 0, environment: env).directory == "/var/cache/bulkhead/seccomp")
    }

    @Test("Refused, not used: a per-uid directory planted by another user, a symlink, a wider mode",
          arguments: ["planted", "symlink", "mode", "group-writable-parent"])
    func refused(_ attack: String) throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let uid: uid_t = 65534
        let dir = base + "/bulkhead-cache-65534"
        switch attack {
        case "planted":
            try Self.makeDir(dir, owner: 1000, mode: 0o700)
            try Self.makeDir(dir + "/t", owner: uid, mode: 0o700)
        case "symlink":
            try Self.makeDir(base + "/elsewhere", owner: uid, mode: 0o700)
            try Self.makeDir(base + "/elsewhere/t", owner: uid, mode: 0o700)
            try #require(symlink(base + "/elsewhere", dir) == 0)
            _ = lchown(dir, uid, uid)
        case "mode":
            try Self.makeDir(dir, owner: uid, mode: 0o755)
            try Self.makeDir(dir + "/t", owner: uid, mode: 0o700)
        default:
            // $XDG_CACHE_HOME/bulkhead writable by the group: another member could swap the cache.
            try Self.makeDir(base + "/xdg", owner: uid, mode: 0o700)
            try Self.makeDir(base + "/xdg/bulkhead", owner: uid, mode: 0o775)
            try Self.makeDir(base + "/xdg/bulkhead/t", owner: uid, mode: 0o700)
        }
        let r = CacheLocation.directory("t", uid: uid, environment: ["XDG_CACHE_HOME": base + "/xdg"], perUIDBase: base)
        #expect(r.directory == nil, "\(attack): \(r)")
        let why = r.problem ?? ""
        switch attack {
        case "planted": #expect(why.contains("belongs to uid 1000"), "\(why)")
        case "symlink": #expect(why.contains("symbolic link"), "\(why)")
        case "mode": #expect(why.contains("mode 755"), "\(why)")
        default: #expect(why.contains("mode 775"), "\(why)")
        }
    }

    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]

    @Test("As nobody with HOME=/nonexistent, the second launch loads the filter from the per-uid cache")
    func nobodyHitsTheCache() throws {
        let env = ["HOME": "/nonexistent", "XDG_CACHE_HOME": "", "XDG_RUNTIME_DIR": "", "BULKHEAD_SECCOMP_CACHE": ""]
        let first = try Bulkhead.run(["run", "--limits", "best-effort", "--", "/bin/true"], report: true, env: env, prefix: Self.nobody)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.report?.controls.seccomp?.cacheUnavailable == nil, "\(String(describing: first.report?.controls.seccomp))")
        let second = try Bulkhead.run(["run", "--limits", "best-effort", "--", "/bin/true"], report: true, env: env, prefix: Self.nobody)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.report?.controls.seccomp?.cached == true, "the second launch hits the cache: \(String(describing: second.report?.controls.seccomp))")
        var st = stat()
        #expect(lstat("/var/tmp/bulkhead-cache-65534", &st) == 0 && st.st_uid == 65534 && st.st_mode & 0o777 == 0o700)
    }

    @Test("The warning's fix is one the caller can apply: root reads no XDG_CACHE_HOME, only /var/cache/bulkhead")
    func fixNamesWhatTheCallerReads() {
        let root = CacheLocation.fix("seccomp", uid: 0, variable: "BULKHEAD_SECCOMP_CACHE")
        #expect(!root.contains("XDG") && root.contains("/var/cache/bulkhead/seccomp") && root.contains("BULKHEAD_SECCOMP_CACHE"), "\(root)")
        let user = CacheLocation.fix("seccomp", uid: 1000)
        #expect(user == "set XDG_CACHE_HOME to a directory of your own", "\(user)")
    }

    @Test("When no location works the launch still runs, and the report and a warning say why")
    func noLocationIsSaid() throws {
        // uid 65533: its per-uid directory is planted by root before its first launch.
        let planted = "/var/tmp/bulkhead-cache-65533"
        try #require(mkdir(planted, 0o700) == 0 || errno == EEXIST)
        try #require(chown(planted, 0, 0) == 0)
        defer { rmdir(planted + "/seccomp"); rmdir(planted) }
        let prefix = ["/usr/bin/setpriv", "--reuid=65533", "--regid=65533", "--clear-groups", "--inh-caps=-all"]
        let env = ["HOME": "/nonexistent", "XDG_CACHE_HOME": "", "XDG_RUNTIME_DIR": "", "BULKHEAD_SECCOMP_CACHE": ""]
        let r = try Bulkhead.run(["run", "--limits", "best-effort", "--", "/bin/true"], report: true, env: env, prefix: prefix)
        #expect(r.status == 0, "the launch runs: \(r.stderr)")
        let why = r.report?.controls.seccomp?.cacheUnavailable ?? ""
        #expect(why.contains(planted) && why.contains("belongs to uid 0"), "the report says why: \(why)")
        #expect(r.stderr.contains("compiled at every launch"), "and a warning: \(r.stderr)")
        #expect(r.stderr.contains("set XDG_CACHE_HOME to a directory of your own"), "a fix this user can apply: \(r.stderr)")
        #expect(r.report?.controls.seccomp?.cached == false)
    }
}
