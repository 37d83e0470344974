import BulkheadModel
/// An OCI runtime-spec (1.0/1.1) `config.json`, decoded strictly and mapped onto the engine's
/// own concepts: a `ProfileLayer` (what `bulkhead run`'s flags and profiles also produce), the
/// command, and the few things only the OCI front end handles (the terminal, namespaces to
/// join by path, the umask, oom_score_adj, annotations). One way through: the layer goes to
/// `EffectiveProfile.resolve` and `LaunchPlanner.plan` like any other.
///
/// Every field is honoured, refused with a `ConfigError` naming it (never its content), or
/// listed in `OCIConfig.acceptedWithoutEffect` (shown by `features` and docs/oci.md).
public struct OCIConfig: Sendable, Equatable {
    public var ociVersion: String
    /// The layer the config becomes (source "config.json").
    public var layer: ProfileLayer
    public var args: [String]
    public var terminal: Bool
    /// The umask the workload starts with (the creating launcher sets it before clone3).
    public var umask: UInt32?
    public var oomScoreAdj: Int32?
    /// `linux.namespaces[].path`: a namespace to join instead of creating one.
    public var joinPaths: [(namespace: Namespace, path: String)]
    public var annotations: [(String, String)]
    /// `linux.cgroupsPath` as given (recorded in the state).
    public var cgroupsPath: String?
    /// An absolute `linux.cgroupsPath` ("/a/b/c", cgroupfs style, as containerd's shim and
    /// podman's cgroupfs manager send it), split: the container's cgroup is that path from the
    /// root of every hierarchy, as runc puts it. nil: bulkhead/oci/<id>. Only a path
    /// `OCICgroupsPath.check` accepts gets here (the rest is refused at decoding).
    public var cgroupsPathComponents: [String]? {
        guard let p = cgroupsPath else { return nil }
        return OCICgroupsPath.check(p).components
    }
    /// `linux.sysctl`: namespaced sysctls only (net.*, kernel.shm*/msg*/sem, fs.mqueue.*),
    /// written in the container's own /proc/sys.
    public var sysctls: [SysctlSetting] = []
    /// `linux.uidMappings` and `gidMappings` with a user namespace: up to 340 lines each
    /// (`IDMapRules`), containerID 0 mapped. The runtime checks them against what its caller
    /// may map (root: every host range as a profile's `userNamespace.hostIDRange` would be, and
    /// within the `bulkhead.dev/profile` profile's range when it names one; rootless: only the
    /// caller's own uid and gid, as 0).
    public var idMappings: IDMaps?
    /// `mounts[type=cgroup]` at /sys/fs/cgroup: the container's own cgroups mounted there
    /// (`PlanStep.mountCgroups`), read-only unless its options say "rw"; nil: no cgroup mount.
    public var cgroupMountReadOnly: Bool?
    /// One rule of `linux.resources.devices` as the v1 devices cgroup takes it: `line` goes to
    /// devices.allow (allow) or devices.deny ("a" for all, else "TYPE MAJOR:MINOR ACCESS").
    public struct DeviceRule: Sendable, Equatable {
        public var allow: Bool
        public var line: String
    }
    /// `linux.resources.devices`, in order: written to the container's v1 devices cgroup after
    /// `create` made it (before `start`), followed by the engine's own nodes (`engineDeviceRules`);
    /// on cgroup v2 the same list becomes an eBPF device program (`OCIDeviceProgram`).
    public var deviceRules: [DeviceRule] = []
    /// The rules `create` applies (then the engine's own nodes): always from a deny-all, as runc
    /// starts its rules from an empty allow list on v1 and v2 alike, so the config's allow rules
    /// (or none) are the whole list. A config without rules gets runc's default (deny all, then
    /// null, zero, full, random, urandom, tty, ptmx, pts) from a root runtime; an ordinary user's
    /// cannot write a devices cgroup or attach a device program (runc's rootless mode skips
    /// them too): nothing then, and its /dev stays the engine's nodev tmpfs.
    public func appliedDeviceRules(privileged: Bool) -> [DeviceRule] {
        guard privileged || !deviceRules.isEmpty else { return [] }
        let denyAll = DeviceRule(allow: false, line: "a")
        return deviceRules.first == denyAll ? deviceRules : [denyAll] + deviceRules
    }
    /// The nodes the engine's /dev holds (null, zero, full, random, urandom, tty, ptmx and its
    /// own pts), allowed after the config's rules as runc adds its default devices.
    public static let engineDeviceRules = ["c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"]
    /// `process.capabilities`: the five sets as given (`LaunchContext.capabilitySets`); the
    /// layer's capabilities are their union, the most the process can ever hold. nil: none.
    public var capabilitySets: OCICapabilitySets?
    /// `linux.resources.hugepageLimits`: per huge page size ("2MB", "1GB", as the kernel's
    /// hugetlb files name it) the byte limit, written after `create` made the cgroup
    /// (hugetlb.SIZE.limit_in_bytes on v1, hugetlb.SIZE.max on v2); refused at `create` where
    /// the host has no hugetlb controller or no such page size.
    public var hugepageLimits: [HugepageLimit] = []
    public struct HugepageLimit: Sendable, Equatable {
        public var pageSize: String
        public var bytes: UInt64
    }
    /// `linux.seccomp` is present: compiled by the engine from the config's own text.
    public var hasSeccomp = false
    /// The one refusal of linux.seccomp.listenerPath: here on this reading of config.json, and at
    /// `create` on the section as the seccomp loader reads it (`OCISeccompSection`).
    public static let seccompListenerUnsupported = "seccomp user notification (listenerPath) is not supported by bulkhead"
    /// Fields present whose content bulkhead does not apply (each listed in `acceptedWithoutEffect`).
    public var ignored: [String]
    /// `hooks`, in the order the spec runs them within each kind.
    public var hooks: [OCIHook] = []
    public func hooks(_ kind: OCIHook.Kind) -> [OCIHook] { hooks.filter { $0.kind == kind } }

