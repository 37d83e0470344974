/// One line of /proc/PID/uid_map or gid_map: ids `inside..<inside+count` are `outside..` on the host.
public struct IDMapEntry: Sendable, Equatable {
    public var inside: UInt32
    public var outside: UInt32
    public var count: UInt32
    public init(inside: UInt32, outside: UInt32, count: UInt32) { self.inside = inside; self.outside = outside; self.count = count }
    public var line: String { "\(inside) \(outside) \(count)\n" }
    /// The entries as /proc/PID/uid_map takes them: their lines, in one write. Joined by hand, as
    /// `reportText` is.
    public static func fileText(_ entries: [IDMapEntry]) -> String {
        var text = ""
        for e in entries { text += e.line }
        return text
    }
    /// The entries as the report shows them: `0 2000000000 65536; …`, nil for none. Joined by
    /// hand: the standard library's `joined(separator:)` runs unspecialised here and looks its
    /// types up by name at every launch (BENCHMARKS.md, session 18).
    public static func reportText(_ entries: [IDMapEntry]) -> String? {
        guard !entries.isEmpty else { return nil }
        var text = ""
        for e in entries {
            if !text.isEmpty { text += "; " }
            text += "\(e.inside) \(e.outside) \(e.count)"
        }
        return text
    }
}

/// A host id range that other sandboxes use, and what it is (for errors).
public struct ReservedIDRange: Sendable, Equatable {
    public var name: String
    public var range: IDRange
    /// A range bulkhead hands out itself, which a profile may use exactly (its sandboxes are
    /// bulkhead's too); false for ids someone else holds (another user's /etc/subuid range):
    /// no sandbox may use any of them.
    public var shareable: Bool
    public init(_ name: String, _ range: IDRange, shareable: Bool = true) { self.name = name; self.range = range; self.shareable = shareable }
}

/// Host facts the planner needs, gathered by the caller (the planner makes no system call).
public struct LaunchContext: Sendable, Equatable {
    public var callerUID: UInt32
    public var callerGID: UInt32
    /// The launcher has CAP_SETUID/CAP_SETGID on the host (it runs as root): it can map a range.
    public var privileged: Bool
    /// The range for a privileged launch when the profile names none (/etc/subuid or the default).
    public var defaultHostIDRange: IDRange
    /// The gid range for that launch (/etc/subgid); nil: the same as `defaultHostIDRange`.
    public var defaultHostGIDRange: IDRange? = nil
    /// Ranges other sandboxes use (the default ranges of plain runs and pods, /etc/subuid's),
    /// by name: a profile's own range may be one of them but may not overlap one otherwise.
    public var reservedHostIDRanges: [ReservedIDRange] = []
    /// OCI `linux.uidMappings`/`gidMappings` (a privileged launch): these lines are the maps,
    /// instead of one range (`hostIDRange`). Checked by `IDMapRules` and per host range by the
    /// runtime; the planner checks each host range against `reservedHostIDRanges`.
    public var idMaps: IDMaps? = nil
    /// Extra fds the user passes to the workload (`--preserve-fd`).
    public var preserveFds: [Int32]
    /// A seccomp program will be loaded (the profile is not Unconfined).
    public var hasSeccomp: Bool
    /// The kernel's Landlock ABI version; nil when Landlock is unavailable.
    public var landlockABI: Int?
    /// Pod mode: namespaces the sandbox joins (the pod holder's) instead of creating them.
    public var joinedNamespaces: Set<Namespace> = []
    /// `--tty`: the sandbox's end of the terminal channel (`PlanStep.openTerminal`); the pty's
    /// slave takes its number and becomes the workload's terminal.
    public var terminalFD: Int32?
    /// `--tty`: the caller's `TERM`, which the workload gets unless the profile or a flag sets
    /// one (`LaunchPlanner.terminalType`).
    public var terminalType: String?
    /// OCI `create`: the init waits on this exec fifo fd (`PlanStep.waitExecFifo`) before it
    /// forks the workload.
    public var execFifoFD: Int32?
    /// The warm pool: the init waits on this socket for its request (`PlanStep.waitPoolRequest`)
    /// before it forks the workload.
    public var poolRequestFD: Int32?
    /// The warm pool: the seccomp program allows every call the init and the workload make after
    /// a load before the wait (`SeccompBeforePoolRequest.unproven` found none): the init loads it
    /// while the sandbox is prepared.
    public var seccompBeforePoolRequest = false
    /// OCI: /proc, /dev and /sys are made in the root filesystem when it lacks them (as runc
    /// does for an imported image), inside the root, without following symlinks.
    public var makeKernelMountPoints = false
    /// OCI `linux.sysctl` (checked by OCIConfig: namespaced ones only), in order.
    public var sysctls: [SysctlSetting] = []
    /// OCI `mounts[type=cgroup]`: the container's cgroups at /sys/fs/cgroup (`PlanStep.mountCgroups`),
    /// read-only unless false; nil: no cgroup mount.
    public var cgroupMountReadOnly: Bool?
    /// OCI `hooks.createContainer`, run before the final pivot_root (chrooted to the host's
    /// tree), and `hooks.startContainer`, run after the exec fifo (`PlanStep.runHook`).
    public var createContainerHooks: [HookStep] = []
    public var startContainerHooks: [HookStep] = []
    /// OCI `process.capabilities`: the five sets as the config gives them, each within the
    /// profile's capabilities (their union, tightened by a `bulkhead.dev/profile`); nil: the
    /// profile's one set is bounding, effective and permitted, inheritable and ambient empty.
    public var capabilitySets: OCICapabilitySets?

