import BulkheadModel
/// A pod mapped onto bulkhead's own types: one profile layer stack per container, plus the
/// pod-level values the pod layer applies (volumes, bandwidth, PID sharing, the pod cgroup's
/// limits). Pure: the caller supplies the profile lookup and the pod's volume directory.
public struct PodLaunchSpec: Sendable, Equatable {
    public var name: String
    /// The tenant (the pod's Kubernetes namespace).
    public var namespace: String
    public var hostname: String
    public var containers: [ContainerLaunchSpec]
    public var volumes: [PodVolumeLaunch]
    /// `spec.shareProcessNamespace`: the containers share one PID namespace.
    public var shareProcessNamespace: Bool
    public var restartPolicy: PodRestartPolicy
    /// The pod's wall-clock limit (`activeDeadlineSeconds`).
    public var activeDeadlineSeconds: UInt64?
    /// Whether the pod's identity token is mounted (`automountServiceAccountToken`).
    public var mountsIdentityToken: Bool
    /// Token-bucket rates for the pod's veth, bits per second (the CNI bandwidth plugin's
    /// `kubernetes.io/ingress-bandwidth` / `egress-bandwidth`).
    public var ingressBitsPerSecond: UInt64?
    public var egressBitsPerSecond: UInt64?
    /// On bulkhead's node network (`bulkhead.dev/network: node`, the default), or loopback only.
    public var nodeNetwork = true
    /// The pod cgroup's limits (cpu, memory, pids); nil fields mean no pod-level limit.
    public var podLimits: ResourceSpec
    /// The pod cgroup's requests: `cpuMilli` is the sum of the containers' requests.cpu (a
    /// container without one counts 0), which becomes the pod cgroup's CPU weight, as the
    /// kubelet sets a pod's cpu.shares; nil when no container requests CPU.
    public var podRequests = ResourceSpec()
    /// Where each of `podLimits` came from.
    public var podLimitsSource: PodLimitsSource
    public var ignoredFields: [IgnoredField]
    public var notes: [String]
    /// `metadata.annotations`, for the admission checks that read them (AppArmor).
    public var annotations: [String: String] = [:]
    /// `metadata.labels`, for network policy (podSelector).
    public var labels: [String: String] = [:]
}

/// How the pod cgroup's limits were decided.
public enum PodLimitsSource: String, Sendable, Equatable {
    /// The sum of the containers' effective limits, per resource, when every container has
    /// one (Kubernetes' pod cgroup rule); a resource some container leaves unlimited is
    /// unlimited for the pod.
    case sumOfContainers = "sum-of-containers"
    /// `bulkhead.dev/pod-limits` set some of them; the others are the sum.
    case annotation
}

/// One container as bulkhead launches it.
public struct ContainerLaunchSpec: Sendable, Equatable {
    public var name: String
    /// `image`, for the report only.
    public var image: String
    /// The layer profile chosen by annotation (or `PodManifest.defaultProfile`).
    public var profileName: String
    /// The profile's layers (base first) and, last, the container's own layer.
    public var layers: [ProfileLayer]
    /// The profile's layers alone, base first (`layers` without the container's own): what
    /// the launch merges again with the container's layer and what the pod layer adds to it.
    public var profileLayers: [ProfileLayer] { Array(layers.dropLast()) }
    /// The container's own layer: its securityContext over the pod's, resources, env,
    /// workingDir, hostname, root filesystem and volume binds.
    public var containerLayer: ProfileLayer
    /// `EffectiveProfile.resolve(layers)`.
    public var effective: EffectiveProfile
    /// command + args.
    public var argv: [String]
    /// True when the container runs on the host's root, read-only (no rootfs annotation and
    /// no root directory in its profile): the report says so.
    public var runsOnHostRoot: Bool
}

/// An emptyDir as the pod layer creates it.
public struct PodVolumeLaunch: Sendable, Equatable {
    public var name: String
    public var medium: EmptyDirMedium
    public var sizeLimitBytes: UInt64?
    /// `<volumeDirectory>/<name>`: the directory bound into every container that mounts it.
    public var hostPath: String
    /// A secret volume: the tenant's secret copied in (see `PodVolume.secretName`).
    public var secretName: String? = nil
}

