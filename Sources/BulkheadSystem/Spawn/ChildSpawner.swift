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
    /// - Parameter fault: test-only fault injection: at `.step(n)` the child fails plan step n
    ///   with ECANCELED; the launcher's own fault points are not the spawner's and are ignored.
    /// - Parameter recordTable: record mode: the shared table the init fills (see `SyscallRecorderTable`).
    /// - Parameter join: pod mode: namespaces to enter before clone3, as (fd, namespace), in
    ///   order: those owned by the initial user namespace (a pod's network namespace) first,
    ///   while the trampoline is still root there, then the user namespace, then the ones it
    ///   owns. The caller must be a child subreaper (`becomeSubreaper`).
    /// - Parameter cgroupJoinCount: how many cgroup v1 `tasks` files the launcher sends after
    ///   clone3 (`SandboxInit.sendCgroupJoinFiles`), once it has created the v1 leaves and
    ///   written their limits; the init waits for them at the plan's `.joinCgroups` step and
    ///   joins them itself. 0: the step does nothing.
    /// - Returns: the init, waiting at its first step for `SandboxInit.release`; the caller
    ///   owns it and closes it (`SandboxInit.close`).
    public static func spawn(plan: LaunchPlan, seccompProgram: [UInt8]?, cgroupFD: Int32?, fault: FaultPoint? = nil,
                             recordTable: SyscallRecorderTable? = nil,
                             join: [(fd: Int32, namespace: Namespace)] = [],
                             cgroupJoinCount: Int = 0,
                             seccompNotifier: SeccompNotifier? = nil) throws(SystemError) -> SandboxInit {
        // A --preserve-fd must be a descriptor the caller handed down: open, and not
        // close-on-exec (execve closed every such fd of the caller, and bulkhead opens all of its
        // own close-on-exec), nor one bulkhead passes to clone3 itself (the pty slave, cgroup and
        // namespace fds). Else an fd number bulkhead happened to open (its cgroup directory) would
        // be handed to the workload: a way out. At most maxPreservedFDs (the init's keep-list is a
        // fixed array).
        try checkPreservedFDs(plan, own: [cgroupFD, seccompNotifier?.sandboxEnd].compactMap { $0 } + join.map(\.fd))
        let owner = try userNamespaceOwner(plan)
        let arena = CArena()
        defer { arena.free() }
        var config = makeConfig(arena, plan: plan, seccompProgram: seccompProgram, fault: fault, recordTable: recordTable,
                                seccompNotifier: seccompNotifier)
        config.clone_flags = plan.cloneNamespaces.reduce(0) { $0 | $1.cloneFlag }
        config.cgroup_fd = cgroupFD ?? -1
        config.join_count = UInt32(join.count)
        config.join_fds = UnsafePointer(arena.array(join.map(\.fd)))
        config.join_types = UnsafePointer(arena.array(join.map { Int32(truncatingIfNeeded: $0.namespace.cloneFlag) }))
        config.cgroup_join_count = UInt32(clamping: cgroupJoinCount)
        config.userns_owner = owner.map(Int64.init) ?? -1

        var result = bh_spawn_result()
        let rc = bh_spawn(&config, &result)
        guard rc == 0 else {
            let names = plan.namespaces.sorted().map(\.rawValue).joined(separator: ",")
            throw SystemError("clone3 (create namespaces \(names))", errno: Errno(rc), hint: cloneHint(Errno(rc)))
        }
        return SandboxInit(pid: result.pid, pidfd: result.pidfd, messageFD: result.msg_fd, releaseFD: result.sync_fd)
    }

    /// A --preserve-fd must be a descriptor the caller handed down: open, and not
    /// close-on-exec (execve closed every such fd of the caller, and bulkhead opens all of its
    /// own close-on-exec), nor one bulkhead passes to the child itself (`own`: the pty slave,
    /// cgroup and namespace fds). Else an fd number bulkhead happened to open (its cgroup
    /// directory) would be handed to the workload: a way out. At most maxPreservedFDs (the
    /// init's keep-list is a fixed array).
    static func checkPreservedFDs(_ plan: LaunchPlan, own given: [Int32]) throws(SystemError) {
        var own = Set(given)
        for case .attachTerminal(let fd) in plan.steps { own.insert(fd) }
        let foreign = plan.preserveFds.filter { fd in
            let flags = fcntl(fd, F_GETFD)
            return fd < 0 || flags < 0 || flags & FD_CLOEXEC != 0 || own.contains(fd)
        }
        if plan.preserveFds.count > maxPreservedFDs || !foreign.isEmpty {
            throw SystemError("pass --preserve-fd \((foreign.isEmpty ? plan.preserveFds : foreign).map(String.init).joined(separator: ","))", errno: Errno(EBADF),
                              hint: "a preserved descriptor must be open in the caller that runs bulkhead (not one bulkhead opened itself); at most \(maxPreservedFDs)")
        }
    }

    /// The C records of a plan (bh_spawn_config), in `arena`; the namespace, cgroup and owner
    /// fields are the caller's to set.
    static func makeConfig(_ arena: CArena, plan: LaunchPlan, seccompProgram: [UInt8]?, fault: FaultPoint?,
                           recordTable: SyscallRecorderTable?, seccompNotifier: SeccompNotifier?) -> bh_spawn_config {
        let steps = plan.steps.map { arena.step($0) }
        let stepPtr = arena.array(steps)
        let execPaths = arena.stringArray(plan.execPaths, terminated: false)
        let argv = arena.stringArray(plan.argv, terminated: true)
        let envp = arena.stringArray(plan.environment, terminated: true)
        let fds = arena.array(plan.preserveFds)
        let prog = seccompProgram.map { arena.array($0) }
        // The notifying variant only with the program it was made from (same length: bh_spawn.h).
        let notifier = seccompProgram != nil && recordTable == nil ? seccompNotifier : nil
        let notify: UnsafeMutablePointer<bh_seccomp_notify_config>? = notifier.map { n in
            arena.array([bh_seccomp_notify_config(channel: n.sandboxEnd, notifying: UnsafePointer(arena.array(n.notifying)),
                                                  notifying_length: UInt32(n.notifying.count))])
        }
        return bh_spawn_config(
            clone_flags: 0,
            cgroup_fd: -1,
            fail_at_step: Int32(clamping: fault?.planStep ?? -1),
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
            join_count: 0,
            join_fds: nil,
            join_types: nil,
            cgroup_join_count: 0,
            userns_owner: -1,
            seccomp_notify: notify.map { UnsafePointer($0) }
        )
    }

    /// A process that joined a running container (OCI `exec`, bh_exec_into): its pid in this
    /// PID namespace and a pidfd of it, which the caller owns.
    public struct JoinedProcess: Sendable {
        public var pid: Int32
        public var pidfd: Int32
    }

    /// Where an exec failed: a plan step (its index) or the joiner's own work before the steps.
    public enum ExecFailure: Error, Sendable {
        case step(index: Int, errno: Errno)
        case joiner(stage: String, errno: Errno)
    }

    /// OCI `exec`: a joiner enters `target`'s cgroups (`cgroupFD`, a v2 directory for
    /// CLONE_INTO_CGROUP; `cgroupJoinFDs`, v1 `tasks` files) and namespaces (`hostOwned`
    /// first, then `namespaces`) through the init's pidfd, then forks the process that runs
    /// `plan` (`LaunchPlanner.execPlan`). The caller must be a child subreaper: the process is
    /// re-parented to it. Returns once the process has passed execve.
    public static func execInto(plan: LaunchPlan, seccompProgram: [UInt8]?, targetPidfd: Int32,
                                hostOwned: Set<Namespace>, namespaces: Set<Namespace>,
                                cgroupFD: Int32?, cgroupJoinFDs: [Int32], fault: FaultPoint? = nil) throws(ExecFailure) -> JoinedProcess {
        do { try checkPreservedFDs(plan, own: [targetPidfd, cgroupFD].compactMap { $0 } + cgroupJoinFDs) } catch {
            throw .joiner(stage: error.description, errno: error.errno ?? Errno(EBADF))
        }
        let arena = CArena()
        defer { arena.free() }
        var process = makeConfig(arena, plan: plan, seccompProgram: seccompProgram, fault: fault, recordTable: nil,
                                 seccompNotifier: nil)
        guard cgroupJoinFDs.count <= Int(BH_CGROUP_JOIN_MAX) else {
            throw .joiner(stage: "join the container's cgroup v1 hierarchies (at most \(BH_CGROUP_JOIN_MAX))", errno: Errno(EINVAL))
        }
        let joinFDs = arena.array(cgroupJoinFDs)
        var result = bh_exec_result()
        let rc = withUnsafePointer(to: &process) { p -> Int32 in
            var x = bh_exec_config(process: p, target_pidfd: targetPidfd,
                                   first_namespaces: hostOwned.reduce(0) { $0 | $1.cloneFlag },
                                   namespaces: namespaces.reduce(0) { $0 | $1.cloneFlag },
                                   cgroup_fd: cgroupFD ?? -1,
                                   cgroup_join_fds: UnsafePointer(joinFDs), cgroup_join_count: UInt32(cgroupJoinFDs.count))
            return bh_exec_into(&x, &result)
        }
        guard rc == 0 else {
            if result.step >= 0 { throw .step(index: Int(result.step), errno: Errno(rc)) }
            let stage = switch result.step {
            case Int32(BH_EXEC_STAGE_CLOSE_FDS): "start the joiner (non-dumpable, close inherited descriptors)"
            case Int32(BH_EXEC_STAGE_JOIN_CGROUPS): "join the container's cgroup v1 hierarchies (tasks)"
            case Int32(BH_EXEC_STAGE_JOIN_HOST_NAMESPACES): "setns into the container's namespaces owned by the host (\(hostOwned.sorted().map(\.rawValue).joined(separator: ",")))"
            case Int32(BH_EXEC_STAGE_JOIN_NAMESPACES): "setns into the container's namespaces (\(namespaces.sorted().map(\.rawValue).joined(separator: ",")))"
            case Int32(BH_EXEC_STAGE_FORK): "fork the process in the container's PID namespace"
            default: "clone3 of the joiner"
            }
            throw .joiner(stage: stage, errno: Errno(rc))
        }
        return JoinedProcess(pid: result.pid, pidfd: result.pidfd)
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
        let rc = bh_become_subreaper()
        guard rc == 0 else { throw SystemError("prctl(PR_SET_CHILD_SUBREAPER)", errno: Errno(rc)) }
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

    /// The C record of one step: its op and the named arguments of that op (bh_spawn.h). Each
    /// PlanStep case `fooBar` is op BH_OP_FOO_BAR and fills `args.foo_bar` (`.mountIfPresent`
    /// shares `args.mount`).
    func step(_ s: PlanStep) -> bh_step {
        func path(_ p: String) -> bh_path_args { bh_path_args(path: string(p)) }
        func flag(_ on: Bool) -> bh_flag_args { bh_flag_args(on: on ? 1 : 0) }
        func mount(_ source: String?, _ target: String, _ fstype: String?, _ flags: MountFlags, _ data: String?) -> bh_step_args {
            bh_step_args(mount: bh_mount_args(source: string(source), target: string(target), fstype: string(fstype),
                                              data: string(data), flags: flags.rawValue, root_len: Self.rootLength(target)))
        }
        let (op, args): (bh_step_op, bh_step_args) = switch s {
        case .waitForRelease: (BH_OP_WAIT_FOR_RELEASE, bh_step_args())
        case .joinCgroups: (BH_OP_JOIN_CGROUPS, bh_step_args())
        case .unshareNamespaces(let ns):
            (BH_OP_UNSHARE_NAMESPACES, bh_step_args(unshare_namespaces: bh_unshare_namespaces_args(clone_flags: ns.reduce(0) { $0 | $1.cloneFlag })))
        case .setDumpable(let on): (BH_OP_SET_DUMPABLE, bh_step_args(set_dumpable: flag(on)))
        case .newSession: (BH_OP_NEW_SESSION, bh_step_args())
        case let .mount(source, target, fstype, flags, data): (BH_OP_MOUNT, mount(source, target, fstype, flags, data))
        case let .mountIfPresent(source, target, fstype, flags, data): (BH_OP_MOUNT_IF_PRESENT, mount(source, target, fstype, flags, data))
        case let .makeDirectory(p, mode):
            (BH_OP_MAKE_DIRECTORY, bh_step_args(make_directory: bh_make_directory_args(path: string(p), mode: mode, root_len: Self.rootLength(p))))
        case let .makeMountPoint(p, directory):
            (BH_OP_MAKE_MOUNT_POINT, bh_step_args(make_mount_point: bh_make_mount_point_args(path: string(p), root_len: Self.rootLength(p), directory: directory ? 1 : 0)))
        case .createFile(let p): (BH_OP_CREATE_FILE, bh_step_args(create_file: bh_create_file_args(path: string(p), root_len: Self.rootLength(p))))
        case let .symlink(target, at): (BH_OP_SYMLINK, bh_step_args(symlink: bh_symlink_args(target: string(target), link_path: string(at))))
        case .changeDirectory(let p): (BH_OP_CHANGE_DIRECTORY, bh_step_args(change_directory: path(p)))
        case .enterWorkingDirectory(let p): (BH_OP_ENTER_WORKING_DIRECTORY, bh_step_args(enter_working_directory: path(p)))
        case let .pivotRoot(n, o): (BH_OP_PIVOT_ROOT, bh_step_args(pivot_root: bh_pivot_root_args(new_root: string(n), put_old: string(o))))
        case .unmountDetached(let p): (BH_OP_UNMOUNT_DETACHED, bh_step_args(unmount_detached: path(p)))
        case let .setMountAttributes(p, a, rec):
            (BH_OP_SET_MOUNT_ATTRIBUTES, bh_step_args(set_mount_attributes: bh_set_mount_attributes_args(path: string(p), attr_set: a.rawValue, recursive: rec ? 1 : 0)))
        case let .refuseSymlinks(p, missingOK):
            (BH_OP_REFUSE_SYMLINKS, bh_step_args(refuse_symlinks: bh_refuse_symlinks_args(path: string(p), missing_ok: missingOK ? 1 : 0)))
        case let .mask(p, null): (BH_OP_MASK, bh_step_args(mask: bh_mask_args(path: string(p), null_device: string(null), root_len: Self.rootLength(p))))
        case .makeReadOnly(let p): (BH_OP_MAKE_READ_ONLY, bh_step_args(make_read_only: bh_make_read_only_args(path: string(p), root_len: Self.rootLength(p))))
        case .setHostname(let h): (BH_OP_SET_HOSTNAME, bh_step_args(set_hostname: bh_set_hostname_args(name: string(h))))
        case .loopbackUp: (BH_OP_LOOPBACK_UP, bh_step_args())
        case let .setRlimit(res, l): (BH_OP_SET_RLIMIT, bh_step_args(set_rlimit: bh_set_rlimit_args(resource: UInt32(res.number), soft: l.soft, hard: l.hard)))
        case .dropBoundingSet(let keep): (BH_OP_DROP_BOUNDING_SET, bh_step_args(drop_bounding_set: bh_capability_mask_args(keep: keep.mask)))
        case .keepCapabilities(let on): (BH_OP_KEEP_CAPABILITIES, bh_step_args(keep_capabilities: flag(on)))
        case .setGroups(let gids): (BH_OP_SET_GROUPS, bh_step_args(set_groups: Self.groups(gids)))
        case .setGID(let g): (BH_OP_SET_GID, bh_step_args(set_gid: bh_id_args(id: g)))
        case .setUID(let u): (BH_OP_SET_UID, bh_step_args(set_uid: bh_id_args(id: u)))
        case let .setCapabilities(e, p, i):
            (BH_OP_SET_CAPABILITIES, bh_step_args(set_capabilities: bh_set_capabilities_args(effective: e.mask, permitted: p.mask, inheritable: i.mask)))
        case .raiseAmbientCapabilities(let set):
            (BH_OP_RAISE_AMBIENT_CAPABILITIES, bh_step_args(raise_ambient_capabilities: bh_capability_mask_args(keep: set.mask)))
        case .noNewPrivileges: (BH_OP_NO_NEW_PRIVILEGES, bh_step_args())
        case let .landlockCreateRuleset(fs, net):
            (BH_OP_LANDLOCK_CREATE_RULESET, bh_step_args(landlock_create_ruleset: bh_landlock_create_ruleset_args(handled_filesystem: fs, handled_network: net)))
        case let .landlockAllowPath(p, access):
            (BH_OP_LANDLOCK_ALLOW_PATH, bh_step_args(landlock_allow_path: bh_landlock_allow_path_args(path: string(p), access: access)))
        case let .landlockAllowPort(port, access):
            (BH_OP_LANDLOCK_ALLOW_PORT, bh_step_args(landlock_allow_port: bh_landlock_allow_port_args(port: port, access: access)))
        case .landlockRestrictSelf: (BH_OP_LANDLOCK_RESTRICT_SELF, bh_step_args())
        case .pause: (BH_OP_PAUSE, bh_step_args())
        case .forkWorkload: (BH_OP_FORK_WORKLOAD, bh_step_args())
        case .closeStrayFileDescriptors: (BH_OP_CLOSE_STRAY_FILE_DESCRIPTORS, bh_step_args())
        case let .openTerminal(fd, uid, gid): (BH_OP_OPEN_TERMINAL, bh_step_args(open_terminal: bh_open_terminal_args(fd: fd, uid: uid, gid: gid)))
        case .attachTerminal(let fd): (BH_OP_ATTACH_TERMINAL, bh_step_args(attach_terminal: bh_attach_terminal_args(fd: fd)))
        case .loadSeccomp: (BH_OP_LOAD_SECCOMP, bh_step_args())
        case let .writeSysctl(name, value):
            (BH_OP_WRITE_SYSCTL, bh_step_args(write_sysctl: bh_write_sysctl_args(path: string(LaunchPlanner.newRoot + "/proc/sys/" + name.split(separator: ".").joined(separator: "/")), value: string(value))))
        case let .mountCgroups(names, ro, temporary):
            (BH_OP_MOUNT_CGROUPS, bh_step_args(mount_cgroups: bh_mount_cgroups_args(names: string(names.joined(separator: " ")), read_only: ro ? 1 : 0,
                                                                                temporary_namespace: temporary ? 1 : 0)))
        case .waitExecFifo(let fd): (BH_OP_WAIT_EXEC_FIFO, bh_step_args(wait_exec_fifo: bh_wait_exec_fifo_args(fd: fd)))
        case .waitPoolRequest(let fd): (BH_OP_WAIT_POOL_REQUEST, bh_step_args(wait_pool_request: bh_wait_pool_request_args(fd: fd)))
        case .runHook(let h):
            (BH_OP_RUN_HOOK, bh_step_args(run_hook: bh_run_hook_args(
                path: string(h.path), root: string(h.root), state_fd: h.stateFD,
                argv: UnsafePointer(stringArray(h.argv, terminated: true)), envp: UnsafePointer(stringArray(h.env, terminated: true)),
                timeout_ms: h.timeoutMs)))
        case .exec: (BH_OP_EXEC, bh_step_args())
        case .becomeTracee: (BH_OP_BECOME_TRACEE, bh_step_args())
        }
        return bh_step(op: op, args: args)
    }

    /// The root a mount, mask or read-only target is resolved in (RESOLVE_IN_ROOT, no symlinks,
    /// and the mount attached to the resolved fd): the new root for a path beneath it.
    static func resolutionRoot(_ path: String) -> String? {
        path.hasPrefix(LaunchPlanner.newRoot + "/") ? LaunchPlanner.newRoot : nil
    }

    /// `root_len` of a path argument (bh_spawn.h): the length of its resolution root, 0 for none.
    /// The gids into the step's fixed array. The model bounds the list (`FieldRules.maxSupplementalGroups`
    /// plus the primary group); a longer one is a bug and stops the launch here, before any child exists.
    static func groups(_ gids: [UInt32]) -> bh_set_groups_args {
        var a = bh_set_groups_args()
        withUnsafeMutableBytes(of: &a.gids) { raw in
            let slots = raw.bindMemory(to: UInt32.self)
            precondition(gids.count <= slots.count, "setgroups: \(gids.count) gids, the step holds \(slots.count)")
            for (i, g) in gids.enumerated() { slots[i] = g }
        }
        a.count = UInt32(gids.count)
        return a
    }

    static func rootLength(_ path: String) -> UInt32 {
        UInt32(resolutionRoot(path)?.utf8.count ?? 0)
    }

    func free() {
        for b in blocks { Glibc.free(b) }
        blocks.removeAll()
    }
}
