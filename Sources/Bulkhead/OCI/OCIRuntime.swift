import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// What `create` leaves running: the init's host pid and its cgroup directories.
extension Namespace {
    /// CLONE_NEW* of the namespace, as NS_GET_NSTYPE returns it.
    var cloneFlagValue: Int32 {
        switch self {
        case .user: 0x1000_0000
        case .pid: 0x2000_0000
        case .mount: 0x0002_0000
        case .network: 0x4000_0000
        case .ipc: 0x0800_0000
        case .uts: 0x0400_0000
        case .cgroup: 0x0200_0000
        case .time: 0x0000_0080
        }
    }
}

/// One container's record under `--root` (state.json): written atomically, read under the
/// container's lock, root's own (mode 0600 in a 0700 directory).
public struct OCIContainerRecord: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var pid: Int32
    /// The init's start time (/proc/PID/stat field 22): a pid reused by another process is not ours.
    public var startTime: UInt64
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var annotations: [String: String]
    public var cgroupDirectories: [String]
    public var cgroupsPath: String?
    /// `bulkhead.dev/seccomp-record`: the keeper that records and writes the profile
    /// (`OCIRecordKeeper`), by pid and start time.
    public var recorderPid: Int32? = nil
    public var recorderStartTime: UInt64? = nil
    /// What `update` last wrote, one entry per limit (nil: never updated).
    public var updatedLimits: [EnforcedLimit]?
    /// The steps the init runs after `start` (working directory, Landlock, seccomp, execve),
    /// the command and where it is searched: `start` names a failure of one of them.
    var startSteps: [OCIStartStep]?
    var command: String?
    var execPaths: [String]?
    /// config.json's poststart and poststop hooks: `start` and `delete` run them.
    var hooks: [OCIHook]?
    /// `bulkhead.dev/profile`: what of the profile bounds every process `exec` runs (nil:
    /// no annotation). A record with the annotation and without this is refused by `exec`.
    var processCeiling: OCIProcessCeiling?
    /// The seccomp program the init loads (the config's filter, the profile's policy, or both
    /// as one), as compiled at `create`: `exec` loads this one (nil: the init has none).
    /// Base64 in the JSON, as the `Data` it was before (a state written then still reads).
    var seccompProgram: Base64Bytes?
}

/// The OCI state (runtime-spec "State"), as `state` prints it; runc's keys plus `rootfs`,
/// `created` and `owner`, as runc prints them.
public struct OCIState: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    public var pid: Int32
    public var status: String
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [String: String]?
}

/// An error of the OCI front end: the operation (the step), the errno and the fix.
public struct OCIError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public init(_ e: SystemError) { message = e.description }
    public var description: String { message }
}

/// The runc-compatible runtime: create/start/state/kill/delete on the engine `bulkhead run` uses.
public struct OCIRuntime: Sendable {
    public static let defaultRoot = "/run/bulkhead-oci"
    public static let version = "1.1.0"
    public var root: String
    /// Test-only: make a plan step or launcher step fail.
    public var injectFault: FaultPoint?
    /// `--log`: where a recording keeper reports a failure after `create` has returned.
    public var log: String?

    public init(root: String = OCIRuntime.defaultRoot, injectFault: FaultPoint? = nil) {
        self.root = root
        self.injectFault = injectFault
    }

    // MARK: ids and the state directory

