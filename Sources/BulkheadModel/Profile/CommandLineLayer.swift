/// The flags of `bulkhead run` that make the top profile layer, as the user typed them, and the
/// one function that turns them into that `ProfileLayer`. Each flag goes through its field's
/// rule (`FieldRules`, `NumberField`), the same one a profile's or a Pod manifest's field goes
/// through; a refusal is a `ConfigError` of `<command line>` naming the flag (`--memory`).
/// Pure: the caller hands in its environment and working directory. The CLI only collects
/// the flags.
public struct CommandLineLayer: Sendable, Equatable {
    /// `--env NAME[=VALUE]`; NAME alone copies the caller's variable (when it has one).
    public var env: [String] = []
    /// `--bind SRC:DST[:ro|rw]`.
    public var binds: [String] = []
    /// `--tmpfs PATH[:SIZE]`.
    public var tmpfs: [String] = []
    public var rootfs: String?
    public var hostname: String?
    public var workdir: String?
    /// `--network none|host`.
    public var network: String?
    /// `--user UID[:GID]`.
    public var user: String?
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    /// `--rlimit NAME=SOFT[:HARD]`.
    public var rlimits: [String] = []
    public var ephemeralStorage: String?
    public var cpus: String?
    public var memory: String?
    public var pids: String?
    public var ioWeight: String?
    /// `--io-max 'MAJ:MIN rbps=N …'`.
    public var ioMax: [String] = []
    /// `--limits strict|best-effort`.
    public var limits: String?
    /// `--seccomp FILE|RuntimeDefault|Unconfined`.
    public var seccomp: String?

    public init() {}

    /// The flags as the top profile layer.
    /// - Parameters:
    ///   - environment: the caller's environment, for `--env NAME`.
    ///   - currentDirectory: what a relative `--seccomp FILE` is relative to.
    public func layer(environment: [String: String], currentDirectory: String) throws(ConfigError) -> ProfileLayer {
        var l = ProfileLayer()
        for e in env {
            if let eq = e.firstIndex(of: "=") {
                let name = try FieldRules.envName(String(e[..<eq])).at(flag: "--env")
                l.env.append(EnvVar(name: name, value: String(e[e.index(after: eq)...])))
            } else if let v = environment[e] {
                l.env.append(EnvVar(name: e, value: v))
            }
        }
        let binds = try binds.map { (b) throws(ConfigError) in try FieldRules.bindSpec(b).at(flag: "--bind") }
        if !binds.isEmpty { l.binds = binds }
        if !tmpfs.isEmpty {
            l.tmpfs = try tmpfs.map { (t) throws(ConfigError) in try FieldRules.tmpfsSpec(t).at(flag: "--tmpfs") }
        }
        // Extra mounts: added to the profile's, never replacing its /tmp and /run.
        l.addsMounts = l.binds != nil || l.tmpfs != nil
        if let rootfs { l.root = try FieldRules.rootFilesystem(rootfs).at(flag: "--rootfs") }
        if let hostname { l.hostname = try FieldRules.hostname(hostname).at(flag: "--hostname") }
        if let workdir { l.workingDir = try FieldRules.workingDirectory(workdir).at(flag: "--workdir") }
        if let network { l.network = try FieldRules.networkMode(network).at(flag: "--network") }
        if let user {
            let ids = try FieldRules.user(user).at(flag: "--user")
            l.runAsUser = ids.uid
            l.runAsGroup = ids.gid
        }
        for c in capAdd { _ = try FieldRules.capabilityName(c).at(flag: "--cap-add") }
        for c in capDrop { _ = try FieldRules.capabilityName(c).at(flag: "--cap-drop") }
        if !capAdd.isEmpty || !capDrop.isEmpty {
            // Flags refine the profile's set: drop ALL unless told otherwise, then add.
            l.capabilities = CapabilitySpec(add: capAdd, drop: capDrop.isEmpty ? ["ALL"] : capDrop)
        }
        for r in rlimits {
            let (resource, limit) = try FieldRules.rlimitSpec(r).at(flag: "--rlimit")
            l.rlimits[resource] = limit
        }
        if let cpus { l.limits.cpuMilli = try NumberField.cpu.parse(cpus).at(flag: "--cpus") }
        if let memory { l.limits.memoryBytes = try NumberField.memory.parse(memory).at(flag: "--memory") }
        if let pids { l.limits.pids = try NumberField.pids.parse(pids).at(flag: "--pids") }
        if let ioWeight { l.ioWeight = try NumberField.ioWeight.parse(ioWeight).at(flag: "--io-weight") }
        if !ioMax.isEmpty {
            l.ioMax = try ioMax.map { (t) throws(ConfigError) in try FieldRules.ioThrottle(t).at(flag: "--io-max") }
        }
        if let limits { l.enforcement = try FieldRules.enforcement(limits).at(flag: "--limits") }
        if let ephemeralStorage {
            l.limits.ephemeralStorageBytes = try NumberField.storage.parse(ephemeralStorage).at(flag: "--ephemeral-storage")
        }
        if let seccomp {
            switch seccomp {
            case "RuntimeDefault": l.seccomp = .runtimeDefault
            case "Unconfined": l.seccomp = .unconfined
            default: l.seccomp = .localhost(path: seccomp, relativeTo: currentDirectory)
            }
        }
        return l
    }
}
