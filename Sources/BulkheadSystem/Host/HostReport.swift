import BulkheadModel

/// What `bulkhead doctor` found about this host: a list of checks, each with a verdict, a
/// detail and, when it failed, a fix. A typed value; printing it is the CLI's job.
public struct HostReport: Sendable, Codable, Equatable {
    public struct Check: Sendable, Codable, Equatable {
        /// A stable name, e.g. "cgroup.mode", "landlock".
        public var name: String
        public var ok: Bool
        /// What was found.
        public var detail: String
        /// What to do when `ok` is false (or to get more); nil when nothing is needed.
        public var fix: String?

        public init(name: String, ok: Bool, detail: String, fix: String? = nil) {
            self.name = name
            self.ok = ok
            self.detail = detail
            self.fix = fix
        }
    }

    public var kernelRelease: String
    public var checks: [Check]

    public init(kernelRelease: String, checks: [Check]) {
        self.kernelRelease = kernelRelease
        self.checks = checks
    }

    /// The check named `name`.
    public subscript(name: String) -> Check? { checks.first { $0.name == name } }

    /// Whether every check passed.
    public var allOK: Bool { checks.allSatisfy(\.ok) }
}

/// The raw facts a host probe gathers; `HostReport.evaluate` turns them into checks
/// without touching the system, so the verdicts are testable with tables.
public struct HostFacts: Sendable, Equatable {
    /// The result of a system call used as a probe.
    public enum SyscallProbe: Sendable, Equatable {
        /// The call exists (it returned, or failed with an errno other than ENOSYS).
        case available
        /// ENOSYS: the kernel does not have it.
        case missing
        /// Refused with this errno (e.g. EPERM from a seccomp filter around us).
        case refused(Int32)
    }

    public var kernelRelease: String
    /// The cgroup layout, or the error that detection threw.
    public var cgroup: Result<CgroupHost, CgroupError>
    /// user.max_user_namespaces.
    public var maxUserNamespaces: Int?
    /// kernel.unprivileged_userns_clone (Debian/Ubuntu patch), when present.
    public var unprivilegedUsernsClone: Int?
    /// kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+), when present.
    public var apparmorRestrictUnprivilegedUserns: Int?
    /// The `Seccomp:` field of /proc/self/status (0, 1 or 2), nil if the field is absent.
    public var seccompStatusField: Int?
    /// prctl(PR_GET_SECCOMP): the mode, or nil when it failed (EINVAL: no CONFIG_SECCOMP).
    public var prctlSeccompMode: Int?
    /// /proc/sys/kernel/seccomp/actions_avail.
    public var seccompActions: [String]
    /// prctl(PR_GET_NO_NEW_PRIVS): 0/1, nil when unsupported.
    public var noNewPrivs: Int?
    /// landlock_create_ruleset(…, VERSION): the ABI, or the errno it failed with.
    public var landlockABI: Result<Int, HostProbeErrno>
    public var clone3: SyscallProbe
    public var pidfdOpen: SyscallProbe
    public var mountSetattr: SyscallProbe
    public var effectiveUID: UInt32
    /// What would read io.weight: block devices whose scheduler is BFQ, and iocost.
    public var ioWeight = IOWeightPolicy(bfqDevices: [], iocostEnabled: false)
    /// Whether `nft -f -` (NftProgram: the checked /usr/sbin/nft) runs `list ruleset` in a new
    /// network namespace, as pods' node network runs it: nil when it does, the error when not.
    /// The outer nil: not probed.
    public var nftablesProblem: String??
    /// bulkhead's ranges of /etc/subuid and /etc/subgid as the launcher reads them (nil: not
    /// read; Bulkhead's doctor reads them through the launcher's checked reader).
    public var subordinateIDs: SubordinateIDFact?

    /// What a proportional I/O policy would read io.weight with.
    public struct IOWeightPolicy: Sendable, Equatable {
        /// /sys/block/DEV whose queue/scheduler has [bfq] selected.
        public var bfqDevices: [String]
        /// io.cost.qos of the cgroup2 root has a device with enable=1.
        public var iocostEnabled: Bool
        public init(bfqDevices: [String], iocostEnabled: Bool) { self.bfqDevices = bfqDevices; self.iocostEnabled = iocostEnabled }
        /// nil when io.weight has an effect; else why not. The one verdict: the launcher refuses
        /// (strict) or reports as not enforced (best-effort) an io.weight for this reason.
        public var unsupportedReason: String? {
            bfqDevices.isEmpty && !iocostEnabled
                ? "no block device uses the BFQ scheduler and iocost is not enabled, so io.weight would have no effect" : nil
        }
    }