    /// A container id: what runc accepts (letters, digits, `_ + - .`), at most 1024 bytes,
    /// never `.` or `..`: it names a directory under --root and a cgroup.
    public static func checkID(_ id: String) throws(OCIError) {
        let ok = !id.isEmpty && id.utf8.count <= 1024 && id != "." && id != ".."
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x5f || $0 == 0x2b || $0 == 0x2d || $0 == 0x2e }
        guard ok else { throw OCIError("invalid container id: use letters, digits, '_', '+', '-' and '.' (at most 1024 bytes, not . or ..)") }
    }

    /// --root: created 0700 if missing; else a real directory (no symlink), owned by this euid,
    /// writable by no one else.
    func rootDirectory() throws(OCIError) -> String {
        if mkdir(root, 0o700) != 0 && errno != EEXIST {
            guard errno == ENOENT else { throw OCIError(SystemError("create the state root \(root)", errno: .current)) }
            try Self.makeParents(of: root)
            if mkdir(root, 0o700) != 0 && errno != EEXIST { throw OCIError(SystemError("create the state root \(root)", errno: .current)) }
        }
        var st = stat()
        guard lstat(root, &st) == 0 else { throw OCIError(SystemError("stat the state root \(root)", errno: .current)) }
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            throw OCIError("check the state root \(root): it must be a directory (not a symlink) owned by uid \(geteuid()) and writable by no one else (EPERM); remove it or pass another --root")
        }
        return root
    }

    /// The missing parents of --root (containerd's shim passes /run/containerd/runc/<namespace>
    /// and runc makes it): walked from "/" one component at a time, each opened O_NOFOLLOW
    /// (a symlink anywhere is refused), each existing one owned by root or this euid and
    /// writable by no one else unless sticky; each missing one made 0700 (owned by this euid).
    static func makeParents(of path: String) throws(OCIError) {
        guard path.hasPrefix("/") else { throw OCIError("the state root \(path) must be an absolute path (EINVAL)") }
        let parts = ExactName.pathComponents(path)
        guard !parts.contains(where: { ExactName.same($0, ".") || ExactName.same($0, "..") }) else { throw OCIError("the state root \(path) must not contain . or .. (EINVAL)") }
        var fd = open("/", TrustedFile.O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIError(SystemError("open /", errno: .current)) }
        defer { close(fd) }
        var walked = ""
        for part in parts.dropLast() {
            walked += "/" + part
            if mkdirat(fd, part, 0o700) != 0 && errno != EEXIST {
                throw OCIError(SystemError("create \(walked) (a parent of the state root)", errno: .current))
            }
            let next = openat(fd, part, TrustedFile.O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else {
                throw OCIError(SystemError("open \(walked) (a parent of the state root; a symlink is refused)", errno: .current))
            }
            close(fd)
            fd = next
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw OCIError(SystemError("stat \(walked)", errno: .current)) }
            guard st.st_uid == 0 || st.st_uid == geteuid(), st.st_mode & 0o022 == 0 || st.st_mode & S_ISVTX != 0 else {
                throw OCIError("check \(walked) (a parent of the state root): owned by another user or writable by others (EPERM); pass another --root")
            }
        }
    }

    func containerDirectory(_ id: String) throws(OCIError) -> String {
        try Self.checkID(id)
        return try rootDirectory() + "/" + id
    }

    func lock(_ id: String) throws(OCIError) -> FileLock {
        // The id names the lock file: checked first, or "./../x" would make root create a file
        // outside --root.
        try Self.checkID(id)
        let path = Self.lockPath(id, in: try rootDirectory())
        // delete (and a failed create) unlink it while they hold it: a waiter checks that it
        // locked the file the path names (FileLock removedByHolders).
        do { return try FileLock(path, removedByHolders: true) } catch { throw OCIError(error) }
    }

    /// ROOT/ID:lock: a name no container id can take (':' is not in the id alphabet), so no id
    /// (".x.lock", "x.lock") names, hides or blocks another container's lock.
    static func lockPath(_ id: String, in root: String) -> String { root + "/" + id + ":lock" }

    /// Every file a container's state directory can hold (delete and a failed create remove them).
    static let stateFiles = ["exec.fifo", "state.json", "state.json.tmp", "seccomp.json", "seccomp.json.tmp", keptConfig, keptConfig + ".tmp"]

    /// `start` and `delete` of an id that has no state directory answer without taking the
    /// lock: its file would be left behind (only create and delete remove one). Checked again
    /// under the lock.
    func existsBeforeLocking(_ id: String) throws(OCIError) -> Bool {
        var st = stat()
        return lstat(try containerDirectory(id), &st) == 0
    }

    func load(_ id: String) throws(OCIError) -> OCIContainerRecord {
        let dir = try containerDirectory(id)
        var st = stat()
        guard lstat(dir, &st) == 0 else { throw OCIError("container \(id) does not exist (ENOENT)") }
        guard st.st_mode & S_IFMT == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            throw OCIError("container \(id): its state directory \(dir) is not this runtime's (owner, mode or type) (EPERM)")
        }
        let c: TrustedFile.Contents
        do { c = try TrustedFile.read(dir + "/state.json", what: "container state", limit: 1 << 20) } catch { throw OCIError(error) }
        guard c.owner == geteuid(), c.mode & 0o077 == 0, let text = c.utf8Text, let r = try? StrictJSON.decode(OCIContainerRecord.self, from: text), r.id == id else {
            throw OCIError("container \(id): state.json is damaged or not this runtime's (EINVAL); `delete --force \(id)` removes it")
        }
        return r
    }

    func save(_ r: OCIContainerRecord, in dir: String) throws(OCIError) {
        guard let text = try? JSONText.encodeCompact(r) else { throw OCIError("encode the container state") }
        try Self.writeAtomically(dir + "/state.json", Array(text.utf8), mode: 0o600)
    }

    /// tmp file, rename: a reader sees the old state or the new one, never a part. No fsync (as
    /// runc's saveState and pid file): what these files describe (live processes, a mount
    /// namespace) does not outlive a crash of the machine, the default --root is a tmpfs, and on
    /// a disk an fsync cost 10-60 ms per write, two to four writes per container (issue 13).
    static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(OCIError) {
        let tmp = path + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw OCIError(SystemError("write \(tmp)", errno: .current)) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; let e = Errno.current; close(fd); unlink(tmp); throw OCIError(SystemError("write \(tmp)", errno: e)) }
            off += n
        }
        close(fd)
        guard rename(tmp, path) == 0 else { let e = Errno.current; unlink(tmp); throw OCIError(SystemError("rename \(tmp) to \(path)", errno: e)) }
    }

    // MARK: process facts

    /// Field 22 of /proc/PID/stat as the initial time namespace shows it (`HostStartTime`, as
    /// `ProcessHandle` compares it), and the state letter.
    static func processStart(_ pid: Int32) -> (start: UInt64, state: Character)? {
        // ProcStat's byte-wise readers: a Character search for ")" was led inside a command name
        // the init chose (RedTeamLaunchCPUOCITests); the start time as the initial time
        // namespace shows it (HostStartTime, rt-lead).
        guard pid > 0, let text = FileIO.read("/proc/\(pid)/stat"), let start = HostStartTime.fromStat(text),
              let s = ProcStat.state(fromStat: text) else { return nil }
        return (start, Character(Unicode.Scalar(s)))
    }

    /// created (the exec fifo still exists and the init lives), running, or stopped.
    func status(_ r: OCIContainerRecord, dir: String) -> String {
        guard let p = Self.processStart(r.pid), p.start == r.startTime, p.state != "Z", p.state != "X" else { return "stopped" }
        // A frozen cgroup is paused, created or running before (as runc reports it).
        if CgroupFreezer.isFrozen(r.cgroupDirectories) { return "paused" }
        var st = stat()
        if lstat(dir + "/exec.fifo", &st) == 0 { return "created" }
        return "running"
    }

    /// For a command on an existing container: its lock (held; the caller unlocks), its record,
    /// its state directory and its status. A missing container is ENOENT, without a lock file.
    func locked(_ id: String, _ command: String) throws(OCIError) -> (lock: FileLock, record: OCIContainerRecord, dir: String, status: String) {
        guard try existsBeforeLocking(id) else { throw OCIError("\(command) \(id): container \(id) does not exist (ENOENT)") }
        let lock = try lock(id)
        do throws(OCIError) {
            let r = try load(id)
            let dir = try containerDirectory(id)
            return (lock, r, dir, status(r, dir: dir))
        } catch {
            lock.unlock()
            throw error
        }
    }

    /// `update`: the limits of a `LinuxResources` document (`OCIConfig.decodeUpdate`, the config's
    /// rules) written to the live cgroup, and recorded in state.json (written atomically).
    public func update(id: String, resources text: String) throws(OCIError) -> [EnforcedLimit] {
        let limits: CgroupLimits
        do { limits = try OCIConfig.decodeUpdate(text) } catch { throw OCIError("update \(id): \(error)") }
        let (lock, record, dir, s) = try locked(id, "update")
        defer { lock.unlock() }
        var r = record
        // bulkhead.dev/profile bounded the limits at create: they stay bounded by the profile as
        // it was then (kept in the state), never by the profile read again (an edit since, or a
        // file put in its place, raises nothing).
        if r.annotations[OCIProfileAnnotation.key] != nil {
            guard let ceiling = r.processCeiling?.resources else {
                throw OCIError("update \(id): the container was created with \(OCIProfileAnnotation.key) by an older bulkhead-runc, whose state does not keep the profile's limits (EINVAL); recreate it")
            }
            do { try OCIProfileAnnotation.checkUpdate(limits, within: ceiling) } catch {
                throw OCIError("update \(id): annotation \(OCIProfileAnnotation.key): \(error) (EPERM)")
            }
        }
        guard s != "stopped" else { throw OCIError("update \(id): the container is stopped (EINVAL)") }
        guard !r.cgroupDirectories.isEmpty else { throw OCIError("update \(id): \(Self.noCgroup)") }
        let written: [EnforcedLimit]
        do {
            let host = try CgroupHost.detect()
            written = try SandboxCgroup.update(directories: r.cgroupDirectories, host: host, limits: limits)
        } catch { throw OCIError("update \(id): \(error)") }
        var all = (r.updatedLimits ?? []).filter { old in !written.contains { $0.file == old.file } }
        all += written
        r.updatedLimits = all
        try save(r, in: dir)
        return written
    }

    /// What `update`, `pause`, `resume` and `ps` say of a container created without root and
    /// without a delegated cgroup (`CgroupSetup.create(rootlessOptional:)`), as runc rootless.
    static let noCgroup = "the container has no cgroup of its own: it was created without root and without a delegated cgroup (ENOENT); delegate a cgroup to this user (systemd-run --user --scope -p Delegate=yes) before create"

    /// `pause`: freeze the container's cgroup (v1 freezer.state, else cgroup2's cgroup.freeze)
    /// and wait until the kernel says FROZEN / frozen; a created or running container only.
    public func pause(id: String) throws(OCIError) { try setFrozen(id, true) }

    /// `resume`: thaw a paused container's cgroup and wait until it is thawed.
    public func resume(id: String) throws(OCIError) { try setFrozen(id, false) }

    func setFrozen(_ id: String, _ frozen: Bool) throws(OCIError) {
        let command = frozen ? "pause" : "resume"
        let (lock, r, _, s) = try locked(id, command)
        defer { lock.unlock() }
        if frozen {
            guard s == "running" || s == "created" else { throw OCIError("pause \(id): the container is \(s), not running (EINVAL)") }
        } else {
            guard s == "paused" else { throw OCIError("resume \(id): the container is \(s), not paused (EINVAL)") }
        }
        guard !r.cgroupDirectories.isEmpty else { throw OCIError("\(command) \(id): \(Self.noCgroup)") }
        do { try CgroupFreezer.set(r.cgroupDirectories, frozen: frozen) } catch { throw OCIError("\(command) \(id): \(error)") }
    }

    // MARK: commands

    public struct CreateOptions: Sendable {
        public var bundle: String
        public var pidFile: String?
        public var consoleSocket: String?
        public var preserveFDs: Int32 = 0
        /// `run` in the foreground without --console-socket: the relay process.terminal's pty
        /// master goes to (`OCIRuntime.foreground`); without it a terminal needs a console socket.
        var terminal: TerminalRelay?
        public init(bundle: String) { self.bundle = bundle }
    }

    /// `create`: decode the bundle's config, plan, create the cgroup and the init; the init
    /// waits on the exec fifo. Every failure removes what was made.
    public func create(id: String, options o: CreateOptions) throws(OCIError) -> Int32 {
        let lock = try lock(id)
        defer { lock.unlock() }
        let dir = try containerDirectory(id)
        guard mkdir(dir, 0o700) == 0 else {
            if errno == EEXIST { throw OCIError("create \(id): a container with this id exists already (EEXIST)") }
            throw OCIError(SystemError("create the state directory \(dir)", errno: .current))
        }
        var done = false
        defer {
            if !done {
                for f in Self.stateFiles { unlink(dir + "/" + f) }
                rmdir(dir)
                // Nothing of a failed create is left, its lock file included (held until here).
                unlink(Self.lockPath(id, in: root))
            }
        }
        // The bundle: a directory root or the caller owns, reached without another user's links.
        var given = o.bundle
        if !given.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else { throw OCIError(SystemError("create \(id): the working directory, for the relative --bundle \(o.bundle): getcwd", errno: .current)) }
            given = String(cString: cwd) + "/" + given
            free(cwd)
        }
        let bundle = "/" + given.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        let contents: TrustedFile.Contents
        do { contents = try TrustedFile.read(bundle + "/" + OCIConfig.file, what: "OCI config", limit: 4 << 20) } catch {
            throw OCIError("create \(id): read the bundle's config.json: \(error)")
        }
        // Not repaired: its one reader (StrictJSON, for OCIConfig and linux.seccomp alike) sees
        // the file's own text or nothing.
        guard let text = contents.utf8Text else {
            throw OCIError("create \(id): the bundle's config.json is not UTF-8 (RFC 8259 section 8.1); write it as UTF-8 (EINVAL)")
        }
        var config: OCIConfig
        let document: StrictJSON.Value
        do { (config, document) = try OCIConfig.decodeDocument(text, bundle: bundle) } catch { throw OCIError("create \(id): \(error)") }
        // bulkhead.dev/profile: a layer profile that only tightens the config; what of it bounds
        // each process is kept in the state for `exec` (`OCIProcessCeiling`).
        let (profileSeccomp, ceiling) = try Self.applyProfileAnnotation(&config, id: id)
        // bulkhead.dev/seccomp-record: its target checked now, so that a bad one fails create.
        var recordTarget: (directory: String, name: String)?
        if let value = config.annotations.last(where: { $0.0 == OCISeccompRecordAnnotation.key })?.1 {
            do { recordTarget = try OCIRecordKeeper.target(value, config: config) } catch { throw OCIError("create \(id): \(error)") }
        }

        // The exec fifo: the init opens it for writing at its last setup step; `start` reads it.
        let fifo = dir + "/exec.fifo"
        guard mkfifo(fifo, 0o600) == 0 else { throw OCIError(SystemError("create the exec fifo \(fifo)", errno: .current)) }
        let fifoFD = open(fifo, TrustedFile.O_PATH | O_CLOEXEC)
        guard fifoFD >= 0 else { throw OCIError(SystemError("open the exec fifo \(fifo)", errno: .current)) }
        defer { close(fifoFD) }

        // Namespaces joined by path (the network namespace podman and the CNI plugins made).
        var join: [(fd: Int32, namespace: Namespace)] = []
        defer { for j in join { close(j.fd) } }
        for (ns, path) in config.joinPaths {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { throw OCIError(SystemError("create \(id): open the \(ns.rawValue) namespace \(path)", errno: .current)) }
            // NS_GET_NSTYPE: a namespace file of that type, nothing else (a user's file would lie).
            guard ioctl(fd, UInt(0xb703)) == ns.cloneFlagValue else {
                close(fd)
                throw OCIError("create \(id): \(path) (linux.namespaces) is not a \(ns.rawValue) namespace file (EINVAL)")
            }
            // net.* sysctls written into a joined network namespace that is the runtime's own
            // (the host's) would change the host (runc refuses the same).
            var mine = stat(), theirs = stat()
            if ns == .network, config.sysctls.contains(where: { $0.name.hasPrefix("net.") }),
               stat("/proc/self/ns/net", &mine) != 0 || fstat(fd, &theirs) != 0 || (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino) {
                close(fd)
                throw OCIError("create \(id): linux.sysctl sets net.* but \(path) (linux.namespaces) is the host's network namespace (EPERM)")
            }
            join.append((fd, ns))
        }
        if !join.isEmpty {
            do { try ChildSpawner.becomeSubreaper() } catch { throw OCIError("create \(id): \(error)") }
        }

        // The console socket: the pty master goes there (SCM_RIGHTS), as runc sends it.
        var consoleFD: Int32 = -1
        defer { if consoleFD >= 0 { close(consoleFD) } }
        if config.terminal, o.consoleSocket == nil, let relay = o.terminal {
            do { consoleFD = try relay.sandboxEnd() } catch { throw OCIError("create \(id): \(error)") }
        } else if config.terminal {
            guard let path = o.consoleSocket else { throw OCIError("create \(id): process.terminal is true but no --console-socket was given") }
            consoleFD = try Self.connectUnix(path)
        } else if o.consoleSocket != nil {
            throw OCIError("create \(id): --console-socket given but process.terminal is false")
        }

        // The config as decoded, for `exec` (which never reads the bundle again).
        try Self.writeAtomically(dir + "/" + Self.keptConfig, Array(text.utf8), mode: 0o600)
        var layer = config.layer
        if config.hasSeccomp {
            // linux.seccomp, as its own document, root's (0600 in the 0700 state directory):
            // the engine's seccomp parser and compiler read it as a Localhost policy.
            // Its keys in one order (OCISeccompSection): one cache entry per policy.
            guard let section = OCISeccompSection.value(ofDocument: document) else {
                throw OCIError("create \(id): config.json: linux.seccomp is not in the document as read (EINVAL)")
            }
            // The refusal again on the policy loaded (RedTeamOCIFrontTests).
            guard !OCISeccompSection.hasListener(section) else {
                throw OCIError("create \(id): config.json: linux.seccomp.listenerPath: \(OCIConfig.seccompListenerUnsupported) (EINVAL)")
            }
            let data = OCISeccompSection.document(section)
            try Self.writeAtomically(dir + "/seccomp.json", data, mode: 0o600)
            layer.seccomp = .localhost(path: dir + "/seccomp.json", relativeTo: dir)
        } else if let extra = profileSeccomp {
            // No filter of the config's own: the profile's policy is the one filter.
            layer.seccomp = extra
        }
        let idMaps = try config.idMappings.flatMap { (maps) throws(OCIError) in try Self.checkIDMaps(maps, id: id) }
        // Hooks (runtime-spec "Lifecycle"): prestart and createRuntime run here, in the runtime's
        // namespaces, once the init exists (its namespaces made, none of its setup run);
        // createContainer (before its final pivot_root) and startContainer (after `start`,
        // before execve) run in the init, from steps prepared now; poststart in `start`,
        // poststop in `delete`. Their state is a memfd the init inherits, filled with its pid.
        var hookStateFDs: [Int32] = []
        defer { for fd in hookStateFDs { close(fd) } }
        func initHooks(_ kind: OCIHook.Kind) throws(OCIError) -> [HookStep] {
            let list = config.hooks(kind)
            guard !list.isEmpty else { return [] }
            let fd: Int32
            do { fd = try HookRunner.stateFile() } catch { throw OCIError("create \(id): \(error)") }
            hookStateFDs.append(fd)
            return list.enumerated().map { Self.step($1, index: $0, stateFD: fd) }
        }
        let createContainerHooks = try initHooks(.createContainer)
        let startContainerHooks = try initHooks(.startContainer)
        var request = RunRequest(layers: [], overrides: layer, command: config.args,
                                 preserveFds: o.preserveFDs > 0 ? Array(3..<(3 + o.preserveFDs)) : [], injectFault: injectFault)
        request.joinNamespaces = Set(join.map(\.namespace))
        var prepared: PreparedLaunch
        do {
            prepared = try Sandbox.prepare(request, store: .standard(), ociExecFifo: fifoFD, ociTerminal: consoleFD >= 0 ? consoleFD : nil, ociSysctls: config.sysctls, ociIDMaps: idMaps,
                                           ociCgroupMountReadOnly: config.cgroupMountReadOnly, ociCapabilitySets: config.capabilitySets,
                                           ociHooks: (createContainerHooks, startContainerHooks))
        } catch { throw OCIError("create \(id): \(error)") }
        if config.hasSeccomp, let extra = profileSeccomp { try Self.stackSeccomp(&prepared, extra, id: id) }
        // The init opens the fifo after it took the workload's ids: the fifo is theirs (mode
        // 0600, in the 0700 state directory; reached only through the init's /proc/self/fd).
        func host(_ id: UInt32, _ map: [IDMapEntry]) -> UInt32 { map.isEmpty ? id : IDMapRules.host(map, id) ?? id }
        guard fchownat(AT_FDCWD, fifo, host(prepared.profile.runAsUser, prepared.plan.uidMap), host(prepared.profile.runAsGroup, prepared.plan.gidMap), AT_SYMLINK_NOFOLLOW) == 0 else {
            throw OCIError(SystemError("create \(id): chown the exec fifo to the workload's ids", errno: .current))
        }
        let oldMask = config.umask.map { umask(mode_t($0)) }
        defer { if let m = oldMask { umask(m) } }
        // An absolute cgroupsPath is where the caller looks (containerd's shim watches its
        // memory.oom_control / memory.events): from each hierarchy's root, as runc.
        let cgroupsPath = config.cgroupsPathComponents
        let rootfs: String = { if case .directory(let d)? = config.layer.root { return d }; return "/" }()
        let annotations = Dictionary(config.annotations, uniquingKeysWith: { _, b in b })
        let createdAt = Self.now()
        func hookState(_ status: String, _ pid: Int32) -> [UInt8] {
            Array(OCICommandLine.json(OCIState(ociVersion: config.ociVersion, id: id, pid: pid, status: status, bundle: bundle, rootfs: rootfs,
                                               created: createdAt, owner: "", annotations: annotations.isEmpty ? nil : annotations), pretty: false).utf8)
        }
        var hooksStarted = false
        let result = Supervisor(prepared: prepared).create(cgroupPath: cgroupsPath ?? [SandboxCgroup.ociDirectory, id], fromHierarchyRoot: cgroupsPath != nil,
                                                           rootlessOptional: geteuid() != 0,
                                                           join: join, oomScoreAdj: config.oomScoreAdj, beforeRelease: { pid in
            do throws(SystemError) {
                for (fd, status) in zip(hookStateFDs, (createContainerHooks.isEmpty ? [] : ["creating"]) + (startContainerHooks.isEmpty ? [] : ["created"])) {
                    try HookRunner.fill(fd, hookState(status, pid))
                }
            } catch { return LaunchError("the hooks' state", wrapping: error) }
            hooksStarted = true
            for kind in [OCIHook.Kind.prestart, .createRuntime] {
                if let failure = Self.runHooks(config.hooks(kind), state: hookState("creating", pid), failFast: true).first {
                    return LaunchError(operation: failure)
                }
            }
            return nil
        })
        // A create that fails once the hooks began continues at poststop (runtime-spec).
        func poststopAfterFailure() -> String {
            guard hooksStarted else { return "" }
            let warnings = Self.runHooks(config.hooks(.poststop), state: hookState("stopped", 0), failFast: false)
            return warnings.map { "; then \($0)" }.joined()
        }
        let created: OCICreated
        switch result {
        case .success(let c): created = c
        case .failure(let e): throw OCIError("create \(id): \(e)\(poststopAfterFailure())")
        }
        func killAndClean() {
            Glibc.kill(created.pid, SIGKILL)
            OCIRuntime.removeCgroups(created.cgroupDirectories)
        }
        guard let start = Self.processStart(created.pid) else {
            killAndClean()
            throw OCIError("create \(id): the init \(created.pid) is gone (ESRCH)\(poststopAfterFailure())")
        }
        // linux.resources.devices: the init waits on the exec fifo and the workload runs only
        // after `start`, so the rules hold from its first instruction. The config's rules in
        // order, then the engine's own nodes (as runc adds its default devices): on cgroup v1
        // written to the devices cgroup, on v2 (no devices controller) an eBPF device program
        // attached to the container's cgroup2 leaf. Fail closed: no program, no container.
        // No rules in the config: runc's default list (deny all, the engine's nodes allowed).
        // Without root (rootless podman) the rules are applied where this user can apply them
        // and skipped where it cannot, as runc's rootless mode does: no cgroup of its own
        // (nothing delegated), a v1 devices cgroup whose first rule the kernel refuses (EPERM:
        // the rules need CAP_SYS_ADMIN in the host's namespace; a caller holding it gets them),
        // a device program the kernel refuses to this user (EPERM, EACCES).
        // Nothing is lost that held: the container is in a user namespace this user owns, whose
        // mknod of a device the kernel refuses (CAP_MKNOD of the host's namespace), its /dev is
        // the engine's nodev tmpfs of bind mounts, and a node the runtime can bind there is one
        // this user can open anyway; the runtime holds no privilege the caller lacks.
        let rootless = geteuid() != 0
        let deviceRules = config.appliedDeviceRules(privileged: !rootless)
        let v1Devices = created.cgroupDirectories.first(where: { access($0 + "/devices.deny", F_OK) == 0 })
        if !deviceRules.isEmpty, rootless, v1Devices == nil, CgroupDeviceProgram.cgroup2Leaf(created.cgroupDirectories) == nil {
            // Rootless, no cgroup2 leaf of its own: nothing to apply the rules to (above).
        } else if !deviceRules.isEmpty {
            if let devices = v1Devices {
                for (n, (allow, line)) in (deviceRules.map({ ($0.allow, $0.line) }) + OCIConfig.engineDeviceRules.map({ (true, $0) })).enumerated() {
                    let file = devices + (allow ? "/devices.allow" : "/devices.deny")
                    do { try FileIO.write(line, to: file) } catch {
                        // Rootless: skipped only when the kernel refuses the first rule (EPERM:
                        // no CAP_SYS_ADMIN), nothing written; a caller that holds it gets them all.
                        if rootless, n == 0, error.errno?.rawValue == EPERM { break }
                        killAndClean()
                        throw OCIError("create \(id): linux.resources.devices: write \(file): \(error)\(poststopAfterFailure())")
                    }
                }
            } else if let leaf = CgroupDeviceProgram.cgroup2Leaf(created.cgroupDirectories) {
                do {
                    try CgroupDeviceProgram.attach(try OCIDeviceProgram.instructions(deviceRules), to: leaf)
                } catch let e as SystemError where rootless && [EPERM, EACCES].contains(e.errno?.rawValue ?? 0) {
                    // Rootless: the kernel lets only a privileged caller attach one (above).
                } catch {
                    killAndClean()
                    throw OCIError("create \(id): linux.resources.devices on cgroup v2: \(error)\(poststopAfterFailure())")
                }
            } else {
                killAndClean()
                throw OCIError("create \(id): linux.resources.devices: the container has neither a v1 devices cgroup nor a cgroup2 leaf to attach a device program to (ENOENT) — mount the devices controller (v1) or cgroup2\(poststopAfterFailure())")
            }
        }
        if !config.hugepageLimits.isEmpty {
            do {
                try SandboxCgroup.writeHugepageLimits(config.hugepageLimits.map { ($0.pageSize, $0.bytes) }, directories: created.cgroupDirectories,
                                                      host: try CgroupHost.detect())
            } catch {
                killAndClean()
                throw OCIError("create \(id): linux.resources.hugepageLimits: \(error)\(poststopAfterFailure())")
            }
        }
        var keeper: (pid: Int32, startTime: UInt64)?
        if let target = recordTarget {
            do { keeper = try OCIRecordKeeper.start(root: root, log: log, id: id, pid: created.pid, startTime: start.start, target: target) } catch {
                killAndClean()
                throw OCIError("create \(id): \(error)\(poststopAfterFailure())")
            }
        }
        func killKeeper() {
            if let k = keeper, let h = ProcessHandle(pid: k.pid, startTime: k.startTime) { h.signal(SIGKILL); _ = h.waitForExit(seconds: 5) }
        }
        var record = OCIContainerRecord(ociVersion: config.ociVersion, id: id, pid: created.pid, startTime: start.start, bundle: bundle,
                                        rootfs: rootfs, created: createdAt, annotations: annotations,
                                        cgroupDirectories: created.cgroupDirectories, cgroupsPath: config.cgroupsPath,
                                        startSteps: OCIStartStep.after(prepared.plan), command: prepared.plan.argv.first,
                                        execPaths: prepared.plan.execPaths,
                                        hooks: config.hooks.filter { $0.kind == .poststart || $0.kind == .poststop })
        record.processCeiling = ceiling
        record.seccompProgram = prepared.seccomp.map { Base64Bytes($0.program) }
        record.recorderPid = keeper?.pid
        record.recorderStartTime = keeper?.startTime
        do {
            try save(record, in: dir)
            if let pf = o.pidFile { try Self.writeAtomically(pf, Array("\(created.pid)".utf8), mode: 0o644) }
        } catch { killAndClean(); killKeeper(); throw OCIError(error.message + poststopAfterFailure()) }
        done = true
        return created.pid
    }

    /// `bulkhead.dev/profile: NAME` (`OCIProfileAnnotation`): NAME is looked up only as a name,
    /// in the profile store as it resolves names for this user (for root: the built-in profiles
    /// and root-owned search directories, every file through `TrustedFile`), never as a path.
    /// Returns the profile's seccomp policy, to apply with the config's, and what of it bounds
    /// every process of the container (kept for `exec`); nil, nil without the annotation.
    static func applyProfileAnnotation(_ config: inout OCIConfig, id: String) throws(OCIError) -> (SeccompSelection?, OCIProcessCeiling?) {
        let key = OCIProfileAnnotation.key
        guard let name = config.annotations.last(where: { $0.0 == key })?.1 else { return (nil, nil) }
        var layers: [ProfileLayer] = []
        do {
            try OCIProfileAnnotation.checkName(name)
            layers = try ProfileStore.standard().layers(for: name)
            let profile = try EffectiveProfile.resolve(layers)
            if geteuid() == 0 { try OCIProfileAnnotation.checkHostIDs(config, within: profile) }
            return (try OCIProfileAnnotation.tighten(&config, with: profile, inherited: Self.runtimeRlimits()), OCIProcessCeiling(profile))
        } catch {
            throw OCIError("create \(id): annotation \(key): \(error.withoutContent(ifAnyPrivate: layers))")
        }
    }

    /// This process's rlimits: what a container's process inherits where nothing sets one.
    static func runtimeRlimits() -> [RlimitResource: Rlimit] {
        var inherited: [RlimitResource: Rlimit] = [:]
        for r in RlimitResource.allCases {
            var cur = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(r.number)), &cur) == 0 {
                inherited[r] = Rlimit(soft: UInt64(cur.rlim_cur), hard: UInt64(cur.rlim_max))
            }
        }
        return inherited
    }

    /// The config's filter and the profile's policy as one program: a call runs only if both
    /// allow it (`SeccompProgramStack`).
    static func stackSeccomp(_ prepared: inout PreparedLaunch, _ extra: SeccompSelection, id: String) throws(OCIError) {
        guard let own = prepared.seccomp else { return }
        var p = prepared.profile
        p.seccomp = extra
        let compiled: CompiledSeccomp?
        do { compiled = try SeccompSetup.compile(p, store: .standard()) } catch {
            throw OCIError("create \(id): annotation \(OCIProfileAnnotation.key): the profile's seccomp policy: \(error)")
        }
        guard let theirs = compiled else { return }
        let stacked = SeccompProgramStack.intersect(own.program, theirs.program)
        guard let program = stacked.program else {
            throw OCIError("create \(id): annotation \(OCIProfileAnnotation.key): linux.seccomp and the profile's seccomp policy cannot be combined: \(stacked.problem ?? "") (EINVAL)")
        }
        var combined = own
        combined.program = program
        combined.cached = false
        combined.notes += theirs.notes
        combined.control.source = own.control.source + " and " + theirs.control.source
        combined.control.bpfInstructions = program.count / 8
        prepared.seccomp = combined
    }

    /// `linux.uidMappings`/`gidMappings` (each list already checked by `IDMapRules`), checked
    /// against what this caller may map, through the id-map code of `bulkhead run`: as root,
    /// every host range of either map usable as a profile's `userNamespace.hostIDRange` would be
    /// (none of the host's own accounts, not the owner band; the planner also refuses a range
    /// overlapping another's), written as given (up to 340 lines each) by the launcher after
    /// clone3; rootless, only the caller's own uid and gid as 0, which is what the engine maps
    /// without root (nil: the engine's own rootless map).
    static func checkIDMaps(_ maps: IDMaps, id: String) throws(OCIError) -> IDMaps? {
        guard geteuid() == 0 else {
            guard maps.uid == [IDMapEntry(inside: 0, outside: geteuid(), count: 1)], maps.gid == [IDMapEntry(inside: 0, outside: getegid(), count: 1)] else {
                throw OCIError("create \(id): config.json: linux.uidMappings/gidMappings: without root only your own uid \(geteuid()) and gid \(getegid()) can be mapped (as containerID 0, size 1); more ids need newuidmap/newgidmap and /etc/subuid, which bulkhead-runc does not use (EPERM)")
            }
            return nil
        }
        for (list, name) in [(maps.uid, "uidMappings"), (maps.gid, "gidMappings")] {
            if let problem = IDMapRules.problem(list) { throw OCIError("create \(id): config.json: linux.\(name): \(problem) (EINVAL)") }
            for (i, e) in list.enumerated() {
                if let problem = IDRange.problem(hostStart: e.outside, count: e.count) {
                    throw OCIError("create \(id): config.json: linux.\(name)[\(i)]: \(problem) (EPERM)")
                }
            }
        }
        return maps
    }

    /// A hook of config.json as the C runner takes it (timeout in ms; 86 400 s at most, checked
    /// by OCIHook, fits).
    static func step(_ h: OCIHook, index: Int, stateFD: Int32) -> HookStep {
        HookStep(kind: h.kind.rawValue, index: index, path: h.path, argv: h.argv, env: h.env, stateFD: stateFD,
                 timeoutMs: Int32(h.timeout ?? 0) * 1000)
    }

    /// Runs `hooks` (one kind) in order, here, with `state` on their stdin. Returns what failed,
    /// one message per hook (the step, the errno, the fix); `failFast` stops at the first.
    /// `state` is written only when there is a hook to read it.
    static func runHooks(_ hooks: [OCIHook], state: @autoclosure () -> [UInt8], failFast: Bool) -> [String] {
        guard let kind = hooks.first?.kind else { return [] }
        let fd: Int32
        do { fd = try HookRunner.stateFile() } catch { return ["\(kind.rawValue) hooks: \(error)"] }
        defer { close(fd) }
        do { try HookRunner.fill(fd, state()) } catch { return ["\(kind.rawValue) hooks: \(error)"] }
        var failures: [String] = []
        for (i, h) in hooks.enumerated() {
            let r = HookRunner.run(step(h, index: i, stateFD: fd))
            guard r.errno != 0 else { continue }
            let what = "the \(kind.rawValue) hook \(i) (\(h.path))"
            let fix = "fix it or remove it from config.json hooks.\(kind.rawValue)"
            switch r.errno {
            case ETIMEDOUT:
                failures.append("\(what) did not end within its timeout of \(h.timeout ?? 0) s and was killed (ETIMEDOUT); \(fix)")
            case ECHILD:
                let sig = r.waitStatus & 0x7f
                let how = sig == 0 ? "exited with status \((r.waitStatus >> 8) & 0xff)" : "was killed by \(SignalName.name(sig))"
                failures.append("\(what) \(how) (ECHILD); \(fix)")
            default:
                failures.append("\(SystemError("run \(what)", errno: Errno(r.errno))); the path is resolved in the runtime's file system")
            }
            if failFast { break }
        }
        return failures
    }

    func hookState(_ r: OCIContainerRecord, status: String) -> [UInt8] {
        Array(OCICommandLine.json(OCIState(ociVersion: r.ociVersion, id: r.id, pid: status == "stopped" ? 0 : r.pid, status: status, bundle: r.bundle,
                                           rootfs: r.rootfs, created: r.created, owner: "", annotations: r.annotations.isEmpty ? nil : r.annotations),
                                  pretty: false).utf8)
    }

    /// The time now, as `created` and a json log line say it: RFC 3339 in UTC with milliseconds
    /// ("2026-12-07T00:40:07.353Z", what ISO8601DateFormatter wrote with fractional seconds).
    /// From clock_gettime(2) and gmtime_r(3): the formatter loaded ICU's time zone and locale
    /// data, milliseconds of every `create` (issue 13).
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return rfc3339(seconds: Int(ts.tv_sec), milliseconds: Int(ts.tv_nsec / 1_000_000))
    }

    /// `seconds` since the epoch and `milliseconds` (0-999) as RFC 3339 in UTC.
    static func rfc3339(seconds: Int, milliseconds: Int) -> String {
        var t = time_t(seconds), parts = tm()
        guard gmtime_r(&t, &parts) != nil else { return "1970-01-01T00:00:00.000Z" }
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.utf8.count)) + s
        }
        return pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
            + "T" + pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
            + "." + pad(min(max(milliseconds, 0), 999), 3) + "Z"
    }

    static func connectUnix(_ path: String) throws(OCIError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw OCIError(SystemError("console socket: socket", errno: .current)) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { close(fd); throw OCIError("console socket \(path): path too long (ENAMETOOLONG)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { let e = Errno.current; close(fd); throw OCIError(SystemError("connect to the console socket \(path)", errno: e)) }
        return fd
    }

    /// `start`: release the init waiting on the exec fifo; once the workload was executed, run
    /// the poststart hooks. Returns their failures (warnings: the container runs on).
    @discardableResult
    public func start(id: String) throws(OCIError) -> [String] {
        guard try existsBeforeLocking(id) else { throw OCIError("container \(id) does not exist (ENOENT)") }
        let lock = try lock(id)
        defer { lock.unlock() }
        let r = try load(id)
        let dir = try containerDirectory(id)
        let st = status(r, dir: dir)
        guard st == "created" else { throw OCIError("start \(id): the container is \(st), not created (EINVAL)") }
        let fifo = dir + "/exec.fifo"
        // Non-blocking: an init that died meanwhile must not hang `start`.
        let fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw OCIError(SystemError("start \(id): open the exec fifo", errno: .current)) }
        defer { close(fd) }
        // The init writes one byte when released, then keeps the fifo's write end (close-on-exec)
        // until its execve: a step that fails before it sends a record (bh_msg: kind, step,
        // errno, value), and end of file means the workload was executed.
        var got: [UInt8] = []
        var released = false
        while true {
            var buf = [UInt8](repeating: 0, count: 64)
            let n = read(fd, &buf, buf.count)
            if n > 0 {
                got += buf[..<n]
                if !released { released = true; got.removeFirst(); unlink(fifo) }
                if got.count >= 16 { break }
                continue
            }
            if n == 0 && released { break }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw OCIError(SystemError("start \(id): read the exec fifo", errno: .current)) }
            guard let p = Self.processStart(r.pid), p.start == r.startTime, p.state != "Z" else {
                unlink(fifo)
                if released { break }
                throw OCIError("start \(id): the container's init exited before it was started (ESRCH)")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
        }
        guard got.count >= 16 else {
            let poststart = (r.hooks ?? []).filter { $0.kind == .poststart }
            return Self.runHooks(poststart, state: hookState(r, status: "running"), failFast: false)
        }
        let message: InitMessage
        do { message = try InitMessage(bytes: Array(got[..<16])) } catch { throw OCIError("start \(id): \(error)") }
        guard case .stepFailed(let step, let e) = message else {
            throw OCIError("start \(id): the container's init sent an unexpected message (\(message)) (EPROTO)")
        }
        // The init exits after the report (its parent, the caller, reaps it).
        let failure = OCIStartStep.error(step: step, errno: e, in: r.startSteps ?? [],
                                         command: r.command ?? "the command", execPaths: r.execPaths ?? [])
        throw OCIError("start \(id): \(failure)")
    }

    public func state(id: String) throws(OCIError) -> OCIState {
        let r = try load(id)
        let dir = try containerDirectory(id)
        let st = status(r, dir: dir)
        return OCIState(ociVersion: r.ociVersion, id: r.id, pid: st == "stopped" ? 0 : r.pid, status: st, bundle: r.bundle,
                        rootfs: r.rootfs, created: r.created, owner: "", annotations: r.annotations.isEmpty ? nil : r.annotations)
    }

    public func list() throws(OCIError) -> [OCIState] {
        let dir = try rootDirectory()
        let names = FileIO.listDirectory(dir).sorted()
        return names.compactMap { try? state(id: $0) }
    }

    /// Signal names (with or without SIG, any case) and numbers, as runc takes them.
    public static func signal(_ text: String) throws(OCIError) -> Int32 {
        if let n = Int32(text) {
            guard n > 0, n <= 64 else { throw OCIError("unknown signal \"\(text)\"") }
            return n
        }
        guard var name = ExactName.asciiUppercased(text) else { throw OCIError("unknown signal \"\(text)\"") }
        if !name.hasPrefix("SIG") { name = "SIG" + name }
        for n in Int32(1)...31 where ExactName.same(SignalName.name(n), name) { return n }
        throw OCIError("unknown signal \"\(text)\"")
    }

    public func kill(id: String, signal sig: Int32, all: Bool) throws(OCIError) {
        let r = try load(id)
        let dir = try containerDirectory(id)
        guard status(r, dir: dir) != "stopped" else { throw OCIError("kill \(id): the container is not running (ESRCH)") }
        // The pid is held by a pidfd and checked against its start time (ProcessHandle).
        guard let handle = ProcessHandle(pid: r.pid, startTime: r.startTime) else { throw OCIError("kill \(id): the container is not running (ESRCH)") }
        if all {
            // Every pid of the container's cgroups and of those below them (SandboxCgroup.treeProcesses)
            // is held by a pidfd, then checked to be in the container's cgroup tree, and signalled
            // through the pidfd: a pid that was reused by another process after the read is never
            // signalled (runc freezes the cgroup for this).
            for pid in SandboxCgroup.treeProcesses(r.cgroupDirectories) where pid != r.pid {
                guard let h = ProcessHandle(pid: pid, checkedBy: { Self.isMember($0, of: r.cgroupDirectories) }) else { continue }
                h.signal(sig)
            }
        }
        let rc = handle.signal(sig)
        guard rc == 0 else { throw OCIError(SystemError("kill \(id): send \(SignalName.name(sig)) to \(r.pid)", errno: Errno(rc))) }
        // A frozen task acts on SIGKILL only once thawed (v1 freezer): runc thaws a paused
        // container after sending it SIGKILL, and so does this.
        if sig == SIGKILL, CgroupFreezer.isFrozen(r.cgroupDirectories) {
            do { try CgroupFreezer.set(r.cgroupDirectories, frozen: false) } catch { throw OCIError("kill \(id): \(error)") }
        }
    }

    /// Whether /proc/PID/cgroup puts `pid` in one of `directories` (/sys/fs/cgroup/HIERARCHY/PATH)
    /// or below it (a cgroup the container made in its own).
    static func isMember(_ pid: Int32, of directories: [String]) -> Bool {
        let paths = (FileIO.read("/proc/\(pid)/cgroup") ?? "").split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            return parts.count == 3 ? String(parts[2]) : nil
        }
        for d in directories {
            let parts = d.split(separator: "/")
            guard parts.count > 4, parts[0] == "sys", parts[1] == "fs", parts[2] == "cgroup" else { continue }
            let relative = "/" + parts.dropFirst(4).joined(separator: "/")
            if paths.contains(where: { $0 == relative || $0.hasPrefix(relative + "/") }) { return true }
        }
        return false
    }

    /// `ps`: the pids in the container's cgroup (every hierarchy's cgroup.procs, deduplicated,
    /// sorted), as runc's `ps --format json` prints them.
    public func processes(id: String) throws(OCIError) -> [Int32] {
        let r = try load(id)
        let dir = try containerDirectory(id)
        guard status(r, dir: dir) != "stopped" else { return [] }
        guard !r.cgroupDirectories.isEmpty else { throw OCIError("ps \(id): \(Self.noCgroup)") }
        return SandboxCgroup.treeProcesses(r.cgroupDirectories)
    }

    /// `delete`: a stopped (or, with force, any) container: kill, wait for the init to end,
    /// remove its cgroups and its state. Nothing is left.
    @discardableResult
    public func delete(id: String, force: Bool) throws(OCIError) -> [String] {
        guard try existsBeforeLocking(id) else {
            if force { return [] }
            throw OCIError("delete \(id): container \(id) does not exist (ENOENT)")
        }
        let lock = try lock(id)
        defer { lock.unlock() }
        let dir = try containerDirectory(id)
        var st = stat()
        guard lstat(dir, &st) == 0 else {
            if force { return [] }
            throw OCIError("delete \(id): container \(id) does not exist (ENOENT)")
        }
        let r: OCIContainerRecord? = force ? (try? load(id)) : try load(id)
        if let r {
            let s = status(r, dir: dir)
            if s != "stopped" {
                guard force || s == "created" else { throw OCIError("delete \(id): the container is \(s); stop it first or pass --force (EBUSY)") }
                let handle = ProcessHandle(pid: r.pid, startTime: r.startTime)
                _ = handle?.signal(SIGKILL)
                for pid in SandboxCgroup.treeProcesses(r.cgroupDirectories) { Glibc.kill(pid, SIGKILL) }
                // A paused container's tasks die only once thawed.
                if s == "paused" { try? CgroupFreezer.set(r.cgroupDirectories, frozen: false) }
                _ = handle?.waitForExit(seconds: 10)
            }
            // Tasks below the container's cgroups too: without a PID namespace nothing else ends them.
            for pid in SandboxCgroup.treeProcesses(r.cgroupDirectories) { Glibc.kill(pid, SIGKILL) }
            // Frozen leftovers (a paused container deleted with --force by a runtime killed half-way).
            if CgroupFreezer.isFrozen(r.cgroupDirectories) { try? CgroupFreezer.set(r.cgroupDirectories, frozen: false) }
            Self.removeCgroups(r.cgroupDirectories)
            // The recording keeper writes its profile once the init is gone: waited for, bounded.
            if let kp = r.recorderPid, let ks = r.recorderStartTime, let keeper = ProcessHandle(pid: kp, startTime: ks) {
                if !keeper.waitForExit(seconds: OCIRecordKeeper.deleteWaitSeconds) {
                    keeper.signal(SIGKILL)
                    _ = keeper.waitForExit(seconds: 5)
                }
            }
            for d in r.cgroupDirectories where access(d, F_OK) == 0 {
                throw OCIError("delete \(id): remove the cgroup \(d) (EBUSY): processes are still inside")
            }
        }
        for f in Self.stateFiles { unlink(dir + "/" + f) }
        guard rmdir(dir) == 0 || errno == ENOENT else { throw OCIError(SystemError("delete \(id): remove \(dir)", errno: .current)) }
        unlink(Self.lockPath(id, in: try rootDirectory()))
        // poststop: after the container is gone; a failure is a warning (runtime-spec).
        guard let r else { return [] }
        return Self.runHooks((r.hooks ?? []).filter { $0.kind == .poststop }, state: hookState(r, status: "stopped"), failFast: false)
    }

    static func removeCgroups(_ dirs: [String]) {
        for d in dirs {
            // Cgroups below the container's own (a cgroup mount with "rw") go first, depth first,
            // retried while killed tasks are still leaving them (removeTree waits 1 s a directory).
            for _ in 0..<3 {
                if case .failure(let e) = SandboxCgroup.removeTree(d), e.rawValue == EBUSY { usleep(10_000); continue }
                break
            }
            // The shared parent bulkhead/oci, when empty (a cgroupsPath's parent is the caller's).
            if let slash = d.lastIndex(of: "/"), d[..<slash].hasSuffix("/bulkhead/oci") { rmdir(String(d[..<slash])) }
        }
    }
}
