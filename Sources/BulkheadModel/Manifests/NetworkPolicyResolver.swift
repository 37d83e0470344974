/// A pod on the node network, as the resolver sees it.
public struct RunningPod: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    /// The pod's address on the node bridge.
    public var ip: String
    public init(name: String, namespace: String, labels: [String: String] = [:], ip: String) {
        self.name = name; self.namespace = namespace; self.labels = labels; self.ip = ip
    }
}

/// A namespace (tenant) and its labels. Every namespace also carries
/// `kubernetes.io/metadata.name: <name>`, as the API server sets it.
public struct NamespaceLabels: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    public init(name: String, labels: [String: String] = [:]) { self.name = name; self.labels = labels }
}

/// One allowed flow. An ingress flow opens a hole in an ingress-isolated destination's
/// default deny; an egress flow opens one in an egress-isolated source's.
public struct AllowedFlow: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var direction: NetworkPolicyType
    /// The source IP; nil: any source, inside or outside the node (an ingress rule without `from`).
    public var source: String?
    /// The destination IP; nil: any destination (an egress rule without `to`).
    public var destination: String?
    /// nil: every protocol (a rule without `ports`).
    public var `protocol`: NetworkProtocol?
    /// nil: every port of the protocol.
    public var port: UInt16?
    /// With `port`, the last port of the range (inclusive).
    public var endPort: UInt16?

    public init(direction: NetworkPolicyType, source: String?, destination: String?, protocol: NetworkProtocol? = nil,
                port: UInt16? = nil, endPort: UInt16? = nil) {
        self.direction = direction; self.source = source; self.destination = destination
        self.protocol = `protocol`; self.port = port; self.endPort = endPort
    }

    public static func < (a: Self, b: Self) -> Bool { a.sortKey < b.sortKey }
    /// Direction, destination, source, protocol, port: a stable order for rule generation and tests.
    var sortKey: String {
        func padded(_ p: UInt16?) -> String { p.map { let s = String($0); return String(repeating: "0", count: 5 - s.count) + s } ?? "*" }
        return [direction == .ingress ? "0" : "1", destination ?? "*", source ?? "*", self.protocol?.rawValue ?? "*", padded(port), padded(endPort)]
            .joined(separator: "|")
    }

    public var description: String {
        let proto = self.protocol?.rawValue ?? "any"
        let ports = port.map { p in endPort.map { "\(p)-\($0)" } ?? "\(p)" } ?? "any"
        return "\(direction.rawValue.lowercased()): \(source ?? "any") -> \(destination ?? "any") \(proto)/\(ports)"
    }

    /// Whether this flow covers a packet.
    public func matches(source s: String?, destination d: String?, protocol p: NetworkProtocol, port n: UInt16) -> Bool {
        if let source, source != s { return false }
        if let destination, destination != d { return false }
        if let pr = self.protocol, pr != p { return false }
        if let port {
            if let endPort { return (port...endPort).contains(n) }
            return port == n
        }
        return true
    }
}

/// What the node network must enforce: default deny for isolated pods, and the holes.
public struct NetworkPolicyResolution: Sendable, Equatable {
    /// Pods selected by some policy with Ingress in its policyTypes: they accept only the
    /// ingress flows below. Every other pod accepts everything.
    public var ingressIsolated: [RunningPod]
    /// Pods selected by some policy with Egress: they may send only the egress flows below.
    public var egressIsolated: [RunningPod]
    /// Ingress flows (destination always an ingress-isolated pod) and egress flows (source
    /// always an egress-isolated pod), sorted, without duplicates.
    public var flows: [AllowedFlow]

    /// The Kubernetes rule for one new connection: the destination's ingress side and the
    /// source's egress side must both allow it; a side with no isolating policy allows all.
    /// `source`/`destination` nil: an address that is not a pod's (the host, the outside).
    public func allows(source: String?, destination: String?, protocol p: NetworkProtocol, port: UInt16) -> Bool {
        if let d = destination, ingressIsolated.contains(where: { $0.ip == d }) {
            guard flows.contains(where: { $0.direction == .ingress && $0.matches(source: source, destination: d, protocol: p, port: port) }) else { return false }
        }
        if let s = source, egressIsolated.contains(where: { $0.ip == s }) {
            guard flows.contains(where: { $0.direction == .egress && $0.matches(source: s, destination: destination, protocol: p, port: port) }) else { return false }
        }
        return true
    }
}

