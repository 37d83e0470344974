/// One layer of profile settings, every field optional: a profile file, one of its parents
/// (`extends:`), or the command line's overrides. Layers are merged with one precedence:
/// flags > profile > parent profile > built-in defaults (`EffectiveProfile.resolve`).
///
/// Field names follow Kubernetes where Kubernetes has the concept (`securityContext`,
/// `resources.limits`, `env`), so a profile reads like the pod spec it is exported to.
public struct ProfileLayer: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var extends: String?
    /// Where the layer came from (a file path, `<embedded:NAME>` or `<command line>`).
    public var source: String = "<command line>"
    /// Read by root from a file not everyone can read (`TrustedFile`): every error that involves
    /// this layer after it was parsed (the merge, the launch prepared from it) shows none of its
    /// text, as the parse's own errors do (`ConfigError.withoutContent(ifAnyPrivate:)`). Set by
    /// the reader (`ProfileStore.layers(for:)`); the layer carries it through every seam
    /// (`RunRequest.layers`, a pod's `ContainerLaunchSpec.layers`).
    public var isPrivate = false

    public var namespaces: [Namespace: Bool] = [:]
    public var hostIDRange: IDRange?

    public var runAsUser: UInt32?
    public var runAsGroup: UInt32?
    /// `--user NAME[:GROUP]`: names looked up in the sandbox's root (its /etc/passwd and
    /// /etc/group) at launch, `EffectiveProfile.resolvingNames`; a name wins over the number
    /// of a lower layer, a number of a higher layer over the name.
    public var runAsUserName: String?
    public var runAsGroupName: String?
    /// `securityContext.supplementalGroups`, `--group-add` (names only from the flag).
    public var supplementalGroups: [GroupReference]?
    /// True for the command line's layer: `--group-add` adds to the groups of the layers below,
    /// as docker's adds to the image user's groups; a profile's list replaces the one below.
    public var addsGroups = false
    public var runAsNonRoot: Bool?
    public var capabilities: CapabilitySpec?
    public var readOnlyRootFilesystem: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var seccomp: SeccompSelection?

    public var limits: ResourceSpec = ResourceSpec()
    public var requests: ResourceSpec = ResourceSpec()
    /// `resources.io`: the io controller's weight and throttles (no Kubernetes field exists).
    public var ioWeight: UInt64?
    public var ioMax: [IOThrottle]?
    /// `resources.memorySwap` (`--memory-swap`, docker's meaning): memory plus swap, in bytes;
    /// `UInt64.max` is unlimited swap. Without it, swap is bounded to 0 under a memory limit.
    public var memorySwapBytes: UInt64?
    /// `resources.cpusetCpus` (`--cpuset-cpus`): the CPUs the sandbox may run on.
    public var cpusetCPUs: [UInt32]?
    /// `resources.enforcement`: whether a limit the host cannot enforce is an error.
    public var enforcement: LimitEnforcement?

    public var root: RootFilesystem?
    public var tmpfs: [TmpfsMount]?
    /// `filesystem.devices`: host device nodes bound into the sandbox's /dev (`--device`), as
    /// paths below /dev (`fuse`, `net/tun`).
    public var devices: [String]?
    /// `filesystem.shmSize`: the size of the /dev/shm tmpfs (`--shm-size`); nil: 64Mi.
    public var shmSizeBytes: UInt64?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var binds: [BindMount]?
    /// This layer's `tmpfs` and `binds` are added to the inherited ones (an entry for the same
    /// path replaces the inherited one) instead of replacing the lists: the command line's
    /// `--tmpfs` and `--bind` are extra mounts, and must not drop a profile's /tmp and /run,
    /// which hide the host's sockets.
    public var addsMounts = false
    /// `filesystem.landlock`: the only paths (and TCP ports) the workload may use.
    public var landlock: LandlockSpec?

    public var network: NetworkMode?
    public var hostname: String?
    public var workingDir: String?
    /// Environment entries, merged by name across layers.
    public var env: [EnvVar] = []
    /// Names removed from the environment the layers below (and this one's `env`) set
    /// (`--unsetenv`).
    public var unsetEnv: [String] = []
    /// Resource limits of setrlimit(2), merged by resource across layers.
    public var rlimits: [RlimitResource: Rlimit] = [:]

    public init() {}
}