    public static func == (a: OCIConfig, b: OCIConfig) -> Bool {
        a.ociVersion == b.ociVersion && a.layer == b.layer && a.args == b.args && a.terminal == b.terminal
            && a.umask == b.umask && a.oomScoreAdj == b.oomScoreAdj
            && a.joinPaths.map { "\($0.namespace.rawValue)=\($0.path)" } == b.joinPaths.map { "\($0.namespace.rawValue)=\($0.path)" }
            && a.annotations.map { $0.0 + "=" + $0.1 } == b.annotations.map { $0.0 + "=" + $0.1 }
            && a.idMappings == b.idMappings
            && a.cgroupsPath == b.cgroupsPath && a.ignored == b.ignored && a.sysctls == b.sysctls && a.hasSeccomp == b.hasSeccomp
            && a.cgroupMountReadOnly == b.cgroupMountReadOnly && a.deviceRules == b.deviceRules && a.hooks == b.hooks
            && a.capabilitySets == b.capabilitySets && a.hugepageLimits == b.hugepageLimits
    }

    /// Fields accepted with no effect, and why: `features` prints them, docs/oci.md lists them.
    public static let acceptedWithoutEffect: [(field: String, why: String)] = [
        ("process.consoleSize", "the pty starts at the kernel's default size; the caller resizes it"),
        ("process.apparmorProfile", "AppArmor is not enforced by bulkhead"),
        ("process.selinuxLabel", "SELinux is not enforced by bulkhead"),
        ("linux.mountLabel", "SELinux is not enforced by bulkhead"),
        ("linux.resources.devices", "enforced (cgroup v1: the container's devices cgroup; cgroup v2: an eBPF device program on its cgroup); accepted are a deny-all list and the allow rules of the default device set (null, zero, full, random, urandom, tty, console, ptmx, pts, tun; mknod of any), other rules are refused. Without effect: the allow rules for nodes the engine's /dev does not hold (it gives only null, zero, full, random, urandom, tty and its own pts; a node the container makes there opens nothing)"),
        ("mounts[type=cgroup]: options other than ro/rw", "the container's cgroups are always mounted nosuid, nodev, noexec, in a cgroup namespace rooted at the container's own cgroup"),
        ("mounts[].options: bind/rbind, private/rprivate/slave/rslave, nodev, nosuid, strictatime, relatime", "binds are always recursive, nosuid and nodev, and never propagate to the host"),
        ("mounts[].options: noexec, noatime, z, Z (binds)", "not applied: a bind stays executable and keeps its atime behaviour; no SELinux relabelling"),
        ("mounts[type=proc|tmpfs on /dev|devpts|mqueue|sysfs] options", "the engine mounts them itself with its own options (nosuid, nodev, noexec where they apply)"),
        ("annotations", "stored in the state; only bulkhead.dev/profile and bulkhead.dev/seccomp-record are interpreted (features lists them)"),
    ]

    public static let file = "config.json"
    /// The size of all annotations together (keys and values, bytes): Kubernetes' limit for a
    /// pod's (256 KiB), well below the 1 MiB state.json a container's record is read with.
    public static let annotationsLimit = 256 * 1024

    /// Decodes `text` (config.json of a bundle whose root filesystem is `rootfs`, already
    /// resolved against the bundle by the caller).
    public static func decode(_ text: String, bundle: String) throws(ConfigError) -> OCIConfig {
        try decodeDocument(text, bundle: bundle).config
    }

    /// The config and the document it was decoded from (`StrictJSON`, once): the runtime takes
    /// the `linux.seccomp` section from the same value (`OCISeccompSection`).
    public static func decodeDocument(_ text: String, bundle: String) throws(ConfigError) -> (config: OCIConfig, document: StrictJSON.Value) {
        let (root, document) = try ConfigNode.parseJSON(text, file: file)
        return (try decode(root, bundle: bundle), document)
    }

