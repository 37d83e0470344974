import BulkheadModel
/// The Kubernetes Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards,
/// k8s.io/pod-security-admission/policy), evaluated on what bulkhead will actually apply: each
/// container's *effective* profile, the profile's layers merged with the pod's and the
/// container's securityContext (`ContainerLaunchSpec.effective`). A permissive profile is
/// judged by what it turns off, not by its name, so naming one is no way around the level.
///
/// How each control maps onto bulkhead's model:
///
/// | PSS control (level) | bulkhead |
/// |---|---|
/// | HostProcess (baseline) | `windowsOptions` is refused by the parser at every level |
/// | Host namespaces (baseline) | the effective profile's namespaces: network (and `network.mode: host`), PID, IPC; bulkhead adds user (`hostUsers`), UTS and cgroup |
/// | Privileged containers (baseline) | `privileged: true` is refused by the parser at every level; a profile's equivalent (all capabilities, no seccomp, nothing masked) fails the checks below |
/// | Capabilities (baseline) | the effective set may hold only the runtime default set; `add` may name only the 13 baseline capabilities (NET_RAW is in the default set but may not be added) |
/// | HostPath volumes (baseline) | a bind mount whose source is not one of the pod's own volumes (only a profile can bind a host path) |
/// | Host ports (baseline) | `hostPort`/`hostIP` are refused by the parser; `network.mode: host` is a host namespace |
/// | AppArmor (baseline) | `appArmorProfile` is refused by the parser; the `container.apparmor.security.beta.kubernetes.io/*` annotations are checked as PSA checks them |
/// | SELinux (baseline) | `seLinuxOptions` is refused by the parser |
/// | /proc mount type (baseline) | `procMount` other than Default is refused by the parser; a profile whose masked or read-only paths leave out a default one is `procMount: Unmasked` |
/// | Seccomp (baseline) | the effective seccomp is not Unconfined |
/// | Sysctls (baseline) | `sysctls` is refused by the parser |
/// | Volume types (restricted) | a pod's volumes are emptyDir and secret only (both allowed); host binds are refused at baseline already |
/// | Privilege escalation (restricted) | effective `allowPrivilegeEscalation` is false, which is also bulkhead's no_new_privs |
/// | Running as non-root (restricted) | effective `runAsNonRoot` is true |
/// | Running as non-root user (restricted) | effective `runAsUser` is not 0 (bulkhead always has a concrete uid: unset means 0) |
/// | Seccomp (restricted) | RuntimeDefault, Localhost, or a profile's inline policy (a node-side policy, as Localhost) |
/// | Capabilities (restricted) | effective `drop` holds ALL and the set holds at most NET_BIND_SERVICE |
///
/// Controls bulkhead has and Kubernetes lacks: the user namespace is always on in a pod (uid 0
/// inside is an unprivileged host uid of the tenant's range), no_new_privs follows
/// `allowPrivilegeEscalation: false`, and Landlock rules come from the profile; none of them
/// is loosened by any level, and Landlock (which needs no_new_privs) is never required.
public enum PodSecurityStandards {
    /// The only version evaluated: the current standard (PSA's `latest`).
    public static let version = "latest"

    /// The capabilities baseline lets a container add (PSA's `capabilities_allowed_1_0`):
    /// the runtime default set without NET_RAW.
    public static let baselineAddable: Set<Capability> = [
        .auditWrite, .chown, .dacOverride, .fowner, .fsetid, .kill, .mknod, .netBindService,
        .setfcap, .setgid, .setpcap, .setuid, .sysChroot,
    ]

    /// The one capability restricted lets a container add.
    public static let restrictedAddable: Set<Capability> = [.netBindService]

    /// Annotation prefix of the (deprecated) per-container AppArmor profile.
    public static let appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