public enum Namespace: String, CaseIterable, Sendable, Comparable {
    case user, pid, mount, network, ipc, uts, cgroup, time
    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// A host uid/gid range `hostStart..<hostStart+count` given to sandboxes: the sandbox's ids
/// `0..<count` are host ids `hostStart...` (`idMap`, one line `0 START COUNT`).
///
/// The owner of the range's user namespaces is not one of its ids but a host uid of the owner
/// band, `ownerBandStart + hostStart / 65536` (`ownerHostID`), which no range may reach.
/// Why: the kernel gives a user namespace's owner (its creator's euid in the parent namespace)
/// every capability over the namespace (capabilities(7), "the parent user namespace's owner").
/// When the owner was a host id some range maps (its own root's, or, with the first id of each
/// range reserved, an id that another profile's range `S-1:N` maps), a process running as that
/// uid on the host (an escaped workload, or one it left behind) could setns into and ptrace
/// every sandbox of the range. Owners live above every range, so no process under any mapped
/// host uid is ever an owner, whatever ranges other profiles, tenants or invocations use.
///
/// The owner is still not one shared uid: the kernel charges per-user budgets of everything
/// inside (inotify instances and watches, user namespaces; kernel/ucount.c) to the owner, so a
/// sandbox cannot exhaust host root's budget. Ranges whose starts lie in the same 65,536-id
/// block (`hostStart / 65536`) share an owner and so those budgets; ranges of different tenants
/// normally lie in different blocks (65536-aligned ranges never share one: docs/manifests.md).
/// Overlap between ranges (`conflicts(with:)`, `Tenant.validate`) is still refused: shared ids
/// would give two sandboxes the same host owner for their files.
public struct IDRange: Sendable, Equatable, CustomStringConvertible {
    public var hostStart: UInt32
    public var count: UInt32
    public init(hostStart: UInt32, count: UInt32) { self.hostStart = hostStart; self.count = count }
    public var description: String { "\(hostStart):\(count)" }

    /// Whether the two ranges share a host id.
    public func overlaps(_ other: IDRange) -> Bool {
        UInt64(hostStart) < UInt64(other.hostStart) + UInt64(other.count) && UInt64(other.hostStart) < UInt64(hostStart) + UInt64(count)
    }

    /// Every id of `other` is one of this range's.
    public func contains(_ other: IDRange) -> Bool {
        other.hostStart >= hostStart && UInt64(other.hostStart) + UInt64(other.count) <= UInt64(hostStart) + UInt64(count)
    }

    /// The host's own accounts: no range may share an id with them.
    public static let hostAccounts = IDRange(hostStart: 0, count: 65536)

    /// The fewest ids a range may have.
    public static let minimumCount: UInt32 = 1
    /// The lowest host id a range may contain: ids below are the host's own accounts (system
    /// users, login users up to login.defs' UID_MAX 60000, nobody 65534), whose files a sandbox
    /// would own.
    public static let firstHostID: UInt32 = 65536
    /// The first host uid of the owner band: the owners of user namespaces (`ownerHostID`) are
    /// `ownerBandStart...ownerBandStart+64086`; no range may contain an id at or above it.
    public static let ownerBandStart: UInt32 = 4_200_000_000
    /// The ids of one owner block: ranges starting in the same block share an owner.
    public static let ownerBlockSize: UInt32 = 65536
    /// The host uid that owns the range's user namespaces: in the owner band, one per 65,536-id
    /// block of `hostStart`, never mapped by any valid range. (A valid range starts below
    /// `ownerBandStart`, so this is at most 4_200_064_086: no overflow.)
    public var ownerHostID: UInt32 { Self.ownerBandStart &+ hostStart / Self.ownerBlockSize }
    /// How many ids a sandbox of this range has (0..<mappedCount inside): all of them.
    public var mappedCount: UInt32 { count }
    /// The host id of the sandbox's id 0: the range's first id.
    public var mappedRoot: UInt32 { hostStart }
    /// The one line of uid_map/gid_map for this range: 0..<count onto hostStart...
    public var idMap: IDMapEntry { IDMapEntry(inside: 0, outside: mappedRoot, count: mappedCount) }
    /// The id (inside the sandbox) is one of the range's mapped ids.
    public func maps(_ id: UInt32) -> Bool { UInt64(id) < UInt64(mappedCount) }
    /// The two ranges share ids without being the same range: two sandboxes of different ranges
    /// would then own the same host files. (Owners are never among the ids: see above.)
    public func conflicts(with other: IDRange) -> Bool {
        self != other && UInt64(hostStart) < UInt64(other.hostStart) + UInt64(other.count)
            && UInt64(other.hostStart) < UInt64(hostStart) + UInt64(count)
    }
    /// Usable: at least `minimumCount` ids, none of the host's own accounts (below
    /// `firstHostID`, host root included) and none in the owner band (at or above
    /// `ownerBandStart`) among them.
    public var isValid: Bool { Self.problem(hostStart: hostStart, count: count) == nil }