    static func decode(_ root: ConfigNode, bundle: String) throws(ConfigError) -> OCIConfig {
        let top = try root.mapping(allowed: ["ociVersion", "process", "root", "mounts", "hostname", "domainname", "hooks", "annotations", "linux"])
        let version = try top.require("ociVersion").string()
        guard version.hasPrefix("1.0") || version.hasPrefix("1.1") || version.hasPrefix("1.2") else {
            throw try top.require("ociVersion").error("runtime-spec version 1.0, 1.1 or 1.2 expected")
        }
        var layer = ProfileLayer()
        layer.source = file
        layer.name = "oci"
        var ignored: [String] = []
        var c = OCIConfig(ociVersion: version, layer: layer, args: [], terminal: false, umask: nil, oomScoreAdj: nil,
                          joinPaths: [], annotations: [], cgroupsPath: nil, ignored: [])
        // Everything the defaults add that a config does not ask for is cleared: the config says it all.
        c.layer.tmpfs = []
        c.layer.binds = []
        c.layer.maskedPaths = []
        c.layer.readonlyPaths = []
        c.layer.seccomp = .unconfined
        c.layer.capabilities = CapabilitySpec(drop: ["ALL"])
        c.layer.allowPrivilegeEscalation = true
        c.layer.readOnlyRootFilesystem = false
        c.layer.workingDir = "/"

        // root
        let rootNode = try top.require("root")
        let r = try rootNode.mapping(allowed: ["path", "readonly"])
        let rootPath = try r.require("path").string()
        guard !rootPath.isEmpty, !ExactName.hasDotDot(rootPath) else {
            throw try r.require("path").error("a path without \"..\" components is needed")
        }
        c.layer.root = .directory(rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath)
        if let ro = r["readonly"] { c.layer.readOnlyRootFilesystem = try ro.bool() }

        // process
        try decodeProcess(try top.require("process"), into: &c, ignored: &ignored)

        if let h = top["hostname"] {
            let name = try h.string()
            if !name.isEmpty {
                guard name.utf8.count <= 64, !name.utf8.contains(0), !name.contains("/") else { throw h.error("a host name of at most 64 bytes is needed") }
                c.layer.hostname = name
            }
        }
        if let d = top["domainname"], try !d.string().isEmpty { throw d.error("not supported by bulkhead") }
        if let hooks = top["hooks"] {
            let m = try hooks.mapping(allowed: OCIHook.Kind.allCases.map(\.rawValue))
            for kind in OCIHook.Kind.allCases {
                guard let list = m[kind.rawValue] else { continue }
                for h in try list.sequence() { c.hooks.append(try OCIHook(h, kind: kind)) }
            }
        }
        if let a = top["annotations"] {
            // Kept in state.json and printed by `state`: bounded, with a message naming the
            // field and the limit (Kubernetes' own limit on a pod's annotations, keys included).
            var total = 0
            for (k, v) in try a.mapping().entries {
                let value = try v.string()
                total += k.utf8.count + value.utf8.count
                guard total <= Self.annotationsLimit else {
                    throw a.error("annotations: at most \(Self.annotationsLimit / 1024) KiB in all (keys and values, as Kubernetes limits a pod's) is accepted; remove or shorten the largest")
                }
                c.annotations.append((k, value))
            }
        }

        // linux
        var namespaces: [Namespace: Bool] = [:]
        for ns in Namespace.allCases { namespaces[ns] = false }
        if let l = top["linux"] {
            let m = try l.mapping(allowed: ["namespaces", "uidMappings", "gidMappings", "devices", "cgroupsPath", "resources", "sysctl",
                                            "seccomp", "maskedPaths", "readonlyPaths", "rootfsPropagation", "mountLabel",
                                            "intelRdt", "personality", "timeOffsets"])
            if let n = m["sysctl"] {
                for (k, v) in try n.mapping().entries {
                    let value = try v.string()
                    c.sysctls.append(try sysctl(k, value, node: v, namespaces: m["namespaces"]))
                }
            }
            for refused in ["intelRdt", "personality", "timeOffsets"] {
                if let n = m[refused] {
                    if n.isNull { continue }
                    if case .mapping(let mm) = n.node, mm.count == 0 { continue }
                    if case .sequence(let sq) = n.node, sq.count == 0 { continue }
                    throw n.error("not supported by bulkhead yet")
                }
            }
            if let n = m["namespaces"] {
                for item in try n.sequence() {
                    let nm = try item.mapping(allowed: ["type", "path"])
                    let typeNode = try nm.require("type")
                    let ns: Namespace
                    switch try typeNode.string() {
                    case "pid": ns = .pid
                    case "network": ns = .network
                    case "mount": ns = .mount
                    case "ipc": ns = .ipc
                    case "uts": ns = .uts
                    case "user": ns = .user
                    case "cgroup": ns = .cgroup
                    case "time": throw typeNode.error("the time namespace is not supported by bulkhead")
                    default: throw typeNode.error("not a namespace type (pid, network, mount, ipc, uts, user, cgroup)")
                    }
                    guard namespaces[ns] == false, !c.joinPaths.contains(where: { $0.namespace == ns }) else { throw typeNode.error("given twice") }
                    if let pathNode = nm["path"], case let path = try pathNode.string(), !path.isEmpty {
                        guard path.hasPrefix("/"), !ExactName.hasDotDot(path), !path.utf8.contains(0) else {
                            throw pathNode.error("an absolute path without \"..\" is needed")
                        }
                        guard ns == .network else { throw pathNode.error("joining an existing \(ns.rawValue) namespace is not supported by bulkhead yet (network only)") }
                        c.joinPaths.append((ns, path))
                        namespaces[ns] = true // the sandbox has one; the engine joins it instead of creating it
                    } else {
                        namespaces[ns] = true
                    }
                }
            }
            try decodeIDMappings(m, namespaces: namespaces, into: &c)
            // A namespaced sysctl is the container's only in a namespace of its own: without a
            // network (IPC) namespace, net.* (kernel.shm*, msg*, sem, fs.mqueue.*) is the host's.
            if let n = m["sysctl"] {
                for s in c.sysctls where namespaces[s.name.hasPrefix("net.") ? .network : .ipc] != true {
                    throw n.error("\(s.name) needs a \(s.name.hasPrefix("net.") ? "network" : "ipc") namespace in linux.namespaces: without one it is the host's")
                }
            }
            if let n = m["cgroupsPath"] {
                let p = try n.string()
                // The one rule (OCICgroupsPath): what an engine sends, outside bulkhead's own tree.
                let checked = OCICgroupsPath.check(p)
                if let problem = checked.problem { throw n.error(problem) }
                c.cgroupsPath = checked.components == nil ? nil : p
            }
            if let n = m["mountLabel"], try !n.string().isEmpty { ignored.append("linux.mountLabel") }
            if let n = m["rootfsPropagation"] {
                let v = try n.string()
                guard ["", "private", "rprivate", "slave", "rslave"].contains(v) else { throw n.error("only private or slave propagation (nothing reaches the host)") }
            }
            if let n = m["maskedPaths"] { c.layer.maskedPaths = try absolutePaths(n) }
            if let n = m["readonlyPaths"] { c.layer.readonlyPaths = try absolutePaths(n) }
            if let n = m["devices"], case .sequence(let sq) = n.node, !sq.isEmpty {
                throw n.error("device nodes are not created by bulkhead yet")
            }
            if let n = m["seccomp"], !n.isNull {
                let sm = try n.mapping()
                if let l = sm["listenerPath"], try !l.string().isEmpty {
                    throw l.error(Self.seccompListenerUnsupported)
                }
                // The engine's own parser and compiler read it (the runtime writes it to the
                // state directory and selects it as a Localhost policy).
                c.hasSeccomp = true
            }
            if let res = m["resources"] { try decodeResources(res, into: &c, ignored: &ignored) }
        }
        c.layer.namespaces = namespaces
        c.layer.network = namespaces[.network] == true ? NetworkMode.none : NetworkMode.host
        guard namespaces[.mount] == true else {
            throw ConfigError(file: file, field: "linux.namespaces", message: "a mount namespace is needed (bulkhead always assembles the root in its own)")
        }

        if let ms = top["mounts"] { try decodeMounts(ms, into: &c, ignored: &ignored) }
        c.ignored = ignored
        return c
    }

