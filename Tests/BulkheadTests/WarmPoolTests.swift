import BulkheadModel
import BulkheadSystem
import CShims
import Foundation
import Glibc
import Testing

/// The warm pool (`bulkhead pool`, `run --pool`): a pooled launch is the cold launch's twin,
/// the socket serves only whom its owner allows and only a pool run by root or the caller is
/// used, hostile requests are refused without costing the pool, a sandbox serves once, and
/// nothing is left after a stop.
@Suite(.enabled(if: Gate.root, Gate.rootReason), .serialized)
struct WarmPoolTests {
    /// A pool in a directory of its own (root's, 0755: others may reach the socket, whose own
    /// mode decides), started with `pool start`; `stop()` stops it (idempotent).
    final class Pool {
        let dir: String
        let socket: String
        let pid: Int32
        init(size: Int = 2, profile: String = "container", group: UInt32? = nil) throws {
            dir = "/tmp/bh-pool-\(token())"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
            socket = dir + "/pool.sock"
            let r = try Bulkhead.run(["pool", "start", "--size", String(size), "--profile", profile, "--socket", socket] + (group.map { ["--group", String($0)] } ?? []))
            try #require(r.status == 0, "pool start: \(r.stderr)")
            pid = try #require(try Self.status(socket)).pid
        }
        static func status(_ socket: String) throws -> PoolStatusView? {
            let r = try Bulkhead.run(["pool", "status", "--socket", socket])
            guard r.status == 0 else { return nil }
            return try JSONDecoder().decode(PoolStatusView.self, from: Data(r.stdout.utf8))
        }
        func stop() {
            _ = try? Bulkhead.run(["pool", "stop", "--socket", socket])
            try? FileManager.default.removeItem(atPath: dir)
        }
        deinit { stop() }
    }

    struct PoolStatusView: Decodable { var pid: Int32; var size: Int; var ready: Int; var running: Int; var served: Int; var failedRequests: Int; var failed: Int; var cgroup: String?; var lastError: String? }

    /// What the workload sees of its isolation: for each namespace whether it is the host's,
    /// its cgroup line, its seccomp mode and filter count, its environment variable and cwd.
    static let probe = """
    for n in cgroup ipc mnt net pid user uts; do eval h=\\$H_$n; [ "$(readlink /proc/self/ns/$n)" = "$h" ] && echo "$n host" || echo "$n own"; done
    cat /proc/self/cgroup; grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|CapEff|Uid|Gid):' /proc/self/status
    echo "FOO=$FOO"; pwd; ls -l /proc/self/fd | tail -n +2 | wc -l; exit 7
    """

