#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CShims

extension HostReport {
    /// Probes this host: reads /proc and /sys and makes harmless system calls (none of
    /// them changes any state), then evaluates the checks.
    public static func probe() -> HostReport {
        evaluate(HostFacts.gather())
    }
}

extension HostFacts {
    /// Gathers the facts from the running kernel.
    public static func gather() -> HostFacts {
        let cgroup: Result<CgroupHost, CgroupError>
        do { cgroup = .success(try CgroupHost.detect()) } catch { cgroup = .failure(error) }

        let status = readText("/proc/self/status") ?? ""
        var facts = HostFacts(
            kernelRelease: kernelRelease(),
            cgroup: cgroup,
            maxUserNamespaces: readInt("/proc/sys/user/max_user_namespaces"),
            unprivilegedUsernsClone: readInt("/proc/sys/kernel/unprivileged_userns_clone"),
            apparmorRestrictUnprivilegedUserns: readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
            seccompStatusField: statusField("Seccomp", in: status).flatMap(Int.init),
            prctlSeccompMode: { let r = bh_prctl_get_seccomp(); return r < 0 ? nil : Int(r) }(),
            seccompActions: (readText("/proc/sys/kernel/seccomp/actions_avail") ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init),
            noNewPrivs: { let r = bh_prctl_get_no_new_privs(); return r < 0 ? nil : Int(r) }(),
            landlockABI: landlockABI(),
            clone3: classify(result: bh_clone3_probe(), expected: [EINVAL, EFAULT, E2BIG]),
            pidfdOpen: {
                let fd = bh_pidfd_open(getpid(), 0)
                if fd >= 0 { close(fd); return .available }
                return classify(result: -1, expected: [])
            }(),
            mountSetattr: classify(result: bh_mount_setattr_probe(), expected: [EINVAL, EBADF, EFAULT, E2BIG]),
            effectiveUID: geteuid()
        )
        facts.ioWeight = IOWeightPolicy.probe()
        facts.nftablesProblem = .some(probeNftables())
        return facts
    }

    /// Runs `list ruleset` with the nft program in a new network namespace, as the node network
    /// does: nil when it works, else the error.
    static func probeNftables() -> String? {
        do {
            let ns = try NetworkNamespace.createAnonymous(label: "doctor's nftables probe")
            defer { ns.close() }
            try ns.runNftables("list ruleset")
            return nil
        } catch {
            return error.description
        }
    }

    /// The running kernel's Landlock ABI version (landlock_create_ruleset with
    /// LANDLOCK_CREATE_RULESET_VERSION), or the errno that says why there is none (EOPNOTSUPP:
    /// built but not enabled; ENOSYS: not built). The one probe: `doctor` reports it, the
    /// planner builds a profile's rules for it.
    public static func landlockABI() -> Result<Int, HostProbeErrno> {
        let r = bh_landlock_abi_version()
        return r < 0 ? .failure(HostProbeErrno(errno)) : .success(Int(r))
    }

    /// A probe call's verdict from its result and errno (read at once): success or an
    /// expected argument error means the call exists; ENOSYS means it does not.
    static func classify(result: Int, expected: Set<Int32>) -> SyscallProbe {
        if result >= 0 { return .available }
        let e = errno
        if e == ENOSYS { return .missing }
        if expected.contains(e) { return .available }
        return .refused(e)
    }

    /// The value of `Name:` in a /proc/PID/status text.
    public static func statusField(_ name: String, in status: String) -> String? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimming(" \t")
        }
        return nil
    }

    static func kernelRelease() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        return withUnsafePointer(to: u.release) {
            $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: u.release)) { String(cString: $0) }
        }
    }

    static func readText(_ path: String) -> String? {
        guard case .success(let text) = CgroupFS.read(path) else { return nil }
        return text
    }

    static func readInt(_ path: String) -> Int? {
        readText(path).flatMap { Int($0.trimming(" \t\n")) }
    }
}

extension HostFacts.IOWeightPolicy {
    /// Reads /sys/block/*/queue/scheduler and the cgroup2 root's io.cost.qos.
    public static func probe() -> Self {
        let bfq = FileIO.listDirectory("/sys/block").filter {
            HostFacts.readText("/sys/block/\($0)/queue/scheduler")?.contains("[bfq]") == true
        }
        let qos = HostFacts.readText("/sys/fs/cgroup/io.cost.qos") ?? ""
        return Self(bfqDevices: bfq, iocostEnabled: qos.contains("enable=1"))
    }
}

/// Without Foundation (this layer is on the launch path): the characters of `set` removed from
/// both ends.
extension Substring {
    package func trimming(_ set: String) -> String {
        let chars = Set(set)
        var s = self[...]
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    package func trimming(_ set: String) -> String { self[...].trimming(set) }
}
