import BulkheadModel
import CShims
import Glibc

extension Namespace {
    /// The clone(2) flag that creates this namespace.
    public var cloneFlag: UInt64 {
        switch self {
        case .user: 0x1000_0000    // CLONE_NEWUSER
        case .pid: 0x2000_0000     // CLONE_NEWPID
        case .mount: 0x0002_0000   // CLONE_NEWNS
        case .network: 0x4000_0000 // CLONE_NEWNET
        case .ipc: 0x0800_0000     // CLONE_NEWIPC
        case .uts: 0x0400_0000     // CLONE_NEWUTS
        case .cgroup: 0x0200_0000  // CLONE_NEWCGROUP
        case .time: 0x0000_0080    // CLONE_NEWTIME
        }
    }
}

/// Turns a `LaunchPlan` into the C records of bh_spawn.h and creates the sandbox's init.
public enum ChildSpawner {
    /// The most `--preserve-fd` descriptors a launch passes (the init's keep-list is a fixed array).
    public static let maxPreservedFDs = 64

    /// Creates the init with clone3. The C data is copied into the child's address space by
    /// clone itself; the parent frees its copy when this returns.
    /// - Parameter failAtStep: test-only fault injection: the child fails that step with ECANCELED.
    /// - Parameter recordTable: record mode: the shared table the init fills (see `SyscallRecorderTable`).
    /// - Parameter join: pod mode: namespaces to enter before clone3, as (fd, namespace), in
    ///   order: those owned by the initial user namespace (a pod's network namespace) first,
    ///   while the trampoline is still root there, then the user namespace, then the ones it
    ///   owns. The caller must be a child subreaper (`becomeSubreaper`).
    /// - Parameter cgroupJoinFDs: cgroup v1 `tasks` files open for writing
    ///   (`SandboxCgroup.openJoinFiles()`); the init joins them itself at the plan's
    ///   `.waitForCgroups` step. The child's copies are closed there; the caller closes its own.
    /// - Returns: the init, waiting at its first step for `SandboxInit.release`; the caller
    ///   owns it and closes it (`SandboxInit.close`).
    public static func spawn(plan: LaunchPlan, seccompProgram: [UInt8]?, cgroupFD: Int32?, failAtStep: Int?,
                             recordTable: SyscallRecorderTable? = nil,
                             join: [(fd: Int32, namespace: Namespace)] = [],
                             cgroupJoinFDs: [Int32] = []) throws(SystemError) -> SandboxInit {
        // A --preserve-fd must be a descriptor the caller handed down: open, and not
        // close-on-exec (execve closed every such fd of the caller, and bulkhead opens all of its
        // own close-on-exec), nor one bulkhead passes to clone3 itself (the pty slave, cgroup and
        // namespace fds). Else an fd number bulkhead happened to open (its cgroup directory) would
        // be handed to the workload: a way out. At most maxPreservedFDs (the init's keep-list is a
        // fixed array).
        var own = Set([cgroupFD].compactMap { $0 } + join.map(\.fd) + cgroupJoinFDs)
        for case .attachTerminal(let fd) in plan.steps { own.insert(fd) }
        let foreign = plan.preserveFds.filter { fd in
            let flags = fcntl(fd, F_GETFD)
            return fd < 0 || flags < 0 || flags & FD_CLOEXEC != 0 || own.contains(fd)
        }
        if plan.preserveFds.count > maxPreservedFDs || !foreign.isEmpty {
            throw SystemError("pass --preserve-fd \((foreign.isEmpty ? plan.preserveFds : foreign).map(String.init).joined(separator: ","))", errno: Errno(EBADF),
                              hint: "a preserved descriptor must be open in the caller that runs bulkhead (not one bulkhead opened itself); at most \(maxPreservedFDs)")
        }
        let owner = try userNamespaceOwner(plan)
        let arena = CArena()
        defer { arena.free() }
        let steps = plan.steps.map { arena.step($0) }
        let stepPtr = arena.array(steps)
        let execPaths = arena.stringArray(plan.execPaths, terminated: false)
        let argv = arena.stringArray(plan.argv, terminated: true)
        let envp = arena.stringArray(plan.environment, terminated: true)
        let fds = arena.array(plan.preserveFds)
        let prog = seccompProgram.map { arena.array($0) }

        var config = bh_spawn_config(
            clone_flags: plan.cloneNamespaces.reduce(0) { $0 | $1.cloneFlag },
            cgroup_fd: cgroupFD ?? -1,
            fail_at_step: Int32(failAtStep ?? -1),
            steps: UnsafePointer(stepPtr),
            step_count: UInt32(steps.count),
            seccomp_len: UInt32(seccompProgram?.count ?? 0),
            seccomp_prog: prog.map { UnsafePointer($0) },
            seccomp_flags: 0,
            exec_paths: UnsafeRawPointer(execPaths).assumingMemoryBound(to: UnsafePointer<CChar>.self),
            exec_path_count: UInt32(plan.execPaths.count),
            preserve_fd_count: UInt32(plan.preserveFds.count),
            preserve_fds: UnsafePointer(fds),
            argv: UnsafePointer(argv),
            envp: UnsafePointer(envp),
            record_table: recordTable?.pointer,
            join_count: UInt32(join.count),
            join_fds: UnsafePointer(arena.array(join.map(\.fd))),
            join_types: UnsafePointer(arena.array(join.map { Int32(truncatingIfNeeded: $0.namespace.cloneFlag) })),
            cgroup_join_count: UInt32(cgroupJoinFDs.count),
            cgroup_join_fds: UnsafePointer(arena.array(cgroupJoinFDs)),
            userns_owner: owner.map(Int64.init) ?? -1
        )

        var result = bh_spawn_result()
        let rc = bh_spawn(&config, &result)
        guard rc == 0 else {
            let names = plan.namespaces.sorted().map(\.rawValue).joined(separator: ",")
            throw SystemError("clone3 (create namespaces \(names))", errno: Errno(rc), hint: cloneHint(Errno(rc)))
        }
        return SandboxInit(pid: result.pid, pidfd: result.pidfd, messageFD: result.msg_fd, releaseFD: result.sync_fd)
    }