    public init(callerUID: UInt32, callerGID: UInt32, privileged: Bool,
                defaultHostIDRange: IDRange = EffectiveProfile.defaultHostIDRange,
                preserveFds: [Int32] = [], hasSeccomp: Bool, landlockABI: Int? = nil) {
        self.callerUID = callerUID
        self.callerGID = callerGID
        self.privileged = privileged
        self.defaultHostIDRange = defaultHostIDRange
        self.preserveFds = preserveFds
        self.hasSeccomp = hasSeccomp
        self.landlockABI = landlockABI
    }
}

/// One `linux.sysctl` entry of an OCI config, checked (`OCIConfig.sysctl`).
public struct SysctlSetting: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// What the launcher executes: the namespaces to create, the id maps to write and the ordered
/// steps for the child. A value: testable without a kernel.
public struct LaunchPlan: Sendable, Equatable {
    /// Every namespace the sandbox gets.
    public var namespaces: Set<Namespace>
    /// Namespaces entered rather than created (a pod's user, network and IPC namespaces).
    public var joinedNamespaces: Set<Namespace> = []
    /// The ones clone3 creates; the rest are joined, or unshared by a step.
    public var cloneNamespaces: Set<Namespace> {
        var ns = namespaces.subtracting(joinedNamespaces)
        for case .unshareNamespaces(let later) in steps { ns.subtract(later) }
        return ns
    }
    public var uidMap: [IDMapEntry]
    public var gidMap: [IDMapEntry]
    /// Write "deny" to /proc/PID/setgroups before gid_map (required for an unprivileged map).
    public var denySetgroups: Bool
    /// The host uid that creates (and so owns) the new user namespace; nil: the launcher's euid
    /// (rootless, or no user namespace created). Never an id the maps contain (`IDRange`).
    public var userNamespaceOwner: UInt32? = nil
    public var steps: [PlanStep]
    public var argv: [String]
    public var environment: [String]
    /// Candidate paths for argv[0], tried in order inside the sandbox (the PATH search).
    public var execPaths: [String]
    public var preserveFds: [Int32]
}

public enum LaunchPlanner {
    /// Staging paths inside the child's private mount namespace. The staging root is a tmpfs
    /// mounted over the host's /tmp *inside* the new mount namespace; the host never sees it.
    public static let stagingMountPoint = "/tmp"
    public static let newRoot = "/newroot"
    public static let oldRoot = "/oldroot"
    /// Device nodes bind-mounted from the host into the sandbox's /dev (a user namespace
    /// cannot mknod). Nothing else: no disks, no /dev/mem, no /dev/kmsg.
    public static let devices = ["null", "zero", "full", "random", "urandom", "tty"]

