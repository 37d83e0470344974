import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import CShims
import Foundation
import Glibc

/// `exec`: a process that joins a running container, as runc's `exec` (docs/oci.md). The
/// container's config (kept in the state directory at `create`) with its process replaced by
/// `--process process.json` or changed by the flags, decoded by the same rules as config.json's
/// process (`OCIConfig.execProcess`), planned by `LaunchPlanner.execPlan` and run by the step
/// executor of the C child (`ChildSpawner.execInto`, bh_exec_into).
extension OCIRuntime {
    public struct ExecOptions: Sendable {
        public var processFile: String?
        public var args: [String] = []
        public var tty = false
        public var detach = false
        public var pidFile: String?
        public var consoleSocket: String?
        public var env: [String] = []
        public var cwd: String?
        /// `uid[:gid]`, numbers.
        public var user: String?
        public var additionalGids: [String] = []
        public var caps: [String] = []
        public var noNewPrivs = false
        public var preserveFDs: Int32 = 0
        public var ignorePaused = false
        public init() {}
    }

    /// The config `create` kept (root's, 0600 in the 0700 state directory): exec never reads the
    /// bundle again, which its owner may have changed since.
    static let keptConfig = "config.json"

    /// Runs `exec`; returns the exit status to exit with: the process's (128+signal for a
    /// signal) in the foreground, 0 with `detach` once it runs.
    public func exec(id: String, options o: ExecOptions) throws(OCIError) -> Int32 {
        guard try existsBeforeLocking(id) else { throw OCIError("exec \(id): container \(id) does not exist (ENOENT)") }
        let dir = try containerDirectory(id)
        // Under the lock: the state, the init's pidfd (checked against its start time) and the
        // status; released before the process runs (a long exec must not block `kill`/`delete`).
        let record: OCIContainerRecord
        let pidfd: Int32
        do {
            let lock = try lock(id)
            defer { lock.unlock() }
            record = try load(id)
            let st = status(record, dir: dir)
            switch st {
            case "running": break
            case "paused" where o.ignorePaused: break
            case "paused": throw OCIError("exec \(id): cannot exec in a paused container (use --ignore-paused to override)")
            default: throw OCIError("exec \(id): cannot exec in a \(st) container")
            }
            let fd = bh_pidfd_open(record.pid, 0)
            guard fd >= 0 else { throw OCIError("exec \(id): cannot exec in a stopped container") }
            guard CgroupLeafName.isRunning(record.pid, startTime: record.startTime) else { close(fd); throw OCIError("exec \(id): cannot exec in a stopped container") }
            pidfd = fd
        }
        defer { close(pidfd) }

        let configText: String
        do { configText = try TrustedFile.read(dir + "/" + Self.keptConfig, what: "container config", limit: 4 << 20).text } catch {
            throw OCIError("exec \(id): read the config kept at create (\(error)); a container created by an older bulkhead-runc cannot be exec'd into: recreate it")
        }
        var config: OCIConfig
        do { config = try OCIConfig.decode(configText, bundle: record.bundle) } catch { throw OCIError("exec \(id): \(error)") }
        let processText = try Self.execProcessText(o, configText: configText, id: id)
        do { config = try config.execProcess(processText.text, file: processText.file) } catch { throw OCIError("exec \(id): \(error)") }
        // bulkhead.dev/profile is the ceiling of every process of the container: as it was at
        // create (kept in the state, never read again), over whatever the process asks.
        if record.annotations[OCIProfileAnnotation.key] != nil || config.annotations.contains(where: { $0.0 == OCIProfileAnnotation.key }) {
            guard let ceiling = record.processCeiling else {
                throw OCIError("exec \(id): the container was created with \(OCIProfileAnnotation.key) by an older bulkhead-runc, whose state does not keep the profile's bounds (EINVAL); recreate it")
            }
            ceiling.tighten(&config.layer, inherited: Self.runtimeRlimits())
        }

        // The terminal: the pty master goes to the console socket, as create sends it; in the
        // foreground without one, to this process, which relays it (as runc does).
        var consoleFD: Int32 = -1
        defer { if consoleFD >= 0 { close(consoleFD) } }
        var relay: TerminalRelay?
        if config.terminal {
            if let path = o.consoleSocket {
                consoleFD = try Self.connectUnix(path)
            } else if o.detach {
                throw OCIError("exec \(id): a terminal (--tty or process.terminal) with --detach needs --console-socket: a detached exec leaves no one to relay it (EINVAL)")
            } else {
                do { relay = try TerminalRelay() } catch { throw OCIError("exec \(id): \(error)") }
            }
        } else if o.consoleSocket != nil {
            throw OCIError("exec \(id): --console-socket given but no terminal was asked (--tty or process.terminal)")
        }

        var layer = config.layer
        // The init's own program, as compiled at create (the config's filter and the profile's
        // policy as one); a state without it (an older create) compiles the config's again.
        let keptProgram = record.seccompProgram?.bytes
        if keptProgram != nil || record.processCeiling != nil {
            layer.seccomp = .unconfined
        } else if config.hasSeccomp {
            layer.seccomp = .localhost(path: dir + "/seccomp.json", relativeTo: dir)
        }
        let preserve: [Int32] = o.preserveFDs > 0 ? Array(3..<(3 + o.preserveFDs)) : []
        let request = RunRequest(layers: [], overrides: layer, command: config.args, preserveFds: preserve, injectFault: injectFault)
        let prepared: PreparedLaunch
        do { prepared = try Sandbox.prepare(request, store: .standard()) } catch { throw OCIError("exec \(id): \(error)") }
        var context = LaunchContext(callerUID: getuid(), callerGID: getgid(), privileged: geteuid() == 0, preserveFds: preserve,
                                    hasSeccomp: (keptProgram ?? prepared.seccomp?.program) != nil, landlockABI: prepared.landlockABI)
        if consoleFD >= 0 { context.terminalFD = consoleFD }
        if let relay {
            context.terminalFD = relay.slave
            context.terminalType = getenv("TERM").map { String(cString: $0) }
        }
        context.capabilitySets = config.capabilitySets
        let plan: LaunchPlan
        do { plan = try LaunchPlanner.execPlan(profile: prepared.profile, command: config.args, context: context) } catch {
            throw OCIError("exec \(id): \(error)")
        }

        // The init's namespaces, compared through /proc/PID opened while the pidfd is alive.
        let (hostOwned, owned) = try Self.namespacesToJoin(pid: record.pid, pidfd: pidfd, id: id)
        // Its cgroups: the unified one by CLONE_INTO_CGROUP, each v1 one by its `tasks` file.
        var cgroupFD: Int32 = -1
        var taskFDs: [Int32] = []
        defer {
            if cgroupFD >= 0 { close(cgroupFD) }
            for f in taskFDs { close(f) }
        }
        for d in record.cgroupDirectories {
            var st = stat()
            guard lstat(d, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                throw OCIError(SystemError("exec \(id): the container's cgroup \(d)", errno: .current))
            }
            // cgroup.controllers exists in every cgroup v2 directory and in no v1 one.
            if access(d + "/cgroup.controllers", F_OK) == 0 {
                guard cgroupFD < 0 else { continue }
                cgroupFD = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                guard cgroupFD >= 0 else { throw OCIError(SystemError("exec \(id): open the container's cgroup \(d)", errno: .current)) }
            } else {
                let fd = open(d + "/tasks", O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
                guard fd >= 0 else { throw OCIError(SystemError("exec \(id): open \(d)/tasks", errno: .current)) }
                taskFDs.append(fd)
            }
        }

        // The process is re-parented here when its joiner exits: this process waits for it.
        do { try ChildSpawner.becomeSubreaper() } catch { throw OCIError("exec \(id): \(error)") }
        let signals: SignalFD? = o.detach ? nil : (try? SignalFD.blockForwardable())
        defer { signals?.close() }
        let oldMask = umask(mode_t(config.umask ?? 0o022))
        let joined: ChildSpawner.JoinedProcess
        do {
            joined = try ChildSpawner.execInto(plan: plan, seccompProgram: keptProgram ?? prepared.seccomp?.program, targetPidfd: pidfd,
                                               hostOwned: hostOwned, namespaces: owned,
                                               cgroupFD: cgroupFD >= 0 ? cgroupFD : nil, cgroupJoinFDs: taskFDs, fault: injectFault)
        } catch {
            umask(oldMask)
            switch error {
            case .step(let index, let e): throw OCIError("exec \(id): \(LaunchError(stepFailed: index, errno: e, in: plan))")
            case .joiner(let stage, let e): throw OCIError(SystemError("exec \(id): \(stage)", errno: e))
            }
        }
        umask(oldMask)
        defer { close(joined.pidfd) }
        if let pf = o.pidFile {
            do { try Self.writeAtomically(pf, Array("\(joined.pid)".utf8), mode: 0o644) } catch {
                _ = bh_pidfd_send_signal(joined.pidfd, SIGKILL)
                throw error
            }
        }
        if o.detach { return 0 }
        return Self.foreground(pid: joined.pid, pidfd: joined.pidfd, signals: signals, terminal: relay)
    }

    /// `run` in the foreground: the init (this process's child) as `foreground` waits for an
    /// exec'd process.
    static func foreground(initPid pid: Int32, terminal: TerminalRelay?) -> Int32 {
        let signals = try? SignalFD.blockForwardable()
        defer { signals?.close() }
        let pidfd = bh_pidfd_open(pid, 0)
        guard pidfd >= 0 else {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let sig = status & 0x7f
            return sig == 0 ? (status >> 8) & 0xff : 128 + sig
        }
        defer { close(pidfd) }
        return foreground(pid: pid, pidfd: pidfd, signals: signals, terminal: terminal)
    }

    /// `run` and `exec` in the foreground, as runc's: the signals this process receives
    /// (`SignalFD.blockForwardable`) go to the process, SIGWINCH excepted where a terminal is
    /// relayed (the caller's window size is copied to the pty, and the kernel tells the
    /// process); with `terminal`, the caller's terminal is in raw mode from here until the
    /// process has exited and its output is drained (restored on every return: no signal but
    /// SIGKILL ends this process meanwhile), and bytes are copied both ways by the relay of
    /// `bulkhead run --tty`. The exit status comes back as runc gives it (the code, or 128 +
    /// the signal).
    static func foreground(pid: Int32, pidfd: Int32, signals: SignalFD?, terminal: TerminalRelay?) -> Int32 {
        terminal?.childStarted()
        defer { terminal?.restoreTerminal() }
        while true {
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0), signals?.pollFD ?? pollfd(fd: -1, events: 0, revents: 0)]
                + (terminal?.pollFDs ?? [])
            let n = poll(&fds, nfds_t(fds.count), -1)
            if n < 0 { if errno == EINTR { continue }; break }
            if fds[1].revents != 0 {
                while let sig = signals?.next() {
                    if sig == SIGCHLD { continue }
                    if sig == SIGWINCH, let t = terminal { t.resize(); continue }
                    _ = bh_pidfd_send_signal(pidfd, sig)
                }
            }
            terminal?.handle(fds[2...])
            if fds[0].revents != 0 { break }
        }
        terminal?.drain()
        terminal?.restoreTerminal()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            return 255
        }
        let sig = status & 0x7f
        return sig == 0 ? (status >> 8) & 0xff : 128 + sig
    }

    /// The process document: `--process FILE` (read through TrustedFile), or the container's own
    /// process with the flags applied as runc applies them (args replaced, --env added and
    /// replacing a variable of the same name, --cwd, --user, --additional-gids and --cap added to
    /// bounding, effective and permitted, --no-new-privs, --tty). Either way it is decoded by
    /// `OCIConfig.execProcess`: no rule is checked here.
    static func execProcessText(_ o: ExecOptions, configText: String, id: String) throws(OCIError) -> (text: String, file: String) {
        if let file = o.processFile {
            let flagsGiven = !o.args.isEmpty || !o.env.isEmpty || o.cwd != nil || o.user != nil || !o.additionalGids.isEmpty || !o.caps.isEmpty || o.noNewPrivs
            guard !flagsGiven else { throw OCIError("exec \(id): --process replaces the whole process: give no command, --env, --cwd, --user, --additional-gids, --cap or --no-new-privs with it") }
            let contents: TrustedFile.Contents
            do { contents = try TrustedFile.read(file, what: "exec process", limit: 1 << 20) } catch {
                throw OCIError("exec \(id): read --process \(file): \(error)")
            }
            guard let text = contents.utf8Text else { throw OCIError("exec \(id): --process \(file) is not UTF-8 (RFC 8259 section 8.1); write it as UTF-8 (EINVAL)") }
            return (text, file)
        }
        guard !o.args.isEmpty else { throw OCIError("exec \(id): a command is needed (exec [flags] ID COMMAND [ARGS...], or --process FILE)") }
        guard let whole = try? JSONSerialization.jsonObject(with: Data(configText.utf8)) as? [String: Any],
              var p = whole["process"] as? [String: Any] else { throw OCIError("exec \(id): the kept config has no process object (EINVAL)") }
        p["args"] = o.args
        var env = (p["env"] as? [String]) ?? []
        for e in o.env {
            let name = e.split(separator: "=", maxSplits: 1).first.map(String.init) ?? e
            env.removeAll { $0.split(separator: "=", maxSplits: 1).first.map(String.init) == name }
            env.append(e)
        }
        p["env"] = env
        if let c = o.cwd { p["cwd"] = c }
        var user = (p["user"] as? [String: Any]) ?? ["uid": 0, "gid": 0]
        if let u = o.user {
            let parts = u.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let uid = Int64(parts[0]), parts.count == 1 || Int64(parts[1]) != nil else {
                throw OCIError("exec \(id): --user \(u): uid[:gid] expected, as numbers")
            }
            user["uid"] = uid
            if parts.count == 2, let gid = Int64(parts[1]) { user["gid"] = gid }
        }
        if !o.additionalGids.isEmpty {
            var gids = (user["additionalGids"] as? [Any]) ?? []
            for g in o.additionalGids {
                guard let n = Int64(g) else { throw OCIError("exec \(id): --additional-gids \(g): a number expected") }
                gids.append(n)
            }
            user["additionalGids"] = gids
        }
        p["user"] = user
        if !o.caps.isEmpty {
            var caps = (p["capabilities"] as? [String: Any]) ?? [:]
            for set in ["bounding", "effective", "permitted"] {
                var list = (caps[set] as? [String]) ?? []
                for c in o.caps where !list.contains(c) { list.append(c) }
                caps[set] = list
            }
            p["capabilities"] = caps
        }
        if o.noNewPrivs { p["noNewPrivileges"] = true }
        p["terminal"] = o.tty
        guard let data = try? JSONSerialization.data(withJSONObject: p, options: [.sortedKeys]) else {
            throw OCIError("exec \(id): encode the process (EINVAL)")
        }
        return (String(decoding: data, as: UTF8.self), "exec flags")
    }

    /// The init's namespaces that are not this process's, split: those this process's user
    /// namespace owns (a network namespace podman made), joined first while still privileged
    /// there, and the rest (the container's user namespace and what it owns). /proc/PID is
    /// opened, then the pidfd is checked alive: the directory is then the init's, not a
    /// process that reused its pid.
    static func namespacesToJoin(pid: Int32, pidfd: Int32, id: String) throws(OCIError) -> (hostOwned: Set<Namespace>, owned: Set<Namespace>) {
        let proc = open("/proc/\(pid)", TrustedFile.O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard proc >= 0 else { throw OCIError("exec \(id): cannot exec in a stopped container") }
        defer { close(proc) }
        guard bh_pidfd_send_signal(pidfd, 0) == 0 else { throw OCIError("exec \(id): cannot exec in a stopped container") }
        var myUser = stat()
        guard stat("/proc/self/ns/user", &myUser) == 0 else { throw OCIError(SystemError("exec \(id): stat /proc/self/ns/user", errno: .current)) }
        var hostOwned = Set<Namespace>(), owned = Set<Namespace>()
        for ns in Namespace.allCases {
            let name = ns.procName
            var theirs = stat(), mine = stat()
            guard fstatat(proc, "ns/" + name, &theirs, 0) == 0 else {
                if errno == ENOENT { continue } // a namespace type this kernel lacks
                throw OCIError(SystemError("exec \(id): stat the init's \(name) namespace", errno: .current))
            }
            guard stat("/proc/self/ns/" + name, &mine) == 0 else { throw OCIError(SystemError("exec \(id): stat /proc/self/ns/\(name)", errno: .current)) }
            if theirs.st_dev == mine.st_dev && theirs.st_ino == mine.st_ino { continue }
            if ns == .user { owned.insert(ns); continue }
            let fd = openat(proc, "ns/" + name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw OCIError(SystemError("exec \(id): open the init's \(name) namespace", errno: .current)) }
            let ownerFD = ioctl(fd, UInt(0xb701)) // NS_GET_USERNS
            close(fd)
            var o = stat()
            if ownerFD >= 0, fstat(ownerFD, &o) == 0, o.st_dev == myUser.st_dev, o.st_ino == myUser.st_ino {
                hostOwned.insert(ns)
            } else {
                owned.insert(ns)
            }
            if ownerFD >= 0 { close(ownerFD) }
        }
        guard bh_pidfd_send_signal(pidfd, 0) == 0 else { throw OCIError("exec \(id): cannot exec in a stopped container") }
        return (hostOwned, owned)
    }
}

extension Namespace {
    /// The name of its file under /proc/PID/ns.
    var procName: String {
        switch self {
        case .user: "user"
        case .pid: "pid"
        case .mount: "mnt"
        case .network: "net"
        case .ipc: "ipc"
        case .uts: "uts"
        case .cgroup: "cgroup"
        case .time: "time"
        }
    }
}
