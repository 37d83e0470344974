/// mount(2) flags, with the kernel's values (include/uapi/linux/mount.h).
public struct MountFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let readOnly = MountFlags(rawValue: 1)        // MS_RDONLY
    public static let noSuid = MountFlags(rawValue: 2)          // MS_NOSUID
    public static let noDev = MountFlags(rawValue: 4)           // MS_NODEV
    public static let noExec = MountFlags(rawValue: 8)          // MS_NOEXEC
    public static let bind = MountFlags(rawValue: 4096)         // MS_BIND
    public static let recursive = MountFlags(rawValue: 16384)   // MS_REC
    public static let slave = MountFlags(rawValue: 1 << 19)     // MS_SLAVE
}

/// mount_setattr(2) attributes (MOUNT_ATTR_*).
public struct MountAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let readOnly = MountAttributes(rawValue: 0x1)
    public static let noSuid = MountAttributes(rawValue: 0x2)
    public static let noDev = MountAttributes(rawValue: 0x4)
    public static let noExec = MountAttributes(rawValue: 0x8)
}

/// One step that the sandbox's child performs between clone3 and execve. Each maps onto one
/// `bh_step` record of CShims/include/bh_spawn.h, named alike: case `fooBar` is op
/// `BH_OP_FOO_BAR` with its arguments in `args.foo_bar` (`.mountIfPresent` is
/// `BH_OP_MOUNT_IF_PRESENT` and shares `args.mount`); the C side runs them in order.
public enum PlanStep: Sendable, Equatable {
    /// The init waits for the launcher's release: the id maps are written.
    case waitForRelease
    /// The init joins the sandbox's cgroup v1 hierarchies itself, through `tasks` files the
    /// launcher opened (cgroup v2 needs nothing: the init is born in its cgroup).
    case joinCgroups
    case unshareNamespaces(Set<Namespace>)
    case setDumpable(Bool)
    case newSession
    case mount(source: String?, target: String, fstype: String?, flags: MountFlags, data: String?)
    /// A mount that is skipped when its target does not exist.
    case mountIfPresent(source: String?, target: String, fstype: String?, flags: MountFlags, data: String?)
    case makeDirectory(String, mode: UInt32)
    case createFile(String)
    /// A bind or tmpfs target inside the new root that need not exist (a file mount point when
    /// `directory` is false): each missing component is made relative to an fd of its parent,
    /// opened inside the root with no symlink followed; a parent that cannot get a new entry
    /// (the read-only root) is covered by a read-only tmpfs copy of itself that holds it.
    case makeMountPoint(String, directory: Bool)
    case symlink(target: String, at: String)
    case changeDirectory(String)
    /// The workload's working directory: resolved inside the sandbox's root with no magic link
    /// (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), entered with fchdir and checked to be
    /// inside the root (CVE-2024-21626).
    case enterWorkingDirectory(String)
    case pivotRoot(newRoot: String, putOld: String)
    case unmountDetached(String)
    case setMountAttributes(String, MountAttributes, recursive: Bool)
    case refuseSymlinks(String, missingOK: Bool)
    case mask(String, nullDevice: String)
    case makeReadOnly(String)
    case setHostname(String)
    case loopbackUp
    case setRlimit(RlimitResource, Rlimit)
    case dropBoundingSet(keep: CapabilitySet)
    case keepCapabilities(Bool)
    /// The supplementary groups; empty drops every one.
    case setGroups([UInt32])
    case setGID(UInt32)
    case setUID(UInt32)
    case setCapabilities(effective: CapabilitySet, permitted: CapabilitySet, inheritable: CapabilitySet)
    /// OCI `process.capabilities.ambient`, after `setCapabilities` (each must be permitted and inheritable).
    case raiseAmbientCapabilities(CapabilitySet)
    case noNewPrivileges
    case landlockCreateRuleset(handledFilesystem: UInt64, handledNetwork: UInt64)
    case landlockAllowPath(String, access: UInt64)
    case landlockAllowPort(UInt16, access: UInt64)
    case landlockRestrictSelf
    case forkWorkload
    case pause
    case closeStrayFileDescriptors
    /// `--tty`: make `fd` (a pty slave that bulkhead owns the master of) the workload's
    /// controlling terminal and its standard input, output and error.
    case attachTerminal(fd: Int32)
    /// `--tty`, in the init after the final pivot_root: open a pty in the sandbox's own devpts
    /// (/dev/pts/ptmx, resolved in the root without symlinks), give its slave to uid:gid, send
    /// the master to the launcher over the socket `fd`, and put the slave on `fd` itself, where
    /// `attachTerminal` finds it. The workload's terminal is then /dev/pts/N of its own /dev/pts.
    case openTerminal(fd: Int32, uid: UInt32, gid: UInt32)
    case loadSeccomp
    /// OCI `create`: the init, every setup step done, reports that it was created and waits
    /// until `start` opens the exec fifo (`fd`: an O_PATH fd of it in the state directory),
    /// then forks the workload. The creating launcher exits meanwhile (no PDEATHSIG from here).
    case waitExecFifo(fd: Int32)
    /// The warm pool (`bulkhead pool`): the init, every setup step done, reports that it is
    /// ready and waits on the socket `fd` for one request (argv, environment, candidate paths,
    /// working directory, the fds that become the workload's 0 .. n-1), which the steps after
    /// it use in place of the plan's own.
    case waitPoolRequest(fd: Int32)
    /// OCI `hooks.createContainer` (before the final pivot_root, chrooted to the host's tree at
    /// /oldroot) and `hooks.startContainer` (after the exec fifo, in the container's root): the
    /// init runs the hook and waits for it (its timeout kills it); a failure fails the step.
    case runHook(HookStep)
    /// OCI `linux.sysctl`: write `value` to /proc/sys/`name` (dots as slashes) of the sandbox's
    /// own /proc (mounted in the new root), before /proc/sys is made read-only; only namespaced
    /// sysctls reach the plan (OCIConfig).
    case writeSysctl(name: String, value: String)
    /// OCI `mounts[type=cgroup]`, after the init joined its cgroups (and unshared the cgroup
    /// namespace when the config asks for one): a tmpfs at /sys/fs/cgroup of the final root with
    /// each of `hierarchies` (the v1 hierarchies the container has its own cgroup in, as their
    /// controllers joined by ",", and "unified" for the cgroup2 tree beside them) mounted below,
    /// or, for the single hierarchy "cgroup2" (a cgroup v2 host), cgroup2 on /sys/fs/cgroup itself.
    /// Every mount is made in a cgroup namespace whose root is the container's own cgroup: the
    /// container's own when `temporaryNamespace` is false, else one unshared for the mounts and
    /// left again (setns back), so the container sees its cgroup as / and never the host's root.
    /// The planner emits it with no hierarchies; the launcher fills them in once the cgroup exists.
    case mountCgroups(hierarchies: [String], readOnly: Bool, temporaryNamespace: Bool)
    case exec
    /// Record mode: PTRACE_TRACEME and stop, so that the init traces the workload from its
    /// execve on (`bulkhead seccomp record`).
    case becomeTracee