    public static func plan(profile p: EffectiveProfile, command: [String], context c: LaunchContext) throws(ConfigError) -> LaunchPlan {
        func fail(_ field: String, _ msg: String) -> ConfigError { ConfigError(file: p.chain.last ?? p.name, field: field, message: msg) }
        guard let argv0 = command.first, !argv0.isEmpty else { throw fail("command", "no command to run") }
        // Checked again here, whatever built the profile (the parsers check it first).
        if let problem = WorkingDirectory.problem(p.workingDir) { throw fail("workingDir", problem) }

        // Identity: which host ids the sandbox's ids are.
        var uidMap: [IDMapEntry] = [], gidMap: [IDMapEntry] = []
        var denySetgroups = false
        var owner: UInt32?
        if p.namespaces.contains(.user) && c.joinedNamespaces.contains(.user) {
            // A pod's container: the holder's user namespace, with its maps, is joined.
        } else if p.namespaces.contains(.user) {
            if c.privileged {
                // A profile's own range is used for uids and gids; else /etc/subuid and /etc/subgid;
                // an OCI config's maps (several lines each) replace both.
                let r = p.hostIDRange ?? c.defaultHostIDRange
                let g = p.hostIDRange ?? c.defaultHostGIDRange ?? r
                let maps = c.idMaps ?? IDMaps(uid: [r.idMap], gid: [g.idMap])
                for (map, what) in [(maps.uid, "uid"), (maps.gid, "gid")] {
                    let field = c.idMaps == nil ? "userNamespace.hostIDRange" : "linux.\(what)Mappings"
                    if c.idMaps != nil, let problem = IDMapRules.problem(map) { throw fail(field, "the \(what) map: \(problem)") }
                    for e in map {
                        let range = IDRange(hostStart: e.outside, count: e.count)
                        if let problem = IDRange.problem(hostStart: range.hostStart, count: range.count) {
                            throw fail(field, "host \(what) range \(range) is not usable: \(problem)")
                        }
                        // The range in use (the profile's, /etc/subuid's, or a config's) against the ones
                        // bulkhead hands out: one of them exactly, or none of their ids.
                        // (A profile's or /etc/subgid's gid range meets only the ranges no sandbox may
                        // use, as before; a config's gid ranges meet every one.)
                        let shareableToo = what == "uid" || c.idMaps != nil
                        if let other = c.reservedHostIDRanges.first(where: { $0.shareable ? shareableToo && range.conflicts(with: $0.range) : range.overlaps($0.range) }) {
                            let source = c.idMaps == nil && p.hostIDRange == nil ? "the bulkhead range of /etc/subuid, " : ""
                            throw fail(field, "host \(what)s \(range) (\(source)used for this sandbox) overlap \(other.name) (\(other.range)) without being it: sandboxes of both would own the same host files; use that range exactly or one that does not overlap it")
                        }
                    }
                }
                // The whole range is mapped; the namespace's owner is in the owner band (see IDRange),
                // above every valid range, so never an id the maps contain.
                uidMap = maps.uid
                gidMap = maps.gid
                owner = IDRange(hostStart: maps.uid.map(\.outside).min() ?? r.hostStart, count: 1).ownerHostID
                let unmapped = { (what: String, range: IDRange) in
                    c.idMaps == nil ? "is outside the \(range.mappedCount) ids the host \(what) range \(range) maps" : "is not mapped by linux.\(what)Mappings"
                }
                if !IDMapRules.maps(uidMap, p.runAsUser) {
                    throw fail("securityContext.runAsUser", "uid \(p.runAsUser) \(unmapped("uid", r))")
                }
                if !IDMapRules.maps(gidMap, p.runAsGroup) {
                    throw fail("securityContext.runAsGroup", "gid \(p.runAsGroup) \(unmapped("gid", g))")
                }
                if let x = p.supplementalGIDs.first(where: { !IDMapRules.maps(gidMap, $0) }) {
                    throw fail("securityContext.supplementalGroups", "gid \(x) (--group-add or securityContext.supplementalGroups) \(unmapped("gid", g))")
                }
            } else {
                // Rootless: the caller's own ids become root inside; nothing else is mapped.
                uidMap = [IDMapEntry(inside: 0, outside: c.callerUID, count: 1)]
                gidMap = [IDMapEntry(inside: 0, outside: c.callerGID, count: 1)]
                denySetgroups = true // user_namespaces(7): required before an unprivileged gid_map write
                if p.runAsUser != 0 || p.runAsGroup != 0 {
                    throw fail("securityContext.runAsUser", "a rootless sandbox maps only your own uid (as 0); runAsUser/runAsGroup must be 0 unless bulkhead runs as root")
                }
            }
        } else if !c.privileged {
            throw fail("namespaces.user", "without root, the sandbox needs a user namespace; set namespaces.user: true or run as root")
        }

        // Supplementary groups: rootless (a sandbox's own namespace or a rootless pod's, joined)
        // cannot call setgroups, which the unprivileged gid map needs denied: refused, not ignored.
        if p.namespaces.contains(.user) && !c.privileged && !p.supplementalGroups.isEmpty {
            throw fail("securityContext.supplementalGroups", "a rootless sandbox cannot set supplementary groups (--group-add, securityContext.supplementalGroups): an unprivileged launcher must deny setgroups to map its gids; drop them or run bulkhead as root")
        }
        if case .name(let n)? = p.supplementalGroups.first(where: { if case .name = $0 { true } else { false } }) {
            throw fail("securityContext.supplementalGroups", "group \"\(n)\" (--group-add) was not looked up in the sandbox's root")
        }

        var s: [PlanStep] = []
        // The id maps must exist before any step that needs a capability in the new user namespace.
        s.append(.waitForRelease)
        if p.namespaces.contains(.user) {
            // The child still holds the launcher's host ids, which the new namespace need not map
            // (root launching onto a subordinate range): become the namespace's root, or files it
            // creates fail with EOVERFLOW. Capabilities in the namespace are kept (the old ids
            // were not the namespace's root), see capabilities(7), "Effect of user ID changes".
            s.append(.setGID(0))
            s.append(.setUID(0))
        }
        // Non-dumpable before anything of the sandbox exists: /proc/1/exe (the launcher's binary)
        // can then not be opened from inside (CVE-2019-5736). Not earlier: an unprivileged map
        // write needs the child's /proc files to belong to the caller, which dumpable gives.
        s.append(.setDumpable(false))
        // A new session has no controlling terminal: TIOCSTI/TIOCLINUX cannot reach the caller's tty.
        s.append(.newSession)
        // A joined network namespace is the sandbox's to mount a sysfs of unless the sandbox has
        // a user namespace of its own (a pod's container: the namespace belongs to the initial
        // one, EPERM); an OCI container in the host's user namespace mounts it, as runc does.
        let sysfsOfNetwork = !c.joinedNamespaces.contains(.network) || !p.namespaces.contains(.user)
        appendFilesystem(&s, p, ownNetwork: sysfsOfNetwork, makeKernelMountPoints: c.makeKernelMountPoints, sysctls: c.sysctls)
        if !c.createContainerHooks.isEmpty {
            // The runtime-spec: after the environment is created, before pivot_root; the path
            // resolves in the runtime's namespace (the host's tree, still at /oldroot here).
            let at = s.lastIndex(of: .pivotRoot(newRoot: ".", putOld: ".")) ?? s.endIndex
            s.insert(contentsOf: c.createContainerHooks.map { h in var h = h; h.root = oldRoot; return PlanStep.runHook(h) }, at: at)
        }
        // The pty comes from the sandbox's own devpts, mounted above, while the init still has
        // CAP_CHOWN to give the slave to the workload's ids.
        if let fd = c.terminalFD { s.append(.openTerminal(fd: fd, uid: p.runAsUser, gid: p.runAsGroup)) }
        if p.namespaces.contains(.uts) { s.append(.setHostname(p.hostname)) }
        if p.namespaces.contains(.network) && !c.joinedNamespaces.contains(.network) { s.append(.loopbackUp) }
        // The init joins its cgroup v1 hierarchies itself, by writing "0" to `tasks` files the
        // launcher opened: a thread moving itself skips the kernel's global threadgroup lock, whose
        // write side waits for an RCU grace period (milliseconds) when the launcher moves it by pid.
        s.append(.joinCgroups)
        if p.namespaces.contains(.cgroup) {
            // After the init is in all its cgroups (v1 ones included; CLONE_INTO_CGROUP covers only
            // the unified one): the namespace's root is then the sandbox's own cgroup everywhere.
            // Before the capability drop: unshare(CLONE_NEWCGROUP) needs CAP_SYS_ADMIN.
            s.append(.unshareNamespaces([.cgroup]))
        }
        if let ro = c.cgroupMountReadOnly {
            // In the final root, where the init is in every cgroup of its own (the hierarchies
            // are filled in by the launcher once they exist); before the capability drop.
            s.append(.mountCgroups(hierarchies: [], readOnly: ro, temporaryNamespace: !p.namespaces.contains(.cgroup)))
        }
        // The workload's rlimits, after the init's own set-up: a low RLIMIT_NOFILE before
        // `.joinCgroups` truncates the message carrying the cgroup files (MSG_CTRUNC: the launch
        // failed with EBADMSG; RedTeamCgroupAfterCloneTests). Still before the fork and the identity.
        for (r, l) in p.rlimits.sorted(by: { $0.key < $1.key }) { s.append(.setRlimit(r, l)) }
        appendIdentity(&s, p, c)
        if p.noNewPrivs { s.append(.noNewPrivileges) }
        let earlySeccomp = insertEarlySeccomp(&s, p, c)
        var seccompLoaded = earlySeccomp
        if let fd = c.poolRequestFD {
            // The warm pool: before the fork, so the workload is born with the request in hand.
            // Before an early filter (loaded with CAP_SYS_ADMIN: the wait's recvmsg must not meet
            // it). After the filter when it provably lets the init's and the workload's remaining
            // calls run (SeccompBeforePoolRequest): loaded while the sandbox is prepared, off the
            // client's path. Not with Landlock, whose steps come between the fork and execve.
            let seccompAt = earlySeccomp ? s.firstIndex(of: .loadSeccomp) : nil
            if seccompAt == nil && c.hasSeccomp && c.seccompBeforePoolRequest && p.landlock == nil && c.terminalFD == nil {
                s.append(.loadSeccomp)
                seccompLoaded = true
            }
            s.insert(.waitPoolRequest(fd: fd), at: seccompAt ?? s.endIndex)
        }
        if let fd = c.execFifoFD {
            // OCI: the workload is the container's PID 1, as runc has it (no init of bulkhead's
            // own forwarding signals: a SIGTERM the workload has no handler for is ignored by
            // the kernel, `podman stop` then resorts to SIGKILL; /proc/1 is the workload).
            // The init runs the remaining steps itself and becomes the workload by execve.
            s.append(.waitExecFifo(fd: fd))
            // After `start`, before the workload's execve, in the container (its root, its ids).
            s.append(contentsOf: c.startContainerHooks.map { PlanStep.runHook($0) })
        } else {
            s.append(.forkWorkload)
        }
        try appendWorkloadTail(&s, p, c, earlySeccomp: seccompLoaded, fail: fail)

        let (env, execPaths) = workloadEnvironment(p, argv0: argv0, context: c)

        var plan = LaunchPlan(
            namespaces: p.namespaces, uidMap: uidMap, gidMap: gidMap, denySetgroups: denySetgroups,
            steps: s, argv: command, environment: env,
            execPaths: execPaths, preserveFds: c.preserveFds
        )
        plan.joinedNamespaces = c.joinedNamespaces.intersection(p.namespaces)
        plan.userNamespaceOwner = owner
        return plan
    }