    /// Every violation of `level` by `pod`, in the order PSA lists its checks. Empty: allowed.
    public static func evaluate(_ pod: PodLaunchSpec, level: PodSecurityLevel) -> [PodSecurityViolation] {
        guard level != .privileged else { return [] }
        var out: [PodSecurityViolation] = []
        func add(_ reason: String, _ details: [String]) {
            if !details.isEmpty { out.append(PodSecurityViolation(reason: reason, details: details)) }
        }
        let restricted = level == .restricted
        let cs = pod.containers

        // Baseline.
        add("host namespaces", cs.compactMap(hostNamespaces))
        add("forbidden AppArmor profile", appArmor(pod))
        add(restricted ? "unrestricted capabilities" : "non-default capabilities",
            cs.compactMap { restricted ? capabilitiesRestricted($0) : capabilitiesBaseline($0) })
        add("hostPath volumes", cs.compactMap { hostPaths($0, pod: pod) })
        add("procMount", cs.compactMap(procMount))
        add("seccompProfile", cs.compactMap { seccomp($0, restricted: restricted) })
        guard restricted else { return out }

        // Restricted.
        add("allowPrivilegeEscalation != false", cs.compactMap { c in
            c.effective.allowPrivilegeEscalation
                ? "container \"\(c.name)\" must set securityContext.allowPrivilegeEscalation=false\(origin(c, \.allowPrivilegeEscalation))" : nil
        })
        add("runAsNonRoot != true", cs.compactMap { c in
            guard !c.effective.runAsNonRoot else { return nil }
            let set = setter(c, \.runAsNonRoot) != nil
            return set ? "container \"\(c.name)\" must not set securityContext.runAsNonRoot=false\(origin(c, \.runAsNonRoot))"
                : "pod or container \"\(c.name)\" must set securityContext.runAsNonRoot=true"
        })
        add("runAsUser=0", cs.compactMap { c in
            guard c.effective.runAsUser == 0 else { return nil }
            return setter(c, \.runAsUser) != nil
                ? "container \"\(c.name)\" must not set runAsUser=0\(origin(c, \.runAsUser))"
                : "container \"\(c.name)\" must set securityContext.runAsUser to a non-zero uid (unset, it runs as uid 0)"
        })
        return out
    }

    /// Pod Security Admission's refusal:
    /// `pods "web" is forbidden: violates PodSecurity "restricted:latest": reason (detail), …`.
    public static func message(pod: String, level: PodSecurityLevel, _ violations: [PodSecurityViolation]) -> String {
        "pods \"\(pod)\" is forbidden: violates PodSecurity \"\(level.rawValue):\(version)\": "
            + violations.map { "\($0.reason) (\($0.details.joined(separator: "; ")))" }.joined(separator: ", ")
    }

    // MARK: Checks (one container each; nil: no violation)

    static func hostNamespaces(_ c: ContainerLaunchSpec) -> String? {
        let e = c.effective
        var shared: [String] = []
        if e.network == .host || !e.namespaces.contains(.network) { shared.append("hostNetwork=true") }
        if !e.namespaces.contains(.pid) { shared.append("hostPID=true") }
        if !e.namespaces.contains(.ipc) { shared.append("hostIPC=true") }
        if !e.namespaces.contains(.user) { shared.append("hostUsers=true") }
        if !e.namespaces.contains(.uts) { shared.append("the host's UTS namespace") }
        if !e.namespaces.contains(.cgroup) { shared.append("the host's cgroup namespace") }
        guard !shared.isEmpty else { return nil }
        return "container \"\(c.name)\" shares \(shared.joined(separator: ", ")) (profile \(c.profileName))"
    }

    static func appArmor(_ pod: PodLaunchSpec) -> [String] {
        pod.annotations.sorted { $0.key < $1.key }.compactMap { k, v in
            guard k.hasPrefix(appArmorAnnotationPrefix), !(v.isEmpty || v == "runtime/default" || v.hasPrefix("localhost/")) else { return nil }
            return "annotation \(k)=\"\(v)\" must not set AppArmor profile type to \"\(v)\""
        }
    }

    static func added(_ c: ContainerLaunchSpec) -> Set<Capability> {
        let add = c.effective.capabilitySpec.add
        if add.contains(where: { ExactName.sameIgnoringASCIICase($0, "ALL") }) { return Set(Capability.allCases) }
        return Set(add.compactMap { Capability(name: $0) })
    }

    static func quoted(_ caps: some Sequence<Capability>) -> String {
        caps.map(\.kubernetesName).sorted().map { "\"\($0)\"" }.joined(separator: ", ")
    }

    static func capabilitiesBaseline(_ c: ContainerLaunchSpec) -> String? {
        // What the container holds beyond the runtime default set was added; NET_RAW is in
        // that set but may not be added explicitly.
        let explicit = added(c)
        let def = Set(CapabilitySpec.runtimeDefault)
        let bad = c.effective.capabilities.members.filter { !baselineAddable.contains($0) && (explicit.contains($0) || !def.contains($0)) }
        guard !bad.isEmpty else { return nil }
        let all = c.effective.capabilities == .all ? "\"ALL\" (" + quoted(bad) + ")" : quoted(bad)
        return "container \"\(c.name)\" must not include \(all) in securityContext.capabilities.add\(origin(c, \.capabilities))"
    }

