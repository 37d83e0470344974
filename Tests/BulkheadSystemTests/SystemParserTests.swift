import Testing
import BulkheadModel
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The system layer's pure parsers and checks that CgroupParserTests and NetworkModelTests do
/// not cover: malformed /proc lines, the zombie test of /proc/PID/stat, the owner and mode rule
/// of `TrustedFile`, the seccomp cache's key.
@Suite("system parsers")
struct SystemParserTests {
    @Test func procCgroupSkipsMalformedLines() {
        let entries = ProcCgroupEntry.parse("garbage\nx:cpu:/a\n4:memory\n\n2:pids:/p\n")
        #expect(entries == [ProcCgroupEntry(hierarchyID: 2, controllers: ["pids"], path: "/p")])
    }

    @Test func mountinfoSkipsMalformedLines() {
        let text = """
            22 27 0:21 / /proc rw - proc proc rw
            no separator here at all x y z
            1 2 3 4 - cgroup2 cgroup2 rw
            31 23 0:28 / /sys/fs/cgroup rw,relatime - cgroup2

            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:1 master:2 - cgroup2 cgroup2 rw,nsdelegate

            """
        let entries = MountInfoEntry.parse(text)
        #expect(entries.map(\.mountPoint) == ["/proc", "/sys/fs/cgroup/unified"], "\(entries)")
        #expect(entries.last?.superOptions == ["rw", "nsdelegate"], "optional fields before ' - ' are skipped")
        #expect(entries.last?.v1Controllers == [], "a cgroup2 mount carries no v1 controllers")
    }

    @Test func v1ControllersDropGenericOptions() {
        let m = MountInfoEntry(root: "/", mountPoint: "/sys/fs/cgroup/cpu,cpuacct", fileSystemType: "cgroup",
                               superOptions: ["rw", "cpu", "cpuacct", "release_agent=/x", "clone_children", "xattr", "noprefix"])
        #expect(m.v1Controllers == ["cpu", "cpuacct"])
    }

    @Test func mountinfoUnescapeKeepsWhatIsNotAnEscape() {
        #expect(MountInfoEntry.unescape("/a\\040b") == "/a b")
        #expect(MountInfoEntry.unescape("/a\\012b") == "/a\nb")
        #expect(MountInfoEntry.unescape("/a\\09b") == "/a\\09b", "9 is not an octal digit")
        #expect(MountInfoEntry.unescape("/a\\04") == "/a\\04", "too short at the end")
        #expect(MountInfoEntry.unescape("/plain") == "/plain")
    }

    @Test(arguments: [
        ("77 (sleep) S 1 77 77 0 -1 4194560", false), ("77 (sleep) R 1", false), ("77 (sleep) D 1", false),
        ("77 (a) Z (b) Z 1", true), ("77 (x) X 1", true), ("77 (x) Z 1 77", true), ("no parenthesis Z", false),
        ("77 (x)", false), ("77 (é́) Z 1", true), ("77 (a) Z b) R 1", false), ("77 (x)  X 1", true),
    ])
    func procStatHasExited(stat: String, exited: Bool) {
        #expect(ProcStat.hasExited(fromStat: stat) == exited)
    }

    @Test func procStatOfThisProcess() throws {
        // The parser against the kernel's own text: this process runs, and its start time is
        // the same on every read.
        let text = try #require(FileIO.read("/proc/self/stat"))
        #expect(!ProcStat.hasExited(fromStat: text))
        let start = try #require(ProcStat.startTime(fromStat: text))
        #expect(CgroupLeafName.startTime(of: getpid()) == start)
        #expect(CgroupLeafName.isRunning(getpid(), startTime: start))
        #expect(!CgroupLeafName.isRunning(getpid(), startTime: start + 1))
    }

    // MARK: TrustedFile's owner and mode rule

    static func stat(uid: uid_t, mode: mode_t) -> stat {
        var st = Glibc.stat()
        st.st_uid = uid
        st.st_mode = mode
        return st
    }

    @Test func trustedOwnerAndMode() throws {
        let me = getuid()
        // Root's own file, and the caller's: trusted.
        try TrustedFile.checkOwnerAndMode(Self.stat(uid: 0, mode: S_IFREG | 0o644), path: "/p", what: "profile", sticky: false)
        try TrustedFile.checkOwnerAndMode(Self.stat(uid: me, mode: S_IFREG | 0o600), path: "/p", what: "profile", sticky: false)
        // A file of someone else.
        let other: uid_t = me == 12345 ? 12346 : 12345
        do {
            try TrustedFile.checkOwnerAndMode(Self.stat(uid: other, mode: S_IFREG | 0o644), path: "/p", what: "profile", sticky: false)
            Issue.record("uid \(other)'s file was trusted")
        } catch {
            #expect(error.operation.contains("owned by uid \(other) (mode 0644)"), "\(error)")
            #expect(error.hint?.contains("chown root /p") == true)
        }
        // Writable by the group or by others.
        for (mode, who) in [(mode_t(0o664), "its group"), (0o646, "others"), (0o666, "its group")] {
            do {
                try TrustedFile.checkOwnerAndMode(Self.stat(uid: 0, mode: S_IFREG | mode), path: "/p", what: "profile", sticky: false)
                Issue.record("mode \(String(mode, radix: 8)) was trusted")
            } catch {
                #expect(error.operation.contains("writable by \(who)"), "\(error)")
                #expect(error.hint == "chmod go-w /p")
            }
        }
    }

