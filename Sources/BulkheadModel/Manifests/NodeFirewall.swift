/// The node bridge's nftables ruleset for a resolved set of NetworkPolicies: one table of
/// family `bridge` whose `forward` chain sees every frame the bridge passes from one pod's
/// veth to another's. Pure: it turns a `NetworkPolicyResolution` into nft(8) text.
///
/// The Kubernetes rule is kept: a new connection passes only if the destination's ingress
/// side and the source's egress side both allow it, and a pod no policy isolates accepts
/// (sends) everything. In nft terms: frames to an ingress-isolated pod jump to
/// `ingress_policy`, whose allow rules `return` and whose last rule drops; frames from an
/// egress-isolated pod then jump to `egress_policy`, the same way.
///
/// Stateless: this kernel has no connection tracking for the bridge family, so each allowed
/// flow also lets its replies back (from the destination's port to the source). A TCP reply
/// must not be a bare SYN, so the destination cannot open a connection of its own from the
/// allowed port; a UDP "reply" cannot be told from a datagram the destination starts, which
/// is the one hole a stateless filter leaves (documented in docs/network.md). The node
/// network is IPv4 only: IPv6 frames between pods are dropped.
///
/// Policies match on source addresses, so the node first makes them true: the `prerouting`
/// chain (every frame entering the bridge from a port, to another pod or to the node itself)
/// accepts from a pod's veth only IPv4 whose source is the pod's address and ARP whose
/// sender is the pod (IP, and MAC when known: the Ethernet source too), and drops every other
/// frame from any `bhv*` port: spoofed IPv4 and ARP, IPv6, VLAN tags, other ethertypes, and
/// anything from a veth the node does not know.
public enum NodeFirewall {
    /// The table bulkhead owns in the node namespace.
    public static let table = "bulkhead"
    /// Every pod's node-side veth starts with this (`NodeNetwork.vethName`).
    public static let portPrefix = "bhv"

    /// A pod's port on the bridge: its node-side veth and what the pod may send from it.
    public struct Port: Sendable, Equatable {
        public var veth: String
        public var ip: String
        /// The pod's eth0 address (`aa:bb:cc:dd:ee:ff`); nil: the Ethernet source is not pinned.
        public var mac: String?
        public init(veth: String, ip: String, mac: String?) { self.veth = veth; self.ip = ip; self.mac = mac }
    }

    /// The anti-spoofing rules for `ports` (one accept per pod and protocol, then the drop).
    static func antiSpoofing(_ ports: [Port]) -> [String] {
        var rules = ["type filter hook prerouting priority filter; policy accept;"]
        for p in ports.sorted(by: { $0.veth < $1.veth }) {
            let ether = p.mac.map { "ether saddr \($0) " } ?? ""
            rules.append("iifname \"\(p.veth)\" \(ether)ip saddr \(p.ip) accept")
            // Ethernet/IPv4 ARP only (the fixed offsets nft reads assume it), sender = the pod.
            rules.append("iifname \"\(p.veth)\" \(ether)arp htype 1 arp ptype 0x0800 arp hlen 6 arp plen 4 "
                         + (p.mac.map { "arp saddr ether \($0) " } ?? "") + "arp saddr ip \(p.ip) accept")
        }
        rules.append("iifname \"\(portPrefix)*\" drop")
        return rules
    }

    /// One nft transaction that replaces the table whole (`add` then `delete` so that the
    /// delete cannot fail on a first run): all of it applies, or nothing changes.
    public static func script(_ resolution: NetworkPolicyResolution, ports: [Port] = []) -> String {
        var ingress: [String] = [], egress: [String] = [], replies: [String] = []
        for flow in resolution.flows {
            let rule = match(saddr: flow.source, daddr: flow.destination) + portMatch(flow, "dport")
            if flow.direction == .ingress { ingress.append(rule + "return") } else { egress.append(rule + "return") }
            let back = match(saddr: flow.destination, daddr: flow.source) + portMatch(flow, "sport")
            switch flow.protocol {
            case .tcp: replies.append(back + "tcp flags & (syn | ack) != syn accept")
            case .udp: replies.append(back + "accept")
            case nil:
                replies.append(back + "meta l4proto tcp tcp flags & (syn | ack) != syn accept")
                replies.append(back + "meta l4proto != tcp accept")
            }
        }
        var lines = ["add table bridge \(table)", "delete table bridge \(table)", "table bridge \(table) {"]
        lines += chain("prerouting", antiSpoofing(ports))
        lines += chain("ingress_policy", ingress + ["drop"])
        lines += chain("egress_policy", egress + ["drop"])
        var forward = [
            "type filter hook forward priority filter; policy accept;",
            "ether type != { ip, ip6 } accept",
            "ether type ip6 drop",
        ]
        forward += unique(replies)
        let inIPs = unique(resolution.ingressIsolated.map(\.ip)), outIPs = unique(resolution.egressIsolated.map(\.ip))
        if !inIPs.isEmpty { forward.append("ip daddr { \(inIPs.joined(separator: ", ")) } jump ingress_policy") }
        // By port as well: a broadcast or multicast frame is flooded to every port with a
        // destination address that is no pod's. Through an isolated pod's port it passes only
        // what the pod's ingress rules allow (they name its address: a broadcast drops).
        let inPorts = unique(inIPs.compactMap { ip in ports.first { $0.ip == ip }.map { "\"\($0.veth)\"" } })
        if !inPorts.isEmpty { forward.append("oifname { \(inPorts.joined(separator: ", ")) } jump ingress_policy") }
        if !outIPs.isEmpty { forward.append("ip saddr { \(outIPs.joined(separator: ", ")) } jump egress_policy") }
        lines += chain("forward", forward)
        lines += ["}", ""]
        return lines.joined(separator: "\n")
    }

    /// Removes the table; succeeds when there is none.
    public static var deleteScript: String { "add table bridge \(table)\ndelete table bridge \(table)\n" }

    private static func chain(_ name: String, _ rules: [String]) -> [String] {
        ["\tchain \(name) {"] + rules.map { "\t\t" + $0 } + ["\t}"]
    }

    private static func match(saddr: String?, daddr: String?) -> String {
        (saddr.map { "ip saddr \($0) " } ?? "") + (daddr.map { "ip daddr \($0) " } ?? "")
    }

    private static func portMatch(_ flow: AllowedFlow, _ field: String) -> String {
        guard let proto = flow.protocol else { return "" }
        let name = proto.rawValue.lowercased()
        guard let port = flow.port else { return "meta l4proto \(name) " }
        return "\(name) \(field) \(port)" + (flow.endPort.map { "-\($0)" } ?? "") + " "
    }

    private static func unique(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }
}
