/// Network policy between pods as nftables rules on the node bridge, built from plain
/// values: already resolved rules ("these source networks may reach these destination
/// networks on this port") and a default action for the rest. The NetworkPolicy model that
/// resolves pod selectors into addresses lives elsewhere.
///
/// The rules go into a table of family `bridge` in the node namespace, on the `forward`
/// hook: it sees every frame the bridge forwards from one port to another, so from pod to
/// pod, and needs neither br_netfilter nor any change to the host's own tables.
///
/// This kernel has no conntrack for the bridge family (CONFIG_NF_CONNTRACK_BRIDGE is off),
/// so the rules are stateless: each allow rule also lets the replies back (from the port,
/// to the sources), and a TCP reply must not be a bare SYN, so the destination cannot open
/// a connection of its own from that port. ARP always passes; under a default drop every
/// other IPv4 and IPv6 frame between pods is dropped.
public struct BridgeFilterPolicy: Sendable, Equatable {
    public enum Action: String, Sendable {
        case accept, drop
    }

    public enum TransportProtocol: String, Sendable {
        case tcp, udp
    }

    /// Allows `sources` to reach `destinations` over `proto` on `port` (nil: any port).
    /// An empty list of networks means any address.
    public struct Rule: Sendable, Equatable {
        public var sources: [IPv4CIDR]
        public var destinations: [IPv4CIDR]
        public var proto: TransportProtocol
        public var port: UInt16?

        public init(sources: [IPv4CIDR], destinations: [IPv4CIDR], proto: TransportProtocol = .tcp, port: UInt16?) {
            self.sources = sources
            self.destinations = destinations
            self.proto = proto
            self.port = port
        }
    }

    /// The nft table's name (family bridge).
    public var table: String
    public var rules: [Rule]
    public var defaultAction: Action

    /// Nil when `table` is not 1 to 32 characters of [A-Za-z0-9_].
    public init?(table: String = "bulkhead", rules: [Rule], defaultAction: Action) {
        guard Self.isValidTableName(table) else { return nil }
        self.table = table
        self.rules = rules
        self.defaultAction = defaultAction
    }

    static func isValidTableName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f
        }
    }

    /// One nft transaction that replaces the table whole: `add` makes sure it exists so
    /// that `delete` cannot fail, then the new table is created. Either all of it applies
    /// or nothing changes.
    public var nftScript: String {
        var lines = [
            "add table bridge \(table)",
            "delete table bridge \(table)",
            "table bridge \(table) {",
            "\tchain forward {",
            "\t\ttype filter hook forward priority filter; policy accept;",
        ]
        for rule in rules {
            lines.append("\t\t" + Self.match(rule.sources, "saddr") + Self.match(rule.destinations, "daddr")
                         + Self.portMatch(rule, "dport") + "accept")
            // The replies: stateless, from the port back to the sources.
            var reply = "\t\t" + Self.match(rule.destinations, "saddr") + Self.match(rule.sources, "daddr")
                + Self.portMatch(rule, "sport")
            if rule.proto == .tcp { reply += "tcp flags & (syn | ack) != syn " }
            lines.append(reply + "accept")
        }
        if defaultAction == .drop {
            lines.append("\t\tether type { ip, ip6 } drop")
        }
        lines += ["\t}", "}", ""]
        return lines.joined(separator: "\n")
    }

    /// Removes the table; succeeds when there is none.
    public static func deleteScript(table: String = "bulkhead") -> String {
        "add table bridge \(table)\ndelete table bridge \(table)\n"
    }

    private static func match(_ nets: [IPv4CIDR], _ field: String) -> String {
        nets.isEmpty ? "" : "ip \(field) { \(nets.map { $0.network.description }.joined(separator: ", ")) } "
    }

    private static func portMatch(_ rule: Rule, _ field: String) -> String {
        if let port = rule.port { return "\(rule.proto.rawValue) \(field) \(port) " }
        return "ip protocol \(rule.proto.rawValue) "
    }
}