    static func capabilitiesRestricted(_ c: ContainerLaunchSpec) -> String? {
        var problems: [String] = []
        if !c.effective.capabilitySpec.drop.contains(where: { ExactName.sameIgnoringASCIICase($0, "ALL") }) {
            problems.append("must set securityContext.capabilities.drop=[\"ALL\"]")
        }
        let bad = c.effective.capabilities.members.filter { !restrictedAddable.contains($0) }
        if !bad.isEmpty {
            let what = c.effective.capabilities == .all ? "\"ALL\"" : quoted(bad)
            problems.append("must not include \(what) in securityContext.capabilities.add")
        }
        guard !problems.isEmpty else { return nil }
        return "container \"\(c.name)\" " + problems.joined(separator: " and ") + origin(c, \.capabilities)
    }

    static func hostPaths(_ c: ContainerLaunchSpec, pod: PodLaunchSpec) -> String? {
        let own = Set(pod.volumes.map(\.hostPath))
        let host = c.effective.binds.filter { !own.contains($0.source) }
        guard !host.isEmpty else { return nil }
        let list = host.map { "\($0.source) at \($0.destination)\($0.readOnly ? " (read-only)" : "")" }.joined(separator: ", ")
        return "container \"\(c.name)\" binds host \(host.count == 1 ? "path" : "paths") \(list) (profile \(c.profileName))"
    }

    static func procMount(_ c: ContainerLaunchSpec) -> String? {
        let e = c.effective
        let unmasked = EffectiveProfile.defaultMaskedPaths.filter { !e.maskedPaths.contains($0) }
        let writable = EffectiveProfile.defaultReadonlyPaths.filter { !e.readonlyPaths.contains($0) && !e.maskedPaths.contains($0) }
        guard !unmasked.isEmpty || !writable.isEmpty else { return nil }
        var what: [String] = []
        if !unmasked.isEmpty { what.append("unmasks \(unmasked.joined(separator: ", "))") }
        if !writable.isEmpty { what.append("leaves \(writable.joined(separator: ", ")) writable") }
        return "container \"\(c.name)\" must not set securityContext.procMount to \"Unmasked\" (profile \(c.profileName) \(what.joined(separator: " and ")))"
    }

    static func seccomp(_ c: ContainerLaunchSpec, restricted: Bool) -> String? {
        // bulkhead's effective seccomp is never unset: the defaults are RuntimeDefault, so
        // restricted's "must be set" and baseline's "not Unconfined" are the same test.
        guard c.effective.seccomp == .unconfined else { return nil }
        return "container \"\(c.name)\" must not set securityContext.seccompProfile.type to \"Unconfined\"\(origin(c, \.seccomp))"
    }

    // MARK: Where a value came from

    /// The index of the last layer that sets `field`, nil when none does (bulkhead's default).
    static func setter<T>(_ c: ContainerLaunchSpec, _ field: KeyPath<ProfileLayer, T?>) -> Int? {
        c.layers.lastIndex { $0[keyPath: field] != nil }
    }

    /// ` (from profile NAME)` when a profile layer, not the pod's securityContext, set it.
    static func origin<T>(_ c: ContainerLaunchSpec, _ field: KeyPath<ProfileLayer, T?>) -> String {
        guard let i = setter(c, field) else { return " (bulkhead's default)" }
        if i == c.layers.count - 1 { return "" }
        return " (set by profile \(c.layers[i].name ?? c.profileName))"
    }
}

/// A Pod Security Standards level (`pod-security.kubernetes.io/enforce`).
public enum PodSecurityLevel: String, Sendable, Equatable, CaseIterable, Comparable {
    case privileged, baseline, restricted
    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// One failed check: PSA's reason and, per container, what to change.
public struct PodSecurityViolation: Sendable, Equatable {
    public var reason: String
    public var details: [String]
    public init(reason: String, details: [String]) { self.reason = reason; self.details = details }
}

/// A namespace's Pod Security Admission modes (the `pod-security.kubernetes.io/<mode>` labels):
/// `enforce` refuses the pod; `warn` and `audit` only report, as notes of the pod run.
public struct PodSecurityPolicy: Sendable, Equatable {
    public var enforce: PodSecurityLevel
    public var warn: PodSecurityLevel?
    public var audit: PodSecurityLevel?
    public init(enforce: PodSecurityLevel = PodSecurityPolicy.defaultLevel, warn: PodSecurityLevel? = nil, audit: PodSecurityLevel? = nil) {
        self.enforce = enforce; self.warn = warn; self.audit = audit
    }

