import Testing
@testable import BulkheadSystem
import BulkheadModel
#if canImport(Glibc)
import Glibc
#endif

/// Red team of launch-cpu (session 10): the launch path's byte-wise rewrites against hostile
/// kernel text and against the forms they replaced, on the real kernel where one is involved.
@Suite("red team: launch-cpu rewrites")
struct RedTeamLaunchCPUTests {
    // MARK: /proc/PID/stat with a command name the process chose

    /// Command names (at most 15 bytes, no '/', no NUL: what exec or PR_SET_NAME can set) that
    /// put a ')' and a state letter inside the name. The first two end in U+0600, a grapheme
    /// *Prepend*: Swift joins it with the kernel's closing ')' into one Character, so a search
    /// for the last Character ")" (main's `hasExited`) lands on the ')' inside the name and reads
    /// the name's "Z" as the state. Raw bytes: invalid UTF-8 and a sequence the kernel cut.
    static let hostileNames: [[UInt8]] = [
        Array("x) Z\u{600}".utf8), Array("a) R\u{600}".utf8), Array("x) X\u{110BD}".utf8),
        Array("(a) Z ) X".utf8), Array("x\n) Z 1 2".utf8), Array(") Z".utf8), Array("e\u{301}) X".utf8),
        Array("\u{1F600}\u{200D}) Z".utf8), Array("Z) Z) Z) Z) Z)".utf8),
        [0xFF, 0x29, 0x20, 0x5A], Array("x) Z".utf8) + [0xD8], Array("abc) Z \u{0600}\u{0600}\u{0600}".utf8),
    ]

    /// Field 22 read from the raw bytes, independently of the String parsers under test.
    static func rawStartTime(_ stat: [UInt8]) -> UInt64? {
        guard let close = stat.lastIndex(of: 0x29) else { return nil }
        let rest = stat[(close + 1)...].split(separator: 0x20)
        guard rest.count > 19 else { return nil }
        return UInt64(String(decoding: rest[19], as: UTF8.self))
    }

