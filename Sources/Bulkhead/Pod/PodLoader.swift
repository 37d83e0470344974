import BulkheadConfig
import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Glibc

/// What admitting a pod into its tenant adds to its `PodLaunchSpec` for the launch: the
/// values that come from the tenant and its quotas, not from the Pod's manifest.
public struct PodAdmission: Sendable {
    /// Pods of the default tenant: `TenantAdmission.defaultNamespaceRange`, the range after
    /// the one plain `bulkhead run` sandboxes use (admission checks the pod's ids against it).
    public static let defaultTenantRange = TenantAdmission.defaultNamespaceRange

    /// The host range of the pod's user namespace: its tenant's, else `defaultTenantRange`.
    public var hostIDRange: IDRange
    /// The tenant's aggregate limits (its ResourceQuotas), on the tenant's cgroup.
    public var tenantLimits = ResourceSpec()
    /// Secret volumes: volume name → the secret's directory on the host, inside the tenant's
    /// own directory under `PodLoader.secretsRoot`.
    public var secretSources: [String: String] = [:]
    /// The tenant's labels, for network policy (namespaceSelector).
    public var namespaceLabels: [String: String] = [:]
    /// What the tenant's Pod Security `warn` level says of the pod (the report's notes).
    public var warnings: [String] = []

    public init(hostIDRange: IDRange = Self.defaultTenantRange) { self.hostIDRange = hostIDRange }
}

/// From manifest files to a pod ready to launch: the Pod (and optionally its Tenant and quotas)
/// read, mapped onto profiles (`PodLaunchSpec`, each profile read once), admitted into the
/// tenant (`PodAdmission`). No side effects.
public enum PodLoader {
    /// The only place secret volumes are copied from: a Tenant's secretsDirectory must be inside.
    public static let secretsRoot = "/var/lib/bulkhead/secrets"

    /// What `PodRunner.run` launches.
    public struct Loaded: Sendable {
        public var spec: PodLaunchSpec
        public var admission: PodAdmission
        /// For the caller and the report: the mapping's notes, then the Pod Security warnings.
        public var notes: [String] { spec.notes + admission.warnings }

        public init(spec: PodLaunchSpec, admission: PodAdmission) { self.spec = spec; self.admission = admission }
    }