    /// Why `hostStart:count` is not a usable range, or nil; the one wording the parsers and the
    /// planner use.
    public static func problem(hostStart: UInt32, count: UInt32) -> String? {
        if count < minimumCount { return "a range needs at least \(minimumCount) id" }
        if hostStart == 0 { return "a host range starting at 0 would map the host's root into the sandbox; start at or above \(firstHostID)" }
        if hostStart < firstHostID {
            return "a host range may not start below \(firstHostID): those ids are the host's own accounts (root included), whose files the sandbox would own"
        }
        if UInt64(hostStart) + UInt64(count) > UInt64(ownerBandStart) {
            return "a host range must end at or below \(ownerBandStart) (START+COUNT): host uids from \(ownerBandStart) on are the owners of sandboxes' user namespaces, and a sandbox whose ids include one would hold every capability over other sandboxes"
        }
        return nil
    }
}

/// Kubernetes' `capabilities: {drop: [...], add: [...]}`. Without `ALL` in drop, the base set
/// is the container runtimes' default set (what a pod gets when it says nothing).
public struct CapabilitySpec: Sendable, Equatable {
    public var add: [String]
    public var drop: [String]
    public init(add: [String] = [], drop: [String] = []) { self.add = add; self.drop = drop }

    /// The runtimes' default set (containerd, CRI-O and Docker agree on these 14).
    public static let runtimeDefault: [Capability] = [
        .chown, .dacOverride, .fsetid, .fowner, .mknod, .netRaw, .setgid, .setuid, .setfcap,
        .setpcap, .netBindService, .sysChroot, .kill, .auditWrite,
    ]

    /// The set a container keeps: (base − drop) ∪ add. Names were validated when parsed.
    public var resolved: CapabilitySet {
        var set = drop.contains(where: { ExactName.sameIgnoringASCIICase($0, "ALL") }) ? CapabilitySet() : CapabilitySet(Self.runtimeDefault)
        for d in drop where !ExactName.sameIgnoringASCIICase(d, "ALL") { if let c = Capability(name: d) { set.mask &= ~CapabilitySet([c]).mask } }
        if add.contains(where: { ExactName.sameIgnoringASCIICase($0, "ALL") }) { return .all }
        for a in add { if let c = Capability(name: a) { set.mask |= CapabilitySet([c]).mask } }
        return set
    }
}

/// Kubernetes' `seccompProfile`, plus bulkhead's inline form.
public enum SeccompSelection: Sendable, Equatable {
    /// No filter (`type: Unconfined`).
    case unconfined
    /// bulkhead's default allow-list, `Profiles/seccomp/container.json` (`type: RuntimeDefault`).
    case runtimeDefault
    /// A Docker/OCI JSON file (`type: Localhost`, `localhostProfile: PATH`), relative to the
    /// profile search directory it was found in.
    case localhost(path: String, relativeTo: String)
    /// A policy written inline in the layer profile (`seccomp:`), kept as YAML text and its
    /// position so errors point into the profile file.
    case inline(text: String, file: String, line: Int)
}

/// `resources.limits` / `resources.requests`, already converted from Kubernetes quantities.
public struct ResourceSpec: Sendable, Equatable {
    /// Thousandths of a CPU (`500m` → 500).
    public var cpuMilli: UInt64?
    public var memoryBytes: UInt64?
    public var pids: UInt64?
    /// The writable scratch space (`ephemeral-storage`), enforced as the size of the /tmp tmpfs.
    public var ephemeralStorageBytes: UInt64?
    public init() {}
    public var isEmpty: Bool { cpuMilli == nil && memoryBytes == nil && pids == nil && ephemeralStorageBytes == nil }