    /// The `process` object: config.json's, and an `exec`'s process.json (`execProcess`), one
    /// set of rules for both.
    static func decodeProcess(_ node: ConfigNode, into c: inout OCIConfig, ignored: inout [String]) throws(ConfigError) {
        let p = try node.mapping(allowed: ["terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd",
                                                             "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
                                                             "oomScoreAdj", "selinuxLabel", "scheduler", "ioPriority", "execCPUAffinity"])
        for refused in ["commandLine", "scheduler", "ioPriority", "execCPUAffinity"] {
            if let n = p[refused] { throw n.error("not supported by bulkhead") }
        }
        if let t = p["terminal"] { c.terminal = try t.bool() }
        if p["consoleSize"] != nil { ignored.append("process.consoleSize") }
        if let n = p["apparmorProfile"], try !n.string().isEmpty { ignored.append("process.apparmorProfile") }
        if let n = p["selinuxLabel"], try !n.string().isEmpty { ignored.append("process.selinuxLabel") }
        c.args = try p.require("args").stringList()
        guard let first = c.args.first, !first.isEmpty else { throw try p.require("args").error("at least the program is needed") }
        for (i, a) in c.args.enumerated() where a.utf8.contains(0) {
            throw try p.require("args").sequence()[i].error("contains a NUL byte")
        }
        if let envNode = p["env"] {
            for (i, e) in try envNode.stringList().enumerated() {
                guard let eq = e.firstIndex(of: "="), eq != e.startIndex, !e.utf8.contains(0) else {
                    throw try envNode.sequence()[i].error("NAME=value expected")
                }
                c.layer.env.append(EnvVar(name: String(e[..<eq]), value: String(e[e.index(after: eq)...])))
            }
        }
        let cwdNode = try p.require("cwd")
        let cwd = try cwdNode.string()
        if let problem = WorkingDirectory.problem(cwd) { throw cwdNode.error(problem) }
        c.layer.workingDir = cwd
        if let u = p["user"] {
            let m = try u.mapping(allowed: ["uid", "gid", "umask", "additionalGids", "username"])
            c.layer.runAsUser = UInt32(try m.require("uid").int64(in: 0...Int64(UInt32.max - 1)))
            c.layer.runAsGroup = UInt32(try m.require("gid").int64(in: 0...Int64(UInt32.max - 1)))
            if let um = m["umask"] { c.umask = UInt32(try um.int64(in: 0...0o777)) }
            if let g = m["additionalGids"] {
                let list = try g.sequence()
                guard list.count <= FieldRules.maxSupplementalGroups else {
                    throw g.error("at most \(FieldRules.maxSupplementalGroups) groups")
                }
                c.layer.supplementalGroups = try list.map { (n) throws(ConfigError) in .id(UInt32(try n.int64(in: 0...Int64(UInt32.max - 1)))) }
            }
            if let n = m["username"], try !n.string().isEmpty { throw n.error("a user name is Windows-only in the runtime-spec; give uid and gid") }
        }
        if let caps = p["capabilities"] {
            let m = try caps.mapping(allowed: ["bounding", "effective", "inheritable", "permitted", "ambient"])
            func set(_ key: String) throws(ConfigError) -> CapabilitySet {
                guard let n = m[key], !n.isNull else { return CapabilitySet() }
                var out = CapabilitySet()
                for (i, name) in try n.stringList().enumerated() {
                    guard let cap = Capability(name: name) else { throw try n.sequence()[i].error("not a capability name") }
                    out = CapabilitySet(mask: out.mask | CapabilitySet([cap]).mask)
                }
                return out
            }
            let sets = OCICapabilitySets(bounding: try set("bounding"), effective: try set("effective"), inheritable: try set("inheritable"),
                                         permitted: try set("permitted"), ambient: try set("ambient"))
            // What the kernel refuses (capset(2), PR_CAP_AMBIENT_RAISE), refused here by name
            // before anything runs; runc fails the same configs with EPERM at start.
            if let (key, message) = sets.kernelRuleBroken { throw try m.require(key).error(message) }
            c.capabilitySets = sets
            // The profile's one set is their union: a bulkhead.dev/profile tightens it, and
            // every set is applied within it (LaunchPlanner.appendIdentity).
            c.layer.capabilities = CapabilitySpec(add: sets.union.members.map(\.name), drop: ["ALL"])
        }
        if let rl = p["rlimits"] {
            for item in try rl.sequence() {
                let m = try item.mapping(allowed: ["type", "soft", "hard"])
                let typeNode = try m.require("type")
                let t = try typeNode.string()
                guard t.hasPrefix("RLIMIT_"), let lower = ExactName.asciiLowercased(String(t.dropFirst(7))), let res = RlimitResource(exactly: lower) else {
                    throw typeNode.error("not an RLIMIT_ name")
                }
                let soft = try m.require("soft").uint64(), hard = try m.require("hard").uint64()
                guard soft <= hard else { throw try m.require("soft").error("soft limit above the hard limit") }
                guard c.layer.rlimits[res] == nil else { throw typeNode.error("given twice") }
                c.layer.rlimits[res] = Rlimit(soft: soft, hard: hard)
            }
        }
        if let n = p["noNewPrivileges"] { c.layer.allowPrivilegeEscalation = !(try n.bool()) }
        if let n = p["oomScoreAdj"] { c.oomScoreAdj = Int32(try n.int64(in: -1000...1000)) }
    }