    /// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN (seccomp(2)), so it is loaded
    /// while the process still has it, before the capability drop (runc does the same). The
    /// filter then also confines the steps after it. Returns whether it was placed so.
    static func insertEarlySeccomp(_ s: inout [PlanStep], _ p: EffectiveProfile, _ c: LaunchContext) -> Bool {
        guard c.hasSeccomp && !p.noNewPrivs else { return false }
        let capIndex = s.lastIndex(where: { if case .dropBoundingSet = $0 { return true }; return false }) ?? s.endIndex
        s.insert(.loadSeccomp, at: capIndex)
        return true
    }

    /// The last steps of the process that execs the command (a sandbox's workload, an OCI
    /// exec's process).
    static func appendWorkloadTail(_ s: inout [PlanStep], _ p: EffectiveProfile, _ c: LaunchContext, earlySeccomp: Bool,
                                   fail: (String, String) -> ConfigError) throws(ConfigError) {
        // A pty of bulkhead's own, never the caller's terminal (TIOCSTI): the workload leads a
        // new session whose controlling terminal it is. Before the fd hygiene closes the slave.
        if let fd = c.terminalFD { s.append(.attachTerminal(fd: fd)) }
        // Only 0, 1, 2 and the declared fds cross into the workload (CVE-2024-21626), closed
        // before the working directory is entered: no launcher fd is left to lead out.
        s.append(.closeStrayFileDescriptors)
        s.append(.enterWorkingDirectory(p.workingDir))
        // Landlock after the final root and working directory exist (its rules name paths in
        // them) and before seccomp (whose allow-list need not contain the landlock calls).
        if let l = p.landlock { try appendLandlock(&s, l, abi: c.landlockABI, fail: fail) }
        // Last before execve: every earlier step may use syscalls the filter forbids.
        if c.hasSeccomp && !earlySeccomp { s.append(.loadSeccomp) }
        s.append(.exec)
    }