    static func readBytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return n == 0 ? out : nil }
            out += buf[0..<n]
        }
    }

    /// A live process whose command name is hostile is running (and can be signalled through
    /// `ProcessHandle`, the `bulkhead stop` / `bulkhead-runc kill` path); once it is a zombie it
    /// is not. On main, `x) Z<U+0600>` made a live process "exited" (a container init could set
    /// that name and be refused by `kill` as "not running") and `a) R<U+0600>` a zombie "alive".
    @Test(arguments: hostileNames)
    func hostileCommandNameOnTheRealKernel(name: [UInt8]) throws {
        var template = Array("/tmp/bh-rt-comm-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } })
        let link = Array(dir.utf8) + [0x2F] + name
        let linkC = link.map { CChar(bitPattern: $0) } + [0]
        defer { _ = unlink(linkC); _ = rmdir(dir) }
        try #require(symlink("/bin/sleep", linkC) == 0, "symlink: errno \(errno)")

        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("30"), nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, linkC, nil, nil, argv, environ)
        try #require(rc == 0, "posix_spawn: errno \(rc)")
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); var s: Int32 = 0; _ = waitpid(pid, &s, 0) } }

        // The kernel really holds the hostile name, unescaped in /proc/PID/stat (exec sets it from
        // the path's last part; wait until the child has exec'd).
        let want = Array("\(pid) (".utf8) + name.prefix(15) + Array(") ".utf8)
        var live: [UInt8] = []
        for _ in 0..<2000 {
            live = Self.readBytes("/proc/\(pid)/stat") ?? []
            if live.starts(with: want) { break }
            usleep(1000)
        }
        try #require(live.starts(with: want), "stat is \(live.prefix(40)), not \(want)")

        let start = try #require(Self.rawStartTime(live))
        let liveText = String(decoding: live, as: UTF8.self)
        #expect(ProcStat.startTime(fromStat: liveText) == start)
        #expect(!ProcStat.hasExited(fromStat: liveText), "a live process is seen as exited: \(liveText.debugDescription)")
        #expect(CgroupLeafName.isRunning(pid, startTime: start))
        #expect(ProcessHandle(pid: pid, startTime: start) != nil, "a live process cannot be signalled")

        // Dead but not reaped: a zombie.
        kill(pid, SIGKILL)
        var info = siginfo_t()
        try #require(waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == 0)
        let dead = try #require(Self.readBytes("/proc/\(pid)/stat"))
        let deadText = String(decoding: dead, as: UTF8.self)
        #expect(ProcStat.hasExited(fromStat: deadText), "a zombie is seen as alive: \(deadText.debugDescription)")
        #expect(!CgroupLeafName.isRunning(pid, startTime: start))
        var s: Int32 = 0
        _ = waitpid(pid, &s, 0)
        reaped = true
        #expect(!CgroupLeafName.isRunning(pid, startTime: start))
    }

    /// Generated stat lines (command names of up to 15 bytes from a hostile byte alphabet, decoded
    /// as `CgroupFS.read` decodes): the state and start time are always the kernel's, never a
    /// letter or number inside the name.
    @Test func generatedStatLines() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [[0x29], [0x28], [0x20], [0x5A], [0x58], [0x52], [0x0A], [0x31], [0xFF], [0xD8],
                                 Array("\u{600}".utf8), Array("\u{301}".utf8), Array("\u{200D}".utf8),
                                 Array("\u{110BD}".utf8), Array("\u{1F1E6}".utf8), Array("\r".utf8)]
        for _ in 0..<5_000 {
            var comm: [UInt8] = []
            while comm.count < 15, let p = pieces.randomElement(using: &rng), Int.random(in: 0..<8, using: &rng) != 0 {
                comm += p
            }
            comm = Array(comm.prefix(15))
            let start = UInt64.random(in: 0...UInt64.max, using: &rng)
            for (state, exited) in [("S", false), ("R", false), ("D", false), ("Z", true), ("X", true), ("I", false)] {
                let line = Array("4242 (".utf8) + comm
                    + Array(") \(state) 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 \(start) 0 0 18446744073709551615\n".utf8)
                let text = String(decoding: line, as: UTF8.self)
                #expect(ProcStat.hasExited(fromStat: text) == exited, "\(comm) \(state)")
                #expect(ProcStat.startTime(fromStat: text) == start, "\(comm) \(state)")
            }
        }
    }

    // MARK: asciiSplit and the mountinfo parser

    /// main's asciiSplit, the reference.
    static func mainSplit(_ s: Substring, _ sep: Unicode.Scalar, _ max: Int, _ omit: Bool) -> [Substring] {
        Substring(s).utf8.split(separator: UInt8(ascii: sep), maxSplits: max, omittingEmptySubsequences: omit).map { Substring($0) }
    }

    /// On inner slices (a start and end inside the text, as `startTime` splits after the ')'),
    /// for each separator the parsers use: the same pieces, with the same bounds, as main's form.
    @Test func asciiSplitOnInnerSlices() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = [" ", " ", ":", ",", "\n", "a", "-", "\\040", "é", "e\u{301}", "\u{600}", "\u{1F600}", ")"]
        for _ in 0..<3000 {
            let text = (0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            let scalars = Array(text.unicodeScalars.indices) + [text.endIndex]
            let a = Int.random(in: 0..<scalars.count, using: &rng), b = Int.random(in: a..<scalars.count, using: &rng)
            let slice = text[scalars[a]..<scalars[b]]
            for sep in [" ", ":", ",", "\n"] as [Unicode.Scalar] {
                for max in [0, 1, 2, 19, Int.max] {
                    for omit in [true, false] {
                        let want = Self.mainSplit(slice, sep, max, omit)
                        let got = slice.asciiSplit(sep, maxSplits: max, omittingEmptySubsequences: omit)
                        #expect(got == want)
                        #expect(got.map { $0.startIndex } == want.map { $0.startIndex } && got.map { $0.endIndex } == want.map { $0.endIndex },
                                "\(Array(slice.unicodeScalars)) \(sep) \(max) \(omit)")
                    }
                }
            }
        }
    }

    /// Hostile mountinfo: a mount point a user chose (escaped spaces, newline, backslash, ' - ',
    /// non-ASCII), a 1 MiB line, truncated escapes at the end, lines of separators only.
    @Test func hostileMountinfo() {
        let long = String(repeating: "a\\040", count: 200_000)
        let text = """
        36 35 0:30 / /home/u/x\\040-\\040cgroup2\\040y rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
        37 35 0:31 / /home/u/\(long) rw - tmpfs tmpfs rw
        38 35 0:32 /é\\134 /m\\012n rw - cgroup cgroup rw,memory,name=x\\040y
        - - - - - - - - -
        \\ \\0 \\04 \\040 \\04 y - z w
        39 35 0:33 / /e rw - ext4 /dev/x rw,\\
                  \n\n\n
        40 35 0:34 / /f rw master:1 -
        """
        let entries = MountInfoEntry.parse(text)
        #expect(entries.count == 5, "\(entries.map(\.fileSystemType))")
        #expect(entries.first?.mountPoint == "/home/u/x - cgroup2 y" && entries.first?.fileSystemType == "cgroup2")
        #expect(entries.dropFirst().first?.mountPoint == "/home/u/" + String(repeating: "a ", count: 200_000))
        let third = entries.dropFirst(2).first
        #expect(third?.root == "/é\\" && third?.mountPoint == "/m\nn")
        #expect(third?.v1Controllers == ["memory", "name=x\\040y"])
        let fourth = entries.dropFirst(3).first
        #expect(fourth?.root == " " && fourth?.mountPoint == "\\04" && fourth?.fileSystemType == "z")
        #expect(entries.last?.superOptions == ["rw", "\\"])
        // Every line's fields as main's split gives them.
        for line in Self.mainSplit(Substring(text), "\n", .max, true) {
            #expect(line.asciiSplit(" ") == Self.mainSplit(line, " ", .max, true))
        }
    }

    // MARK: the caches' entry names and the errno table

    /// main's cache-name formula, the reference: every key's name is the same lower-case hex.
    @Test func cacheNamesAsMain() {
        var rng = SystemRandomNumberGenerator()
        for n in [0, 1, 15, 16, 31, 32, 33, 64, 1000] {
            for _ in 0..<50 {
                let key = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let main = key.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                #expect(SHA256.hex(key) == main)
                #expect(ProfileLayerCache.name(of: key) == main)
            }
        }
        let k = ProfileLayerCache.key(text: "x", file: "/p", binary: "b")
        #expect(ProfileLayerCache.name(of: k).count == 64 && ProfileLayerCache.name(of: k).allSatisfy { "0123456789abcdef".contains($0) })
    }

    /// main's dictionary, copied: every errno's name and message as before, every name maps back.
    @Test func errnoAsMain() {
        let main: [Int32: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
            E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
            ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
            EXDEV: "EXDEV", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL",
            ENFILE: "ENFILE", EMFILE: "EMFILE", ENOTTY: "ENOTTY", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG",
            ENOSPC: "ENOSPC", ESPIPE: "ESPIPE", EROFS: "EROFS", EMLINK: "EMLINK", EPIPE: "EPIPE",
            ERANGE: "ERANGE", ENAMETOOLONG: "ENAMETOOLONG", ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY",
            ELOOP: "ELOOP", EOPNOTSUPP: "EOPNOTSUPP", EADDRINUSE: "EADDRINUSE", ECONNREFUSED: "ECONNREFUSED",
            ENETUNREACH: "ENETUNREACH", ETIMEDOUT: "ETIMEDOUT", ECANCELED: "ECANCELED", EUSERS: "EUSERS",
            EDQUOT: "EDQUOT", ESTALE: "ESTALE", EAFNOSUPPORT: "EAFNOSUPPORT", EPROTONOSUPPORT: "EPROTONOSUPPORT",
        ]
        #expect(Errno.names.count == main.count)
        for raw in Int32(-3)...300 {
            let want = main[raw] ?? "errno \(raw)"
            #expect(Errno(raw).name == want)
            #expect(Errno(raw).description == "\(want) (\(String(cString: strerror(raw))))")
        }
        for (raw, name) in main { #expect(Errno(name: name) == Errno(raw)) }
        for bad in ["", "eperm", "EPERM ", " EPERM", "EWOULDBLOCK", "ENOTSUP", "errno 1", "E", "EPERM\u{301}"] {
            #expect(Errno(name: bad) == nil, "\(bad)")
        }
    }
}
