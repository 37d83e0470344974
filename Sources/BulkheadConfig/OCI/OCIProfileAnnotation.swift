import BulkheadModel
/// `bulkhead.dev/profile: NAME`: a bulkhead layer profile added on top of an OCI config for
/// what the config cannot say (Landlock rules, a tighter seccomp policy, rlimits), and only
/// ever to tighten it. Pure: the runtime reads the profile (by name only, through the profile
/// store as root resolves names) and hands its resolved form here.
///
/// What the profile (resolved over bulkhead's defaults, as `bulkhead run --profile NAME`
/// resolves it) changes in the config:
/// - capabilities: the intersection of the config's and the profile's;
/// - no_new_privs: on if either asks (`allowPrivilegeEscalation: false`);
/// - a read-only root: if either asks;
/// - `runAsNonRoot`: if the profile asks (a config running uid 0 is then refused);
/// - seccomp: the config's filter and the profile's policy both apply (a call runs only if
///   both allow it: `SeccompProgramStack`); `extraSeccomp` is the profile's policy;
/// - memory, CPU and pids limits, memory+swap: the minimum of the two; `cpusetCpus`: the
///   intersection;
/// - rlimits: per resource the minimum (soft and hard) of the config's and the profile's; a
///   resource only the profile bounds is bounded to at most what the container would inherit;
/// - Landlock rules: the profile's (the config has none);
/// - masked and read-only paths: the union.
/// - host ids: a root-run runtime maps only host ids inside the profile's
///   `userNamespace.hostIDRange`, when it has one (`checkHostIDs`).
/// Everything else of the profile (namespaces, ids, root, mounts, network, hostname, env,
/// working directory, requests, io) is the config's to say and is not taken (`notTaken`).
public enum OCIProfileAnnotation {
    public static let key = "bulkhead.dev/profile"

    /// The profile fields the config decides, listed in `features` and docs/oci.md.
    public static let notTaken = "namespaces, user ids and groups, root, tmpfs, binds, devices, network, hostname, env, workingDir, requests, io"