    /// Fields set here win over `base`.
    public func over(_ base: ResourceSpec) -> ResourceSpec {
        var r = base
        if let v = cpuMilli { r.cpuMilli = v }
        if let v = memoryBytes { r.memoryBytes = v }
        if let v = pids { r.pids = v }
        if let v = ephemeralStorageBytes { r.ephemeralStorageBytes = v }
        return r
    }
}

/// One `io.max` line: `MAJ:MIN rbps=N wbps=N riops=N wiops=N` (cgroup-v2.rst).
public struct IOThrottle: Sendable, Equatable {
    public var major: UInt32
    public var minor: UInt32
    public var readBytesPerSecond: UInt64?
    public var writeBytesPerSecond: UInt64?
    public var readIOPerSecond: UInt64?
    public var writeIOPerSecond: UInt64?

    public init(major: UInt32, minor: UInt32, readBytesPerSecond: UInt64? = nil, writeBytesPerSecond: UInt64? = nil,
                readIOPerSecond: UInt64? = nil, writeIOPerSecond: UInt64? = nil) {
        self.major = major; self.minor = minor
        self.readBytesPerSecond = readBytesPerSecond; self.writeBytesPerSecond = writeBytesPerSecond
        self.readIOPerSecond = readIOPerSecond; self.writeIOPerSecond = writeIOPerSecond
    }

    /// The io.max line: `MAJ:MIN rbps=… wbps=… riops=… wiops=…` (only the keys set).
    public var v2Line: String {
        var parts = ["\(major):\(minor)"]
        if let v = readBytesPerSecond { parts.append("rbps=\(v)") }
        if let v = writeBytesPerSecond { parts.append("wbps=\(v)") }
        if let v = readIOPerSecond { parts.append("riops=\(v)") }
        if let v = writeIOPerSecond { parts.append("wiops=\(v)") }
        return parts.joined(separator: " ")
    }

    /// Parses `8:0 wbps=1048576 riops=100`; nil with the reason on error.
    public static func parse(_ text: String) -> Result<IOThrottle, Invalid> {
        let parts = text.split(separator: " ")
        guard let dev = parts.first, case let mm = dev.split(separator: ":"), mm.count == 2,
              let major = UInt32(mm[0]), let minor = UInt32(mm[1]) else {
            return .failure(Invalid("expected MAJOR:MINOR followed by rbps=, wbps=, riops= or wiops=, got \"\(text)\""))
        }
        var t = IOThrottle(major: major, minor: minor)
        guard parts.count > 1 else { return .failure(Invalid("no limit given for \(dev) (rbps=, wbps=, riops=, wiops=)")) }
        for kv in parts.dropFirst() {
            let f = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard f.count == 2 else { return .failure(Invalid("bad io limit \"\(kv)\"; expected KEY=VALUE")) }
            let field: NumberField
            switch f[0] {
            case "rbps", "wbps": field = .ioBytesPerSecond
            case "riops", "wiops": field = .ioPerSecond
            default: return .failure(Invalid("unknown io limit \"\(f[0])\"; allowed: rbps, wbps, riops, wiops"))
            }
            let v: UInt64
            switch field.parse(String(f[1])) {
            case .success(let x): v = x
            case .failure(let r): return .failure(Invalid("\(f[0]): \(r.message)"))
            }
            switch f[0] {
            case "rbps": t.readBytesPerSecond = v
            case "wbps": t.writeBytesPerSecond = v
            case "riops": t.readIOPerSecond = v
            default: t.writeIOPerSecond = v
            }
        }
        return .success(t)
    }

    public struct Invalid: Error, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
    }
}

/// What happens when the host cannot enforce a requested limit.
public enum LimitEnforcement: String, Sendable, Equatable, CaseIterable {
    /// Refuse to start (the default): a limit that cannot be enforced is an error.
    case strict
    /// Start anyway; the report lists what was not enforced and why.
    case bestEffort = "best-effort"
}