    /// - Parameter files: manifest files (`---`-separated documents); exactly one Pod among them.
    public static func load(files: [String], store: ProfileStore = .standard()) throws(LaunchError) -> Loaded {
        var set = ManifestSet()
        var privateFiles: Set<String> = []
        // Every error of every file, in file order (each file's as its parser collected them),
        // so that a new user sees them all at once.
        var parsed: [(file: String, set: ManifestSet)] = []
        var inputErrors: [ConfigError] = []
        for f in files {
            do throws(ConfigError) {
                let c = try ProfileStore.readChecked(f, what: "manifest")
                if c.isPrivate { privateFiles.insert(f) }
                let (s, errors) = try ProfileStore.parsing(private: c.isPrivate) { () throws(ConfigError) in try ManifestSet.parseCollecting(c.text, file: f) }
                // A root-only file's errors keep their place but none of its text.
                inputErrors += c.isPrivate ? errors.map { $0.withoutContent() } : errors
                parsed.append((f, s))
            } catch { inputErrors.append(error) }
        }
        guard inputErrors.isEmpty else { throw LaunchError(inputErrors) }
        do throws(ConfigError) {
            for (f, s) in parsed {
                // The namespace's Tenant (its Pod Security level, ids, secrets) and quotas are the
                // administrator's, as a Kubernetes namespace's labels and ResourceQuotas are: a
                // file that holds a Pod cannot also choose the rules that Pod is admitted by.
                if !s.pods.isEmpty && !(s.tenants.isEmpty && s.resourceQuotas.isEmpty) {
                    throw ConfigError(file: f, field: "kind",
                                      message: "this file holds a Pod and also a \(s.tenants.isEmpty ? "ResourceQuota" : "Tenant"): a Pod's file cannot define the Tenant or quota it is admitted by; put them in a file of their own and pass both (`bulkhead pod run POD.yaml TENANT.yaml`)")
                }
                set.pods += s.pods; set.tenants += s.tenants; set.resourceQuotas += s.resourceQuotas
                set.networkPolicies += s.networkPolicies
            }
            try set.validate()
            // A tenant's range may not overlap the ranges bulkhead hands out itself: sandboxes of
            // both would own the same host files. (Owners are in the owner band: IDRange.)
            let files = try HostIdentity.subordinateFiles()
            let reserved = HostIdentity.reservedRanges(subordinate: files.bulkhead, delegated: files.delegated)
            // Nor the range of a pod that runs, unless it is that pod's own tenant with the same
            // range: tenants given in other invocations are never checked against each other,
            // and B's id 0 on A's first id is a host uid that owns A's user namespaces.
            // (Checked here to fail early; PodRunner.run checks again under the node lock, in
            // one step with writing the pod's own info.json.)
            let running = PodRunner.runningRanges { namespace, r in set.tenants.contains { $0.name == namespace && $0.hostIDRange == r } }
            try Tenant.validate(set.tenants, reserved: reserved.map { ($0.name, $0.range) } + running)
        } catch { throw LaunchError(error) }
        guard set.pods.count == 1, let pod = set.pods.first else {
            throw LaunchError(operation: "expected exactly one Pod in \(files.joined(separator: ", ")), found \(set.pods.count)")
        }
        let tenant = set.tenant(pod.namespace)
        let volumeDirectory = PodState.path(tenant: pod.namespace, pod: pod.name) + "/volumes"
        var spec: PodLaunchSpec
        // A root-only manifest: the mapping's errors show none of its text, and its containers'
        // layers stay private through the launch (ProfileLayer.isPrivate), as a profile's do.
        let manifestIsPrivate = privateFiles.contains(pod.file)
        do {
            spec = try ProfileStore.parsing(private: manifestIsPrivate) { () throws(ConfigError) in
                try pod.launchSpec(volumeDirectory: volumeDirectory) { (name: String) throws(ConfigError) -> [ProfileLayer] in
                    try store.layers(for: name)
                }
            }
        } catch { throw LaunchError(error) }
        if manifestIsPrivate {
            for i in spec.containers.indices {
                spec.containers[i].containerLayer.isPrivate = true
                spec.containers[i].layers[spec.containers[i].layers.count - 1].isPrivate = true
            }
        }
        if let tenant {
            // The tenant's running pods are charged against its quotas. Two launchers admitting
            // at the same moment may both pass; the tenant's cgroup bounds them even then.
            let running = PodRunner.list().filter { $0.namespace == pod.namespace }.map {
                PodUsage(name: $0.pod, cpuMilli: $0.limitsCPUMilli, memoryBytes: $0.limitsMemoryBytes)
            }
            let decision = TenantAdmission.admit(spec, tenant: tenant, quotas: set.quotas(pod.namespace), running: running)
            guard decision.isAllowed else {
                throw LaunchError(operation: "admission to tenant \(tenant.name) refused: \(decision.reasons.joined(separator: "; "))")
            }
        } else if pod.namespace != "default" {
            throw LaunchError(operation: "pod \(pod.name) is in namespace \(pod.namespace), but no Tenant of that name was given",
                              hint: "pass the tenant's manifest too (kind: Tenant), or use namespace default")
        } else {
            // The default namespace without a Tenant named default: Pod Security Standards baseline.
            let decision = TenantAdmission.admitToDefaultNamespace(spec, range: PodAdmission.defaultTenantRange)
            guard decision.isAllowed else {
                throw LaunchError(operation: "admission to namespace default refused: \(decision.reasons.joined(separator: "; "))",
                                  hint: "change the pod, or pass a Tenant named default with spec.podSecurity.enforce")
            }
        }
        var admission = PodAdmission(hostIDRange: tenant?.hostIDRange ?? PodAdmission.defaultTenantRange)
        admission.namespaceLabels = tenant?.labels ?? [:]
        admission.tenantLimits = QuotaLimits.tightest(set.quotas(pod.namespace).map(\.hard)).tenantCgroupLimits
        for v in spec.volumes {
            guard let secret = v.secretName else { continue }
            guard let tenant else {
                throw LaunchError(operation: "volume \(v.name) of pod \(pod.name) asks for secret \(secret), but namespace \(pod.namespace) has no Tenant",
                                  hint: "secrets come from a tenant's secretsDirectory: pass the Tenant manifest of \(pod.namespace)")
            }
            // A Tenant's author names its secretsDirectory: only the tenant's own directory under
            // the node's secrets root may be copied into its pods (not /etc, whose ssh/ holds host
            // keys, nor another tenant's directory). The copy then checks owner, mode and type of
            // the directory and each file.
            let dir = ProfileParser.normalize(tenant.secretsDirectory)
            let own = secretsRoot + "/" + tenant.name
            guard dir == own || dir.hasPrefix(own + "/"), !ExactName.hasDotDot(tenant.secretsDirectory) else {
                throw LaunchError(operation: "tenant \(tenant.name): secretsDirectory \(tenant.secretsDirectory) is not the tenant's own \(own)",
                                  hint: "keep each tenant's secrets in \(secretsRoot)/<tenant>, owned by root and writable by no one else")
            }
            admission.secretSources[v.name] = dir + "/" + secret
        }
        admission.warnings = TenantAdmission.podSecurityWarnings(spec, policy: tenant?.podSecurity ?? PodSecurityPolicy())
        return Loaded(spec: spec, admission: admission)
    }
}
