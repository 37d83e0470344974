/// A profile with every setting decided: the built-in defaults, then each parent, then the
/// profile, then the command line, each layer overriding what it sets. Pure.
public struct EffectiveProfile: Sendable, Equatable {
    public var name: String
    /// The layers that produced it, base first: `["container", "restricted", "<command line>"]`.
    public var chain: [String]
    public var description: String

    public var namespaces: Set<Namespace>
    /// The host range for the sandbox's uids and gids when bulkhead runs as root; nil: the
    /// installation's default (the `bulkhead` entries of /etc/subuid and /etc/subgid, else
    /// `defaultHostIDRange`). Ids 0..<count map onto it; the user namespace's owner is the
    /// range's id in the owner band (`IDRange.ownerHostID`), never mapped.
    public var hostIDRange: IDRange?

    public var runAsUser: UInt32
    public var runAsGroup: UInt32
    /// Names still to look up in the sandbox's root (`resolvingNames`); nil once resolved.
    public var runAsUserName: String? = nil
    public var runAsGroupName: String? = nil
    /// Supplementary groups set before the workload starts (after the primary group, which is
    /// set too when the sandbox switches ids); names are looked up by `resolvingNames`.
    public var supplementalGroups: [GroupReference] = []
    public var runAsNonRoot: Bool
    public var capabilitySpec: CapabilitySpec
    public var capabilities: CapabilitySet
    public var readOnlyRootFilesystem: Bool
    public var allowPrivilegeEscalation: Bool
    public var seccomp: SeccompSelection

    public var limits: ResourceSpec
    public var requests: ResourceSpec
    public var ioWeight: UInt64?
    public var ioMax: [IOThrottle]
    public var enforcement: LimitEnforcement

    public var root: RootFilesystem
    public var tmpfs: [TmpfsMount]
    /// Memory plus swap (`resources.memorySwap`); `UInt64.max`: unlimited swap.
    public var memorySwapBytes: UInt64? = nil
    /// The CPUs the sandbox may run on (cpuset.cpus); nil: all.
    public var cpusetCPUs: [UInt32]? = nil
    /// Host device nodes bound into /dev beyond the standard ones (paths below /dev).
    public var devices: [String] = []
    /// The size of the /dev/shm tmpfs; nil: `defaultTmpfsBytes`.
    public var shmSizeBytes: UInt64? = nil
    public var maskedPaths: [String]
    public var readonlyPaths: [String]
    public var binds: [BindMount]
    public var landlock: LandlockSpec?

    public var network: NetworkMode
    public var hostname: String
    public var workingDir: String
    public var env: [EnvVar]
    public var rlimits: [RlimitResource: Rlimit]

    /// no_new_privs follows Kubernetes: `allowPrivilegeEscalation: false` sets it.
    public var noNewPrivs: Bool { !allowPrivilegeEscalation }

    // MARK: Built-in defaults

    /// Used when running as root and neither the profile nor /etc/subuid names a range: far above
    /// the ranges useradd(8) hands out from 100000, so sandbox ids own no host files.
    public static let defaultHostIDRange = IDRange(hostStart: 2_000_000_000, count: 65536)
    /// The host ids of the default namespace's pods (no Tenant named `default`): the range
    /// after `defaultHostIDRange`, so that no plain sandbox shares a uid (and so a file or a
    /// per-uid budget) with a pod (`TenantAdmission.defaultNamespaceRange`,
    /// `PodAdmission.defaultTenantRange`). Here because the launch reserves it too.
    public static let defaultNamespacePodRange = IDRange(hostStart: 2_000_065_536, count: 65536)