    /// The workload's environment (HOME, TERM under --tty and HOSTNAME added unless given) and
    /// the candidate paths of argv[0] (the PATH search): one rule for a sandbox's workload and
    /// an OCI `exec`'s process.
    static func workloadEnvironment(_ p: EffectiveProfile, argv0: String, context c: LaunchContext) -> (env: [String], execPaths: [String]) {
        var env = p.env
        if !env.contains(where: { $0.name == "HOME" }) { env.append(EnvVar(name: "HOME", value: p.runAsUser == 0 ? "/root" : "/")) }
        if c.terminalFD != nil && !env.contains(where: { $0.name == "TERM" }) {
            env.append(EnvVar(name: "TERM", value: terminalType(c.terminalType)))
        }
        if !env.contains(where: { $0.name == "HOSTNAME" }) && p.namespaces.contains(.uts) { env.append(EnvVar(name: "HOSTNAME", value: p.hostname)) }
        let execPaths = Self.execPaths(argv0, path: env.first(where: { $0.name == "PATH" })?.value)
        return (env.map { "\($0.name)=\($0.value)" }, execPaths)
    }

    /// OCI `exec`: the steps of a process that joins a running container. It is forked by a
    /// joiner that has entered the container's cgroups and namespaces (bh_exec_into); the
    /// container's root is then its root. No mount, no id map, no new namespace: only who the
    /// process is (the namespace's root first, as the init), its limits, capabilities,
    /// no_new_privs, terminal, fd hygiene, working directory (resolved inside the root),
    /// Landlock, seccomp, execve, in the order and with the rules of `plan`.
    public static func execPlan(profile p: EffectiveProfile, command: [String], context c: LaunchContext) throws(ConfigError) -> LaunchPlan {
        func fail(_ field: String, _ msg: String) -> ConfigError { ConfigError(file: p.chain.last ?? p.name, field: field, message: msg) }
        guard let argv0 = command.first, !argv0.isEmpty else { throw fail("command", "no command to run") }
        if let problem = WorkingDirectory.problem(p.workingDir) { throw fail("workingDir", problem) }
        if case .name(let n)? = p.supplementalGroups.first(where: { if case .name = $0 { true } else { false } }) {
            throw fail("securityContext.supplementalGroups", "group \"\(n)\" was not looked up in the container's root")
        }
        var s: [PlanStep] = []
        // Joined with the joiner's host ids, which the container's namespace need not map:
        // become its root first (capabilities in it are kept), as the init did.
        if p.namespaces.contains(.user) { s += [.setGID(0), .setUID(0)] }
        // Non-dumpable until execve (CVE-2016-9962): the container cannot ptrace this process
        // or open its /proc/PID/fd while it holds the runtime's descriptors.
        s.append(.setDumpable(false))
        if let fd = c.terminalFD { s.append(.openTerminal(fd: fd, uid: p.runAsUser, gid: p.runAsGroup)) }
        for (r, l) in p.rlimits.sorted(by: { $0.key < $1.key }) { s.append(.setRlimit(r, l)) }
        appendIdentity(&s, p, c)
        if p.noNewPrivs { s.append(.noNewPrivileges) }
        let earlySeccomp = insertEarlySeccomp(&s, p, c)
        try appendWorkloadTail(&s, p, c, earlySeccomp: earlySeccomp, fail: fail)
        let (env, execPaths) = workloadEnvironment(p, argv0: argv0, context: c)
        var plan = LaunchPlan(namespaces: p.namespaces, uidMap: [], gidMap: [], denySetgroups: false, steps: s, argv: command,
                              environment: env, execPaths: execPaths, preserveFds: c.preserveFds)
        plan.joinedNamespaces = p.namespaces
        return plan
    }