    /// NAME is a profile name only, never a path: letters, digits, `-`, `_`, `.` (not first),
    /// at most 255 bytes. The store then looks it up as it does for root.
    public static func checkName(_ name: String) throws(ConfigError) {
        let ok = !name.isEmpty && name.utf8.count <= 255 && name.first != "." && !name.hasSuffix(".yaml") && !name.hasSuffix(".yml")
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }
        guard ok else {
            throw ConfigError(file: OCIConfig.file, field: "annotations.\"\(key)\"",
                              message: "a profile name (letters, digits, '-', '_', '.'; not a path, not starting with '.') is needed")
        }
    }

    /// `update` of a container created with the annotation: the profile's memory, memory plus
    /// swap, pids, CPU and cpuset limits stay a ceiling, as `tighten` applied them at create. Anything above is refused
    /// (a CPU period without a quota too: a shorter period alone would give more CPU).
    /// The bound is the profile as it was at `create` (`OCIProcessCeiling.resources`, kept in
    /// the state), never the profile read again: an edited profile raises nothing.
    public static func checkUpdate(_ limits: CgroupLimits, within profile: OCIProcessCeiling.Resources) throws(ConfigError) {
        func refuse(_ what: String) -> ConfigError {
            ConfigError(file: "update", field: "annotations.\"\(key)\"",
                        message: "\(what) is more than the container's profile allowed at create; its limits stay a ceiling")
        }
        if let p = profile.memoryBytes {
            if let m = limits.memoryMax, m > p { throw refuse("memory \(m)") }
            if let m = limits.memoryHigh, m > p { throw refuse("memory reservation \(m)") }
        }
        // Memory plus swap: the profile's memorySwap, else (a memory limit without one) no swap
        // at all, as create bounded it; decodeUpdate gives swap only with a memory limit.
        if let swap = limits.memorySwapMax {
            let (total, over) = (limits.memoryMax ?? 0).addingReportingOverflow(swap)
            if let cap = profile.memorySwapBytes, cap != .max {
                if over || total > cap { throw refuse("memory plus swap \(over ? UInt64.max : total)") }
            } else if profile.memorySwapBytes == nil, profile.memoryBytes != nil, swap > 0 {
                throw refuse("swap \(swap) (the profile limits memory and allows no swap)")
            }
        }
        if let p = profile.pids, let n = limits.pidsMax, n > p { throw refuse("pids limit \(n)") }
        if let p = profile.cpusetCPUs, let text = limits.cpusetCPUs {
            guard case .success(let asked) = FieldRules.cpuList(text), Set(asked).isSubset(of: Set(p)) else {
                throw refuse("cpuset \(text) (the profile's CPUs are \(FieldRules.cpuListText(p)))")
            }
        }
        if let p = profile.cpuMilli {
            if limits.cpuPeriodMicros != nil && limits.cpuQuotaMicros == nil { throw refuse("a CPU period without a quota") }
            if let q = limits.cpuQuotaMicros {
                let period = limits.cpuPeriodMicros ?? 100_000
                let (milli, over) = q.multipliedReportingOverflow(by: 1000)
                if over || period == 0 || milli / period > p { throw refuse("CPU quota \(q) per period \(period)") }
            }
        }
    }

    /// A root-run runtime maps host ids the config names; a profile whose
    /// `userNamespace.hostIDRange` is set says which host ids the config's author may own: the
    /// container then needs its own user namespace, and every host range of its uid and gid
    /// maps must lie inside the profile's range (else the config could give its container
    /// another tenant's ids, or the host's). Without that field nothing is bounded here (the
    /// runtime's checks of every range still apply: `IDRange.problem`, the reserved ranges).
    public static func checkHostIDs(_ config: OCIConfig, within profile: EffectiveProfile) throws(ConfigError) {
        guard let bound = profile.hostIDRange else { return }
        let field = "annotations.\"\(key)\""
        guard let maps = config.idMappings else {
            throw ConfigError(file: OCIConfig.file, field: field,
                              message: "the profile's userNamespace.hostIDRange \(bound) bounds the container's host ids: give it a user namespace with linux.uidMappings and gidMappings inside that range")
        }
        for (list, name) in [(maps.uid, "uidMappings"), (maps.gid, "gidMappings")] {
            for (i, e) in list.enumerated() where !bound.contains(IDRange(hostStart: e.outside, count: e.count)) {
                throw ConfigError(file: OCIConfig.file, field: "linux.\(name)[\(i)]",
                                  message: "host ids \(e.outside):\(e.count) are outside \(bound), the userNamespace.hostIDRange of the profile named by \(field)")
            }
        }
    }

    /// Tightens `config.layer` with `profile`. Returns the profile's seccomp policy when it has
    /// one (to be combined with the config's filter), nil for Unconfined.
    /// - Parameter inherited: the rlimits the container would otherwise inherit (the
    ///   runtime's own), for resources only the profile bounds.
    public static func tighten(_ config: inout OCIConfig, with profile: EffectiveProfile,
                               inherited: [RlimitResource: Rlimit]) throws(ConfigError) -> SeccompSelection? {
        var l = config.layer
        // What bounds the process: the init's here, each exec'd one's from the state (exec).
        OCIProcessCeiling(profile).tighten(&l, inherited: inherited)
        if profile.readOnlyRootFilesystem { l.readOnlyRootFilesystem = true }

        func least(_ a: UInt64?, _ b: UInt64?) -> UInt64? { a.map { x in b.map { min(x, $0) } ?? x } ?? b }
        l.limits.memoryBytes = least(l.limits.memoryBytes, profile.limits.memoryBytes)
        l.limits.cpuMilli = least(l.limits.cpuMilli, profile.limits.cpuMilli)
        l.limits.pids = least(l.limits.pids, profile.limits.pids)
        // memory+swap: the lower of the two, never below the memory limit (no swap then). A
        // config without one has swap bounded to 0 under a memory limit: nothing to tighten.
        if let s = l.memorySwapBytes, let ps = profile.memorySwapBytes {
            l.memorySwapBytes = max(min(s, ps), l.limits.memoryBytes ?? 0)
        }
        if let s = l.memorySwapBytes, s != .max, let m = l.limits.memoryBytes, s < m { l.memorySwapBytes = m }
        if let p = profile.cpusetCPUs {
            let cpus = l.cpusetCPUs.map { c in p.filter(c.contains) } ?? p
            guard !cpus.isEmpty else {
                throw ConfigError(file: OCIConfig.file, field: "annotations.\"\(key)\"",
                                  message: "the profile's resources.cpusetCpus and the config's linux.resources.cpu.cpus share no CPU")
            }
            l.cpusetCPUs = cpus
        }
        l.maskedPaths = (l.maskedPaths ?? []) + profile.maskedPaths.filter { !(l.maskedPaths ?? []).contains($0) }
        l.readonlyPaths = (l.readonlyPaths ?? []) + profile.readonlyPaths.filter { !(l.readonlyPaths ?? []).contains($0) }
        config.layer = l
        if case .unconfined = profile.seccomp { return nil }
        return profile.seccomp
    }
}

