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
    /// `--group-add GID|NAME` (docker), repeatable: `securityContext.supplementalGroups`,
    /// added to the profile's.
    public var groupAdd: [String] = []
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

    // The spellings of container runtimes (docker, podman, bwrap), each onto the same field.
    /// `-v/--volume SRC:DST[:ro|rw]` (docker): `--bind`.
    public var volumes: [String] = []
    /// `--mount type=bind,…|type=tmpfs,…` (docker, podman): `--bind` or `--tmpfs`.
    public var mounts: [String] = []
    /// `--ro-bind SRC DST` (bwrap) or `SRC:DST`: a read-only `--bind`; the arguments as given.
    public var readOnlyBinds: [String] = []
    /// `--read-only` (true) / `--read-write` (false): `readOnlyRootFilesystem`.
    public var readOnlyRoot: Bool?
    /// `--env-file FILE`, read by the caller (`ProfileStore.readChecked`), in order.
    public var envFiles: [EnvFile] = []
    /// `--unsetenv NAME`.
    public var unsetEnv: [String] = []
    /// `--pids-limit N` (docker): `--pids`.
    public var pidsLimit: String?
    /// `--ulimit NAME=SOFT[:HARD]` (docker): `--rlimit`.
    public var ulimits: [String] = []
    /// `--chdir DIR` (bwrap): `--workdir`.
    public var chdir: String?
    /// `--shm-size SIZE` (docker): `filesystem.shmSize`.
    public var shmSize: String?
    /// `--pid`, `--ipc`, `--uts`, `--userns` `host|private` (docker): `namespaces.pid` … `user`.
    public var pidNamespace: String?
    public var ipcNamespace: String?
    public var utsNamespace: String?
    public var userNamespace: String?
    /// `--cpuset-cpus LIST` (docker): `resources.cpusetCpus`.
    public var cpusetCPUs: String?
    /// `--device /dev/X[:rw|rwm]` (docker): `filesystem.devices`.
    public var devices: [String] = []
    /// `--memory-swap SIZE|-1` (docker): `resources.memorySwap`.
    public var memorySwap: String?

    /// One `--env-file`: its path (for errors) and its text.
    public struct EnvFile: Sendable, Equatable {
        public var path: String
        public var text: String
        public init(path: String, text: String) { self.path = path; self.text = text }
    }

    public init() {}

    /// The flags as the top profile layer.
    /// - Parameters:
    ///   - environment: the caller's environment, for `--env NAME`.
    ///   - currentDirectory: what a relative `--seccomp FILE` is relative to.
    public func layer(environment: [String: String], currentDirectory: String) throws(ConfigError) -> ProfileLayer {
        var l = ProfileLayer()
        // Env files first, then --env over them (docker's order); --unsetenv last.
        for f in envFiles {
            for (name, value) in try FieldRules.envFile(f.text).at(file: f.path, field: "--env-file") {
                guard let v = value ?? environment[name] else { continue }
                l.env.removeAll { $0.name == name }
                l.env.append(EnvVar(name: name, value: v))
            }
        }
        for e in env {
            if let eq = e.firstIndex(of: "=") {
                let name = try FieldRules.envName(String(e[..<eq])).at(flag: "--env")
                l.env.removeAll { $0.name == name }
                l.env.append(EnvVar(name: name, value: String(e[e.index(after: eq)...])))
            } else if let v = environment[e] {
                l.env.removeAll { $0.name == e }
                l.env.append(EnvVar(name: e, value: v))
            }
        }
        for n in unsetEnv { l.unsetEnv.append(try FieldRules.envName(n).at(flag: "--unsetenv")) }
        l.env.removeAll { l.unsetEnv.contains($0.name) }
        var binds = try binds.map { (b) throws(ConfigError) in try FieldRules.bindSpec(b).at(flag: "--bind") }
        binds += try volumes.map { (b) throws(ConfigError) in try FieldRules.bindSpec(b).at(flag: "--volume") }
        var tmpfs = try tmpfs.map { (t) throws(ConfigError) in try FieldRules.tmpfsSpec(t).at(flag: "--tmpfs") }
        for m in mounts {
            switch try FieldRules.mountSpec(m).at(flag: "--mount") {
            case .bind(let b): binds.append(b)
            case .tmpfs(let t): tmpfs.append(t)
            }
        }
        binds += try FieldRules.readOnlyBinds(readOnlyBinds).at(flag: "--ro-bind")
        if !binds.isEmpty { l.binds = binds }
        if !tmpfs.isEmpty { l.tmpfs = tmpfs }
        l.readOnlyRootFilesystem = readOnlyRoot
        for (ns, flag, mode) in [(Namespace.pid, "--pid", pidNamespace), (.ipc, "--ipc", ipcNamespace), (.uts, "--uts", utsNamespace), (.user, "--userns", userNamespace)] {
            if let mode { l.namespaces[ns] = try FieldRules.namespaceMode(mode).at(flag: flag) }
        }
        if let cpusetCPUs { l.cpusetCPUs = try FieldRules.cpuList(cpusetCPUs).at(flag: "--cpuset-cpus") }
        if !devices.isEmpty { l.devices = try devices.map { (d) throws(ConfigError) in try FieldRules.device(d).at(flag: "--device") } }
        if let shmSize { l.shmSizeBytes = try NumberField.storage.parse(shmSize).at(flag: "--shm-size") }
        // Extra mounts: added to the profile's, never replacing its /tmp and /run.
        l.addsMounts = l.binds != nil || l.tmpfs != nil
        if let rootfs { l.root = try FieldRules.rootFilesystem(rootfs).at(flag: "--rootfs") }
        if let hostname { l.hostname = try FieldRules.hostname(hostname).at(flag: "--hostname") }
        if workdir != nil && chdir != nil { throw ConfigError(file: FieldRules.commandLine, field: "--chdir", message: "give --workdir or --chdir, not both") }
        if let workdir { l.workingDir = try FieldRules.workingDirectory(workdir).at(flag: "--workdir") }
        if let chdir { l.workingDir = try FieldRules.workingDirectory(chdir).at(flag: "--chdir") }
        if let network { l.network = try FieldRules.networkMode(network).at(flag: "--network") }
        if let user {
            let parts = user.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            // A part is a name when it starts as one (a letter or _); anything else is an id.
            func isName(_ p: String) -> Bool { p.first.map { $0.isLetter || $0 == "_" } ?? false }
            if !parts.contains(where: isName) {
                let ids = try FieldRules.user(user).at(flag: "--user")
                l.runAsUser = ids.uid
                l.runAsGroup = ids.gid
            } else {
                // NAME[:GROUP] (either may be a number): looked up in the sandbox's root at launch.
                guard parts.count <= 2 else { throw ConfigError(file: FieldRules.commandLine, field: "--user", message: "expected UID[:GID] or NAME[:GROUP], got \"\(user)\"") }
                for (i, part) in parts.enumerated() {
                    if !isName(part) {
                        let id = UInt32(try NumberField.id.parse(part).at(flag: "--user"))
                        if i == 0 { l.runAsUser = id } else { l.runAsGroup = id }
                    } else {
                        let name = try FieldRules.accountName(part).at(flag: "--user")
                        if i == 0 { l.runAsUserName = name } else { l.runAsGroupName = name }
                    }
                }
            }
        }
        if !groupAdd.isEmpty {
            let refs = try groupAdd.map { (g) throws(ConfigError) in try FieldRules.groupReference(g).at(flag: "--group-add") }
            l.supplementalGroups = try FieldRules.supplementalGroups(refs).at(flag: "--group-add")
            l.addsGroups = true
        }
        for c in capAdd { _ = try FieldRules.capabilityName(c).at(flag: "--cap-add") }
        for c in capDrop { _ = try FieldRules.capabilityName(c).at(flag: "--cap-drop") }
        if !capAdd.isEmpty || !capDrop.isEmpty {
            // Flags refine the profile's set: drop ALL unless told otherwise, then add.
            l.capabilities = CapabilitySpec(add: capAdd, drop: capDrop.isEmpty ? ["ALL"] : capDrop)
        }
        for (flag, specs) in [("--rlimit", rlimits), ("--ulimit", ulimits)] {
            for r in specs {
                let (resource, limit) = try FieldRules.rlimitSpec(r).at(flag: flag)
                l.rlimits[resource] = limit
            }
        }
        if let cpus { l.limits.cpuMilli = try NumberField.cpu.parse(cpus).at(flag: "--cpus") }
        if let memory { l.limits.memoryBytes = try NumberField.memory.parse(memory).at(flag: "--memory") }
        if let memorySwap { l.memorySwapBytes = try FieldRules.memorySwap(memorySwap).at(flag: "--memory-swap") }
        if pids != nil && pidsLimit != nil { throw ConfigError(file: FieldRules.commandLine, field: "--pids-limit", message: "give --pids or --pids-limit, not both") }
        if let pids { l.limits.pids = try NumberField.pids.parse(pids).at(flag: "--pids") }
        if let pidsLimit { l.limits.pids = try NumberField.pids.parse(pidsLimit).at(flag: "--pids-limit") }
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
