@testable import Bulkhead
import BulkheadModel
@testable import BulkheadSystem
import CShims
import CShimsTesting
import Foundation
import Glibc
import Testing

/// Red team of the static-release branch: root runs the nft program (`TrustedFile.openProgram`
/// checks /usr/sbin/nft; CShims `bh_nft_exec` forks, joins the namespace and executes the
/// checked fd). The attacker is a local user (here `nobody`) who plants files, links and
/// directories on the way to the program, and whoever controls what the program prints.
///
/// `bh_nft_exec` always runs its program as `nft -f -` with the rules on stdin, so a checked
/// `/usr/bin/dash` stands in for nft here: the "rules" are a shell script that reports what
/// the program received (fds, environment, signal mask, network namespace).
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct RedTeamNftTests {
    static let nobody: uid_t = 65534
    static let shell = "/usr/bin/dash"

    /// A fresh directory under /tmp owned by root, mode 0755 (TrustFileTests' own).
    func scratch() throws -> String { try TrustFileTests().scratch() }

    /// A copy of `source` at `path` with `mode` and `owner`.
    func install(_ source: String, _ path: String, mode: mode_t = 0o755, owner: uid_t = 0) throws {
        try FileManager.default.copyItem(atPath: source, toPath: path)
        chown(path, owner, owner)
        chmod(path, mode)
    }

    /// openProgram's refusal of `path`, as text ("" when it opened).
    func refusal(_ path: String) -> String {
        do {
            let fd = try TrustedFile.openProgram(path, what: "nft program")
            close(fd)
            return ""
        } catch { return error.description }
    }

    // MARK: - TrustedFile.openProgram: what root agrees to execute

    @Test("openProgram accepts a root-owned 0755 program and gives an O_PATH close-on-exec fd")
    func acceptsRootProgram() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try install(Self.shell, dir + "/nft")
        let fd = try TrustedFile.openProgram(dir + "/nft", what: "nft program")
        defer { close(fd) }
        #expect(fcntl(fd, F_GETFL) & 0o10000000 != 0 /* O_PATH */, "the checked fd is O_PATH")
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "the checked fd closes on exec")
    }

    @Test("openProgram refuses a program owned by another uid, writable by group or others, not executable")
    func refusesBadModes() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try install(Self.shell, dir + "/other", owner: Self.nobody)
        try install(Self.shell, dir + "/groupw", mode: 0o775)
        try install(Self.shell, dir + "/otherw", mode: 0o757)
        try install(Self.shell, dir + "/noexec", mode: 0o644)
        try install(Self.shell, dir + "/setuidw", mode: 0o4777)
        #expect(refusal(dir + "/other").contains("owned by uid 65534"))
        #expect(refusal(dir + "/groupw").contains("writable by its group"))
        #expect(refusal(dir + "/otherw").contains("writable by others"))
        #expect(refusal(dir + "/setuidw").contains("writable by"))
        #expect(refusal(dir + "/noexec").contains("not executable"))
    }

    @Test("openProgram refuses a directory, a FIFO and a final symbolic link (even root's)")
    func refusesNonRegular() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try install(Self.shell, dir + "/real")
        mkdir(dir + "/adir", 0o755)
        mkfifo(dir + "/fifo", 0o755)
        symlink(dir + "/real", dir + "/rootlink")
        symlink(dir + "/real", dir + "/userlink")
        lchown(dir + "/userlink", Self.nobody, Self.nobody)
        #expect(refusal(dir + "/adir").contains("not a regular file"))
        #expect(refusal(dir + "/fifo").contains("not a regular file"))
        #expect(refusal(dir + "/rootlink").contains("symbolic link"))
        #expect(!refusal(dir + "/userlink").isEmpty)
        #expect(refusal(dir + "/real") == "")
    }

    @Test("openProgram refuses a path through a directory another uid owns or may write, or through its link")
    func refusesBadComponents() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A directory owned by nobody (mode 0755) holding a root-owned program.
        mkdir(dir + "/owned", 0o755); chown(dir + "/owned", Self.nobody, Self.nobody)
        try install(Self.shell, dir + "/owned/nft")
        // Root's directories, writable by group or others without the sticky bit.
        mkdir(dir + "/groupw", 0o775); chmod(dir + "/groupw", 0o775)
        try install(Self.shell, dir + "/groupw/nft")
        mkdir(dir + "/worldw", 0o777); chmod(dir + "/worldw", 0o777)
        try install(Self.shell, dir + "/worldw/nft")
        // A root-owned directory below a nobody-owned one: the deeper check does not help.
        mkdir(dir + "/owned/sub", 0o755)
        try install(Self.shell, dir + "/owned/sub/nft")
        // A good directory reached through nobody's symbolic link, and through root's.
        mkdir(dir + "/good", 0o755)
        try install(Self.shell, dir + "/good/nft")
        symlink(dir + "/good", dir + "/userlink"); lchown(dir + "/userlink", Self.nobody, Self.nobody)
        symlink(dir + "/good", dir + "/rootlink")
        // A sticky world-writable directory (/tmp): only the entry's owner can replace it.
        mkdir(dir + "/sticky", 0o1777); chmod(dir + "/sticky", 0o1777)
        try install(Self.shell, dir + "/sticky/nft")
        try install(Self.shell, dir + "/sticky/usernft", owner: Self.nobody)

        #expect(refusal(dir + "/owned/nft").contains("65534"))
        #expect(refusal(dir + "/owned/sub/nft").contains("65534"))
        #expect(refusal(dir + "/groupw/nft").contains("writable"))
        #expect(refusal(dir + "/worldw/nft").contains("writable"))
        #expect(refusal(dir + "/userlink/nft").contains("belongs to uid 65534"))
        #expect(refusal(dir + "/rootlink/nft") == "", "a root-owned directory link is followed")
        #expect(refusal(dir + "/sticky/nft") == "")
        #expect(refusal(dir + "/sticky/usernft").contains("65534"))
        #expect(refusal(dir + "/good/nft") == "")
    }

    @Test("the checked fd is what runs: renaming another program over the path after the check changes nothing")
    func renameAfterCheck() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try install(Self.shell, dir + "/nft")
        let fd = try TrustedFile.openProgram(dir + "/nft", what: "nft program")
        defer { close(fd) }
        // The attacker's swap (here root's own /usr/bin/false, which would print nothing and fail).
        try install("/usr/bin/false", dir + "/swap")
        #expect(rename(dir + "/swap", dir + "/nft") == 0)
        let ns = try NetworkNamespace.createAnonymous(label: "red team")
        defer { ns.close() }
        let r = try exec(fd, ns, "echo checked-program-ran")
        #expect(r.rc == 0 && r.exitStatus == 0)
        #expect(r.out == "checked-program-ran\n")
    }

    // MARK: - bh_nft_exec: what the program receives

    struct Ran { var rc: Int32; var status: Int32; var step: Int32; var out: String; var err: String
        var exitStatus: Int32? { status >= 0 && status & 0x7f == 0 ? (status >> 8) & 0xff : nil }
        var signal: Int32? { status >= 0 && status & 0x7f != 0 ? status & 0x7f : nil }
    }

    func exec(_ program: Int32, _ ns: NetworkNamespace, _ script: String, timeoutMs: Int32 = 20_000) throws -> Ran {
        let nsfd = try #require(ns.fileDescriptor)
        let outCap = 1 << 18, errCap = 1 << 14
        var out = [CChar](repeating: 0, count: outCap), err = [CChar](repeating: 0, count: errCap)
        var result = bh_nft_result()
        let length = script.utf8.count
        let rc = script.withCString { c in
            out.withUnsafeMutableBufferPointer { o in
                err.withUnsafeMutableBufferPointer { e in
                    bh_nft_exec(program, nsfd, c, length, timeoutMs, o.baseAddress!, outCap, e.baseAddress!, errCap, &result)
                }
            }
        }
        func text(_ b: [CChar]) -> String { String(decoding: b.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return Ran(rc: rc, status: result.status, step: result.step, out: text(out), err: text(err))
    }

    func withShell<T>(_ body: (Int32, NetworkNamespace) throws -> T) throws -> T {
        let fd = try TrustedFile.openProgram(Self.shell, what: "test program")
        defer { close(fd) }
        let ns = try NetworkNamespace.createAnonymous(label: "red team")
        defer { ns.close() }
        return try body(fd, ns)
    }

    @Test("the program gets only fds 0-2 (rules memfd, two pipes), cwd /, a fixed environment, an empty signal mask, SIGPIPE default, the namespace")
    func whatTheProgramReceives() throws {
        // A planted fd without close-on-exec, and a blocked signal in the calling thread.
        let marker = "/tmp/bh-rtnft-marker-\(token())"
        let leak = open(marker, O_CREAT | O_RDWR, 0o600)
        #expect(leak >= 0)
        defer { close(leak); unlink(marker) }
        var block = sigset_t(), old = sigset_t()
        sigemptyset(&block); sigaddset(&block, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        // The mask first, read by the shell itself: dash blocks every signal while it waits
        // for a child, so a `grep` of its status after any fork would read that.
        let script = """
            while read l; do case $l in SigBlk:*|SigIgn:*) echo "$l";; esac; done < /proc/$$/status
            printf 'cwd '; pwd -P
            cd /proc/$$/fd; for f in $(ls); do echo "fd $f $(readlink $f)"; done
            env | sed 's/^/env /'
            echo "net $(readlink /proc/$$/ns/net)"
            """
        let r = try withShell { fd, ns in try exec(fd, ns, script) }
        #expect(r.rc == 0 && r.exitStatus == 0, "\(r)")
        let lines = r.out.split(separator: "\n").map(String.init)
        let fds = lines.filter { $0.hasPrefix("fd ") }
        #expect(fds.contains { $0.hasPrefix("fd 0 /memfd:bulkhead-nft-rules") })
        #expect(fds.contains { $0.hasPrefix("fd 1 pipe:") } && fds.contains { $0.hasPrefix("fd 2 pipe:") })
        // dash's own fds (the `$(ls)` pipe, its saved fd 10) are not bulkhead's.
        #expect(!r.out.contains(marker), "a bulkhead fd reached the program")
        #expect(!fds.contains { $0.contains("socket:") || $0.contains("net:[") || $0.contains("dash") })
        let env = Set(lines.filter { $0.hasPrefix("env ") }.map { String($0.dropFirst(4)) }.filter { !$0.hasPrefix("PWD=") && !$0.hasPrefix("OLDPWD=") })  // dash's own (the `cd`)
        #expect(env == ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"])
        #expect(lines.contains { $0.hasPrefix("SigBlk:") && $0.hasSuffix("0000000000000000") }, "\(lines)")
        let ign = lines.first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst(8), radix: 16) }
        #expect(ign.map { $0 & (1 << (UInt64(SIGPIPE) - 1)) == 0 } == true, "SIGPIPE is default in the program")
        // Not the caller's working directory (a user's directory when a user runs bulkhead):
        // nothing of bulkhead's that leads into a user's tree reaches the root program.
        #expect(lines.contains("cwd /"), "the program runs in the caller's working directory: \(lines.filter { $0.hasPrefix("cwd") })")
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? ""
        let net = lines.first { $0.hasPrefix("net ") }.map { String($0.dropFirst(4)) } ?? ""
        #expect(net.hasPrefix("net:[") && net != own, "the program ran in the test's namespace, not the host's (\(net) vs \(own))")
    }

    @Test("output is bounded: 256 KiB of stdout and 16 KiB of stderr kept, the rest drained")
    func outputBounded() throws {
        let r = try withShell { fd, ns in
            try exec(fd, ns, "head -c 1000000 /dev/zero | tr '\\000' a; head -c 100000 /dev/zero | tr '\\000' b >&2")
        }
        #expect(r.rc == 0 && r.exitStatus == 0)
        #expect(r.out.utf8.count == (1 << 18) - 1)
        #expect(r.err.utf8.count == (1 << 14) - 1)
    }

    @Test("a program that runs past the timeout is killed and the call says ETIMEDOUT")
    func timeoutKills() throws {
        let r = try withShell { fd, ns in try exec(fd, ns, "sleep 20", timeoutMs: 300) }
        #expect(r.rc == ETIMEDOUT)
        #expect(r.signal == SIGKILL)
    }

    @Test("a program that closes its stdout and stderr and keeps running is still killed at the timeout")
    func timeoutAfterClosingOutput() throws {
        let r = try withShell { fd, ns in try exec(fd, ns, "exec >&- 2>&-; sleep 8", timeoutMs: 300) }
        #expect(r.rc == ETIMEDOUT, "the wait after EOF is not bounded by the timeout: \(r)")
        #expect(r.signal == SIGKILL)
    }

    /// PDEATHSIG: nft must not outlive the bulkhead that runs it (a root program left running
    /// in a pod's namespace). The process running bh_nft_exec is a test-made child; it is
    /// SIGKILLed while the program (the checked shell, `exec sleep`: the same process) runs.
    @Test("the program dies when the process that runs it is killed (PR_SET_PDEATHSIG)")
    func programDiesWithItsCaller() throws {
        let pidFile = "/tmp/bh-rtnft-pid-\(token())"
        defer { unlink(pidFile) }
        var program: (pid: Int32, start: UInt64)?
        defer { if let p = program, CgroupLeafName.isRunning(p.pid, startTime: p.start) { kill(p.pid, SIGKILL) } }
        try withShell { fd, ns in
            let nsfd = try #require(ns.fileDescriptor)
            let caller = bh_testing_fork_nft_exec(fd, nsfd, "echo $$ > \(pidFile); exec sleep 60", 120_000)
            try #require(caller > 0, "fork: errno \(-caller)")
            var status: Int32 = 0, reaped = false
            defer { if !reaped { kill(caller, SIGKILL); _ = waitpid(caller, &status, 0) } }
            for _ in 0..<1000 where program == nil {
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), text.hasSuffix("\n"),
                   let pid = Int32(text.dropLast()), let start = CgroupLeafName.startTime(of: pid) {
                    program = (pid, start)
                } else { usleep(10_000) }
            }
            let p = try #require(program, "the program never started")
            // It runs as the caller's child, in the test's namespace.
            #expect(CgroupLeafName.isRunning(p.pid, startTime: p.start))
            kill(caller, SIGKILL)
            reaped = waitpid(caller, &status, 0) == caller
            var gone = false
            for _ in 0..<500 where !gone { gone = !CgroupLeafName.isRunning(p.pid, startTime: p.start); if !gone { usleep(10_000) } }
            #expect(gone, "nft (pid \(p.pid)) outlived the bulkhead that ran it")
        }
    }

    @Test("a program that fails: its exit status and stderr come back; runNftables-style text is printable ASCII")
    func failureAndShown() throws {
        let r = try withShell { fd, ns in try exec(fd, ns, "printf 'bad \\033[31mred\\033[0m\\r\\n' >&2; exit 3") }
        #expect(r.rc == 0 && r.exitStatus == 3)
        let shown = NftProgram.shown(Array(r.err.utf8))
        #expect(!shown.utf8.contains { ($0 < 0x20 && $0 != 0x0a) || $0 >= 0x7f })
        #expect(shown == "bad ?[31mred?[0m?")
        let long = NftProgram.shown(Array(repeating: UInt8(ascii: "x"), count: 100_000))
        #expect(long.utf8.count <= 2048 + "…".utf8.count)
    }

    @Test("the node firewall's rules text holds only bulkhead's own names: no manifest string reaches it")
    func rulesHoldNoManifestText() throws {
        // Pod names, namespaces and labels are what a manifest author writes; the script takes
        // addresses, veth names and MACs only (bulkhead's), and ports as numbers.
        let pods = [RunningPod(name: "a;}\n include \"/etc/shadow\"", namespace: "n\"s", labels: ["app": "x;drop"], ip: "10.244.0.2"),
                    RunningPod(name: "b", namespace: "n\"s", labels: ["app": "y"], ip: "10.244.0.3")]
        let resolution = NetworkPolicyResolver.resolve(pods: pods, namespaces: [NamespaceLabels(name: "n\"s", labels: [:])], policies: [])
        let script = NodeFirewall.script(resolution, ports: [NodeFirewall.Port(veth: "bhv0002", ip: "10.244.0.2", mac: "02:00:00:00:00:02")])
        #expect(!script.contains("include") && !script.contains("shadow") && !script.contains("x;drop") && !script.contains("n\"s"))
    }
}
