/// A Kubernetes NetworkPolicy (`networking.k8s.io/v1`) in the subset bulkhead enforces on its
/// node bridge: pod and namespace selectors, TCP/UDP port numbers and ranges, Ingress and
/// Egress. `ipBlock` and named ports are refused (see `NetworkPolicyParser`).
public struct NetworkPolicyManifest: Sendable, Equatable {
    public var metadata: ObjectMeta
    /// The pods of `metadata.namespace` the policy applies to; `{}` selects all of them.
    public var podSelector: LabelSelector
    /// `policyTypes`, defaulted as Kubernetes does: Ingress, plus Egress when egress rules exist.
    public var policyTypes: Set<NetworkPolicyType>
    /// Ingress rules; with Ingress in policyTypes, the selected pods accept only what some
    /// rule of some policy allows. An empty list allows nothing (deny all).
    public var ingress: [NetworkPolicyRule]
    public var egress: [NetworkPolicyRule]
    public var ignoredFields: [IgnoredField]

    public var name: String { metadata.name }
    public var namespace: String { metadata.namespace }

    public init(metadata: ObjectMeta, podSelector: LabelSelector = .everything, policyTypes: Set<NetworkPolicyType> = [.ingress],
                ingress: [NetworkPolicyRule] = [], egress: [NetworkPolicyRule] = [], ignoredFields: [IgnoredField] = []) {
        self.metadata = metadata; self.podSelector = podSelector; self.policyTypes = policyTypes
        self.ingress = ingress; self.egress = egress; self.ignoredFields = ignoredFields
    }
}

public enum NetworkPolicyType: String, Sendable, Hashable, CaseIterable, Comparable {
    case ingress = "Ingress"
    case egress = "Egress"
    public static func < (a: Self, b: Self) -> Bool { a == .ingress && b == .egress }
}

/// One `ingress[]` or `egress[]` rule: traffic matching some peer AND some port is allowed.
public struct NetworkPolicyRule: Sendable, Hashable {
    /// `from` (ingress) or `to` (egress). Empty: every peer, inside or outside the node.
    public var peers: [NetworkPolicyPeer]
    /// Empty: every protocol and port.
    public var ports: [NetworkPolicyPort]
    public init(peers: [NetworkPolicyPeer] = [], ports: [NetworkPolicyPort] = []) { self.peers = peers; self.ports = ports }
}

/// A peer: pods matching `podSelector` in namespaces matching `namespaceSelector` (both
/// given: AND). Only podSelector: pods of the policy's own namespace. Only
/// namespaceSelector: every pod of the matching namespaces.
public struct NetworkPolicyPeer: Sendable, Hashable {
    public var podSelector: LabelSelector?
    public var namespaceSelector: LabelSelector?
    public init(podSelector: LabelSelector? = nil, namespaceSelector: LabelSelector? = nil) {
        self.podSelector = podSelector; self.namespaceSelector = namespaceSelector
    }
}

public enum NetworkProtocol: String, Sendable, Hashable, CaseIterable, Comparable {
    case tcp = "TCP"
    case udp = "UDP"
    public static func < (a: Self, b: Self) -> Bool { a == .tcp && b == .udp }
}

/// `ports[]`: a protocol, and a port number or range (`port`..`endPort`); no port: all ports of the protocol.
public struct NetworkPolicyPort: Sendable, Hashable {
    public var `protocol`: NetworkProtocol
    public var port: UInt16?
    public var endPort: UInt16?
    public init(protocol: NetworkProtocol = .tcp, port: UInt16? = nil, endPort: UInt16? = nil) {
        self.protocol = `protocol`; self.port = port; self.endPort = endPort
    }
}