extension PodManifest {
    /// The profile a container gets without a `bulkhead.dev/profile` annotation.
    public static let defaultProfile = "container"

    /// Maps the pod onto profile layers and pod-level values.
    ///
    /// - Parameters:
    ///   - volumeDirectory: the absolute host directory under which the pod layer creates
    ///     one directory per emptyDir volume.
    ///   - profileLayers: the layers of a named profile, base first (the caller reads files).
    public func launchSpec(
        volumeDirectory: String,
        profileLayers: (String) throws(ConfigError) -> [ProfileLayer]
    ) throws(ConfigError) -> PodLaunchSpec {
        let vdir = ProfileParser.normalize(volumeDirectory)
        let volumesOut = volumes.map { PodVolumeLaunch(name: $0.name, medium: $0.medium, sizeLimitBytes: $0.sizeLimitBytes, hostPath: vdir + "/" + $0.name,
                                                   secretName: $0.secretName) }
        var out: [ContainerLaunchSpec] = []
        for (i, c) in containers.enumerated() {
            let field = "spec.containers[\(i)]"
            let profileName = c.profile ?? Self.defaultProfile
            // The profile's error after the container's place, with its errno (a profile that
            // cannot be opened).
            func fail(_ msg: String) -> ConfigError { ConfigError(file: file, field: field, message: "container \(c.name), profile \(profileName): \(msg)") }
            func failing(_ e: ConfigError) -> ConfigError { var f = fail(e.description); f.errno = e.errno; return f }
            let base: [ProfileLayer]
            do { base = try profileLayers(profileName) } catch { throw failing(error) }
            let baseEffective: EffectiveProfile
            do { baseEffective = try EffectiveProfile.resolve(base) } catch { throw failing(error) }
            // A pod's containers live in the pod's namespaces; a profile that turns one off
            // would be hostUsers/hostNetwork/hostPID/hostIPC: true, which the manifest may not ask
            // for. Checked on the profile, before the pod's layer: that layer always sets the
            // pod's hostname, which with the host's UTS namespace is refused for the hostname.
            for (ns, k8s) in [(Namespace.user, "hostUsers: true"), (.network, "hostNetwork: true"), (.pid, "hostPID: true"), (.ipc, "hostIPC: true"), (.uts, "the host's UTS namespace")]
            where !baseEffective.namespaces.contains(ns) {
                throw fail("the profile turns off the \(ns.rawValue) namespace, which in a pod means \(k8s); a pod's containers always get it")
            }

            var top = ProfileLayer()
            top.source = file
            for sc in [podSecurityContext, c.securityContext] {
                if let v = sc.runAsUser { top.runAsUser = v }
                if let v = sc.runAsGroup { top.runAsGroup = v }
                if let v = sc.runAsNonRoot { top.runAsNonRoot = v }
                // The pod's supplementalGroups add to the layer profile's, as --group-add does.
                if let v = sc.supplementalGroups { top.supplementalGroups = v; top.addsGroups = true }
                if let v = sc.seccomp { top.seccomp = v }
                if let v = sc.capabilities { top.capabilities = v }
                if let v = sc.readOnlyRootFilesystem { top.readOnlyRootFilesystem = v }
                if let v = sc.allowPrivilegeEscalation { top.allowPrivilegeEscalation = v }
            }
            top.limits = c.limits
            top.requests = c.requests
            top.env = c.env
            top.workingDir = c.workingDir
            top.hostname = hostname
            if let r = c.rootfs { top.root = RootFilesystem(path: r) }
            if !c.volumeMounts.isEmpty {
                // binds replace the profile's list, so the profile's own binds come first.
                top.binds = baseEffective.binds + c.volumeMounts.map { m in
                    BindMount(source: vdir + "/" + m.name, destination: m.mountPath, readOnly: m.readOnly)
                }
            }
            let layers = base + [top]
            let effective: EffectiveProfile
            do { effective = try EffectiveProfile.resolve(layers) } catch { throw failing(error) }

            // The pod's layer sets no namespace: the profile's, checked above, are the container's.
            guard effective.namespaces == baseEffective.namespaces else { throw fail("the pod's layer changed the profile's namespaces") }
            if effective.root == .host && !effective.readOnlyRootFilesystem {
                let where_ = c.securityContext.readOnlyRootFilesystem == false ? "readOnlyRootFilesystem: false" : "the profile's readOnlyRootFilesystem: false"
                throw ConfigError(
                    file: file, field: c.securityContext.readOnlyRootFilesystem == false ? "\(field).securityContext.readOnlyRootFilesystem" : field,
                    message: "container \(c.name), profile \(profileName): \(where_) needs a root filesystem directory (annotation \(PodManifestParser.rootfsAnnotation).\(c.name)); a pod never writes to the host's root")
            }
            if effective.network == .host { throw fail("network mode host is not allowed in a pod (hostNetwork: true)") }
            out.append(ContainerLaunchSpec(
                name: c.name, image: c.image, profileName: profileName, layers: layers, containerLayer: top,
                effective: effective, argv: c.argv, runsOnHostRoot: effective.root == .host))
        }

        var limits = ResourceSpec()
        // The pod's limits are the sums of its containers'; a sum beyond the field's range is
        // refused here, named, rather than saturated or wrapped.
        func sum(_ key: KeyPath<ResourceSpec, UInt64?>, _ f: NumberField, _ name: String, requests: Bool = false) throws(ConfigError) -> UInt64? {
            let values = out.map { requests ? $0.effective.requests[keyPath: key] : $0.effective.limits[keyPath: key] }
            if !requests && values.contains(where: { $0 == nil }) { return nil }
            if requests && !values.contains(where: { $0 != nil }) { return nil }
            guard let total = f.sum(values.compactMap { $0 }) else {
                throw ConfigError(file: file, field: "spec.containers[*].resources.\(requests ? "requests" : "limits").\(name)",
                                  message: "the containers' \(name) \(requests ? "requests" : "limits") add up to more than the pod may have; accepted: \(f.rangeText) for the sum")
            }
            return total
        }
        limits.cpuMilli = try sum(\.cpuMilli, .cpu, "cpu")
        limits.memoryBytes = try sum(\.memoryBytes, .memory, "memory")
        limits.pids = try sum(\.pids, .pids, "pids")
        let requestsCPU = try sum(\.cpuMilli, .cpu, "cpu", requests: true)
        var source = PodLimitsSource.sumOfContainers
        if let o = podLimitsOverride {
            limits = o.over(limits)
            source = .annotation
        }
        // The parser's notes on root filesystems knew only the annotations; the profile may
        // name a root directory too, so those notes are rewritten from the effective profiles.
        var notes = self.notes.filter { n in !containers.contains { n.hasPrefix("container \($0.name): image ") } }
        for c in out {
            switch c.effective.root {
            case .host:
                notes.append("container \(c.name): image \(c.image) is not pulled; it runs on the host's root filesystem, read-only (set \(PodManifestParser.rootfsAnnotation).\(c.name) to a root filesystem directory)")
            case .directory(let d):
                notes.append("container \(c.name): image \(c.image) is not pulled; it runs on the root filesystem directory \(d)")
            }
        }
        if !nodeNetwork && (ingressBitsPerSecond != nil || egressBitsPerSecond != nil) {
            throw ConfigError(file: file, field: "metadata.annotations.\(PodManifestParser.networkAnnotation)",
                              message: "a pod without the node network (none) has no veth to shape; remove the bandwidth annotations or use node")
        }
        var spec = PodLaunchSpec(
            name: name, namespace: namespace, hostname: hostname, containers: out, volumes: volumesOut,
            shareProcessNamespace: shareProcessNamespace, restartPolicy: restartPolicy,
            activeDeadlineSeconds: activeDeadlineSeconds, mountsIdentityToken: automountServiceAccountToken,
            ingressBitsPerSecond: ingressBitsPerSecond, egressBitsPerSecond: egressBitsPerSecond,
            podLimits: limits, podLimitsSource: source, ignoredFields: ignoredFields, notes: notes)
        spec.nodeNetwork = nodeNetwork
        spec.annotations = metadata.annotations
        spec.labels = metadata.labels
        spec.podRequests.cpuMilli = requestsCPU
        return spec
    }
}