/// Turns NetworkPolicies into flows, as Kubernetes defines their meaning. Pure.
///
/// - A policy selects pods of its own namespace by `podSelector` (`{}`: all of them); a
///   policy that selects no running pod has no effect.
/// - A pod selected by any policy with Ingress (Egress) is isolated in that direction: only
///   what some rule of some such policy allows gets through (policies add up; none subtracts).
/// - A rule allows traffic matching any of its peers (OR) and any of its ports (OR). A rule
///   without peers matches every peer; one without ports every protocol and port.
/// - A peer with podSelector and namespaceSelector matches pods that satisfy both (AND).
public enum NetworkPolicyResolver {
    public static let namespaceNameLabel = "kubernetes.io/metadata.name"

    public static func resolve(pods: [RunningPod], namespaces: [NamespaceLabels], policies: [NetworkPolicyManifest]) -> NetworkPolicyResolution {
        var nsLabels: [String: [String: String]] = [:]
        for n in namespaces { nsLabels[n.name] = n.labels.merging([namespaceNameLabel: n.name]) { _, b in b } }
        func labels(ofNamespace n: String) -> [String: String] { nsLabels[n] ?? [namespaceNameLabel: n] }

        func peerPods(_ peer: NetworkPolicyPeer, policyNamespace: String) -> [RunningPod] {
            pods.filter { pod in
                if let ns = peer.namespaceSelector {
                    guard ns.matches(labels(ofNamespace: pod.namespace)) else { return false }
                } else if pod.namespace != policyNamespace {
                    return false
                }
                return peer.podSelector?.matches(pod.labels) ?? true
            }
        }

        var ingressIsolated: [RunningPod] = [], egressIsolated: [RunningPod] = []
        var flows = Set<AllowedFlow>()
        for pod in pods {
            let selecting = policies.filter { $0.namespace == pod.namespace && $0.podSelector.matches(pod.labels) }
            for direction in NetworkPolicyType.allCases {
                let applying = selecting.filter { $0.policyTypes.contains(direction) }
                guard !applying.isEmpty else { continue }
                if direction == .ingress { ingressIsolated.append(pod) } else { egressIsolated.append(pod) }
                // Each distinct rule once, its peers as distinct addresses and its ports distinct:
                // the product below is then bounded by the pods and the distinct ports, never by
                // how often a manifest repeats them (anchors, aliases, or written out).
                var seen = Set<NetworkPolicyRule>()
                for policy in applying {
                    for rule in direction == .ingress ? policy.ingress : policy.egress where seen.insert(rule).inserted {
                        // nil: any peer (the rule has no from/to).
                        var peers: [String?] = []
                        if rule.peers.isEmpty { peers = [nil] } else {
                            var ips = Set<String>()
                            for peer in Set(rule.peers) { for p in peerPods(peer, policyNamespace: policy.namespace) where ips.insert(p.ip).inserted { peers.append(p.ip) } }
                        }
                        var ports: [NetworkPolicyPort?] = []
                        if rule.ports.isEmpty { ports = [nil] } else {
                            var distinct = Set<NetworkPolicyPort>()
                            for p in rule.ports where distinct.insert(p).inserted { ports.append(p) }
                        }
                        for peer in peers {
                            for port in ports {
                                flows.insert(AllowedFlow(
                                    direction: direction,
                                    source: direction == .ingress ? peer : pod.ip,
                                    destination: direction == .ingress ? pod.ip : peer,
                                    protocol: port?.protocol, port: port?.port, endPort: port?.endPort))
                            }
                        }
                    }
                }
            }
        }
        return NetworkPolicyResolution(ingressIsolated: ingressIsolated, egressIsolated: egressIsolated, flows: flows.sorted())
    }
}