/// What of a `bulkhead.dev/profile` profile bounds each process of the container: the init
/// (`OCIProfileAnnotation.tighten` at `create`) and every process `exec` runs in it, whose
/// `--process` or flags replace the config's process. `create` keeps it in the container's
/// state (root's, 0600, read back with the state's checks), so `exec` applies the profile as
/// it was at `create` without reading a profile again:
/// - capabilities: every set (bounding, effective, permitted, inheritable, ambient) within the
///   profile's;
/// - no_new_privs: on if the profile asks (`allowPrivilegeEscalation: false`, or Landlock rules);
/// - `runAsNonRoot`: a process running uid 0 is refused;
/// - rlimits: per resource the lower soft and hard limit (a resource only the profile bounds is
///   bounded to at most what the process would inherit from the runtime);
/// - Landlock rules: the profile's.
/// The container's seccomp program (the config's filter and the profile's policy as one) is
/// kept as compiled for the init, not here.
public struct OCIProcessCeiling: Sendable, Equatable, Codable {
    /// The capability mask no set of a process may exceed.
    public var capabilities: UInt64
    public var noNewPrivileges: Bool
    public var runAsNonRoot: Bool
    public var rlimits: [Limit]
    public var landlock: LandlockSpec?
    /// The profile's cgroup limits, the ceiling of `update` (`OCIProfileAnnotation.checkUpdate`).
    /// nil in the state of an older bulkhead-runc: `update` then refuses (recreate the container).
    public var resources: Resources?

    /// memory, memory plus swap, pids, CPU and cpuset: what `checkUpdate` bounds.
    public struct Resources: Sendable, Equatable, Codable {
        public var memoryBytes: UInt64?
        public var memorySwapBytes: UInt64?
        public var pids: UInt64?
        public var cpuMilli: UInt64?
        public var cpusetCPUs: [UInt32]?
        public init(_ profile: EffectiveProfile) {
            memoryBytes = profile.limits.memoryBytes
            memorySwapBytes = profile.memorySwapBytes
            pids = profile.limits.pids
            cpuMilli = profile.limits.cpuMilli
            cpusetCPUs = profile.cpusetCPUs
        }
    }

    public struct Limit: Sendable, Equatable, Codable {
        public var resource: RlimitResource
        public var soft: UInt64
        public var hard: UInt64
    }

    public init(_ profile: EffectiveProfile) {
        capabilities = profile.capabilities.mask
        noNewPrivileges = !profile.allowPrivilegeEscalation || profile.landlock != nil
        runAsNonRoot = profile.runAsNonRoot
        rlimits = profile.rlimits.sorted { $0.key < $1.key }.map { Limit(resource: $0.key, soft: $0.value.soft, hard: $0.value.hard) }
        landlock = profile.landlock
        resources = Resources(profile)
    }

    /// Tightens a process's layer (`OCIConfig.layer` after `execProcess`, or the config's own).
    /// - Parameter inherited: the rlimits the process would otherwise inherit (the runtime's).
    public func tighten(_ l: inout ProfileLayer, inherited: [RlimitResource: Rlimit]) {
        let asked = (l.capabilities ?? CapabilitySpec(drop: ["ALL"])).resolved
        let kept = CapabilitySet(mask: asked.mask & capabilities)
        l.capabilities = CapabilitySpec(add: kept.members.map(\.name), drop: ["ALL"])
        if noNewPrivileges { l.allowPrivilegeEscalation = false }
        if runAsNonRoot { l.runAsNonRoot = true }
        for p in rlimits {
            let base = l.rlimits[p.resource] ?? inherited[p.resource] ?? Rlimit(soft: Rlimit.unlimited, hard: Rlimit.unlimited)
            let hard = min(base.hard, p.hard)
            l.rlimits[p.resource] = Rlimit(soft: min(base.soft, p.soft, hard), hard: hard)
        }
        if let landlock { l.landlock = landlock }
    }
}

extension RlimitResource: Codable {}