    /// /etc/subuid and /etc/subgid for bulkhead.
    public enum SubordinateIDFact: Sendable, Equatable {
        /// Both files give bulkhead these ranges.
        case ranges(uid: IDRange, gid: IDRange)
        /// Neither names bulkhead: plain sandboxes use `defaultRange`.
        case none(defaultRange: IDRange)
        /// The launcher refuses the files (owner, mode, a malformed or half entry): its message.
        case refused(String)
    }

    public init(kernelRelease: String, cgroup: Result<CgroupHost, CgroupError>, maxUserNamespaces: Int?,
                unprivilegedUsernsClone: Int?, apparmorRestrictUnprivilegedUserns: Int?, seccompStatusField: Int?,
                prctlSeccompMode: Int?, seccompActions: [String], noNewPrivs: Int?,
                landlockABI: Result<Int, HostProbeErrno>, clone3: SyscallProbe, pidfdOpen: SyscallProbe,
                mountSetattr: SyscallProbe, effectiveUID: UInt32) {
        self.kernelRelease = kernelRelease
        self.cgroup = cgroup
        self.maxUserNamespaces = maxUserNamespaces
        self.unprivilegedUsernsClone = unprivilegedUsernsClone
        self.apparmorRestrictUnprivilegedUserns = apparmorRestrictUnprivilegedUserns
        self.seccompStatusField = seccompStatusField
        self.prctlSeccompMode = prctlSeccompMode
        self.seccompActions = seccompActions
        self.noNewPrivs = noNewPrivs
        self.landlockABI = landlockABI
        self.clone3 = clone3
        self.pidfdOpen = pidfdOpen
        self.mountSetattr = mountSetattr
        self.effectiveUID = effectiveUID
    }
}

/// An errno from a probe, as a typed failure.
public struct HostProbeErrno: Error, Sendable, Equatable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }
}