    /// `exec --process process.json` (or the flags, turned into one by the runtime): this
    /// container's config with its process replaced, decoded by `decodeProcess`, so a process
    /// the engine sends is checked exactly as config.json's is. Fields the document leaves out
    /// take the runtime-spec defaults (no capabilities, no rlimits, uid 0), as runc has it.
    public func execProcess(_ text: String, file: String) throws(ConfigError) -> OCIConfig {
        var c = self
        let fresh = ProfileLayer()
        c.args = []
        c.terminal = false
        c.umask = nil
        c.layer.env = []
        c.layer.workingDir = "/"
        c.layer.runAsUser = fresh.runAsUser
        c.layer.runAsGroup = fresh.runAsGroup
        c.layer.supplementalGroups = fresh.supplementalGroups
        c.layer.capabilities = CapabilitySpec(drop: ["ALL"])
        c.capabilitySets = nil
        c.layer.rlimits = [:]
        c.layer.allowPrivilegeEscalation = true
        var ignored: [String] = []
        try Self.decodeProcess(try ConfigNode.parseJSON(text, file: file).0, into: &c, ignored: &ignored)
        c.ignored = ignored
        return c
    }

    /// A namespaced sysctl (runc's list): net.* (the container's own network namespace),
    /// kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* (its IPC namespace). Names of
    /// lower-case letters, digits, `_` and dots; values of at most 4096 printable bytes.
    static func sysctl(_ name: String, _ value: String, node: ConfigNode, namespaces: ConfigNode?) throws(ConfigError) -> SysctlSetting {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2d } }) else {
            throw node.error("not a sysctl name")
        }
        let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"].contains(name) || name.hasPrefix("fs.mqueue.")
        guard ipc || name.hasPrefix("net.") else {
            throw node.error("only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) may be set")
        }
        guard value.utf8.count <= 4096, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f || $0 == 0x09 }) else {
            throw node.error("a value of at most 4096 printable bytes is needed")
        }
        return SysctlSetting(name: name, value: value)
    }

    /// The uid and gid mappings, with a user namespace of the container's own: each list checked
    /// by `IDMapRules` (at most 340 lines, no overflow, no overlap on either side, the field and
    /// line named), and containerID 0 mapped in both (bulkhead's init becomes the namespace's
    /// root before it sets anything up). What the caller may map on the host is the runtime's
    /// check (`OCIRuntime.checkIDMaps`), and the planner's (reserved ranges).
    static func decodeIDMappings(_ m: ConfigMapping, namespaces: [Namespace: Bool], into c: inout OCIConfig) throws(ConfigError) {
        func entries(_ key: String) throws(ConfigError) -> (ConfigNode, [IDMapEntry])? {
            guard let n = m[key], !n.isNull else { return nil }
            let items = try n.sequence()
            // Counted before any line is decoded: a config of a million lines is refused at once.
            guard items.count <= IDMapRules.maxLines else { throw n.error("\(items.count) mappings; the kernel takes at most \(IDMapRules.maxLines)") }
            let list = try items.map { (item) throws(ConfigError) -> IDMapEntry in
                let e = try item.mapping(allowed: ["containerID", "hostID", "size"])
                return IDMapEntry(inside: UInt32(try e.require("containerID").int64(in: 0...Int64(UInt32.max - 1))),
                                  outside: UInt32(try e.require("hostID").int64(in: 0...Int64(UInt32.max - 1))),
                                  count: UInt32(try e.require("size").int64(in: 1...Int64(UInt32.max))))
            }
            return list.isEmpty ? nil : (n, list)
        }
        let u = try entries("uidMappings"), g = try entries("gidMappings")
        guard u != nil || g != nil else { return }
        guard let (un, uids) = u, let (gn, gids) = g else {
            throw (u?.0 ?? g!.0).error("uidMappings and gidMappings are needed together")
        }
        guard namespaces[.user] == true else { throw un.error("id mappings need a user namespace in linux.namespaces") }
        for (n, list) in [(un, uids), (gn, gids)] {
            if let problem = IDMapRules.problem(list) { throw n.error(problem) }
            guard IDMapRules.maps(list, 0) else { throw n.error("containerID 0 must be mapped (the container's init becomes its root)") }
        }
        c.idMappings = IDMaps(uid: uids, gid: gids)
    }

    static func absolutePaths(_ n: ConfigNode) throws(ConfigError) -> [String] {
        let list = try n.stringList()
        for (i, p) in list.enumerated() where !p.hasPrefix("/") || ExactName.hasDotDot(p) || p.utf8.contains(0) {
            throw try n.sequence()[i].error("an absolute path without \"..\" is needed")
        }
        return list
    }

    /// OCI `update`: a runtime-spec `LinuxResources` document (`update --resources`, and runc's
    /// flags made into one), read by the rules of config.json's `linux.resources`
    /// (`decodeResources`: one place per rule) into the cgroup limits to write now. Only what the
    /// document sets; -1 and 0 (unlimited) are refused by name: the update writes values only.
    public static func decodeUpdate(_ text: String) throws(ConfigError) -> CgroupLimits {
        let file = "resources"
        let node = try ConfigNode.parseJSON(text, file: file).0
        var c = OCIConfig(ociVersion: "", layer: ProfileLayer(), args: [], terminal: false, umask: nil, oomScoreAdj: nil,
                          joinPaths: [], annotations: [], cgroupsPath: nil, ignored: [])
        var ignored: [String] = []
        let m = try node.mapping()
        for (section, keys) in [("memory", ["limit", "swap"]), ("cpu", ["quota", "shares"]), ("pids", ["limit"])] {
            guard let sec = m[section], case .mapping = sec.node else { continue }
            let sm = try sec.mapping()
            for k in keys {
                if let v = sm[k], !v.isNull, (try? v.int64()).map({ $0 <= 0 }) == true {
                    throw v.error("update writes a positive value; -1 or 0 (unlimited) is not supported by bulkhead's update")
                }
            }
        }
        try decodeResources(node, into: &c, ignored: &ignored)
        if m["devices"] != nil { throw try m.require("devices").error("the devices cgroup is not changed by update") }
        if !c.hugepageLimits.isEmpty { throw try m.require("hugepageLimits").error("hugepage limits are not changed by bulkhead's update (they are written at create)") }
        var l = CgroupLimits(limits: c.layer.limits, requests: c.layer.requests, boundSwap: false)
        if let total = c.layer.memorySwapBytes {
            guard let mem = l.memoryMax else {
                throw ConfigError(file: file, field: "memory.swap", message: "memory plus swap needs memory.limit (--memory) in the same update")
            }
            guard total >= mem else { throw ConfigError(file: file, field: "memory.swap", message: "below memory.limit: it counts memory plus swap") }
            l.memorySwapMax = total == .max ? nil : total - mem
        }
        l.cpusetCPUs = c.layer.cpusetCPUs.map(FieldRules.cpuListText)
        l.ioWeight = c.layer.ioWeight
        l.ioMax = c.layer.ioMax ?? []
        if l.requested.isEmpty { throw ConfigError(file: file, field: "", message: "nothing to update: give a resource") }
        return l
    }

    static func decodeResources(_ n: ConfigNode, into c: inout OCIConfig, ignored: inout [String]) throws(ConfigError) {
        let m = try n.mapping(allowed: ["devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified"])
        if let b = m["blockIO"], !b.isNull { try decodeBlockIO(b, into: &c) }
        if let h = m["hugepageLimits"], !h.isNull {
            for item in try h.sequence() {
                let e = try item.mapping(allowed: ["pageSize", "limit"])
                let sizeNode = try e.require("pageSize")
                let size = try sizeNode.string()
                // The kernel's names: a number and KB, MB or GB (hugetlb.2MB.max), ASCII only
                // (ExactName): a Prepend scalar ("2\u{600}MB") rode on the dropped "M".
                guard ExactName.isASCII(size), size.utf8.count <= 8, size.utf8.count > 2, ["KB", "MB", "GB"].contains(where: { ExactName.same($0, String(decoding: size.utf8.suffix(2), as: UTF8.self)) }),
                      size.dropLast(2).allSatisfy({ $0.isASCII && $0.isNumber }), size.first != "0" else {
                    throw sizeNode.error("a huge page size as the kernel names it (2MB, 1GB, 64KB) is needed")
                }
                guard !c.hugepageLimits.contains(where: { $0.pageSize == size }) else { throw sizeNode.error("this page size is given twice") }
                c.hugepageLimits.append(HugepageLimit(pageSize: size, bytes: try e.require("limit").uint64()))
            }
        }
        for refused in ["network", "rdma", "unified"] {
            if let x = m[refused], !x.isNull {
                if case .mapping(let mm) = x.node, mm.count == 0 { continue }
                if case .sequence(let sq) = x.node, sq.count == 0 { continue }
                throw x.error("not supported by bulkhead yet")
            }
        }
        if let d = m["devices"] {
            for (i, rule) in try d.sequence().enumerated() {
                let r = try rule.mapping(allowed: ["allow", "type", "major", "minor", "access"])
                let allow = try r.require("allow").bool()
                let typeText = try r["type"]?.string()
                let whole = typeText == nil || typeText == "a"
                if !allow, whole, r["major"] == nil, r["minor"] == nil { c.deviceRules.append(DeviceRule(allow: false, line: "a")); continue }
                // The allow rules of the engines' default device set (containerd's
                // WithDefaultUnixDevices, runc's defaults): the container gets at most the
                // engine's fixed nodes (a node it makes opens nothing), never more: accepted
                // without effect. Any other rule is refused.
                func number(_ key: String) throws(ConfigError) -> String {
                    guard let n = r[key], !n.isNull else { return "*" }
                    let v = try n.int64()
                    return v < 0 ? "*" : String(v)
                }
                let key = "\(typeText ?? "a"):\(try number("major")):\(try number("minor"))"
                let access = try r["access"]?.string() ?? "rwm"
                let defaults = ["c:1:3", "c:1:5", "c:1:7", "c:1:8", "c:1:9", "c:5:0", "c:5:1", "c:5:2", "c:136:*", "c:10:200"]
                guard allow, defaults.contains(key) || ((key == "c:*:*" || key == "b:*:*") && access == "m") else {
                    throw try d.sequence()[i].error("only the deny-all rule and the default device set's allow rules are accepted: the engine's /dev has its fixed device nodes")
                }
                guard !access.isEmpty, access.allSatisfy({ "rwm".contains($0) }) else { throw try r.require("access").error("r, w and m only") }
                c.deviceRules.append(DeviceRule(allow: true, line: "\(typeText ?? "a") \(try number("major")):\(try number("minor")) \(access)"))
            }
            ignored.append("linux.resources.devices")
        }
        if let mem = m["memory"] {
            let mm = try mem.mapping(allowed: ["limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy", "checkBeforeUpdate"])
            if let l = mm["limit"] {
                let v = try l.int64()
                if v > 0 { c.layer.limits.memoryBytes = UInt64(v) } else if v != -1 && v != 0 { throw l.error("a positive byte count or -1") }
            }
            if let s = mm["swap"] {
                let v = try s.int64()
                if v > 0 { c.layer.memorySwapBytes = UInt64(v) } else if v == -1 { c.layer.memorySwapBytes = UInt64.max } else if v != 0 { throw s.error("a positive byte count or -1") }
            }
            for refused in ["reservation", "kernel", "kernelTCP", "swappiness", "disableOOMKiller"] {
                if let x = mm[refused], !x.isNull { throw x.error("not supported by bulkhead yet") }
            }
        }
        if let cpu = m["cpu"] {
            let cm = try cpu.mapping(allowed: ["shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle", "burst"])
            if let q = cm["quota"] {
                let quota = try q.int64()
                let period = try cm["period"]?.uint64() ?? 100_000
                if quota > 0 {
                    guard period >= 1000, period <= 1_000_000 else { throw try cm.require("period").error("1000...1000000 microseconds") }
                    let (milli, over) = UInt64(quota).multipliedReportingOverflow(by: 1000)
                    guard !over else { throw q.error("too large") }
                    c.layer.limits.cpuMilli = max(1, milli / period)
                } else if quota != -1 && quota != 0 { throw q.error("a positive quota or -1") }
            }
            if let s = cm["shares"] {
                let shares = try s.uint64()
                if shares > 0 { c.layer.requests.cpuMilli = shares.multipliedReportingOverflow(by: 1000).overflow ? UInt64.max / 1024 : shares * 1000 / 1024 }
            }
            if let cpus = cm["cpus"], case let text = try cpus.string(), !text.isEmpty {
                guard case .success(let list) = FieldRules.cpuList(text) else { throw cpus.error("a CPU list (0-3,5) expected") }
                c.layer.cpusetCPUs = list
            }
            for refused in ["realtimeRuntime", "realtimePeriod", "mems", "idle", "burst"] {
                if let x = cm[refused], !x.isNull {
                    if refused == "mems", (try? x.string()) == "" { continue }
                    throw x.error("not supported by bulkhead yet")
                }
            }
        }
        if let pids = m["pids"] {
            let pm = try pids.mapping(allowed: ["limit"])
            if let l = pm["limit"] {
                let v = try l.int64()
                if v > 0 { c.layer.limits.pids = UInt64(v) } else if v != -1 && v != 0 { throw l.error("a positive count or -1") }
            }
        }
    }

    /// `linux.resources.blockIO`: `weight` (10...1000, blkio's scale) becomes the profile's IO
    /// weight (io.weight's scale, 1...10000, as runc converts it; enforced only where BFQ or
    /// iocost reads it, else refused at create), the four throttle lists become io.max lines per
    /// device (v1: blkio.throttle.*). `weightDevice` and `leafWeight` are refused by name.
    static func decodeBlockIO(_ n: ConfigNode, into c: inout OCIConfig) throws(ConfigError) {
        let keys = ["weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                    "throttleReadIOPSDevice", "throttleWriteIOPSDevice"]
        let m = try n.mapping(allowed: keys)
        for refused in ["leafWeight", "weightDevice"] {
            if let x = m[refused], !x.isNull {
                if case .sequence(let sq) = x.node, sq.isEmpty { continue }
                throw x.error("not supported by bulkhead yet (a per-device or leaf weight); use weight or the throttle lists")
            }
        }
        if let w = m["weight"], !w.isNull {
            let v = try w.int64(in: 10...1000)
            c.layer.ioWeight = UInt64(1 + (v - 10) * 9999 / 990)
        }
        var entries: [IOThrottle] = []
        for (key, path) in [("throttleReadBpsDevice", \IOThrottle.readBytesPerSecond), ("throttleWriteBpsDevice", \IOThrottle.writeBytesPerSecond),
                            ("throttleReadIOPSDevice", \IOThrottle.readIOPerSecond), ("throttleWriteIOPSDevice", \IOThrottle.writeIOPerSecond)] {
            guard let list = m[key], !list.isNull else { continue }
            for item in try list.sequence() {
                let d = try item.mapping(allowed: ["major", "minor", "rate"])
                let major = UInt32(try d.require("major").int64(in: 0...Int64(UInt32.max)))
                let minor = UInt32(try d.require("minor").int64(in: 0...Int64(UInt32.max)))
                let rate = UInt64(try d.require("rate").int64(in: 1...Int64.max))
                if let i = entries.firstIndex(where: { $0.major == major && $0.minor == minor }) {
                    guard entries[i][keyPath: path] == nil else { throw item.error("this device is given twice") }
                    entries[i][keyPath: path] = rate
                } else {
                    var e = IOThrottle(major: major, minor: minor)
                    e[keyPath: path] = rate
                    entries.append(e)
                }
            }
        }
        if !entries.isEmpty { c.layer.ioMax = entries }
    }

    static func decodeMounts(_ n: ConfigNode, into c: inout OCIConfig, ignored: inout [String]) throws(ConfigError) {
        var tmpfs: [TmpfsMount] = [], binds: [BindMount] = []
        for item in try n.sequence() {
            let m = try item.mapping(allowed: ["destination", "type", "source", "options", "uidMappings", "gidMappings"])
            if m["uidMappings"] != nil || m["gidMappings"] != nil { throw item.error("idmapped mounts are not supported by bulkhead yet") }
            let destNode = try m.require("destination")
            let dest = try destNode.string()
            guard dest.hasPrefix("/"), !ExactName.hasDotDot(dest), !dest.utf8.contains(0), dest != "/" else {
                throw destNode.error("an absolute path without \"..\", not /, is needed")
            }
            let type = try m["type"]?.string() ?? ""
            let source = try m["source"]?.string() ?? ""
            let options = try m["options"]?.stringList() ?? []
            let isBind = type == "bind" || options.contains("bind") || options.contains("rbind")
            let normalized = ExactName.pathComponents(dest).joined(separator: "/")
            let path = "/" + normalized
            if isBind {
                guard source.hasPrefix("/"), !ExactName.hasDotDot(source), !source.utf8.contains(0) else {
                    throw try m.require("source").error("an absolute host path without \"..\" is needed")
                }
                var readOnly = false
                for (i, o) in options.enumerated() {
                    switch o {
                    case "ro": readOnly = true
                    case "rw", "bind", "rbind", "private", "rprivate", "slave", "rslave", "nosuid", "nodev", "noexec", "relatime", "strictatime", "noatime", "z", "Z": break
                    default: throw try m.require("options").sequence()[i].error("not a bind option bulkhead supports (ro, rw, bind, rbind, private, rprivate, slave, rslave, nosuid, nodev, noexec, relatime, strictatime, noatime)")
                    }
                }
                binds.append(BindMount(source: source, destination: path, readOnly: readOnly))
                continue
            }
            switch (type, path) {
            case ("proc", "/proc"), ("tmpfs", "/dev"), ("devpts", "/dev/pts"), ("mqueue", "/dev/mqueue"), ("sysfs", "/sys"):
                continue // the engine's own (LaunchPlanner.appendFilesystem)
            case ("tmpfs", "/dev/shm"):
                if let size = try tmpfsSize(options, m) { c.layer.shmSizeBytes = size }
            case ("cgroup", "/sys/fs/cgroup"), ("cgroup2", "/sys/fs/cgroup"):
                // The container's own cgroups (every hierarchy it has a cgroup in), in a cgroup
                // namespace rooted there: never the host's root. Read-only unless "rw".
                guard c.cgroupMountReadOnly == nil else { throw destNode.error("a second cgroup mount on /sys/fs/cgroup") }
                for (i, o) in options.enumerated() {
                    switch o {
                    case "ro", "rw", "nosuid", "nodev", "noexec", "relatime", "strictatime", "private", "rprivate", "slave", "rslave": break
                    default: throw try m.require("options").sequence()[i].error("not a cgroup mount option bulkhead supports (ro, rw, nosuid, nodev, noexec, relatime, strictatime, private, rprivate, slave, rslave)")
                    }
                }
                // In order, as runc applies them: the last of ro/rw wins (an engine's "ro" after a "rw").
                c.cgroupMountReadOnly = options.last(where: { $0 == "ro" || $0 == "rw" }) != "rw"
                if options.contains(where: { !["ro", "rw"].contains($0) }) { ignored.append("mounts[type=cgroup]: options other than ro/rw") }
            case ("cgroup", _), ("cgroup2", _):
                throw destNode.error("a cgroup mount is supported on /sys/fs/cgroup only")
            case ("tmpfs", _):
                tmpfs.append(TmpfsMount(path: path, sizeBytes: try tmpfsSize(options, m)))
            default:
                throw item.error("this mount type on this destination is not supported by bulkhead (bind, tmpfs, and proc, sysfs, devpts, mqueue, cgroup on their usual places)")
            }
        }
        c.layer.tmpfs = tmpfs
        c.layer.binds = binds
    }

    static func tmpfsSize(_ options: [String], _ m: ConfigMapping) throws(ConfigError) -> UInt64? {
        for o in options where o.hasPrefix("size=") {
            var text = String(o.dropFirst(5))
            var mult: UInt64 = 1
            // The suffix byte for byte (ExactName): a Character compares by canonical
            // equivalence, so U+212A (KELVIN SIGN) would be taken for "K".
            switch text.utf8.last {
            case UInt8(ascii: "k"), UInt8(ascii: "K"): mult = 1 << 10; text = String(decoding: text.utf8.dropLast(), as: UTF8.self)
            case UInt8(ascii: "m"), UInt8(ascii: "M"): mult = 1 << 20; text = String(decoding: text.utf8.dropLast(), as: UTF8.self)
            case UInt8(ascii: "g"), UInt8(ascii: "G"): mult = 1 << 30; text = String(decoding: text.utf8.dropLast(), as: UTF8.self)
            default: break
            }
            guard let v = UInt64(text), case let (bytes, over) = v.multipliedReportingOverflow(by: mult), !over, bytes > 0 else {
                throw try m.require("options").error("size= needs a positive byte count (k, m, g suffixes)")
            }
            return bytes
        }
        return nil
    }
}