    /// The paths a container must not read (moby's and runc's default masked paths).
    public static let defaultMaskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats",
        "/sys/devices/virtual/powercap", "/sys/firmware", "/sys/kernel/security",
    ]
    /// The paths a container may read but not write (moby's default read-only paths).
    public static let defaultReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The defaults are the hardened container layer: every setting a profile leaves out is
    /// the safe one.
    public static let defaults = EffectiveProfile(
        name: "defaults", chain: [], description: "",
        namespaces: [.user, .pid, .mount, .network, .ipc, .uts, .cgroup],
        hostIDRange: nil,
        runAsUser: 0, runAsGroup: 0, runAsNonRoot: false,
        capabilitySpec: CapabilitySpec(drop: ["ALL"]), capabilities: CapabilitySet(),
        readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seccomp: .runtimeDefault,
        limits: ResourceSpec(), requests: ResourceSpec(), ioWeight: nil, ioMax: [], enforcement: .strict,
        root: .host, tmpfs: [TmpfsMount(path: "/tmp")],
        maskedPaths: defaultMaskedPaths, readonlyPaths: defaultReadonlyPaths, binds: [], landlock: nil,
        network: .none, hostname: "sandbox", workingDir: "/",
        env: [EnvVar(name: "PATH", value: defaultPath)],
        rlimits: [:]
    )

    /// The default size of /tmp when neither the tmpfs entry nor ephemeral-storage names one.
    public static let defaultTmpfsBytes: UInt64 = 64 << 20

    // MARK: Merge

    /// Applies `layers` (base first) over the built-in defaults and checks the result.
    public static func resolve(_ layers: [ProfileLayer]) throws(ConfigError) -> EffectiveProfile {
        var p = defaults
        p.chain = []
        var writableRootByFlag = false
        // The last layer that set a hostname, and the last that shared the host's UTS namespace.
        var hostnameLayer: (index: Int, layer: ProfileLayer)?
        var hostUTSLayer = -1
        for (index, l) in layers.enumerated() {
            p.chain.append(l.name ?? l.source)
            if let n = l.name { p.name = n }
            if let d = l.description { p.description = d }
            for (ns, on) in l.namespaces { if on { p.namespaces.insert(ns) } else { p.namespaces.remove(ns) } }
            if l.namespaces[.uts] == false { hostUTSLayer = index }
            if let v = l.hostIDRange { p.hostIDRange = v }
            if let v = l.runAsUser { p.runAsUser = v; p.runAsUserName = nil }
            if let v = l.runAsGroup { p.runAsGroup = v; p.runAsGroupName = nil }
            if let v = l.runAsUserName { p.runAsUserName = v }
            if let v = l.runAsGroupName { p.runAsGroupName = v }
            if let v = l.supplementalGroups { p.supplementalGroups = l.addsGroups ? p.supplementalGroups + v.filter { !p.supplementalGroups.contains($0) } : v }
            if let v = l.runAsNonRoot { p.runAsNonRoot = v }
            if let v = l.capabilities { p.capabilitySpec = v; p.capabilities = v.resolved }
            if let v = l.readOnlyRootFilesystem { p.readOnlyRootFilesystem = v }
            if let v = l.allowPrivilegeEscalation { p.allowPrivilegeEscalation = v }
            if let v = l.seccomp { p.seccomp = v }
            p.limits = l.limits.over(p.limits)
            p.requests = l.requests.over(p.requests)
            if let v = l.ioWeight { p.ioWeight = v }
            if let v = l.memorySwapBytes { p.memorySwapBytes = v }
            if let v = l.cpusetCPUs { p.cpusetCPUs = v }
            if let v = l.ioMax { p.ioMax = v }
            if let v = l.enforcement { p.enforcement = v }
            if let v = l.root { p.root = v }
            if let v = l.tmpfs { p.tmpfs = l.addsMounts ? p.tmpfs.filter { t in !v.contains { $0.path == t.path } } + v : v }
            if let v = l.shmSizeBytes { p.shmSizeBytes = v }
            if let v = l.devices { p.devices = v }
            if let v = l.maskedPaths { p.maskedPaths = v }
            if let v = l.readonlyPaths { p.readonlyPaths = v }
            if let v = l.binds { p.binds = l.addsMounts ? p.binds.filter { b in !v.contains { $0.destination == b.destination } } + v : v }
            if let v = l.landlock { p.landlock = v }
            if let v = l.network {
                p.network = v
                // The network mode decides the namespace unless this layer also sets it.
                if l.namespaces[.network] == nil {
                    if v == .host { p.namespaces.remove(.network) } else { p.namespaces.insert(.network) }
                }
            }
            if let v = l.hostname { p.hostname = v; hostnameLayer = (index, l) }
            if let v = l.workingDir { p.workingDir = v }
            for e in l.env {
                if let i = p.env.firstIndex(where: { $0.name == e.name }) { p.env[i] = e } else { p.env.append(e) }
            }
            p.env.removeAll { l.unsetEnv.contains($0.name) }
            // A writable host root is a profile's choice (`unconfined`), never a flag's: the
            // workload could write every host file its mapped ids can (world-writable ones).
            if l.source == FieldRules.commandLine, l.readOnlyRootFilesystem == false { writableRootByFlag = true }
            p.rlimits.merge(l.rlimits) { _, layer in layer }
        }
        if writableRootByFlag && p.root == .host {
            throw ConfigError(file: FieldRules.commandLine, field: "--read-write",
                              message: "the host's root stays read-only: a writable host root would let the workload change every host file its ids can write; give a root filesystem of your own (--rootfs DIR) to write to it, or write to a --tmpfs or --bind")
        }
        // A hostname is set in the sandbox's own UTS namespace; with the host's, it would be
        // dropped without a word (docker refuses the same pair). A layer that shares the host's
        // UTS namespace over a parent's hostname overrides it, as any later layer does.
        if let (index, l) = hostnameLayer, !p.namespaces.contains(.uts), index >= hostUTSLayer {
            let flag = l.source == FieldRules.commandLine
            throw ConfigError(file: l.source, field: flag ? "--hostname" : "hostname",
                              message: "a hostname needs the sandbox's own UTS namespace, and this one shares the host's (namespaces.uts: false, --uts host), whose name bulkhead never changes; drop the hostname or keep the UTS namespace private (--uts private)")
        }
        // Cross-field errors name the profile file; the command line when only it is involved.
        let empty = ProfileLayer()
        let files = layers.filter { $0.source != empty.source }
        var source = files.last?.source ?? "<command line>"
        if let top = layers.last, top.source == empty.source, top != empty, !files.isEmpty { source += " (with command-line overrides)" }
        // A private layer's values stay out of the message (ProfileLayer.isPrivate).
        do { try p.check(source: source) } catch { throw error.withoutContent(ifAnyPrivate: layers) }
        return p
    }

    /// Looks up `--user NAME[:GROUP]` in the sandbox root's /etc/passwd and /etc/group text
    /// (read by the launcher with size caps and no symlinks; their owner may be hostile: no
    /// line of them appears in an error), then checks the profile again with the ids.
    /// A user name without a group takes the user's primary group.
    public mutating func resolvingNames(passwd: String?, group: String?, root: String) throws(ConfigError) {
        guard needsNameLookup else { return }
        var field = "--user"
        func fail(_ m: String) -> ConfigError { ConfigError(file: FieldRules.commandLine, field: field, message: m) }
        /// name → (field 3, field 4) of `name:x:N:M:…` lines; malformed lines are skipped.
        func lookup(_ name: String, in text: String?, file: String) throws(ConfigError) -> (UInt32, UInt32?) {
            guard let text else { throw fail("\(root)/etc/\(file) cannot be read, so \"\(name)\" cannot be looked up; give numeric ids (--user UID:GID)") }
            for line in text.split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                guard f.count >= 3, f[0] == name[...] else { continue }
                guard case .success(let id) = NumberField.id.parse(String(f[2])) else { continue }
                let second: UInt32? = f.count >= 4 ? (try? NumberField.id.parse(String(f[3])).get()).map(UInt32.init) : nil
                return (UInt32(id), second)
            }
            throw fail("no \(file == "passwd" ? "user" : "group") \"\(name)\" in \(root)/etc/\(file) (the sandbox's root); give numeric ids")
        }
        if let u = runAsUserName {
            let (uid, gid) = try lookup(u, in: passwd, file: "passwd")
            runAsUser = uid
            if runAsGroupName == nil, let gid { runAsGroup = gid }
        }
        if let g = runAsGroupName { runAsGroup = try lookup(g, in: group, file: "group").0 }
        runAsUserName = nil
        runAsGroupName = nil
        field = "--group-add"
        var groups: [GroupReference] = []
        for g in supplementalGroups {
            let id: GroupReference = if case .name(let n) = g { .id(try lookup(n, in: group, file: "group").0) } else { g }
            if !groups.contains(id) { groups.append(id) }
        }
        supplementalGroups = groups
        try check(source: FieldRules.commandLine)
    }

    /// A user, group or supplementary group name is still to be looked up in the sandbox's root.
    public var needsNameLookup: Bool {
        runAsUserName != nil || runAsGroupName != nil || supplementalGroups.contains { if case .name = $0 { true } else { false } }
    }

    /// The supplementary gids, once every name is resolved (a name left unresolved is not among them).
    public var supplementalGIDs: [UInt32] { supplementalGroups.compactMap { if case .id(let g) = $0 { g } else { nil } } }

    /// Cross-field rules that no single field can check.
    func check(source: String) throws(ConfigError) {
        func fail(_ field: String, _ msg: String) -> ConfigError { ConfigError(file: source, field: field, message: msg) }
        if runAsUserName == nil && runAsGroupName == nil, runAsNonRoot && runAsUser == 0 {
            throw fail("securityContext.runAsNonRoot", "runAsNonRoot is true but runAsUser is 0; set securityContext.runAsUser to a non-zero uid")
        }
        if !namespaces.contains(.mount) {
            throw fail("namespaces.mount", "a sandbox needs its own mount namespace (read-only root, /proc, masked paths); it cannot be switched off")
        }
        if !namespaces.contains(.pid) && namespaces.contains(.user) {
            throw fail("namespaces.pid", "the host's PID namespace needs the host's user namespace too: a user namespace cannot mount the host's /proc; keep namespaces.pid: true (--pid private), or also give namespaces.user: false (--userns host, root only)")
        }
        if network == .none && !namespaces.contains(.network) {
            throw fail("namespaces.network", "network mode none needs a network namespace; use network.mode: host to share the host's network")
        }
        if network == .host && namespaces.contains(.network) {
            throw fail("network.mode", "network mode host cannot be combined with namespaces.network: true")
        }
        if runAsUserName == nil && runAsGroupName == nil, let r = hostIDRange, !r.maps(runAsUser) || !r.maps(runAsGroup) {
            throw fail("userNamespace.hostIDRange", "runAsUser/runAsGroup \(max(runAsUser, runAsGroup)) is outside the \(r.mappedCount) ids the range \(r) maps")
        }
        if case .failure(let r) = FieldRules.supplementalGroups(supplementalGroups) {
            throw fail("securityContext.supplementalGroups", r.message)
        }
        if let r = hostIDRange, let g = supplementalGIDs.first(where: { !r.maps($0) }) {
            throw fail("securityContext.supplementalGroups", "gid \(g) (--group-add or securityContext.supplementalGroups) is outside the \(r.mappedCount) ids the range \(r) maps")
        }
        for (r, l) in rlimits.sorted(by: { $0.key < $1.key }) where l.soft > l.hard {
            throw fail("rlimits.\(r.rawValue)", "soft limit \(l.soft) exceeds hard limit \(l.hard)")
        }
        var targets = Set<String>()
        for b in binds {
            if b.destination == "/" || b.destination == "/proc" || b.destination.hasPrefix("/proc/") || b.destination == "/dev" {
                throw fail("filesystem.binds", "cannot bind over \(b.destination): bulkhead owns /, /proc and /dev")
            }
            if !targets.insert(b.destination).inserted { throw fail("filesystem.binds", "two binds target \(b.destination)") }
        }
        if let s = memorySwapBytes, s != .max {
            guard let m = limits.memoryBytes else {
                throw fail("resources.memorySwap", "memorySwap (memory plus swap) needs a memory limit: set resources.limits.memory (--memory)")
            }
            if s < m { throw fail("resources.memorySwap", "memorySwap \(s) is below the memory limit \(m); it counts memory plus swap, so give at least the memory limit") }
        }
        if landlock != nil && allowPrivilegeEscalation {
            throw fail("filesystem.landlock", "Landlock needs no_new_privs: set securityContext.allowPrivilegeEscalation: false")
        }
        for t in tmpfs where t.path == "/" || t.path == "/proc" || t.path.hasPrefix("/proc/") {
            throw fail("filesystem.tmpfs", "cannot mount a tmpfs over \(t.path)")
        }
    }

    /// Any cgroup limit is asked for (ephemeral-storage is a tmpfs size, not a cgroup limit).
    public var requestsCgroupLimits: Bool {
        limits.cpuMilli != nil || limits.memoryBytes != nil || limits.pids != nil || requests.cpuMilli != nil
            || (memorySwapBytes != nil && memorySwapBytes != .max) || cpusetCPUs != nil
            || ioWeight != nil || !ioMax.isEmpty
    }

    /// The size of a tmpfs mount: its own sizeLimit, else ephemeral-storage for /tmp, else 64Mi.
    public func tmpfsSize(_ t: TmpfsMount) -> UInt64 {
        t.sizeBytes ?? (t.path == "/tmp" ? limits.ephemeralStorageBytes : nil) ?? Self.defaultTmpfsBytes
    }
}