extension HostReport {
    /// The checks that `facts` imply. Pure.
    public static func evaluate(_ facts: HostFacts) -> HostReport {
        var checks: [Check] = []
        let version = KernelVersion(release: facts.kernelRelease)

        // Kernel version: bulkhead's launch path wants clone3 with CLONE_INTO_CGROUP (5.7)
        // and cgroup.kill (5.14); Landlock needs 5.13.
        let minimum = KernelVersion(5, 14)
        if let version {
            checks.append(Check(name: "kernel", ok: version >= minimum, detail: "Linux \(facts.kernelRelease)",
                                fix: version >= minimum ? nil : "bulkhead needs Linux \(minimum) or newer for CLONE_INTO_CGROUP and cgroup.kill"))
        } else {
            checks.append(Check(name: "kernel", ok: false, detail: "unrecognised release \"\(facts.kernelRelease)\"",
                                fix: "check uname -r"))
        }

        // cgroups.
        switch facts.cgroup {
        case .failure(let error):
            checks.append(Check(name: "cgroup.mode", ok: false, detail: error.description, fix: error.fix))
        case .success(let host):
            let modeDetail: String
            switch host.mode {
            case .unified: modeDetail = "unified (cgroup v2 only) at \(host.unifiedMountPoint ?? "?")"
            case .hybrid: modeDetail = "hybrid: v1 controllers, cgroup2 at \(host.unifiedMountPoint ?? "?")"
            case .legacy: modeDetail = "legacy (cgroup v1 only)"
            }
            checks.append(Check(name: "cgroup.mode", ok: true, detail: modeDetail,
                                fix: host.mode == .unified ? nil : "limits are enforced through cgroup v1 (deprecated); boot with systemd.unified_cgroup_hierarchy=1 (or cgroup_no_v1=all) for cgroup v2"))
            let wanted: Set<String> = ["cpu", "memory", "pids", "io"]
            if host.unifiedMountPoint != nil {
                let available = host.v2AvailableControllers
                let missing = wanted.subtracting(available)
                checks.append(Check(
                    name: "cgroup.v2.controllers", ok: missing.isEmpty || host.mode == .hybrid,
                    detail: "available: \(available.sorted().joined(separator: " ")); enabled for children: \(host.v2EnabledControllers.sorted().joined(separator: " "))",
                    fix: missing.isEmpty ? nil : (host.mode == .hybrid
                        ? "\(missing.sorted().joined(separator: " ")) are bound to v1 hierarchies; bulkhead uses cgroup2 here only for cgroup.kill and CLONE_INTO_CGROUP"
                        : "enable \(missing.sorted().joined(separator: " ")) in the root's cgroup.subtree_control, or check that they are built into the kernel")))
            }
            if host.mode != .unified {
                let v1 = host.v1MountPoints.keys.filter { !$0.hasPrefix("name=") }.sorted()
                let missing = ["cpu", "memory", "pids"].filter { host.v1MountPoints[$0] == nil }
                checks.append(Check(name: "cgroup.v1.controllers", ok: missing.isEmpty,
                                    detail: v1.map { "\($0)=\(host.v1MountPoints[$0]!)" }.joined(separator: " "),
                                    fix: missing.isEmpty ? nil : "mount the \(missing.joined(separator: ", ")) v1 hierarchies"))
            }
            let unwritable = host.targets.filter { !$0.writable }
            checks.append(Check(
                name: "cgroup.writable", ok: unwritable.isEmpty,
                detail: host.targets.map { "\($0.hierarchy): \($0.baseDirectory) \($0.writable ? "writable" : "not writable")" }.joined(separator: "; "),
                fix: unwritable.isEmpty ? nil : "run as root, or delegate these directories to uid \(facts.effectiveUID) (chown the subtree and its cgroup.procs), as systemd's Delegate=yes does"))
        }

        // User namespaces.
        if let max = facts.maxUserNamespaces {
            checks.append(Check(name: "userns.max_user_namespaces", ok: max > 0, detail: "user.max_user_namespaces = \(max)",
                                fix: max > 0 ? nil : "sysctl -w user.max_user_namespaces=15000"))
        } else {
            checks.append(Check(name: "userns.max_user_namespaces", ok: false, detail: "no /proc/sys/user/max_user_namespaces",
                                fix: "the kernel lacks CONFIG_USER_NS"))
        }
        if let v = facts.unprivilegedUsernsClone {
            checks.append(Check(name: "userns.unprivileged_userns_clone", ok: v == 1 || facts.effectiveUID == 0,
                                detail: "kernel.unprivileged_userns_clone = \(v)",
                                fix: v == 1 ? nil : "sysctl -w kernel.unprivileged_userns_clone=1 (needed for rootless use)"))
        }
        if let v = facts.apparmorRestrictUnprivilegedUserns {
            checks.append(Check(name: "userns.apparmor_restrict", ok: v == 0 || facts.effectiveUID == 0,
                                detail: "kernel.apparmor_restrict_unprivileged_userns = \(v)"
                                    + (v == 0 ? "" : " (Ubuntu 23.10+): an unprivileged process cannot create a user namespace, so rootless sandboxes fail with EPERM; launches as root are not affected"),
                                fix: v == 0 ? nil : "give bulkhead an AppArmor profile that allows `userns,` (/etc/apparmor.d/bulkhead: abi <abi/4.0>, include <tunables/global>, profile bulkhead /usr/local/bin/bulkhead flags=(unconfined) { userns, }; then apparmor_parser -r it), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (all users; persist in /etc/sysctl.d)"))
        }

        // seccomp.
        let seccompOK = facts.seccompStatusField != nil && facts.prctlSeccompMode != nil
        var seccompDetail = "Seccomp: \(facts.seccompStatusField.map(String.init) ?? "absent"), PR_GET_SECCOMP: \(facts.prctlSeccompMode.map(String.init) ?? "EINVAL")"
        if !facts.seccompActions.isEmpty { seccompDetail += "; actions: \(facts.seccompActions.joined(separator: " "))" }
        if let mode = facts.prctlSeccompMode, mode != 0 { seccompDetail += " (bulkhead itself already runs under a filter)" }
        checks.append(Check(name: "seccomp", ok: seccompOK, detail: seccompDetail,
                            fix: seccompOK ? nil : "the kernel lacks CONFIG_SECCOMP_FILTER"))
        checks.append(Check(name: "no_new_privs", ok: facts.noNewPrivs != nil,
                            detail: facts.noNewPrivs.map { "PR_GET_NO_NEW_PRIVS = \($0)" } ?? "PR_GET_NO_NEW_PRIVS unsupported",
                            fix: facts.noNewPrivs == nil ? "needs Linux 3.5 or newer" : nil))

        // Landlock.
        switch facts.landlockABI {
        case .success(let abi):
            checks.append(Check(name: "landlock", ok: abi >= 1, detail: "Landlock ABI \(abi)",
                                fix: abi >= LandlockRights.networkABI ? nil
                                    : "filesystem rules work; a profile's TCP port rules (filesystem.landlock) need ABI \(LandlockRights.networkABI) (Linux 6.7 or newer) and are refused here"))
        case .failure(let e):
            let why = e.code == 95 /* EOPNOTSUPP */ ? "built in but disabled at boot"
                : e.code == 38 /* ENOSYS */ ? "not built into this kernel" : "errno \(e.code)"
            checks.append(Check(name: "landlock", ok: false, detail: "Landlock unavailable: \(why)",
                                fix: "boot with lsm=landlock,… (kernel 5.13+ with CONFIG_SECURITY_LANDLOCK)"))
        }

        // Seccomp user notification (SECCOMP_RET_USER_NOTIF, Linux 5.0), from actions_avail.
        let userNotif = facts.seccompActions.contains("user_notif")
        checks.append(Check(name: "seccomp.user_notif", ok: true,
                            detail: userNotif ? "user_notif in /proc/sys/kernel/seccomp/actions_avail" : "no user_notif in /proc/sys/kernel/seccomp/actions_avail",
                            fix: userNotif ? nil : "bulkhead does not need it; a supervisor that answers system calls (SECCOMP_RET_USER_NOTIF) needs Linux 5.0+"))

        // io.weight: only a number in a file unless BFQ or iocost reads it.
        let io = facts.ioWeight
        var ioDetail = io.bfqDevices.isEmpty ? "no block device uses BFQ" : "BFQ on \(io.bfqDevices.sorted().joined(separator: ", "))"
        ioDetail += io.iocostEnabled ? "; iocost enabled" : "; iocost not enabled"
        checks.append(Check(name: "io.weight", ok: true, detail: ioDetail,
                            fix: io.unsupportedReason.map { _ in "a profile's io.weight is refused (limits: strict) or reported as not enforced (best-effort); to enforce it: modprobe bfq; echo bfq > /sys/block/DEV/queue/scheduler, or enable iocost (echo 'MAJ:MIN enable=1' > /sys/fs/cgroup/io.cost.qos); or use io.max instead" }))

        // nftables: pods' node network and NetworkPolicies, through the nft program.
        if let problem = facts.nftablesProblem {
            checks.append(Check(name: "nftables", ok: true,
                                detail: problem.map { "\(NftProgram.path) does not run: \($0)" }
                                    ?? "\(NftProgram.path) runs (nft -f - in a new network namespace)",
                                fix: problem == nil ? nil : "pods' node network and NetworkPolicies need it: apt-get install nftables (dnf install nftables); plain sandboxes do not"))
        }

        // /etc/subuid and /etc/subgid.
        switch facts.subordinateIDs {
        case nil: break
        case .ranges(let uid, let gid)?:
            checks.append(Check(name: "subordinate_ids", ok: true,
                                detail: "bulkhead's range: uids \(uid) in /etc/subuid, gids \(gid) in /etc/subgid"))
        case .none(let range)?:
            checks.append(Check(name: "subordinate_ids", ok: true,
                                detail: "no bulkhead line in /etc/subuid or /etc/subgid: plain sandboxes map onto the built-in range \(range)",
                                fix: "to choose the range, add bulkhead:START:COUNT to both /etc/subuid and /etc/subgid (root-owned, mode 644)"))
        case .refused(let message)?:
            checks.append(Check(name: "subordinate_ids", ok: false, detail: message,
                                fix: "correct /etc/subuid and /etc/subgid as the message says: root-owned, not writable by others, a bulkhead:START:COUNT line in both or in neither"))
        }

        // System calls of the launch path.
        func syscallCheck(_ name: String, _ probe: HostFacts.SyscallProbe, since: String) -> Check {
            switch probe {
            case .available: Check(name: name, ok: true, detail: "\(name) available")
            case .missing: Check(name: name, ok: false, detail: "\(name): ENOSYS", fix: "needs Linux \(since) or newer")
            case .refused(let e): Check(name: name, ok: false, detail: "\(name) refused with errno \(e)",
                                        fix: "a seccomp filter or LSM around bulkhead blocks \(name); allow it")
            }
        }
        checks.append(syscallCheck("clone3", facts.clone3, since: "5.3 (5.7 for CLONE_INTO_CGROUP)"))
        checks.append(syscallCheck("pidfd_open", facts.pidfdOpen, since: "5.3"))
        var mountSetattr = syscallCheck("mount_setattr", facts.mountSetattr, since: "5.12")
        if let version, version < KernelVersion(5, 12), mountSetattr.ok {
            mountSetattr.detail += " (but the kernel reports \(version), older than 5.12)"
        }
        checks.append(mountSetattr)
        return HostReport(kernelRelease: facts.kernelRelease, checks: checks)
    }
}
