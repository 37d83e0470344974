import BulkheadModel
import BulkheadSystem
import Glibc

/// What `bulkhead run` was asked to do.
public struct RunRequest: Sendable {
    /// The profile's layers, base first, as `ProfileStore.layers(for:)` read them. The caller
    /// reads the profile once (`bulkhead run`, `PodLoader`) and hands the layers over;
    /// `Sandbox.prepare` merges them with `overrides` and reads no profile again.
    public var layers: [ProfileLayer]
    /// The command line's settings (a pod's: the container's own layer and what the pod adds):
    /// the top layer, over the profile.
    public var overrides: ProfileLayer
    public var command: [String]
    public var timeoutSeconds: Double?
    /// `--stop-signal`: at the timeout, send this (to the workload, through the init) first
    /// and SIGKILL only `stopTimeoutSeconds` later; nil: SIGKILL at once.
    public var stopSignal: Int32?
    public var stopTimeoutSeconds: Double = 10
    public var preserveFds: [Int32]
    /// Test-only fault injection: make this plan step or launcher step fail (ECANCELED).
    public var injectFault: FaultPoint?
    /// A pod's container: the holder's namespaces that it joins instead of creating.
    public var joinNamespaces: Set<Namespace> = []
    /// `--tty`: give the workload a pty of bulkhead's own.
    public var tty = false
    /// `--supplementary-groups refuse`: a rootless launch whose caller's supplementary groups
    /// cannot be dropped does not start.
    public var refuseKeptGroups = false
    /// `--seccomp-strict`: refuse a seccomp policy that runc would load only by changing it
    /// (unknown system-call names, contradicting rules) instead of loading it as runc does.
    public var seccompStrict = false
    /// What the launcher does with calls the seccomp policy refuses (`SeccompNotifier`):
    /// `.report` (default) answers them with the policy's errno and counts them
    /// (`RunReport.seccompViolations`); `.verify` (`bulkhead seccomp verify`) counts and lets
    /// them run; nil: the kernel alone, nothing reported.
    public var seccompNotify: SeccompNotifyMode? = .report

    public init(layers: [ProfileLayer], overrides: ProfileLayer = ProfileLayer(), command: [String],
                timeoutSeconds: Double? = nil, preserveFds: [Int32] = [], injectFault: FaultPoint? = nil) {
        self.layers = layers
        self.overrides = overrides
        self.command = command
        self.timeoutSeconds = timeoutSeconds
        self.preserveFds = preserveFds
        self.injectFault = injectFault
    }
}