    @Test("A pooled run: the same namespaces, cgroup, seccomp, exit status and report as a cold run; the report says the pool")
    func pooledEqualsCold() throws {
        let pool = try Pool()
        defer { pool.stop() }
        var flags = ["--env", "FOO=bar", "--workdir", "/tmp"]
        for n in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
            let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(n)")
            flags += ["--env", "H_\(n)=\(host)"]
        }
        let cold = try Bulkhead.sh(Self.probe, flags, report: true)
        let warm = try Bulkhead.sh(Self.probe, ["--pool", pool.socket] + flags, report: true)
        #expect(cold.status == 7, "\(cold.stderr)")
        #expect(warm.status == 7, "\(warm.stderr)")
        #expect(warm.stdout == cold.stdout, "pooled:\n\(warm.stdout)\ncold:\n\(cold.stdout)")
        #expect(warm.stdout.contains("Seccomp:\t2") && warm.stdout.contains("FOO=bar") && warm.stdout.contains("\n/tmp\n"), "\(warm.stdout)")
        let c = try #require(cold.report), w = try #require(warm.report)
        #expect(w.reason == c.reason && w.exitCode == c.exitCode && w.signal == c.signal)
        #expect(w.command == c.command && w.profile == c.profile && w.profileChain == c.profileChain)
        // Whether the seccomp program came from its cache depends on which of the two compiled it
        // first (a binary just built has an empty cache): the pool's start, before the cold run.
        var wc = w.controls
        wc.seccomp?.cached = c.controls.seccomp?.cached ?? false
        #expect(wc == c.controls)
        #expect(w.limits?.enforced.map { "\($0.limit) \($0.value)" } == c.limits?.enforced.map { "\($0.limit) \($0.value)" })
        #expect(w.cgroup?.stats != nil && c.cgroup?.stats != nil)
        #expect(c.pool == nil)
        let p = try #require(w.pool, "the pooled report does not say it came from the pool")
        #expect(p.socket == pool.socket && p.poolPID == pool.pid && p.sandbox >= 1)
        // The pooled report's phases start at the hand-over.
        #expect(w.phasesMs.first?.phase.hasPrefix("pool hand-over") == true, "\(w.phasesMs)")
        // A command that is not found: the same status and reason.
        let nf = "no-such-command-\(token())"
        let coldNF = try Bulkhead.run(["run", "--", nf], report: true), warmNF = try Bulkhead.run(["run", "--pool", pool.socket, "--", nf], report: true)
        #expect(coldNF.status == 127 && warmNF.status == 127, "\(warmNF.stderr)")
        #expect(warmNF.report?.reason == .execFailed && warmNF.stderr.contains("command not found"), "\(warmNF.stderr)")
    }

    static let nobody = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

    @Test("BULKHEAD_POOL chooses the pool for a user; root (sudo -E passes the user's environment) ignores it and launches cold")
    func rootIgnoresBulkheadPool() throws {
        let pool = try Pool(size: 1, group: 65534)
        defer { pool.stop() }
        // Root: a cold launch under root's own command line, with a warning; the pool serves nothing.
        let root = try Bulkhead.run(["run", "--", "/bin/sh", "-c", "exit 5"], report: true, env: ["BULKHEAD_POOL": pool.socket])
        #expect(root.status == 5 && root.report != nil && root.report?.pool == nil, "root took the pool of BULKHEAD_POOL: \(root.stderr)")
        #expect(root.stderr.contains("BULKHEAD_POOL is ignored for root"), "\(root.stderr)")
        // Through the full parser too (a flag the fast reader leaves to ArgumentParser).
        let full = try Bulkhead.run(["run", "-q", "--", "/bin/sh", "-c", "exit 6"], env: ["BULKHEAD_POOL": pool.socket])
        #expect(full.status == 6, "\(full.stderr)")
        #expect(try #require(try Pool.status(pool.socket)).served == 0)
        // --pool: root's own choice.
        #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
        // A user of the socket's group: BULKHEAD_POOL sets the socket.
        let user = try Bulkhead.run(["run", "--", "/bin/sh", "-c", "exit 5"], env: ["BULKHEAD_POOL": pool.socket], prefix: Self.nobody)
        #expect(user.status == 5, "\(user.stderr)")
        #expect(try #require(try Pool.status(pool.socket)).served == 2)
    }

    @Test("A request whose command name is empty is refused before it takes a sandbox")
    func emptyCommandTakesNoSandbox() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let r = try Self.raw(pool.socket, try PoolRequest(argv: [""], environment: [], workingDirectory: "").encode(fdCount: 3))
        #expect(r.status == 125 && r.message.contains("argv[0]"), "\(r)")
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 0 && s.ready == 1, "the empty command took a sandbox: \(s)")
    }

    @Test("pool status counts a served request whose workload never started as a failed request, not as a failed sandbox (session 12's red team: every request failed while status said failed: 0)")
    func failedRequestIsCounted() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let missing = "/nonexistent-\(token())"
        let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", missing], report: true)
        #expect(r.status != 0 && r.report?.error != nil, "\(r.status) \(r.stderr)")
        #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
        var s = try #require(try Pool.status(pool.socket))
        var waited = 0
        while s.served < 2 && waited < 250 { usleep(20_000); waited += 1; s = try #require(try Pool.status(pool.socket)) }
        #expect(s.served == 2 && s.failedRequests == 1 && s.failed == 0 && s.lastError == nil, "\(s)")
    }

    @Test("pool status shows a failed sandbox's message to the pool's uid and root, and only its step and errno to the socket's group")
    func groupSeesStepAndErrnoOnly() throws {
        let dir = "/tmp/bh-pool-secret-\(token())", secret = dir + "/data"
        try FileManager.default.createDirectory(atPath: secret, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        chmod(dir, 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = dir + "/binds.yaml"
        try "extends: container\nfilesystem:\n  binds:\n    - source: \(secret)\n      destination: /data\n".write(toFile: profile, atomically: true, encoding: .utf8)
        let pool = try Pool(size: 1, profile: profile, group: 65534)
        defer { pool.stop() }
        // The bind's source goes away: the sandboxes prepared from now on fail at the mount.
        try FileManager.default.removeItem(atPath: secret)
        #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
        var s = try #require(try Pool.status(pool.socket))
        var waited = 0
        while s.failed == 0 && waited < 250 { usleep(20_000); waited += 1; s = try #require(try Pool.status(pool.socket)) }
        let owner = try #require(s.lastError, "no sandbox failed: \(s)")
        #expect(owner.contains("/data"), "the owner sees the message: \(owner)")
        let r = try Bulkhead.run(["pool", "status", "--socket", pool.socket], prefix: Self.nobody)
        #expect(r.status == 0, "\(r.stderr)")
        let member = try #require(try JSONDecoder().decode(PoolStatusView.self, from: Data(r.stdout.utf8)).lastError)
        #expect(member.range(of: #"^(step [0-9]+|before the launch steps), errno [A-Z0-9]+$"#, options: .regularExpression) != nil,
                "a group member saw more than the step and errno: \(member)")
    }

    @Test("Each sandbox is served once: every run gets another serial and a fresh /tmp; the pool refills")
    func neverServedTwice() throws {
        let pool = try Pool(size: 2)
        defer { pool.stop() }
        var serials: [Int] = []
        for _ in 0..<5 {
            // A served sandbox would still have its own /tmp (a tmpfs of its mount namespace),
            // and the mark of the run before in it.
            let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "[ -e /tmp/served ] && exit 9; : > /tmp/served"], report: true)
            #expect(r.status == 0, "a sandbox was served twice: \(r.status) \(r.stderr)")
            serials.append(try #require(r.report?.pool?.sandbox))
        }
        #expect(Set(serials).count == 5, "\(serials)")
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 5 && s.failed == 0, "\(s)")
    }

    @Test("Another uid is refused on SO_PEERCRED even when the socket's mode lets it connect")
    func otherUIDRefused() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        // Loosen the socket's mode by hand: the file no longer keeps uid 65534 out; the peer check does.
        #expect(chmod(pool.socket, 0o666) == 0)
        let nobody = ["/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"], prefix: nobody)
        #expect(r.status == 125, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("uid 65534 was refused"), "\(r.stderr)")
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 0)
        // The pool still serves its own.
        #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
    }

    @Test("A socket swapped in by another uid is refused by the client: by its owner, then by SO_PEERCRED")
    func swappedSocketRefused() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let spare = "/tmp/bh-pool-spare-\(token())"
        try FileManager.default.createDirectory(atPath: spare, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: spare) }
        // An impostor listening as uid 65534.
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        impostor.arguments = ["--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c",
                              "import socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind('\(spare)/fake.sock'); s.listen(); time.sleep(20)"]
        try impostor.run()
        defer { kill(impostor.processIdentifier, SIGKILL); impostor.waitUntilExit() }
        var tries = 0
        while !FileManager.default.fileExists(atPath: spare + "/fake.sock") && tries < 200 { usleep(20_000); tries += 1 }
        #expect(rename(pool.socket, pool.socket + ".real") == 0)
        #expect(rename(spare + "/fake.sock", pool.socket) == 0)
        let byOwner = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"])
        #expect(byOwner.status == 125 && byOwner.stderr.contains("belongs to uid 65534"), "\(byOwner.stderr)")
        #expect(chown(pool.socket, 0, 0) == 0)
        let byPeer = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"])
        #expect(byPeer.status == 125 && byPeer.stderr.contains("runs as uid 65534"), "\(byPeer.stderr)")
        // The real one back: served.
        #expect(rename(pool.socket + ".real", pool.socket) == 0)
        #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
    }

    /// Sends raw bytes with fds 0-2 and returns the pool's exit status and message.
    static func raw(_ socket: String, _ bytes: [UInt8], fds: [Int32] = [0, 1, 2]) throws -> (status: Int32, message: String) {
        let conn = try PoolSocket.connect(path: socket)
        defer { close(conn) }
        try PoolSocket.send(conn, bytes, fds: fds)
        let head = try PoolSocket.receive(conn).bytes
        try #require(head.count >= 4)
        return (head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }, String(decoding: head[4...], as: UTF8.self))
    }

    @Test("Oversized and malformed requests are refused with an error; the pool serves the next one")
    func hostileRequestsRefused() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        // More than BH_POOL_MAX_BYTES in one message.
        let big = try Self.raw(pool.socket, [UInt8](repeating: 65, count: PoolRequest.maxBytes + 4096))
        #expect(big.status == 125 && big.message.contains("Message too long"), "\(big)")
        // A valid header whose counts lie.
        var good = try PoolRequest(argv: ["/bin/true"], environment: [], workingDirectory: "").encode(fdCount: 3)
        good[8] = 0xff; good[9] = 0xff // argc 65535
        let lying = try Self.raw(pool.socket, good)
        #expect(lying.status == 125 && lying.message.contains("Bad message"), "\(lying)")
        // A request whose fd count is not what came with it.
        let fds = try Self.raw(pool.socket, try PoolRequest(argv: ["/bin/true"], environment: [], workingDirectory: "").encode(fdCount: 3), fds: [0, 1])
        #expect(fds.status == 125, "\(fds)")
        // A variable name the profile's rules refuse.
        let env = try Self.raw(pool.socket, try PoolRequest(argv: ["/bin/true"], environment: ["BAD NAME=1"], workingDirectory: "").encode(fdCount: 3))
        #expect(env.status == 125 && env.message.contains("--env"), "\(env)")
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 0 && s.ready == 1, "a refused request took no sandbox: \(s)")
        let ok = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "exit 3"])
        #expect(ok.status == 3, "\(ok.stderr)")
    }

    @Test("A passed fd that is a host directory, an O_PATH fd or a pidfd is refused (CVE-2024-21626's way out); a file is served")
    func hostileFDsRefused() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let marker = pool.dir + "/marker"
        #expect(FileManager.default.createFile(atPath: marker, contents: Data("outside".utf8), attributes: [.posixPermissions: 0o644]))
        // The workload looks through fd 3 at the host: exit 42 when it reaches the marker.
        let script = "cat /proc/self/fd/3/marker 2>/dev/null | grep -q outside && exit 42; cat /proc/self/fd/3 2>/dev/null | grep -q outside && exit 43; exit 9"
        func request() throws -> [UInt8] {
            try PoolRequest(argv: ["/bin/sh", "-c", script], environment: [], workingDirectory: "").encode(fdCount: 4)
        }
        let dir = open(pool.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let path = open(marker, 0o10000000 /* O_PATH */ | O_CLOEXEC)
        let pidfd = bh_pidfd_open(getpid(), 0)
        let file = open(marker, O_RDONLY | O_CLOEXEC)
        defer { for fd in [dir, path, pidfd, file] where fd >= 0 { close(fd) } }
        try #require(dir >= 0 && path >= 0 && pidfd >= 0 && file >= 0)
        let byDir = try Self.raw(pool.socket, try request(), fds: [0, 1, 2, dir])
        #expect(byDir.status == 125 && byDir.message.contains("fd 3 is a directory"), "the host directory reached the workload: \(byDir)")
        let byPath = try Self.raw(pool.socket, try request(), fds: [0, 1, 2, path])
        #expect(byPath.status == 125 && byPath.message.contains("O_PATH"), "\(byPath)")
        let byPidfd = try Self.raw(pool.socket, try request(), fds: [0, 1, 2, pidfd])
        #expect(byPidfd.status == 125 && byPidfd.message.contains("kernel handle"), "\(byPidfd)")
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 0, "a refused request took no sandbox: \(s)")
        // A file opened for reading goes through: the workload reads it on fd 3.
        let byFile = try Self.raw(pool.socket, try request(), fds: [0, 1, 2, file])
        #expect(byFile.status == 43, "\(byFile)")
    }

    @Test("run --pool refuses a flag it cannot honour (--seccomp-strict, --supplementary-groups, --stop-signal, a value that does not parse) instead of dropping it")
    func tighteningFlagsRefused() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        for flags in [["--seccomp-strict"], ["--supplementary-groups", "refuse"], ["--stop-signal", "TERM"], ["--memory", "lots"]] {
            let r = try Bulkhead.run(["run", "--pool", pool.socket] + flags + ["--", "/bin/true"])
            #expect(r.status == 125 && r.stderr.contains(flags[0]), "\(flags) was dropped: \(r.status) \(r.stderr)")
        }
        let s = try #require(try Pool.status(pool.socket))
        #expect(s.served == 0, "\(s)")
    }

    /// Red team of pool-fast (status first): the exit status may reach the client before the
    /// cgroup's removal only when the reaped init ended every process of the sandbox (PID 1 of
    /// its own PID namespace). A pool in the host's PID namespace (root's profile): a process
    /// the workload left behind is already killed (a zombie at most) when the client exits,
    /// as after a cold run. On pool-fast it was still running in about half of the runs.
    @Test("With the host's PID namespace, a process the workload left behind no longer runs when the pooled client exits")
    func hostPIDNamespaceStatusAfterTheKill() throws {
        let dir = "/tmp/bh-pool-profile-\(token())"
        try FileManager.default.createDirectory(atPath: dir + "/seccomp", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = try String(contentsOfFile: Bulkhead.packageRoot + "/Profiles/container.yaml", encoding: .utf8)
            .replacingOccurrences(of: "\n  user: true", with: "\n  user: false").replacingOccurrences(of: "\n  pid: true", with: "\n  pid: false")
        try #require(yaml.contains("\n  pid: false") && yaml.contains("\n  user: false"))
        try yaml.write(toFile: dir + "/hostpid.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Bulkhead.packageRoot + "/Profiles/seccomp/container.json", toPath: dir + "/seccomp/container.json")
        chmod(dir + "/hostpid.yaml", 0o644); chmod(dir + "/seccomp/container.json", 0o644)
        let pool = try Pool(size: 1, profile: dir + "/hostpid.yaml")
        defer { pool.stop() }
        for _ in 0..<8 {
            let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"])
            #expect(r.status == 0, "\(r.stderr)")
            let pid = try #require(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(r.stdout)")
            // The state after the command's name in /proc/PID/stat; gone or a zombie is fine.
            let stat = FileIO.read("/proc/\(pid)/stat") ?? ""
            let state = stat.range(of: ") ").map { stat[$0.upperBound...].prefix(1) }.map(String.init)
            #expect(state == nil || state == "Z" || state == "X", "the leftover (pid \(pid)) is in state \(state ?? "?") after the client exited")
        }
    }

    /// Runs `bulkhead ARGS` with its stdout on a pipe and looks at the pipe the moment the
    /// client has exited: `closed` when no process holds its write end any more (the
    /// workload's processes ended; the init and the pool closed their copies).
    /// `laterMs` > 0: if still open at the exit, `closedLater` says whether the pipe reached its
    /// end within that bound (a hang guard, no timing assertion) once the kernel's unix garbage
    /// collector was scheduled (a unix socket released here, as the client's exit does).
    static func stdoutAtClientExit(_ args: [String], laterMs: Int32 = 0) throws -> (status: Int32, closed: Bool, closedLater: Bool) {
        let p = try PoolSocket.pipe() // close-on-exec: the client gets the write end on 1 alone
        defer { close(p[0]) }
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        proc.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment["BULKHEAD_PROFILE_PATH"] = Bulkhead.packageRoot + "/Profiles"
        proc.environment = environment
        proc.standardOutput = FileHandle(fileDescriptor: p[1], closeOnDealloc: false)
        proc.standardError = FileHandle.nullDevice
        do { try proc.run() } catch { close(p[1]); throw error }
        close(p[1])
        proc.waitUntilExit()
        _ = fcntl(p[0], F_SETFL, O_NONBLOCK)
        var buf = [UInt8](repeating: 0, count: 4096)
        func drained() -> Bool {
            while true {
                let n = read(p[0], &buf, buf.count)
                if n > 0 { continue }
                return n == 0
            }
        }
        let closed = drained()
        guard !closed, laterMs > 0 else { return (proc.terminationStatus, closed, closed) }
        var pair: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 { close(pair[0]); close(pair[1]) }
        var waited: Int32 = 0
        while waited < laterMs {
            var pfd = pollfd(fd: p[0], events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            if drained() { return (proc.terminationStatus, closed, true) }
            waited += 100
        }
        return (proc.terminationStatus, closed, false)
    }

    @Test("With its own PID namespace, a pooled client gets its status once no process of the sandbox is left: before the init's exit when the workload left none, after the kernel ended a leftover otherwise")
    func statusOnceNothingIsLeft() throws {
        let pool = try Pool(size: 2)
        defer { pool.stop() }
        // The status the client exits with (sent before the init's exit) is the report's.
        for (script, status) in [("exit 4", Int32(4)), ("kill -KILL $$", 137), ("kill -TERM $$", 143)] {
            let r = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", script], report: true)
            let report = try #require(r.report, "\(r.stderr)")
            #expect(r.status == status && report.exitCode == status, "\(script): client \(r.status), report \(report.exitCode)")
            #expect(report.phasesMs.map(\.phase).contains(Self.earlyPhase), "\(script): \(report.phasesMs)")
        }
        // A process left running: the init has a child, so the status waits for the init's
        // exit, which ends it.
        let left = try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", "sleep 30 >/dev/null 2>&1 & exit 3"], report: true)
        #expect(left.status == 3, "\(left.stderr)")
        #expect(left.report?.phasesMs.map(\.phase).contains(Self.earlyPhase) == false, "\(left.report?.phasesMs ?? [])")
        // Whichever way: no process of the sandbox outlives the status with the client's stdout
        // (a leftover, orphaned or not, is dead: its 30 s sleep would hold the pipe open), and no
        // other sandbox holds a copy (a refill is never cloned from the pool's fd table:
        // `refillHoldsNoClientFD`), so the pipe has ended at the instant of the client's exit.
        for script in ["exit 5", "sleep 30 & exit 5", "(sleep 30 &); exit 5"] {
            for _ in 0..<3 {
                let r = try Self.stdoutAtClientExit(["run", "--pool", pool.socket, "--", "/bin/sh", "-c", script], laterMs: 3_000)
                #expect(r.status == 5)
                #expect(r.closed, "\(script): the client's stdout was still held open when the client exited (closed within 3 s: \(r.closedLater))")
            }
        }
    }

    /// The replacement of a sandbox a request took waits for that request's answer (so that it
    /// does not take the CPU the request's launch is waiting for) for at most
    /// `WarmPool.replaceAfterSeconds`: a workload that runs long does not keep the pool short.
    /// Shown able to fail (session 16): with the refill timer never armed, the pool of one has
    /// no sandbox ready until the workload ends.
    @Test("A sandbox taken by a long run is replaced while the run goes on")
    func aLongRunDoesNotKeepThePoolShort() throws {
        let pool = try Pool(size: 1)
        for _ in 0..<250 {
            if try Pool.status(pool.socket)?.ready == 1 { break }
            usleep(20_000)
        }
        try #require(try Pool.status(pool.socket)?.ready == 1)
        let c = try PoolSocket.connect(path: pool.socket)
        defer { close(c) }
        try PoolSocket.send(c, try PoolRequest(argv: ["/bin/sleep", "8"], environment: [], workingDirectory: "").encode(fdCount: 3), fds: [0, 1, 2])
        var readyAgain = false
        for _ in 0..<100 {
            let s = try Pool.status(pool.socket)
            if s?.ready == 1 && s?.running == 1 { readyAgain = true; break }
            usleep(20_000)
        }
        var p = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 0) == 0, "the long run has not answered yet")
        let last = try Pool.status(pool.socket)
        #expect(readyAgain, "no sandbox was ready again while the long run went on: \(String(describing: last))")
    }

    /// The client's signals reach the workload and its hang-up ends the sandbox, watched by the
    /// slot's supervisor loop (session 16: no thread of its own per request). SIGTERM to a
    /// `run --pool` client goes to the pool, the init and the workload, and the report lists
    /// it; a client that closes its connection while its workload runs leaves no sandbox
    /// running. Shown able to fail (session 16): with the client's fd left out of the loop's
    /// poll, the first part times out and the second finds the sandbox still running.
    @Test("A pooled client's SIGTERM reaches its workload, and its hang-up ends the sandbox")
    func clientSignalsAndHangUp() throws {
        let pool = try Pool(size: 1)
        let report = pool.dir + "/report.json"
        let client = Process()
        client.executableURL = URL(fileURLWithPath: Bulkhead.binary)
        client.arguments = ["run", "--pool", pool.socket, "--report", report, "--", "/bin/sh", "-c",
                            "trap 'exit 3' TERM; while :; do sleep 0.05; done"]
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { if client.isRunning { kill(client.processIdentifier, SIGKILL) }; client.waitUntilExit() }
        var running = false
        for _ in 0..<250 {
            if try Pool.status(pool.socket)?.running == 1 { running = true; break }
            usleep(20_000)
        }
        try #require(running, "the pooled workload never ran")
        usleep(200_000) // the shell has set its trap
        #expect(kill(client.processIdentifier, SIGTERM) == 0)
        for _ in 0..<500 where client.isRunning { usleep(10_000) }
        try #require(!client.isRunning, "the client did not end within 5 s of its SIGTERM")
        #expect(client.terminationStatus == 3, "the workload's TERM trap ran: \(client.terminationStatus)")
        let r = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        #expect(r.signalsForwarded.contains("SIGTERM"), "\(r.signalsForwarded)")

        // Hang-up: a raw client sends its request and closes the connection while the workload runs.
        for _ in 0..<250 {
            if try Pool.status(pool.socket)?.ready == 1 { break }
            usleep(20_000)
        }
        let c = try PoolSocket.connect(path: pool.socket)
        try PoolSocket.send(c, try PoolRequest(argv: ["/bin/sleep", "30"], environment: [], workingDirectory: "").encode(fdCount: 3), fds: [0, 1, 2])
        running = false
        for _ in 0..<250 {
            if try Pool.status(pool.socket)?.running == 1 { running = true; break }
            usleep(20_000)
        }
        close(c)
        try #require(running, "the second workload never ran")
        var ended = false
        for _ in 0..<250 {
            if try Pool.status(pool.socket)?.running == 0 { ended = true; break }
            usleep(20_000)
        }
        #expect(ended, "the sandbox of a client that hung up still runs: \(String(describing: try? Pool.status(pool.socket)))")
    }

    /// Connections that never send hold a serving thread each for up to 10 s; past
    /// `WarmPool.maxHandlers` at once a connection is answered at once (status 125, a message),
    /// so the pool's threads stay bounded, and it serves again once they close. Shown able to
    /// fail (session 16): without the bound, 300 silent connections make 300 threads.
    @Test("Silent connections past 256 at once are answered at once; the pool's threads stay bounded, and it serves again after")
    func silentConnectionsAreBounded() throws {
        let pool = try Pool(size: 1)
        var conns: [Int32] = []
        defer { for c in conns { close(c) } }
        for _ in 0..<300 { conns.append(try PoolSocket.connect(path: pool.socket)) }
        // The last ones were answered at once; the first ones are still being waited on.
        var answered = 0
        for _ in 0..<200 {
            answered = conns.filter { c in var p = pollfd(fd: c, events: Int16(POLLIN), revents: 0); return poll(&p, 1, 0) == 1 }.count
            if answered >= 300 - 256 { break }
            usleep(10_000)
        }
        #expect(answered >= 300 - 256, "\(answered) of 300 silent connections answered")
        let threads = FileIO.listDirectory("/proc/\(pool.pid)/task").count
        #expect(threads <= 256 + 16, "the pool has \(threads) threads for 300 silent connections")
        if let c = conns.last {
            let head = try PoolSocket.receive(c).bytes
            #expect(head.count > 4 && head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } == ExitStatus.launchFailed)
            #expect(String(decoding: head.dropFirst(4), as: UTF8.self).contains("is serving 256 connections"))
        }
        for c in conns { close(c) }
        conns = []
        var served = false
        for _ in 0..<20 {
            if try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0 { served = true; break }
            usleep(100_000)
        }
        #expect(served, "the pool served no one after the silent connections closed")
    }

    /// The pool's children (its sandboxes' inits), from every thread's `children`.
    static func inits(of pool: Pool) -> Set<Int32> {
        Set(FileIO.listDirectory("/proc/\(pool.pid)/task").flatMap { t in
            (FileIO.read("/proc/\(pool.pid)/task/\(t)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
        })
    }

    /// A request for /bin/true with `fds` on a connection of its own (returned: the caller closes it).
    static func sendRequest(_ pool: Pool, fds: [Int32]) throws -> Int32 {
        let c = try PoolSocket.connect(path: pool.socket)
        do {
            try PoolSocket.send(c, try PoolRequest(argv: ["/bin/true"], environment: [], workingDirectory: "").encode(fdCount: fds.count), fds: fds)
        } catch {
            close(c)
            throw error
        }
        return c
    }

    /// A sandbox's init of the pool besides `known`, waited for up to 5 s. An init is in the
    /// pool's cgroup (a short-lived process the pool makes on the way, such as the spawn's
    /// helper, is not).
    static func newInit(of pool: Pool, cgroup: String, besides known: Set<Int32>) -> Int32? {
        for _ in 0..<500 {
            if let p = inits(of: pool).subtracting(known).first(where: { (FileIO.read("/proc/\($0)/cgroup") ?? "").contains(cgroup + "/") }) { return p }
            usleep(10_000)
        }
        return nil
    }

    static func fdTargets(_ pid: Int32) -> [String] {
        FileIO.listDirectory("/proc/\(pid)/fd").compactMap { FileIO.readLink("/proc/\(pid)/fd/\($0)") }
    }

    /// A sandbox the pool clones while it holds another client's request (its fds received,
    /// waiting for a sandbox) has none of that client's fds in its table, not even before its
    /// init's first step. The pool's cgroup is frozen (cgroup v2 `cgroup.freeze`), so a sandbox
    /// cloned into it (CLONE_INTO_CGROUP) stops before its first instruction, with the table it
    /// was cloned with: client A takes the ready sandbox (the refill, frozen, stays preparing),
    /// client C's request waits in the pool with its fds; the preparing sandbox is killed, and
    /// the pool's next attempt is cloned while C's fds are in the pool's table.
    @Test("A sandbox the pool clones while it holds a client's fds has none of them in its table, even before its init's first step")
    func refillHoldsNoClientFD() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let s = try #require(try Pool.status(pool.socket))
        let cgroup = try #require(s.cgroup, "the container profile has limits: the pool has a parent cgroup")
        let v2 = try #require(["/sys/fs/cgroup/unified/\(cgroup)", "/sys/fs/cgroup/\(cgroup)"].first { FileManager.default.fileExists(atPath: $0 + "/cgroup.freeze") },
                              "no cgroup v2 directory of \(cgroup)")
        let ready = Self.inits(of: pool)
        try #require(ready.count == 1, "\(ready)")
        let marker = pool.dir + "/client-c-marker"
        #expect(FileManager.default.createFile(atPath: marker, contents: Data("c".utf8), attributes: [.posixPermissions: 0o644]))
        let file = open(marker, O_RDONLY | O_CLOEXEC)
        try #require(file >= 0)
        var conns: [Int32] = []
        defer {
            try? FileIO.write("0", to: v2 + "/cgroup.freeze")
            for c in conns { close(c) }
            close(file)
        }
        try FileIO.write("1", to: v2 + "/cgroup.freeze")
        func send(_ fds: [Int32]) throws { conns.append(try Self.sendRequest(pool, fds: fds)) }
        func waitForNewInit(besides known: Set<Int32>) -> Int32? { Self.newInit(of: pool, cgroup: cgroup, besides: known) }
        // A takes the ready sandbox; the refill is cloned frozen and stays preparing.
        try send([0, 1, 2])
        let second = try #require(waitForNewInit(besides: ready), "the refill after A's request")
        // C's request waits in the pool (no sandbox ready) with its fds.
        try send([0, 1, 2, file])
        var held = false
        for _ in 0..<500 where !held {
            held = Self.fdTargets(pool.pid).contains(marker)
            if !held { usleep(10_000) }
        }
        try #require(held, "the pool never held C's fd")
        // The preparing sandbox fails: the pool clones the next one while it holds C's fds.
        #expect(kill(second, SIGKILL) == 0)
        let third = try #require(waitForNewInit(besides: ready.union([second])), "the pool's next attempt")
        #expect(Self.fdTargets(pool.pid).contains(marker), "the pool still holds C's request")
        let table = Self.fdTargets(third)
        #expect(!table.isEmpty, "the frozen init's table was read")
        #expect(!table.contains(marker), "a sandbox cloned while the pool held client C's fds has C's file in its table: \(table)")
    }

    static let earlyPhase = "workload run (status to the client: no process of the sandbox left)"

    /// Red team (pool-trampoline): a workload that sends its fd 1 (the client's stdout) over
    /// SCM_RIGHTS into a cycle of AF_UNIX sockets no process holds, then exits. No process of
    /// the sandbox is left, yet the pipe's write end lives on in the sockets' queues until the
    /// kernel's unix garbage collector frees them: the kernel schedules it only when some unix
    /// socket is released (the sockets in flight never are by their fds' close) and runs it
    /// asynchronously, on a workqueue. So the client may exit (its status sent) while the pipe
    /// is still open (docs/security.md says so); what is promised is that nothing else holds it
    /// (no process of the sandbox, not the init, not the pool): it ends once the collector ran.
    static let inFlightStdout = #"""
    import array, socket, sys
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [1, a.fileno(), b.fileno()]))])
    sys.exit(5)
    """#

    @Test("A workload that leaves the client's stdout in flight in a unix-socket cycle: the client gets its status, and the pipe ends once the kernel's unix garbage collector ran (no process, init or pool holds it)")
    func stdoutInFlightAtClientExit() throws {
        let pool = try Pool(size: 2)
        defer { pool.stop() }
        var heldAtExit = 0
        for _ in 0..<5 {
            let r = try Self.stdoutAtClientExit(["run", "--pool", pool.socket, "--", "/usr/bin/python3", "-c", Self.inFlightStdout], laterMs: 10_000)
            #expect(r.status == 5)
            #expect(r.closedLater, "the client's stdout was still held 10 s after the client exited, with the unix garbage collector scheduled")
            if !r.closed { heldAtExit += 1 }
        }
        // Not asserted (the collector's timing is the kernel's): how often the pipe was still
        // open in the dead sockets' queues at the client's exit.
        print("stdoutInFlightAtClientExit: the pipe was still open at the client's exit in \(heldAtExit) of 5 runs")
    }

    @Test("pool stop and SIGTERM leave no process, cgroup, mount or socket")
    func noLeftovers() throws {
        for viaSignal in [false, true] {
            let mountsBefore = Set((FileIO.read("/proc/self/mountinfo") ?? "").split(separator: "\n"))
            let pool = try Pool(size: 2)
            let s = try #require(try Pool.status(pool.socket))
            let cgroup = try #require(s.cgroup, "the container profile has limits: the pool has a parent cgroup")
            let dirs = ([""] + FileIO.listDirectory("/sys/fs/cgroup").map { "/" + $0 }).map { "/sys/fs/cgroup\($0)/\(cgroup)" }
                .filter { FileManager.default.fileExists(atPath: $0) }
            #expect(!dirs.isEmpty, "no directory of \(cgroup)")
            // The pool's children: the waiting inits.
            let inits = FileIO.listDirectory("/proc/\(pool.pid)/task").flatMap { t in
                (FileIO.read("/proc/\(pool.pid)/task/\(t)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
            }
            #expect(inits.count >= 2, "\(inits)")
            #expect(try Bulkhead.run(["run", "--pool", pool.socket, "--", "/bin/true"]).status == 0)
            if viaSignal {
                #expect(kill(pool.pid, SIGTERM) == 0)
            } else {
                let r = try Bulkhead.run(["pool", "stop", "--socket", pool.socket])
                #expect(r.status == 0 && r.stdout.contains("pool stopped"), "\(r.stderr)")
            }
            var waited = 0
            while FileManager.default.fileExists(atPath: "/proc/\(pool.pid)") && waited < 500 { usleep(20_000); waited += 1 }
            #expect(!FileManager.default.fileExists(atPath: "/proc/\(pool.pid)"), "the pool process is still there")
            for p in inits { #expect(!FileManager.default.fileExists(atPath: "/proc/\(p)/cmdline") || FileIO.read("/proc/\(p)/cmdline") == "", "init \(p) left") }
            for d in dirs { #expect(!FileManager.default.fileExists(atPath: d), "\(d) left") }
            #expect(!FileManager.default.fileExists(atPath: pool.socket), "the socket was left")
            let mountsAfter = Set((FileIO.read("/proc/self/mountinfo") ?? "").split(separator: "\n"))
            #expect(mountsAfter.subtracting(mountsBefore).filter { $0.contains(pool.dir) || $0.contains("newroot") }.isEmpty)
            pool.stop()
        }
    }

    @Test("A pool killed with SIGKILL (no teardown) leaves its cgroups to `bulkhead gc`, which removes them: the parent's name is the dead pool's")
    func aKilledPoolsCgroupsAreCollected() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        let cgroup = try #require(try Pool.status(pool.socket)?.cgroup, "the container profile has limits: the pool has a parent cgroup")
        let dirs = ([""] + FileIO.listDirectory("/sys/fs/cgroup").map { "/" + $0 }).map { "/sys/fs/cgroup\($0)/\(cgroup)" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        try #require(!dirs.isEmpty, "no directory of \(cgroup)")
        #expect(kill(pool.pid, SIGKILL) == 0)
        // Its inits die with it (PR_SET_PDEATHSIG); their cgroups stay.
        for _ in 0..<500 where FileManager.default.fileExists(atPath: "/proc/\(pool.pid)/cmdline") && FileIO.read("/proc/\(pool.pid)/cmdline") != "" { usleep(10_000) }
        for d in dirs {
            for _ in 0..<500 where !(FileIO.read(d + "/cgroup.procs") ?? "").isEmpty { usleep(10_000) }
        }
        #expect(dirs.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "a SIGKILLed pool removed its cgroups: nothing to show")
        let gc = try Bulkhead.run(["gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        for d in dirs {
            #expect(!FileManager.default.fileExists(atPath: d), "gc left \(d)")
            #expect(gc.stdout.contains(d), "gc did not say it removed \(d): \(gc.stdout)")
        }
    }

    @Test("Twelve `pool stop` at once: none waits forever; each is told the pool stopped, or finds no pool left; the pool is gone")
    func concurrentStopsAreAllAnswered() throws {
        let pool = try Pool(size: 1)
        defer { pool.stop() }
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var items: [String] = []
            func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        }
        let results = Lines()
        let group = DispatchGroup()
        let socket = pool.socket
        for _ in 0..<12 {
            DispatchQueue.global().async(group: group) {
                let r = try? Bulkhead.run(["pool", "stop", "--socket", socket], timeout: 30)
                guard let r else { results.add("timeout"); return }
                results.add(r.status == 0 && r.stdout.contains("pool stopped") ? "stopped" : "gone \(r.status) \(r.stderr)")
            }
        }
        group.wait()
        let lines = results.items
        #expect(lines.count == 12, "\(lines)")
        #expect(lines.contains("stopped"), "no stop was answered: \(lines)")
        #expect(!lines.contains("timeout"), "a stop waited past 30 s: \(lines)")
        for _ in 0..<500 where FileManager.default.fileExists(atPath: "/proc/\(pool.pid)/cmdline") && FileIO.read("/proc/\(pool.pid)/cmdline") != "" { usleep(10_000) }
        #expect(FileIO.read("/proc/\(pool.pid)/cmdline") ?? "" == "", "the pool process is still there")
    }
}