    /// The host uid that owns a new user namespace: the planner's choice, the range's uid in the
    /// owner band (`IDRange.ownerHostID`), which no range may reach, so that no process under any
    /// mapped host uid can ever be the owner, while per-user kernel budgets stay the range's
    /// block's and not host root's. Nil (the launcher's euid) when no user namespace is created.
    /// A plan whose owner is outside the band or a host id its own maps contain is refused (fail
    /// closed; the planner never makes one).
    static func userNamespaceOwner(_ plan: LaunchPlan) throws(SystemError) -> UInt32? {
        guard plan.cloneNamespaces.contains(.user), let owner = plan.userNamespaceOwner else { return nil }
        let mapped = (plan.uidMap + plan.gidMap).contains { UInt64(owner) >= UInt64($0.outside) && UInt64(owner) < UInt64($0.outside) + UInt64($0.count) }
        guard owner >= IDRange.ownerBandStart, !mapped else {
            throw SystemError("choose the user namespace's owner", errno: Errno(EINVAL),
                              hint: "host uid \(owner) is below the owner band (\(IDRange.ownerBandStart)...) or mapped into the sandbox; a range's namespaces are owned by its uid in the band, which no range maps")
        }
        return owner
    }

    /// Makes this process a child subreaper (pod mode: a container's init is re-parented here).
    public static func becomeSubreaper() throws(SystemError) {
        guard bh_become_subreaper() == 0 else { throw SystemError("prctl(PR_SET_CHILD_SUBREAPER)", errno: .current) }
    }

    static func cloneHint(_ e: Errno) -> String {
        switch e.rawValue {
        case EPERM: return "user namespaces may be disabled: check user.max_user_namespaces (> 0) and kernel.unprivileged_userns_clone / kernel.apparmor_restrict_unprivileged_userns; `bulkhead doctor` shows them"
        case ENOSPC, EUSERS: return "a namespace limit is reached (user.max_user_namespaces, user.max_*_namespaces)"
        case ENOSYS: return "clone3 needs Linux 5.3 (CLONE_INTO_CGROUP 5.7)"
        case EINVAL: return "a requested namespace is not supported by this kernel (time namespaces need 5.6)"
        case ENOMEM, EAGAIN: return "the system is out of processes or memory"
        default: return "run `bulkhead doctor`"
        }
    }
}

