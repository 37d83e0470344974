import BulkheadModel
/// A Kubernetes Pod (`apiVersion: v1`, `kind: Pod`) in the subset bulkhead runs on one
/// machine, already validated: every field here is honoured. Cluster-only fields are listed
/// in `ignoredFields`; a field that bears on isolation and cannot be honoured was an error.
public struct PodManifest: Sendable, Equatable {
    public var metadata: ObjectMeta
    public var containers: [PodContainer]
    public var volumes: [PodVolume]
    /// `spec.shareProcessNamespace`: one PID namespace for all containers of the pod.
    public var shareProcessNamespace: Bool
    public var restartPolicy: PodRestartPolicy
    /// `spec.hostname`, else the pod's name (what Kubernetes sets as the UTS hostname).
    public var hostname: String
    /// `spec.activeDeadlineSeconds`: the pod's wall-clock limit.
    public var activeDeadlineSeconds: UInt64?
    /// `spec.automountServiceAccountToken` (default true): whether the pod's identity token
    /// file is mounted into its containers.
    public var automountServiceAccountToken: Bool
    /// `spec.securityContext`: pod-wide defaults (runAsUser, runAsGroup, runAsNonRoot,
    /// seccompProfile) that a container's own securityContext overrides field by field.
    public var podSecurityContext: ProfileLayer
    /// `bulkhead.dev/profile`: the layer profile for containers without their own annotation.
    public var profile: String?
    /// `kubernetes.io/ingress-bandwidth` in bits per second (traffic into the pod).
    public var ingressBitsPerSecond: UInt64?
    /// `kubernetes.io/egress-bandwidth` in bits per second (traffic out of the pod).
    public var egressBitsPerSecond: UInt64?
    /// `bulkhead.dev/pod-limits`: limits for the pod's cgroup; nil: the sum of the containers'.
    public var podLimitsOverride: ResourceSpec?
    /// `bulkhead.dev/network`: on the node bridge (true, the default) or loopback only.
    public var nodeNetwork = true
    /// Accepted cluster-only fields, with their paths.
    public var ignoredFields: [IgnoredField]
    /// Things a report should say about how the pod differs from a cluster run
    /// (no image is pulled, the host root is used, the restart policy was defaulted).
    public var notes: [String]
    /// The manifest's file, for errors raised when the pod is mapped onto profiles.
    public var file: String

    public var name: String { metadata.name }
    public var namespace: String { metadata.namespace }

    public init(metadata: ObjectMeta, containers: [PodContainer], volumes: [PodVolume] = [], shareProcessNamespace: Bool = false,
                restartPolicy: PodRestartPolicy = .never, hostname: String? = nil, activeDeadlineSeconds: UInt64? = nil,
                automountServiceAccountToken: Bool = true, podSecurityContext: ProfileLayer = ProfileLayer(), profile: String? = nil,
                ingressBitsPerSecond: UInt64? = nil, egressBitsPerSecond: UInt64? = nil, podLimitsOverride: ResourceSpec? = nil,
                ignoredFields: [IgnoredField] = [], notes: [String] = [], file: String = "<pod>") {
        self.metadata = metadata; self.containers = containers; self.volumes = volumes
        self.shareProcessNamespace = shareProcessNamespace; self.restartPolicy = restartPolicy
        self.hostname = hostname ?? metadata.name; self.activeDeadlineSeconds = activeDeadlineSeconds
        self.automountServiceAccountToken = automountServiceAccountToken; self.podSecurityContext = podSecurityContext
        self.profile = profile; self.ingressBitsPerSecond = ingressBitsPerSecond; self.egressBitsPerSecond = egressBitsPerSecond
        self.podLimitsOverride = podLimitsOverride; self.ignoredFields = ignoredFields; self.notes = notes; self.file = file
    }
}

/// `spec.restartPolicy`. `Always` is refused: bulkhead runs a pod to completion.
public enum PodRestartPolicy: String, Sendable, Equatable, CaseIterable {
    case never = "Never"
    case onFailure = "OnFailure"
}

/// One entry of `spec.containers`.
public struct PodContainer: Sendable, Equatable {
    public var name: String
    /// `image`: recorded for the report; bulkhead pulls no images (see `rootfs`).
    public var image: String
    /// `command` then `args`, after Kubernetes' `$(VAR)` expansion: the argv bulkhead executes.
    public var argv: [String]
    public var command: [String]
    public var args: [String]
    /// `env` (literal values only), `$(VAR)` references already expanded.
    public var env: [EnvVar]
    public var workingDir: String?
    /// `resources.limits` / `resources.requests` (cpu, memory, ephemeral-storage).
    public var limits: ResourceSpec
    public var requests: ResourceSpec
    /// `securityContext` as a profile layer (only the fields it sets).
    public var securityContext: ProfileLayer
    public var volumeMounts: [PodVolumeMount]
    /// `bulkhead.dev/profile.<name>`, else the pod's `bulkhead.dev/profile`; nil: the default profile.
    public var profile: String?
    /// `bulkhead.dev/rootfs.<name>` or `bulkhead.dev/rootfs`; nil: the host root, read-only.
    public var rootfs: String?

    public init(name: String, image: String, command: [String] = [], args: [String] = [], env: [EnvVar] = [],
                workingDir: String? = nil, limits: ResourceSpec = ResourceSpec(), requests: ResourceSpec = ResourceSpec(),
                securityContext: ProfileLayer = ProfileLayer(), volumeMounts: [PodVolumeMount] = [], profile: String? = nil, rootfs: String? = nil) {
        self.name = name; self.image = image; self.command = command; self.args = args; self.argv = command + args
        self.env = env; self.workingDir = workingDir; self.limits = limits; self.requests = requests
        self.securityContext = securityContext; self.volumeMounts = volumeMounts; self.profile = profile; self.rootfs = rootfs
    }

    /// True when the container runs on the host's root filesystem (read-only) because no
    /// `bulkhead.dev/rootfs` annotation names a root filesystem directory for it.
    public var runsOnHostRoot: Bool { rootfs == nil }
}

/// `volumeMounts[]`.
public struct PodVolumeMount: Sendable, Equatable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool
    public init(name: String, mountPath: String, readOnly: Bool = false) {
        self.name = name; self.mountPath = mountPath; self.readOnly = readOnly
    }
}

/// `spec.volumes[]`: only `emptyDir` is supported.
public struct PodVolume: Sendable, Equatable {
    public var name: String
    public var medium: EmptyDirMedium
    /// `emptyDir.sizeLimit` in bytes; nil: no limit of its own (bounded by the pod's memory
    /// for medium Memory).
    public var sizeLimitBytes: UInt64?
    /// A `secret` volume: the secret of this name from the tenant's secrets directory
    /// (`<secretsDirectory>/<secretName>/`), copied into a read-only tmpfs of the pod as the
    /// kubelet copies a Secret's data; nil for an emptyDir.
    public var secretName: String?
    /// A Secret holds at most 1 MiB in Kubernetes; so does a secret volume here.
    public static let secretSizeLimit: UInt64 = 1 << 20
    public init(name: String, medium: EmptyDirMedium = .disk, sizeLimitBytes: UInt64? = nil, secretName: String? = nil) {
        self.name = name; self.medium = medium; self.sizeLimitBytes = sizeLimitBytes; self.secretName = secretName
    }
}

/// `emptyDir.medium`: "" (node disk) or "Memory" (a tmpfs).
public enum EmptyDirMedium: String, Sendable, Equatable, CaseIterable {
    case disk = ""
    case memory = "Memory"
}