    /// What the step does, as a user reads it in an error ("mount proc on /proc").
    public var summary: String {
        func inside(_ p: String) -> String {
            for prefix in [LaunchPlanner.newRoot, LaunchPlanner.oldRoot] where p.hasPrefix(prefix) {
                let rest = String(p.dropFirst(prefix.count))
                return prefix == LaunchPlanner.oldRoot ? "host:" + (rest.isEmpty ? "/" : rest) : (rest.isEmpty ? "/" : rest)
            }
            return p
        }
        switch self {
        case .waitForRelease: return "wait for the launcher to write the id maps"
        case .joinCgroups: return "join the sandbox's cgroup v1 hierarchies"
        case .unshareNamespaces(let ns): return "unshare the \(ns.sorted().map(\.rawValue).joined(separator: ",")) namespace"
        case .setDumpable(let on): return "prctl(PR_SET_DUMPABLE, \(on ? 1 : 0))"
        case .newSession: return "setsid (detach from the caller's terminal)"
        case let .mount(source, target, fstype, flags, _):
            if flags.contains(.bind) { return "bind-mount \(inside(source ?? "?")) on \(inside(target))" }
            if flags.contains(.slave) { return "make the mount tree a slave of the host's (no propagation back)" }
            return "mount \(fstype ?? "?") on \(inside(target))"
        case let .mountIfPresent(_, target, fstype, _, _): return "mount \(fstype ?? "?") on \(inside(target)) if it exists"
        case .makeDirectory(let p, _): return "mkdir \(inside(p))"
        case .createFile(let p): return "create mount point \(inside(p))"
        case let .makeMountPoint(p, directory): return "make the mount point \(inside(p)) (a \(directory ? "directory" : "file"), inside the root, no symlinks)"
        case let .symlink(t, at): return "symlink \(inside(at)) -> \(t)"
        case .changeDirectory(let p): return "chdir \(inside(p))"
        case .enterWorkingDirectory(let p): return "chdir \(p) (resolved inside the root, no magic links)"
        case let .pivotRoot(n, o): return "pivot_root(\(n), \(o))"
        case .unmountDetached(let p): return "detach the old root (umount2 \(p), MNT_DETACH)"
        case let .setMountAttributes(p, a, _):
            var names: [String] = []
            if a.contains(.readOnly) { names.append("read-only") }
            if a.contains(.noSuid) { names.append("nosuid") }
            if a.contains(.noDev) { names.append("nodev") }
            if a.contains(.noExec) { names.append("noexec") }
            return "make \(inside(p)) \(names.joined(separator: ","))"
        case .refuseSymlinks(let p, _): return "check that \(inside(p)) crosses no symlink"
        case .mask(let p, _): return "mask \(inside(p))"
        case .makeReadOnly(let p): return "make \(inside(p)) read-only"
        case .setHostname(let h): return "sethostname \(h)"
        case .loopbackUp: return "bring up the loopback interface"
        case let .setRlimit(r, l): return "setrlimit \(r.rawValue) \(l.soft)/\(l.hard)"
        case .dropBoundingSet: return "drop capabilities from the bounding set"
        case .keepCapabilities(let on): return "prctl(PR_SET_KEEPCAPS, \(on ? 1 : 0))"
        case .setGroups(let g): return g.isEmpty ? "setgroups [] (drop supplementary groups)" : "setgroups [\(g.map(String.init).joined(separator: ", "))]"
        case .setGID(let g): return "setresgid \(g)"
        case .setUID(let u): return "setresuid \(u)"
        case .setCapabilities: return "capset (effective, permitted, inheritable; clear ambient)"
        case .raiseAmbientCapabilities: return "raise the ambient capabilities"
        case .noNewPrivileges: return "prctl(PR_SET_NO_NEW_PRIVS)"
        case .landlockCreateRuleset: return "create the Landlock ruleset"
        case let .landlockAllowPath(p, access):
            return "Landlock: allow \(access & LandlockRights.writeFile != 0 ? "read-write" : "read-only") beneath \(p)"
        case let .landlockAllowPort(port, access):
            return "Landlock: allow TCP \(access & LandlockRights.bindTCP != 0 ? "bind" : "connect") on port \(port)"
        case .landlockRestrictSelf: return "enforce the Landlock ruleset"
        case .forkWorkload: return "fork the workload from the sandbox's init"
        case .pause: return "hold the pod's namespaces (pause)"
        case .closeStrayFileDescriptors: return "close inherited file descriptors"
        case .openTerminal: return "open the sandbox's pty in its own /dev/pts and send the master to the launcher"
        case .attachTerminal: return "attach bulkhead's pty as the controlling terminal (setsid, TIOCSCTTY)"
        case .loadSeccomp: return "load the seccomp filter"
        case .waitExecFifo: return "wait on the exec fifo for `start`"
        case .waitPoolRequest: return "wait for the warm pool's request (command, environment, working directory, fds)"
        case .runHook(let h): return "run the \(h.kind) hook \(h.index) (\(h.path))"
        case let .writeSysctl(name, _): return "set the sysctl \(name) (linux.sysctl)"
        case let .mountCgroups(h, ro, _): return "mount the container's cgroups (\(h.joined(separator: " "))) at /sys/fs/cgroup\(ro ? " read-only" : "") (mounts[type=cgroup])"
        case .exec: return "execve the command"
        case .becomeTracee: return "PTRACE_TRACEME and stop (the init records every system call from execve on)"
        }
    }
}

/// One OCI hook the init runs (`PlanStep.runHook`): argv and envp as execve takes them, the
/// sealed memfd with the state JSON its stdin reads, the timeout in milliseconds (0: none) and
/// the root it chroots to first (nil: where the init is).
public struct HookStep: Sendable, Equatable {
    public var kind: String
    public var index: Int
    public var path: String
    public var argv: [String]
    public var env: [String]
    public var stateFD: Int32
    public var timeoutMs: Int32
    public var root: String?
    public init(kind: String, index: Int, path: String, argv: [String], env: [String], stateFD: Int32, timeoutMs: Int32, root: String? = nil) {
        self.kind = kind; self.index = index; self.path = path; self.argv = argv; self.env = env
        self.stateFD = stateFD; self.timeoutMs = timeoutMs; self.root = root
    }
}
