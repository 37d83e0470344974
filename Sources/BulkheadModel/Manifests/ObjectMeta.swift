/// A field of a manifest that bulkhead accepted but does not act on, because it only means
/// something to a cluster (scheduling, image pulling, bookkeeping). Reported, never dropped
/// without a trace.
public struct IgnoredField: Sendable, Equatable, CustomStringConvertible {
    /// The field path, e.g. `spec.containers[0].imagePullPolicy`.
    public var path: String
    /// Why ignoring it cannot weaken isolation.
    public var reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path) (\(reason))" }
}

/// `metadata:` of a Kubernetes object, the part bulkhead reads.
public struct ObjectMeta: Sendable, Equatable {
    /// A DNS-1123 label (it becomes a cgroup and host name).
    public var name: String
    /// The tenant; "default" when absent, as in Kubernetes.
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public init(name: String, namespace: String = "default", labels: [String: String] = [:], annotations: [String: String] = [:]) {
        self.name = name; self.namespace = namespace; self.labels = labels; self.annotations = annotations
    }
}