/// A small file of a sandbox's root (`etc/passwd`), read for `--user NAME`: the root's owner
/// may be hostile, so every component is opened `O_NOFOLLOW` below the root (no symlink,
/// in or out), the file must be regular, at most 1 MiB, opened without blocking; nil on any
/// failure, and no byte of it ever reaches an error.
package enum RootFile {
    package static let limit = 1 << 20
    package static func read(_ root: String, _ relative: String) -> String? {
        let path = TrustedFile.O_PATH
        var dir = open(root, path | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return nil }
        defer { close(dir) }
        let parts = relative.split(separator: "/").map(String.init)
        for part in parts.dropLast() {
            let next = openat(dir, part, path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { return nil }
            close(dir)
            dir = next
        }
        guard let name = parts.last else { return nil }
        // First an O_PATH handle, which opens nothing (no device, no FIFO), to check the type.
        var before = stat(), st = stat()
        let probe = openat(dir, name, path | O_NOFOLLOW | O_CLOEXEC)
        guard probe >= 0 else { return nil }
        let isFile = fstat(probe, &before) == 0 && before.st_mode & S_IFMT == S_IFREG
        close(probe)
        guard isFile else { return nil }
        let fd = openat(dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_ino == before.st_ino, st.st_dev == before.st_dev,
              st.st_size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var n = 0
        while n < bytes.count {
            let r = Glibc.read(fd, &bytes[n], bytes.count - n)
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { break }
            n += r
        }
        guard n <= limit else { return nil }
        return String(decoding: bytes[..<n], as: UTF8.self)
    }
}

/// Everything decided before any process or mount exists: the effective profile, the plan,
/// the cgroup limits, the compiled seccomp program. Building it has no side effect, so bad
/// input leaves nothing behind.
public struct PreparedLaunch: Sendable {
    public var request: RunRequest
    public var profile: EffectiveProfile
    public var plan: LaunchPlan
    /// The sandbox cgroup's limits, from the profile's resources (empty: no limit asked, no
    /// cgroup). `CgroupSetup` writes them; nothing maps the profile to cgroup values again.
    public var cgroupLimits: CgroupLimits
    public var seccomp: CompiledSeccomp?
    /// The Landlock ABI the rules were built for, when the profile has rules.
    public var landlockABI: Int?
    /// When preparation started and ended (CLOCK_MONOTONIC seconds), for the report's phases.
    public var preparedFrom: Double = 0
    public var preparedAt: Double = 0
    /// `--tty`: the pty (an fd pair of this process; nothing on the system to clean up).
    package var terminal: TerminalRelay?
    /// Record mode: the table the init fills by tracing the workload (`bulkhead seccomp record`).
    public var recorder: SyscallRecorderTable? = nil
    /// Record mode with the eBPF recorder: it follows the init from clone3 on (`Supervisor`).
    public var fastRecorder: FastSyscallRecorder? = nil
    /// The table the eBPF recorder's counters are read into after the run.
    public var fastTable: SyscallRecorderTable? = nil
    /// Why the ptrace recorder is used although eBPF was allowed (nil: eBPF, or ptrace asked for).
    public var recorderFallback: String? = nil
    /// Rootless: the caller's supplementary groups that the workload keeps (see
    /// `AppliedControls.supplementaryGroupsKept`); empty when there are none or they are dropped.
    public var supplementaryGroupsKept: [UInt32] = []
    /// What the caller should know before the workload runs (printed on stderr by the CLI).
    public var warnings: [String] = []
}

/// A launch that failed before the workload ran. Exit status 125.
public struct LaunchError: Error, Sendable, CustomStringConvertible {
    public var step: Int?
    public var operation: String
    public var errno: Errno?
    public var hint: String?
    /// The error this one wraps (a `CgroupError`, `NetworkError`, `SystemError`, another
    /// `LaunchError` ...): its text follows the operation in `description`, and its errno is
    /// this error's `errno`, so the report names it.
    public var underlying: (any Error)?
    /// False when the operation is the underlying error's own (`LaunchError(wrapping:)`), so
    /// `description` does not say it twice.
    private var operationInText = true

    public init(step: Int? = nil, operation: String, errno: Errno? = nil, hint: String? = nil) {
        self.step = step; self.operation = operation; self.errno = errno; self.hint = hint
    }

    /// `context: <the error's text>`, with the error's errno. Without a context the message is
    /// the error's text alone and the operation is the error's own.
    public init(_ context: String? = nil, wrapping error: any Error, hint: String? = nil) {
        let system = Self.systemError(of: error)
        self.init(operation: context ?? system?.operation ?? "\(error)", errno: system?.errno, hint: hint)
        underlying = error
        operationInText = context != nil
    }

    /// A refused input: the message is the `ConfigError`'s (file, field, line, what is allowed);
    /// the report names them as fields, and `errno` when a system call said why (a bind source).
    /// The errno is the system call's: `errno`, else the one the input error names (a file it
    /// names that cannot be opened).
    public init(_ e: ConfigError, errno: Errno? = nil) {
        self.init(operation: e.description, errno: errno ?? e.errno.flatMap { Errno(name: $0) })
        config = e
        configErrors = [e]
    }
    /// Every error of the input (a manifest's, in file order; `ConfigError.listing` caps what
    /// is shown): the message and the report list them all. Not empty.
    public init(_ errors: [ConfigError]) {
        precondition(!errors.isEmpty, "LaunchError of no input error")
        self.init(errors[0])
        configErrors = errors
    }
    /// The input error this one is, when it is one: where it was given.
    public private(set) var config: ConfigError?
    /// Every input error, when this is one; `config` is the first.
    public private(set) var configErrors: [ConfigError] = []
    public init(_ e: SystemError) { self.init(operation: e.operation, errno: e.errno, hint: e.hint) }

    /// What a wrapped error says as a system error, when it says anything: its errno is what
    /// the report's `error.errno` shows.
    package static func systemError(of error: any Error) -> SystemError? {
        if let e = error as? LaunchError { return SystemError(e.operation, errno: e.errno, hint: e.hint) }
        return (error as? any SystemErrorConvertible)?.systemError
    }

    public var description: String {
        var s = step.map { "step \($0) (\(operation))" } ?? operation
        if configErrors.count > 1 {
            // One a line, as `profile lint` lists a profile's.
            s = "\(configErrors.count) errors:\n" + ConfigError.listing(configErrors).map { "  " + $0 }.joined(separator: "\n")
        } else if config != nil {
            // The input error's text already says what the system call said.
        } else if let underlying {
            s = operationInText ? "\(s): \(underlying)" : "\(underlying)"
        } else if let errno {
            s += ": \(errno)"
        }
        if let hint { s += " — \(hint)" }
        return s
    }

    package var report: LaunchErrorReport {
        guard let config else { return LaunchErrorReport(step: step, operation: operation, errno: errno?.name, message: description) }
        var r = Self.report(config, errno: errno?.name ?? config.errno)
        r.step = step
        if configErrors.count > 1 {
            r.errors = configErrors.prefix(ConfigError.listLimit).map { Self.report($0, errno: $0.errno) }
            if configErrors.count > ConfigError.listLimit { r.errorsNotListed = configErrors.count - ConfigError.listLimit }
        }
        return r
    }

    package static func report(_ config: ConfigError, errno: String?) -> LaunchErrorReport {
        LaunchErrorReport(step: nil, operation: "check the configuration", errno: errno, message: config.description,
                          file: config.file, field: config.field.isEmpty ? nil : config.field, line: config.line)
    }
}

public enum Sandbox {
    // MARK: Prepare (no side effects)

    /// - Parameters:
    ///   - store: where the profile's seccomp policy file is looked up (the profile itself is
    ///     already read: `request.layers`), and its readers (`ConfigReaders`) for a policy the
    ///     seccomp cache does not have.
    ///   - seccompCache: where compiled filters are cached; nil always parses, validates and
    ///     compiles (what `profile lint` needs).
    ///   - ociExecFifo, ociTerminal: OCI `create` (Bulkhead/OCI): the exec fifo the init waits
    ///     on, and the console socket the pty master goes to (`PlanStep.openTerminal`).
    ///   - ociIDMaps: OCI `linux.uidMappings`/`gidMappings` a root-run runtime checked
    ///     (`OCIRuntime.checkIDMaps`): the maps written after clone3 (`LaunchContext.idMaps`).
    ///   - ociHooks: OCI createContainer and startContainer hooks the init runs (`PlanStep.runHook`).
    public static func prepare(_ request: RunRequest, store: ProfileStore,
                               seccompCache: SeccompCache? = SeccompCache.standard(),
                               ociExecFifo: Int32? = nil, ociTerminal: Int32? = nil, ociSysctls: [SysctlSetting] = [],
                               ociIDMaps: IDMaps? = nil,
                               ociCgroupMountReadOnly: Bool? = nil, ociCapabilitySets: OCICapabilitySets? = nil,
                               poolRequestFD: Int32? = nil,
                               ociHooks: (createContainer: [HookStep], startContainer: [HookStep]) = ([], [])) throws(LaunchError) -> PreparedLaunch {
        let t0 = Monotonic.now()
        do {
            var top = request.overrides
            top.source = "<command line>"
            var profile = try EffectiveProfile.resolve(request.layers + [top])
            if case .directory(let d) = profile.root { try ProfileStore.checkDirectory(d, what: "rootfs", field: "filesystem.root") }
            if profile.needsNameLookup {
                let root: String = { if case .directory(let d) = profile.root { return d }; return "/" }()
                try profile.resolvingNames(passwd: RootFile.read(root, "etc/passwd"), group: RootFile.read(root, "etc/group"), root: root == "/" ? "" : root)
            }
            try checkRlimits(profile)
            try checkDevices(profile)
            try checkCPUs(profile, from: (request.layers + [request.overrides]).last { $0.cpusetCPUs != nil })
            let seccomp = try SeccompSetup.compile(profile, store: store, origin: SeccompSetup.origin(of: request.layers + [request.overrides]),
                                                   strict: request.seccompStrict, cache: seccompCache)
            let identity = HostIdentity.current()
            var profileForPlan = profile
            // A bind's error names where the binds were given: the last layer that set them
            // (each layer replaces the list), by file and field, or the flag.
            let bindLayer = (request.layers + [request.overrides]).last { $0.binds != nil }
            profileForPlan.binds = try profile.binds.enumerated().map { (i, b) throws(LaunchError) in
                try resolveBindSource(b, origin: bindOrigin(bindLayer, index: i, pod: !request.joinNamespaces.isEmpty))
            }
            // /etc/subuid and /etc/subgid are read only when a root launcher maps a range.
            let files = identity.privileged && profile.namespaces.contains(.user)
                && !request.joinNamespaces.contains(.user) ? try HostIdentity.subordinateFiles() : nil
            let subordinate = files?.bulkhead
            var context = LaunchContext(
                callerUID: identity.uid, callerGID: identity.gid, privileged: identity.privileged,
                defaultHostIDRange: subordinate?.uid ?? EffectiveProfile.defaultHostIDRange,
                preserveFds: request.preserveFds, hasSeccomp: seccomp != nil,
                landlockABI: profile.landlock == nil ? nil : (try? HostFacts.landlockABI().get()).flatMap { $0 > 0 ? $0 : nil }
            )
            context.defaultHostGIDRange = subordinate?.gid
            context.reservedHostIDRanges = HostIdentity.reservedRanges(subordinate: subordinate, delegated: files?.delegated ?? [])
            context.joinedNamespaces = request.joinNamespaces
            context.execFifoFD = ociExecFifo
            context.makeKernelMountPoints = ociExecFifo != nil
            context.sysctls = ociSysctls
            context.idMaps = ociIDMaps
            context.cgroupMountReadOnly = ociCgroupMountReadOnly
            context.capabilitySets = ociCapabilitySets
            context.poolRequestFD = poolRequestFD
            if poolRequestFD != nil, let program = seccomp?.program, let arch = SeccompCompiler.nativeArchitecture,
               let token = SeccompCompiler.token(of: arch) {
                context.seccompBeforePoolRequest = SeccompBeforePoolRequest.unproven(program: program, arch: arch, auditArch: token) == nil
            }
            context.createContainerHooks = ociHooks.createContainer
            context.startContainerHooks = ociHooks.startContainer
            if let fd = ociTerminal { context.terminalFD = fd }
            var terminal: TerminalRelay?
            if request.tty {
                do { terminal = try TerminalRelay() } catch {
                    throw ConfigError(file: "<command line>", field: "--tty", message: error.description)
                }
                context.terminalFD = terminal?.slave
                context.terminalType = getenv("TERM").map { String(cString: $0) }
            }
            let plan = try LaunchPlanner.plan(profile: profileForPlan, command: request.command, context: context)
            let cgroupLimits = CgroupLimits(profile: profile, boundSwap: CgroupSetup.hostHasActiveSwap)
            var prepared = PreparedLaunch(request: request, profile: profile, plan: plan, cgroupLimits: cgroupLimits,
                                          seccomp: seccomp, landlockABI: context.landlockABI,
                                          preparedFrom: t0, preparedAt: Monotonic.now())
            prepared.terminal = terminal
            prepared.warnings += seccomp?.notes ?? []
            if let why = seccomp?.control.cacheUnavailable {
                prepared.warnings.append("warning: the seccomp filter is compiled at every launch: \(why); \(CacheLocation.fix("seccomp", variable: "BULKHEAD_SECCOMP_CACHE"))")
            }
            // Rootless: the gid map needs setgroups denied, so the caller's supplementary groups
            // cannot be dropped in the sandbox (user_namespaces(7); bubblewrap and runc rootless
            // keep them too). Said in the report and on stderr, not hidden.
            if plan.denySetgroups {
                let kept = HostIdentity.supplementaryGroups().filter { $0 != identity.gid }
                if !kept.isEmpty && request.refuseKeptGroups {
                    throw ConfigError(file: "<command line>", field: "--supplementary-groups",
                                      message: "the workload would keep your supplementary groups \(kept.map(String.init).joined(separator: ",")) (an unprivileged launcher must deny setgroups to map its gids); start it under `setpriv --clear-groups`, run bulkhead as root, or pass --supplementary-groups keep")
                }
                if !kept.isEmpty {
                    prepared.supplementaryGroupsKept = kept
                    prepared.warnings.append("warning: rootless: the workload keeps your supplementary groups \(kept.map(String.init).joined(separator: ",")) (shown as 65534 inside, they still grant access to files of those groups on the host); an unprivileged launcher cannot drop them. Run it with `setpriv --clear-groups`, or run bulkhead as root")
                }
            }
            return prepared
        } catch {
            // After the layers were read, a private layer's values stay out of every message
            // (the rootfs path, the seccomp policy's name, a bind source, the merge):
            // ProfileLayer.isPrivate. An input error keeps where it was given.
            let layers = request.layers + [request.overrides]
            if let e = error as? LaunchError {
                guard let c = e.config else { throw e }
                throw LaunchError(c.withoutContent(ifAnyPrivate: layers), errno: e.errno)
            }
            if let e = error as? ConfigError { throw LaunchError(e.withoutContent(ifAnyPrivate: layers)) }
            if let hidden = layers.last(where: \.isPrivate) {
                throw LaunchError(ConfigError(file: hidden.source, field: "", message: "\(error)").withoutContent())
            }
            throw LaunchError(wrapping: error)
        }
    }

    /// Where bind `index` of the effective profile was given: the profile file and field, the
    /// flag (`<command line>`, `--bind`), or a pod manifest's volumes.
    package static func bindOrigin(_ layer: ProfileLayer?, index: Int, pod: Bool) -> (file: String, field: String) {
        guard let layer, layer.source != FieldRules.commandLine else { return (FieldRules.commandLine, "--bind") }
        return (layer.source, pod ? "binds (the container profile's filesystem.binds, then its volumeMounts)" : "filesystem.binds[\(index)]")
    }

    /// Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace; refuse
    /// before anything starts rather than fail in the child.
    package static func checkRlimits(_ p: EffectiveProfile) throws(ConfigError) {
        let canRaise = HostIdentity.effectiveCapabilities().contains(.sysResource)
        for (r, l) in p.rlimits.sorted(by: { $0.key < $1.key }) {
            var cur = rlimit()
            guard getrlimit(__rlimit_resource_t(UInt32(r.number)), &cur) == 0 else { continue }
            let hard = UInt64(cur.rlim_max)
            if l.hard > hard && !canRaise {
                throw ConfigError(file: p.chain.last ?? p.name, field: "rlimits.\(r.rawValue)",
                                  message: "hard limit \(l.hard == Rlimit.unlimited ? "unlimited" : String(l.hard)) exceeds the launcher's own hard limit \(hard == Rlimit.unlimited ? "unlimited" : String(hard)); raising it needs CAP_SYS_RESOURCE on the host, which this process does not have")
            }
        }
    }

    /// `resources.cpusetCpus`: only CPUs the host has online (/sys/devices/system/cpu/online).
    /// An error names the layer that set it (the last one): its file and field, or the flag.
    package static func checkCPUs(_ p: EffectiveProfile, from layer: ProfileLayer?) throws(ConfigError) {
        guard let want = p.cpusetCPUs else { return }
        let file = layer?.source ?? FieldRules.commandLine
        let field = file == FieldRules.commandLine ? "--cpuset-cpus" : "resources.cpusetCpus"
        let text = String((FileIO.read("/sys/devices/system/cpu/online") ?? "").filter { !$0.isWhitespace })
        guard case .success(let online) = FieldRules.cpuList(text) else {
            throw ConfigError(file: file, field: field, message: "cannot read the online CPUs from /sys/devices/system/cpu/online")
        }
        let missing = want.filter { !online.contains($0) }
        guard missing.isEmpty else {
            throw ConfigError(file: file, field: field,
                              message: "CPU \(FieldRules.cpuListText(missing)) is not online on this host; online: \(FieldRules.cpuListText(online))")
        }
    }

    /// `filesystem.devices`: each must be a character or block device node of the host's /dev,
    /// reached without a symlink (devtmpfs is root's; the bind is made from the same path).
    package static func checkDevices(_ p: EffectiveProfile) throws(ConfigError) {
        for d in p.devices {
            var st = stat()
            let path = "/dev/" + d
            guard lstat(path, &st) == 0 else {
                throw ConfigError(file: "<command line>", field: "--device", message: "\(SystemError("stat \(path)", errno: .current))")
            }
            let type = st.st_mode & S_IFMT
            guard type == S_IFCHR || type == S_IFBLK else {
                throw ConfigError(file: "<command line>", field: "--device", message: "\(path) is not a device node (a symlink or a file: name the node itself, e.g. from readlink -f)")
            }
            // Every directory on the way is a real one too (no symlinked /dev/net).
            var dir = ""
            for c in ExactName.pathComponents(d).dropLast() {
                dir += "/" + c
                guard lstat("/dev" + dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
                    throw ConfigError(file: "<command line>", field: "--device", message: "/dev\(dir) is not a directory (a symlink on the way is refused)")
                }
            }
        }
    }

    /// Bind sources are resolved on the host (symlinks included) before the plan: inside the
    /// child the host's tree is reached through /oldroot, where absolute symlinks would not resolve.
    /// Resolved as root resolves every path someone else may control (`TrustedFile.walk`): each
    /// directory on the way owned by root or the caller and writable by no one else (or sticky),
    /// a link followed only when root or the caller made it. No other user can then point the
    /// bind elsewhere with a link, nor swap the source between this check and the init's bind.
    /// The source itself may belong to anyone (a pod's volume belongs to its ids).
    package static func resolveBindSource(_ b: BindMount, origin: (file: String, field: String) = (FieldRules.commandLine, "--bind")) throws(LaunchError) -> BindMount {
        func fail(_ e: SystemError) -> LaunchError {
            LaunchError(ConfigError(file: origin.file, field: origin.field, message: "\(e)"), errno: e.errno)
        }
        var r = b
        var path = b.source
        for _ in 0..<40 {
            if path.split(separator: "/").isEmpty { r.source = "/"; r.sourceIsFile = false; return r }
            let walked: (fd: Int32, path: String, name: String)
            do { walked = try TrustedFile.walk(path, what: "bind source", final: false) } catch { throw fail(error) }
            defer { close(walked.fd) }
            let full = walked.path == "/" ? "/" + walked.name : walked.path + "/" + walked.name
            var st = stat()
            guard fstatat(walked.fd, walked.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw fail(SystemError("bind source \(b.source): stat \(full)", errno: .current)) }
            guard st.st_mode & S_IFMT == S_IFLNK else {
                r.source = full
                r.sourceIsFile = st.st_mode & S_IFMT != S_IFDIR
                return r
            }
            guard TrustedFile.trustedOwners.contains(st.st_uid) else {
                throw fail(SystemError("bind source \(b.source): the symbolic link \(full) belongs to uid \(st.st_uid)", errno: Errno(ELOOP),
                                       hint: "name the real path; root follows only links that root or the caller made"))
            }
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(walked.fd, walked.name, &buf, buf.count - 1)
            guard n > 0 else { throw fail(SystemError("bind source \(b.source): readlink \(full)", errno: .current)) }
            let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            path = target.hasPrefix("/") ? target : walked.path + "/" + target
        }
        throw fail(SystemError("bind source \(b.source): too many symbolic links", errno: Errno(ELOOP)))
    }

    // MARK: Run

    /// Launches and supervises the sandbox; returns its report. Never throws: a failure is a
    /// report with reason `launch-failed` and exit status 125.
    public static func run(_ prepared: PreparedLaunch) -> RunReport {
        Supervisor(prepared: prepared).run()
    }

    /// As `run`, calling `onStarted` with the init's pid once it is released (`run --name`).
    public static func run(_ prepared: PreparedLaunch, onStarted: @escaping (Int32) -> Void) -> RunReport {
        Supervisor(prepared: prepared, onStarted: onStarted).run()
    }

    /// Runs one container of a pod: joins the holder's namespaces, lives in the pod's cgroup.
    package static func run(_ prepared: PreparedLaunch, pod: PodAttachment) -> RunReport {
        Supervisor(prepared: prepared, pod: pod).run()
    }
}

/// The caller's identity and host facts that decide the id mapping.
package struct HostIdentity {
    package var uid: UInt32
    package var gid: UInt32
    package var privileged: Bool

    package static func current() -> HostIdentity {
        let uid = geteuid(), gid = getegid()
        let caps = effectiveCapabilities()
        let privileged = caps.contains(.setuid) && caps.contains(.setgid)
        return HostIdentity(uid: uid, gid: gid, privileged: privileged)
    }

    /// The `bulkhead` ranges of /etc/subuid (uids) and /etc/subgid (gids), each for its own map;
    /// nil when neither names bulkhead. Both are root's files: one that is not owned by root,
    /// writable by group or others, or not a regular file is refused, as a missing half is.
    package static func subordinateRanges() throws(ConfigError) -> (uid: IDRange, gid: IDRange)? {
        try subordinateFiles().bulkhead
    }

    /// /etc/subuid and /etc/subgid, each read once: bulkhead's ranges, and the ranges they give
    /// every other user, which that user can run processes under (newuidmap(1), newgidmap(1)):
    /// reserved for them, not to be shared by any sandbox (`ReservedIDRange.shareable` false).
    package static func subordinateFiles() throws(ConfigError) -> (bulkhead: (uid: IDRange, gid: IDRange)?, delegated: [ReservedIDRange]) {
        let subuid = try readRootFile(SubordinateIDs.subuidPath), subgid = try readRootFile(SubordinateIDs.subgidPath)
        var delegated: [ReservedIDRange] = []
        for (path, text) in [(SubordinateIDs.subuidPath, subuid), (SubordinateIDs.subgidPath, subgid)] {
            delegated += SubordinateIDs.delegated(in: text ?? "").map {
                ReservedIDRange("the ids line \($0.line) of \(path) gives another user (newuidmap/newgidmap run processes under them)", $0.range, shareable: false)
            }
        }
        return (try SubordinateIDs.ranges(subuid: subuid, subgid: subgid), delegated)
    }

    /// The ranges a profile's or tenant's own range must not overlap (unless it is one of them):
    /// the ranges bulkhead itself hands out. Tenants' ranges are checked against each other
    /// when given together (`Tenant.validate`).
    package static func reservedRanges(subordinate: (uid: IDRange, gid: IDRange)?, delegated: [ReservedIDRange] = []) -> [ReservedIDRange] {
        // Ids 0-65535 are the host's own accounts (system users, people, nobody), as the kubelet
        // keeps them: a range over one would run the workload as that account on the host.
        var r = [ReservedIDRange("the host's own accounts (ids 0-65535)", IDRange.hostAccounts),
                 ReservedIDRange("the default sandbox range", EffectiveProfile.defaultHostIDRange),
                 ReservedIDRange("the default namespace's pod range", EffectiveProfile.defaultNamespacePodRange)]
        if let s = subordinate { r.append(ReservedIDRange("the bulkhead range of /etc/subuid", s.uid)) }
        return r + delegated
    }

    /// A system file root trusts (/etc/subuid, /etc/subgid): nil when it does not exist; its
    /// text when `TrustedFile` takes it (no symlink, no FIFO, checked directories, at most
    /// 1 MiB) and root owns it. Errors name the file and the fix, never its content.
    package static func readRootFile(_ path: String) throws(ConfigError) -> String? {
        let c: TrustedFile.Contents
        do { c = try TrustedFile.read(path, what: "system file", limit: 1 << 20) } catch {
            if error.errno?.rawValue == ENOENT { return nil }
            throw ConfigError(file: path, field: "", refusedOpen: error)
        }
        guard c.owner == 0 else {
            throw ConfigError(file: path, field: "", message: "owned by uid \(c.owner): root uses it only when root owns it (chown root:root \(path); chmod 644 \(path))")
        }
        return c.text
    }

    /// The launcher's supplementary groups (getgroups(2)), host gids.
    package static func supplementaryGroups() -> [UInt32] {
        let n = getgroups(0, nil)
        guard n > 0 else { return [] }
        var groups = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &groups)
        return got > 0 ? Array(groups[0..<Int(got)]) : []
    }

    /// The launcher's effective capabilities (CapEff of /proc/self/status).
    package static func effectiveCapabilities() -> CapabilitySet {
        guard let status = FileIO.read("/proc/self/status"),
              let line = status.asciiSplit("\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst(7).trimmingCharacters(in: " \t"), radix: 16) else { return CapabilitySet() }
        return CapabilitySet(mask: mask)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