    /// The level of a tenant that names none, and of the default namespace when no Tenant
    /// named `default` is given.
    public static let defaultLevel = PodSecurityLevel.baseline

    /// The namespace label prefix Pod Security Admission reads.
    public static let labelPrefix = "pod-security.kubernetes.io/"
    static let modes = ["enforce", "enforce-version", "warn", "warn-version", "audit", "audit-version"]

    /// Reads the modes from `spec.podSecurity` (keys `enforce`, `enforce-version`, … as the
    /// label suffixes) and from `pod-security.kubernetes.io/*` labels; both may be given, and
    /// must then agree. Versions other than `latest` are refused: only the current standard
    /// is evaluated here.
    static func parse(spec: ConfigNode?, labels: [String: String], labelsNode: ConfigNode?) throws(ConfigError) -> PodSecurityPolicy {
        var values: [String: (String, ConfigNode)] = [:]
        if let labelsNode {
            for (k, v) in try labelsNode.mapping().entries where k.hasPrefix(labelPrefix) {
                let mode = String(k.dropFirst(labelPrefix.count))
                guard modes.contains(mode) else {
                    throw v.error("unknown Pod Security Admission label \"\(k)\"; known: \(modes.map { labelPrefix + $0 }.joined(separator: ", "))")
                }
                values[mode] = (try v.scalarText(), v)
            }
        }
        if let spec {
            for (mode, v) in try spec.mapping(allowed: modes).entries {
                let s = try v.string()
                if let (l, _) = values[mode], l != s {
                    throw v.error("spec.podSecurity.\(mode) is \(s) but the label \(labelPrefix)\(mode) is \(l); give one, or the same value")
                }
                values[mode] = (s, v)
            }
        }
        var p = PodSecurityPolicy()
        for mode in ["enforce", "warn", "audit"] {
            if let (v, n) = values[mode + "-version"], v != PodSecurityStandards.version {
                throw n.error("\(mode)-version \(v) is not supported: bulkhead evaluates the current standard only (latest)")
            }
            guard let (v, n) = values[mode] else { continue }
            guard let level = PodSecurityLevel(exactly: v) else {
                throw n.error("unknown Pod Security Standards level \"\(v)\"; allowed: privileged, baseline, restricted")
            }
            switch mode {
            case "enforce": p.enforce = level
            case "warn": p.warn = level
            default: p.audit = level
            }
        }
        return p
    }
}

/// What the Pod Security Standards read of one container's effective profile. `pod run`
/// admits the profiles it read from disk and launches on the same layers with the pod's own
/// additions on top; the launcher compares these for every container and refuses to start
/// one whose launch differs from what was admitted, so what runs is what was admitted. The
/// binds the launcher adds itself (the pod's token, its sysfs) are left out.
public struct PodSecurityControls: Sendable, Equatable {
    var namespaces: Set<Namespace>
    var network: NetworkMode
    var hostIDRange: IDRange?
    var runAsUser: UInt32, runAsGroup: UInt32, runAsNonRoot: Bool
    var capabilitySpec: CapabilitySpec, capabilities: CapabilitySet
    var allowPrivilegeEscalation: Bool
    var seccomp: SeccompSelection
    var maskedPaths: Set<String>, readonlyPaths: Set<String>
    var hostBinds: [String]
    var root: RootFilesystem
    var landlock: LandlockSpec?

    /// - Parameter launcherBinds: the binds the launcher itself added (the pod's token, its
    ///   volumes), left out: each removes one bind with the same source, destination and mode.
    public init(_ e: EffectiveProfile, launcherBinds: [BindMount] = []) {
        namespaces = e.namespaces; network = e.network; hostIDRange = e.hostIDRange
        runAsUser = e.runAsUser; runAsGroup = e.runAsGroup; runAsNonRoot = e.runAsNonRoot
        capabilitySpec = e.capabilitySpec; capabilities = e.capabilities
        allowPrivilegeEscalation = e.allowPrivilegeEscalation; seccomp = e.seccomp
        maskedPaths = Set(e.maskedPaths); readonlyPaths = Set(e.readonlyPaths)
        func key(_ b: BindMount) -> String { "\(b.source):\(b.destination):\(b.readOnly)" }
        var binds = e.binds.map(key)
        for l in launcherBinds.map(key) { if let i = binds.firstIndex(of: l) { binds.remove(at: i) } }
        hostBinds = binds.sorted()
        root = e.root; landlock = e.landlock
    }
}