    /// The candidate paths of `argv0`, as execvp(3) searches them: the name itself when it has a
    /// slash, else each entry of `path` (the workload's PATH, else the default).
    /// The warm pool computes a pooled request's with it too.
    public static func execPaths(_ argv0: String, path: String?) -> [String] {
        argv0.contains("/") ? [argv0]
            : (path ?? EffectiveProfile.defaultPath).split(separator: ":").map { ($0.isEmpty ? "." : String($0)) + "/" + argv0 }
    }

    /// `ownNetwork` false: a pod's container, whose network namespace belongs to the initial
    /// user namespace; it cannot mount a sysfs of it (EPERM) and binds the pod's instead (a
    /// bind onto /sys among its binds, see PodRunner).
    static func appendFilesystem(_ s: inout [PlanStep], _ p: EffectiveProfile, ownNetwork: Bool = true, makeKernelMountPoints: Bool = false,
                                 sysctls: [SysctlSetting] = []) {
        let nr = newRoot, or = oldRoot
        // Nothing mounted from here on propagates back to the host's mount namespace.
        s.append(.mount(source: nil, target: "/", fstype: nil, flags: [.recursive, .slave], data: nil))
        // A staging root: the new root is assembled under /newroot while the host's stays at /oldroot.
        s.append(.mount(source: "tmpfs", target: stagingMountPoint, fstype: "tmpfs", flags: [.noSuid, .noDev], data: "mode=0700,size=64k"))
        s.append(.makeDirectory(stagingMountPoint + nr, mode: 0o755))
        s.append(.makeDirectory(stagingMountPoint + or, mode: 0o700))
        s.append(.pivotRoot(newRoot: stagingMountPoint, putOld: stagingMountPoint + or))
        s.append(.changeDirectory("/"))
        switch p.root {
        case .host: s.append(.mount(source: or, target: nr, fstype: nil, flags: [.bind, .recursive], data: nil))
        case .directory(let d):
            s.append(.refuseSymlinks(or + d, missingOK: false))
            s.append(.mount(source: or + d, target: nr, fstype: nil, flags: [.bind, .recursive], data: nil))
        }
        // One mount_setattr(2) makes the whole bound tree read-only, nosuid and nodev, before
        // the sandbox's own writable mounts (/dev, /tmp, binds) are put on top of it.
        var rootAttrs: MountAttributes = [.noSuid, .noDev]
        if p.readOnlyRootFilesystem { rootAttrs.insert(.readOnly) }
        s.append(.setMountAttributes(nr, rootAttrs, recursive: true))

        // Every mount target inside a root filesystem is checked for symlinks first: a rootfs
        // whose /proc points elsewhere must not redirect our mounts (CVE-2019-19921 family).
        if makeKernelMountPoints { s.append(.makeMountPoint(nr + "/proc", directory: true)) }
        s.append(.refuseSymlinks(nr + "/proc", missingOK: false))
        s.append(.mount(source: "proc", target: nr + "/proc", fstype: "proc", flags: [.noSuid, .noDev, .noExec], data: nil))

        if makeKernelMountPoints { s.append(.makeMountPoint(nr + "/dev", directory: true)) }
        s.append(.refuseSymlinks(nr + "/dev", missingOK: false))
        // nodev: a node made here (mknod with CAP_MKNOD, an OCI container in the host's user
        // namespace) opens nothing; the devices below are bind mounts with their own flags.
        s.append(.mount(source: "tmpfs", target: nr + "/dev", fstype: "tmpfs", flags: [.noSuid, .noExec, .noDev], data: "mode=0755,size=64k"))
        for d in devices {
            s.append(.createFile(nr + "/dev/" + d))
            s.append(.mount(source: or + "/dev/" + d, target: nr + "/dev/" + d, fstype: nil, flags: [.bind], data: nil))
        }
        // --device: the host's node (checked by the launcher: a device, no symlink), at the same
        // path in the sandbox's /dev tmpfs, whose parents are created there.
        for d in p.devices where !devices.contains(d) {
            let parents = ExactName.pathComponents(d).dropLast()
            for i in parents.indices { s.append(.makeDirectory(nr + "/dev/" + parents[...i].joined(separator: "/"), mode: 0o755)) }
            s.append(.createFile(nr + "/dev/" + d))
            s.append(.mount(source: or + "/dev/" + d, target: nr + "/dev/" + d, fstype: nil, flags: [.bind], data: nil))
        }
        s.append(.makeDirectory(nr + "/dev/pts", mode: 0o755))
        s.append(.mount(source: "devpts", target: nr + "/dev/pts", fstype: "devpts", flags: [.noSuid, .noExec], data: "newinstance,ptmxmode=0666,mode=0620"))
        s.append(.symlink(target: "pts/ptmx", at: nr + "/dev/ptmx"))
        s.append(.makeDirectory(nr + "/dev/shm", mode: 0o1777))
        s.append(.mount(source: "shm", target: nr + "/dev/shm", fstype: "tmpfs", flags: [.noSuid, .noDev], data: "mode=1777,size=\(p.shmSizeBytes ?? p.tmpfsSize(TmpfsMount(path: "/dev/shm")))"))
        if p.namespaces.contains(.ipc) {
            s.append(.makeDirectory(nr + "/dev/mqueue", mode: 0o755))
            s.append(.mount(source: "mqueue", target: nr + "/dev/mqueue", fstype: "mqueue", flags: [.noSuid, .noDev, .noExec], data: nil))
        }
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
            s.append(.symlink(target: target, at: nr + "/dev/" + name))
        }
        if p.namespaces.contains(.network) && ownNetwork {
            // A sysfs of the sandbox's own network namespace (its /sys/class/net shows only lo),
            // read-only; it also hides the host's cgroup mounts under /sys/fs/cgroup.
            if makeKernelMountPoints { s.append(.makeMountPoint(nr + "/sys", directory: true)) }
            s.append(.refuseSymlinks(nr + "/sys", missingOK: false))
            s.append(.mount(source: "sysfs", target: nr + "/sys", fstype: "sysfs", flags: [.readOnly, .noSuid, .noDev, .noExec], data: nil))
        }
        for t in p.tmpfs {
            if !t.optional, let point = mountPoint(t.path, directory: true) { s.append(point) }
            s.append(.refuseSymlinks(nr + t.path, missingOK: t.optional))
            let data = "mode=1777,size=\(p.tmpfsSize(t))"
            s.append(t.optional
                ? .mountIfPresent(source: "tmpfs", target: nr + t.path, fstype: "tmpfs", flags: [.noSuid, .noDev], data: data)
                : .mount(source: "tmpfs", target: nr + t.path, fstype: "tmpfs", flags: [.noSuid, .noDev], data: data))
        }
        for b in p.binds {
            // A destination below one of the sandbox's own tmpfs mounts gets its mount point
            // created there (the read-only root cannot get new ones).
            // Byte for byte (ExactName.pathComponents): a Character split or prefix does not see
            // a '/' that a Prepend scalar joined to the character before it.
            if let t = p.tmpfs.first(where: { b.destination.utf8.starts(with: ($0.path == "/" ? "/" : $0.path + "/").utf8) }) {
                let rest = ExactName.pathComponents(String(decoding: b.destination.utf8.dropFirst(t.path.utf8.count), as: UTF8.self))
                var path = nr + t.path
                for component in rest.dropLast() {
                    path += "/" + component
                    s.append(.makeDirectory(path, mode: 0o755))
                }
                s.append(b.sourceIsFile ? .createFile(nr + b.destination) : .makeDirectory(nr + b.destination, mode: 0o755))
            } else if let point = mountPoint(b.destination, directory: !b.sourceIsFile) {
                s.append(point)
            }
            s.append(.refuseSymlinks(nr + b.destination, missingOK: false))
            s.append(.mount(source: or + b.source, target: nr + b.destination, fstype: nil, flags: [.bind, .recursive], data: nil))
            s.append(.setMountAttributes(nr + b.destination, b.readOnly ? [.readOnly, .noSuid, .noDev] : [.noSuid, .noDev], recursive: true))
        }
        // Sysctls through the sandbox's own proc, before /proc/sys is made read-only.
        for x in sysctls { s.append(.writeSysctl(name: x.name, value: x.value)) }
        for m in p.maskedPaths { s.append(.mask(nr + m, nullDevice: nr + "/dev/null")) }
        for r in p.readonlyPaths { s.append(.makeReadOnly(nr + r)) }
        // pivot_root(".", ".") stacks the old root on the new one; detaching "." then removes
        // the staging tmpfs and the host's tree with it (the runc idiom; pivot_root(2) NOTES).
        s.append(.changeDirectory(nr))
        s.append(.pivotRoot(newRoot: ".", putOld: "."))
        s.append(.unmountDetached("."))
        s.append(.changeDirectory("/"))
    }

    /// `TERM` for a `--tty` workload: the caller's, when it is a plausible terminal name (at most
    /// 64 of letters, digits and `.+-_`), else `xterm`, as docker sets.
    public static func terminalType(_ caller: String?) -> String {
        guard let t = caller, (1...64).contains(t.utf8.count),
              t.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2e || $0 == 0x2b || $0 == 0x2d || $0 == 0x5f })
        else { return "xterm" }
        return t
    }

    /// Where bulkhead makes no mount point: the kernel's own trees (a bind or tmpfs there must
    /// name something that exists), and the root itself.
    public static let noMountPointsUnder = ["/proc", "/sys", "/dev"]

    /// The step that makes a bind's or tmpfs's target when the root filesystem lacks it (docker,
    /// podman, bwrap and the kubelet make it too); nil where none may be made (`noMountPointsUnder`).
    /// Emitted right before the target's own mount, after every earlier mount: a target beneath an
    /// earlier bind is made in that bind's tree. The C walks it inside the new root without
    /// following symlinks, and covers a read-only parent with a read-only tmpfs copy of it.
    static func mountPoint(_ target: String, directory: Bool) -> PlanStep? {
        guard target != "/", !ExactName.pathComponents(target).contains(where: { ExactName.same($0, "..") || ExactName.same($0, ".") }) else { return nil }
        if noMountPointsUnder.contains(where: { target == $0 || target.hasPrefix($0 + "/") }) { return nil }
        return .makeMountPoint(newRoot + target, directory: directory)
    }

    /// A pod's holder (the pause container): it creates the namespaces the pod's containers
    /// share, brings up the pod's loopback, gives up every privilege and waits until killed.
    public static func holderPlan(namespaces: Set<Namespace>, hostIDRange: IDRange, context c: LaunchContext) -> LaunchPlan {
        // The whole range is mapped; the pod's user namespace is owned by the range's id in the
        // owner band, which no range maps (see IDRange).
        let map = c.privileged
            ? [hostIDRange.idMap]
            : [IDMapEntry(inside: 0, outside: c.callerUID, count: 1)]
        let gmap = c.privileged ? map : [IDMapEntry(inside: 0, outside: c.callerGID, count: 1)]
        var s: [PlanStep] = [.waitForRelease, .setGID(0), .setUID(0), .setDumpable(false), .newSession]
        if namespaces.contains(.network) { s.append(.loopbackUp) }
        s += [.dropBoundingSet(keep: CapabilitySet()), .setCapabilities(effective: CapabilitySet(), permitted: CapabilitySet(), inheritable: CapabilitySet()),
              .noNewPrivileges, .pause]
        var plan = LaunchPlan(namespaces: namespaces.union([.user]), uidMap: map, gidMap: gmap, denySetgroups: !c.privileged,
                              steps: s, argv: ["pause"], environment: [], execPaths: [], preserveFds: [])
        plan.userNamespaceOwner = c.privileged ? hostIDRange.ownerHostID : nil
        return plan
    }

    static func appendLandlock(_ s: inout [PlanStep], _ l: LandlockSpec, abi: Int?, fail: (String, String) -> ConfigError) throws(ConfigError) {
        guard let abi, abi >= 1 else {
            throw fail("filesystem.landlock", "Landlock is not available on this kernel (needs Linux 5.13 with the landlock LSM enabled, lsm=...,landlock); `bulkhead doctor` shows it")
        }
        let wantsNetwork = l.bindTCP != nil || l.connectTCP != nil
        if wantsNetwork && abi < LandlockRights.networkABI {
            throw fail("filesystem.landlock", "TCP port rules need Landlock ABI \(LandlockRights.networkABI) (Linux 6.7); this kernel has ABI \(abi)")
        }
        s.append(.landlockCreateRuleset(handledFilesystem: LandlockRights.handledFilesystem(abi: abi),
                                        handledNetwork: wantsNetwork ? LandlockRights.bindTCP | LandlockRights.connectTCP : 0))
        for p in l.readOnly { s.append(.landlockAllowPath(p, access: LandlockRights.readOnly(abi: abi))) }
        for p in l.readWrite { s.append(.landlockAllowPath(p, access: LandlockRights.readWrite(abi: abi))) }
        for port in l.bindTCP ?? [] { s.append(.landlockAllowPort(port, access: LandlockRights.bindTCP)) }
        for port in l.connectTCP ?? [] { s.append(.landlockAllowPort(port, access: LandlockRights.connectTCP)) }
        s.append(.landlockRestrictSelf)
    }

    static func appendIdentity(_ s: inout [PlanStep], _ p: EffectiveProfile, _ c: LaunchContext) {
        let keep = p.capabilities
        func within(_ set: CapabilitySet) -> CapabilitySet { CapabilitySet(mask: set.mask & keep.mask) }
        let sets = c.capabilitySets
        // The bounding set first: it needs CAP_SETPCAP, which a uid change would take away.
        s.append(.dropBoundingSet(keep: sets.map { within($0.bounding) } ?? keep))
        let switching = p.runAsUser != 0 || p.runAsGroup != 0
        if switching { s.append(.keepCapabilities(true)) } // keep the permitted set across setresuid
        // Supplementary groups: drop the launcher's (they would show as nobody inside). Not
        // possible with setgroups denied (rootless), where the kernel already fixed them.
        let canSetGroups = !(p.namespaces.contains(.user) && !c.privileged)
        // The primary group first when switching (as before), then the supplementary ones.
        if canSetGroups {
            var gids: [UInt32] = switching ? [p.runAsGroup] : []
            for g in p.supplementalGIDs where !gids.contains(g) { gids.append(g) }
            s.append(.setGroups(gids))
        }
        if switching {
            s.append(.setGID(p.runAsGroup)) // gid before uid: after the uid change setresgid is no longer allowed
            s.append(.setUID(p.runAsUser))
            s.append(.keepCapabilities(false))
        }
        guard let sets else {
            // Inheritable stays empty (CVE-2022-29162); ambient is cleared by the same step.
            s.append(.setCapabilities(effective: keep, permitted: keep, inheritable: CapabilitySet()))
            return
        }
        // OCI: the five sets as runc's libcontainer/capabilities applies them (capset of
        // effective, permitted, inheritable, then each ambient one raised).
        s.append(.setCapabilities(effective: within(sets.effective), permitted: within(sets.permitted), inheritable: within(sets.inheritable)))
        if !within(sets.ambient).isEmpty { s.append(.raiseAmbientCapabilities(within(sets.ambient))) }
    }
}