    @Test func trustedStickyDirectory() throws {
        // /tmp: a sticky, world-writable directory may be walked through when the caller allows it…
        try TrustedFile.checkOwnerAndMode(Self.stat(uid: 0, mode: S_IFDIR | S_ISVTX | 0o777), path: "/tmp", what: "d", sticky: true)
        // …but not where sticky directories are not allowed, nor without the sticky bit, nor a
        // sticky regular file.
        let refused: [(mode_t, Bool)] = [(S_IFDIR | S_ISVTX | 0o777, false), (S_IFDIR | 0o777, true), (S_IFREG | S_ISVTX | 0o666, true)]
        for (mode, sticky) in refused {
            #expect(throws: SystemError.self, "mode \(String(mode, radix: 8)) sticky \(sticky)") {
                try TrustedFile.checkOwnerAndMode(Self.stat(uid: 0, mode: mode), path: "/tmp", what: "d", sticky: sticky)
            }
        }
    }

    @Test func fileTypeNames() {
        #expect(TrustedFile.typeName(S_IFREG | 0o644) == "a regular file")
        #expect(TrustedFile.typeName(S_IFLNK | 0o777) == "a symbolic link")
        #expect(TrustedFile.typeName(S_IFIFO) == "a FIFO")
        #expect(TrustedFile.join("/", "etc") == "/etc")
        #expect(TrustedFile.join("/etc", "passwd") == "/etc/passwd")
    }

    // MARK: the seccomp cache's key

    @Test func seccompCacheKey() {
        let k = SeccompCache.key(policyText: "{}", capabilities: ["CAP_A", "CAP_B"], architecture: "x86_64")
        #expect(k.count == 64 && k.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(k)")
        #expect(k == SeccompCache.key(policyText: "{}", capabilities: ["CAP_B", "CAP_A"], architecture: "x86_64"),
                "the capabilities are a set")
        // Everything that decides the program is in the key.
        #expect(k != SeccompCache.key(policyText: "{ }", capabilities: ["CAP_A", "CAP_B"], architecture: "x86_64"))
        #expect(k != SeccompCache.key(policyText: "{}", capabilities: ["CAP_A"], architecture: "x86_64"))
        #expect(k != SeccompCache.key(policyText: "{}", capabilities: ["CAP_A", "CAP_B"], architecture: "x86"))
    }

    @Test("A bulkhead policy's key names its file and stored digest, not its text; no text's key is one")
    func seccompCacheKeyOfAnEmbeddedPolicy() {
        let m = EmbeddedProfiles.Match(path: "seccomp/container.json", shipped: false, sha256: String(repeating: "a", count: 64))
        let k = SeccompCache.key(policyText: "{}", embedded: m, capabilities: [], architecture: "x86_64", binary: "b")
        // The text is not read: the match stands for it (the launch does not hash 18 KB).
        #expect(k == SeccompCache.key(policyText: "other", embedded: m, capabilities: [], architecture: "x86_64", binary: "b"))
        // Every part of the name is in the key.
        var shipped = m; shipped.shipped = true
        var digest = m; digest.sha256 = String(repeating: "b", count: 64)
        var path = m; path.path = "seccomp/other.json"
        for other in [shipped, digest, path] {
            #expect(k != SeccompCache.key(policyText: "{}", embedded: other, capabilities: [], architecture: "x86_64", binary: "b"), "\(other)")
        }
        #expect(k != SeccompCache.key(policyText: "{}", embedded: m, capabilities: ["CAP_A"], architecture: "x86_64", binary: "b"))
        #expect(k != SeccompCache.key(policyText: "{}", embedded: m, capabilities: [], architecture: "x86", binary: "b"))
        #expect(k != SeccompCache.key(policyText: "{}", embedded: m, capabilities: [], architecture: "x86_64", binary: "c"))
        // A text that spells out the embedded name is still a text: another kind of key.
        let forged = "embedded seccomp/container.json sha256 \(m.sha256)\n"
        for t in [forged, "policy " + forged, "\n" + forged] {
            #expect(k != SeccompCache.key(policyText: t, capabilities: [], architecture: "x86_64", binary: "b"), "\(t)")
        }
    }
}