public enum RootFilesystem: Sendable, Equatable {
    /// The host's root, bind-mounted (read-only unless `readOnlyRootFilesystem: false`).
    case host
    /// A root filesystem directory on the host.
    case directory(String)

    /// A normalized absolute path as a root: `/` is the host's root, whatever names it, so that
    /// the rules for the host's root (never writable in a pod) apply to it.
    public init(path: String) { self = path == "/" ? .host : .directory(path) }
}

public struct TmpfsMount: Sendable, Equatable {
    public var path: String
    /// Size limit in bytes; nil takes `resources.limits.ephemeral-storage` for /tmp.
    public var sizeBytes: UInt64?
    /// Mount only where the path exists in the root filesystem (e.g. /run, which hides the
    /// host's sockets but which a minimal root filesystem may not have).
    public var optional: Bool
    public init(path: String, sizeBytes: UInt64? = nil, optional: Bool = false) {
        self.path = path; self.sizeBytes = sizeBytes; self.optional = optional
    }
}

public struct BindMount: Sendable, Equatable {
    public var source: String
    public var destination: String
    public var readOnly: Bool
    /// The source is a file (a mount point under a sandbox tmpfs is then created as a file).
    /// Filled in by the launcher, which looks at the host; the planner only reads it.
    public var sourceIsFile: Bool
    public init(source: String, destination: String, readOnly: Bool, sourceIsFile: Bool = false) {
        self.source = source; self.destination = destination; self.readOnly = readOnly; self.sourceIsFile = sourceIsFile
    }
}

/// Landlock rules (landlock(7)): with them, the workload may read only beneath `readOnly`
/// and `readWrite` paths, write only beneath `readWrite`, and (Landlock ABI 4+) bind and
/// connect only the listed TCP ports when either list is given.
public struct LandlockSpec: Sendable, Equatable, Codable {
    public var readOnly: [String]
    public var readWrite: [String]
    public var bindTCP: [UInt16]?
    public var connectTCP: [UInt16]?
    public init(readOnly: [String] = [], readWrite: [String] = [], bindTCP: [UInt16]? = nil, connectTCP: [UInt16]? = nil) {
        self.readOnly = readOnly; self.readWrite = readWrite; self.bindTCP = bindTCP; self.connectTCP = connectTCP
    }
}

public enum NetworkMode: String, Sendable, Equatable, CaseIterable {
    /// A new network namespace with only loopback, up.
    case none
    /// The host's network namespace; allowed only when a profile says so explicitly.
    case host
}

public struct EnvVar: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// setrlimit(2) resources, spelled as in prlimit(1) / OCI without the RLIMIT_ prefix.
public enum RlimitResource: String, CaseIterable, Sendable, Comparable {
    case cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, `as`, locks, sigpending, msgqueue, nice, rtprio, rttime
    /// The kernel's resource number (asm-generic/resource.h).
    public var number: Int32 {
        switch self {
        case .cpu: 0; case .fsize: 1; case .data: 2; case .stack: 3; case .core: 4; case .rss: 5
        case .nproc: 6; case .nofile: 7; case .memlock: 8; case .as: 9; case .locks: 10
        case .sigpending: 11; case .msgqueue: 12; case .nice: 13; case .rtprio: 14; case .rttime: 15
        }
    }
    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
}

public struct Rlimit: Sendable, Equatable {
    /// `UInt64.max` is RLIM_INFINITY ("unlimited").
    public var soft: UInt64
    public var hard: UInt64
    public init(soft: UInt64, hard: UInt64) { self.soft = soft; self.hard = hard }
    public static let unlimited = UInt64.max
}

extension ProfileLayer {
    /// `SeccompSelection.localhost`'s `relativeTo` for a Pod manifest: the node's seccomp root,
    /// not a directory the manifest chose.
    public static let seccompRootMarker = "<seccomp-root>"
    public static let seccompRootDescription = "/etc/bulkhead/seccomp, then seccomp/ in each profile directory"

    /// The profile format's `apiVersion` and `kind` (ProfileParser reads them, the effective
    /// profile's YAML writes them).
    public static let apiVersion = "bulkhead.dev/v1alpha1"
    public static let kind = "LayerProfile"
}