/// Owns the C copies of a plan for the duration of one bh_spawn call.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    func string(_ s: String?) -> UnsafePointer<CChar>? {
        guard let s else { return nil }
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func array<T>(_ items: [T]) -> UnsafeMutablePointer<T> {
        // malloc, not allocate(capacity:): every block of the arena is released with free(3).
        let raw = malloc(MemoryLayout<T>.stride * max(items.count, 1))!
        let p = raw.bindMemory(to: T.self, capacity: max(items.count, 1))
        if !items.isEmpty { p.initialize(from: items, count: items.count) }
        blocks.append(raw)
        return p
    }

    func stringArray(_ items: [String], terminated: Bool) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        var ptrs: [UnsafeMutablePointer<CChar>?] = items.map { UnsafeMutablePointer(mutating: string($0)) }
        if terminated || ptrs.isEmpty { ptrs.append(nil) }
        return array(ptrs)
    }

    func step(_ s: PlanStep) -> bh_step {
        var r = bh_step()
        func op(_ o: bh_step_op) { r.op = o.rawValue }
        switch s {
        case .waitForParent: op(BH_OP_WAIT_PARENT)
        case .waitForCgroups: op(BH_OP_JOIN_CGROUPS)
        case .unshareNamespaces(let ns): op(BH_OP_UNSHARE); r.n1 = ns.reduce(0) { $0 | $1.cloneFlag }
        case .setDumpable(let on): op(BH_OP_DUMPABLE); r.n1 = on ? 1 : 0
        case .newSession: op(BH_OP_SETSID)
        case let .mount(source, target, fstype, flags, data):
            op(BH_OP_MOUNT); r.a = string(source); r.b = string(target); r.c = string(fstype); r.d = string(data); r.n1 = flags.rawValue
            r.n3 = UInt64(Self.resolutionRoot(target)?.utf8.count ?? 0)
        case let .mountIfPresent(source, target, fstype, flags, data):
            op(BH_OP_MOUNT); r.a = string(source); r.b = string(target); r.c = string(fstype); r.d = string(data); r.n1 = flags.rawValue; r.n2 = 1
            r.n3 = UInt64(Self.resolutionRoot(target)?.utf8.count ?? 0)
        case let .makeDirectory(p, mode):
            op(BH_OP_MKDIR); r.b = string(p); r.n1 = UInt64(mode); r.n3 = UInt64(Self.resolutionRoot(p)?.utf8.count ?? 0)
        case .createFile(let p): op(BH_OP_CREATE_FILE); r.b = string(p); r.n3 = UInt64(Self.resolutionRoot(p)?.utf8.count ?? 0)
        case let .symlink(target, at): op(BH_OP_SYMLINK); r.a = string(target); r.b = string(at)
        case .changeDirectory(let p): op(BH_OP_CHDIR); r.b = string(p)
        case .enterWorkingDirectory(let p): op(BH_OP_WORKDIR); r.b = string(p)
        case let .pivotRoot(n, o): op(BH_OP_PIVOT_ROOT); r.a = string(n); r.b = string(o)
        case .unmountDetached(let p): op(BH_OP_UMOUNT); r.b = string(p); r.n1 = UInt64(MNT_DETACH)
        case let .setMountAttributes(p, a, rec): op(BH_OP_SETATTR); r.b = string(p); r.n1 = a.rawValue; r.n2 = rec ? 1 : 0
        case let .refuseSymlinks(p, missingOK): op(BH_OP_NO_SYMLINK); r.b = string(p); r.n1 = missingOK ? 1 : 0
        case let .mask(p, null): op(BH_OP_MASK); r.a = string(null); r.b = string(p); r.c = string(Self.resolutionRoot(p))
        case .makeReadOnly(let p): op(BH_OP_READONLY); r.b = string(p); r.c = string(Self.resolutionRoot(p))
        case .setHostname(let h): op(BH_OP_SETHOSTNAME); r.a = string(h)
        case .loopbackUp: op(BH_OP_LOOPBACK_UP)
        case let .setRlimit(res, l): op(BH_OP_SETRLIMIT); r.n1 = UInt64(res.number); r.n2 = l.soft; r.n3 = l.hard
        case .dropBoundingSet(let keep): op(BH_OP_CAPBSET); r.n1 = keep.mask
        case .keepCapabilities(let on): op(BH_OP_KEEPCAPS); r.n1 = on ? 1 : 0
        case .setGroups(let g): op(BH_OP_SETGROUPS); r.n1 = UInt64(g ?? 0); r.n2 = g == nil ? 0 : 1
        case .setGID(let g): op(BH_OP_SETRESGID); r.n1 = UInt64(g)
        case .setUID(let u): op(BH_OP_SETRESUID); r.n1 = UInt64(u)
        case let .setCapabilities(e, p, i): op(BH_OP_CAPSET); r.n1 = e.mask; r.n2 = p.mask; r.n3 = i.mask
        case .noNewPrivileges: op(BH_OP_NO_NEW_PRIVS)
        case let .landlockCreateRuleset(fs, net): op(BH_OP_LANDLOCK_CREATE); r.n1 = fs; r.n2 = net
        case let .landlockAllowPath(p, access): op(BH_OP_LANDLOCK_PATH); r.b = string(p); r.n1 = access
        case let .landlockAllowPort(port, access): op(BH_OP_LANDLOCK_PORT); r.n1 = access; r.n2 = UInt64(port)
        case .landlockRestrictSelf: op(BH_OP_LANDLOCK_RESTRICT)
        case .pause: op(BH_OP_PAUSE)
        case .forkWorkload: op(BH_OP_FORK_WORKLOAD)
        case .closeStrayFileDescriptors: op(BH_OP_CLOSE_FDS)
        case .attachTerminal(let fd): op(BH_OP_ATTACH_TTY); r.n1 = UInt64(fd)
        case .loadSeccomp: op(BH_OP_SECCOMP)
        case .exec: op(BH_OP_EXEC)
        case .traceSyscalls: op(BH_OP_TRACEME)
        }
        return r
    }

    /// The root a mount, mask or read-only target is resolved in (RESOLVE_IN_ROOT, no symlinks,
    /// and the mount attached to the resolved fd): the new root for a path beneath it.
    static func resolutionRoot(_ path: String) -> String? {
        path.hasPrefix(LaunchPlanner.newRoot + "/") ? LaunchPlanner.newRoot : nil
    }

    func free() {
        for b in blocks { Glibc.free(b) }
        blocks.removeAll()
    }
}