/// One entry of config.json `hooks` (runtime-spec "POSIX-platform Hooks"). The config is the
/// engine's input, written by root: a hook runs as root (prestart, createRuntime, poststart,
/// poststop in the runtime's namespaces) or as the container's init (createContainer,
/// startContainer), as with runc. What runc checks is checked here, and no more: the path is
/// absolute, the timeout above zero; the binary's owner and mode are not (the engine chose it).
public struct OCIHook: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Deprecated in runtime-spec 1.2, still sent (podman, nvidia-container-runtime): run with
        /// createRuntime.
        case prestart, createRuntime, createContainer, startContainer, poststart, poststop
    }
    public var kind: Kind
    public var path: String
    /// argv, argv[0] included; empty: the path.
    public var args: [String]
    public var env: [String]
    /// Seconds; nil: no limit.
    public var timeout: Int?

    public init(kind: Kind, path: String, args: [String] = [], env: [String] = [], timeout: Int? = nil) {
        self.kind = kind; self.path = path; self.args = args; self.env = env; self.timeout = timeout
    }

    init(_ n: ConfigNode, kind: Kind) throws(ConfigError) {
        let m = try n.mapping(allowed: ["path", "args", "env", "timeout"])
        let pathNode = try m.require("path")
        let path = try pathNode.string()
        guard path.hasPrefix("/") else { throw pathNode.error("hooks.\(kind.rawValue): path must be absolute (runtime-spec)") }
        guard !path.utf8.contains(0), path.utf8.count < 4096 else { throw pathNode.error("hooks.\(kind.rawValue): a path without NUL bytes, shorter than 4096 bytes, is needed") }
        let args = try m["args"]?.stringList() ?? []
        let env = try m["env"]?.stringList() ?? []
        for (field, list) in [("args", args), ("env", env)] where list.contains(where: { $0.utf8.contains(0) }) {
            throw (m[field] ?? n).error("hooks.\(kind.rawValue).\(field): NUL bytes are not allowed")
        }
        if let e = m["env"], env.contains(where: { !$0.contains("=") }) { throw e.error("hooks.\(kind.rawValue).env: NAME=VALUE entries are needed") }
        var timeout: Int?
        if let t = m["timeout"] {
            // runtime-spec: "timeout ... MUST be greater than zero"; a day at most (checked arithmetic into ms).
            timeout = try t.int(in: 1...86_400)
        }
        self.init(kind: kind, path: path, args: args, env: env, timeout: timeout)
    }

    /// argv as execve gets it.
    public var argv: [String] { args.isEmpty ? [path] : args }
}

