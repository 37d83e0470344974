import Testing
@testable import BulkheadModel

@Suite struct NodeFirewallTests {
    static let client = RunningPod(name: "client", namespace: "a", labels: ["app": "client"], ip: "10.244.0.2")
    static let server = RunningPod(name: "server", namespace: "a", labels: ["app": "server"], ip: "10.244.0.3")

    @Test("No policy: pods reach each other; only IPv6 between pods is dropped")
    func noPolicy() {
        let s = NodeFirewall.script(NetworkPolicyResolution(ingressIsolated: [], egressIsolated: [], flows: []))
        #expect(s.contains("ether type ip6 drop"))
        #expect(!s.contains("jump"))
        #expect(s.hasPrefix("add table bridge bulkhead\ndelete table bridge bulkhead\n"))
    }

    @Test("An ingress hole: the flow returns from the isolation chain, its replies are accepted, the rest dropped")
    func ingressHole() {
        let r = NetworkPolicyResolution(
            ingressIsolated: [Self.server], egressIsolated: [],
            flows: [AllowedFlow(direction: .ingress, source: "10.244.0.2", destination: "10.244.0.3", protocol: .tcp, port: 8080)])
        let s = NodeFirewall.script(r)
        let expected = """
            add table bridge bulkhead
            delete table bridge bulkhead
            table bridge bulkhead {
            \tchain prerouting {
            \t\ttype filter hook prerouting priority filter; policy accept;
            \t\tiifname "bhv*" drop
            \t}
            \tchain ingress_policy {
            \t\tip saddr 10.244.0.2 ip daddr 10.244.0.3 tcp dport 8080 return
            \t\tdrop
            \t}
            \tchain egress_policy {
            \t\tdrop
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tether type != { ip, ip6 } accept
            \t\tether type ip6 drop
            \t\tip saddr 10.244.0.3 ip daddr 10.244.0.2 tcp sport 8080 tcp flags & (syn | ack) != syn accept
            \t\tip daddr { 10.244.0.3 } jump ingress_policy
            \t}
            }

            """
        #expect(s == expected)
    }

    @Test("Port ranges, any-peer rules, any-protocol rules and egress isolation")
    func shapes() {
        let r = NetworkPolicyResolution(
            ingressIsolated: [Self.server], egressIsolated: [Self.client],
            flows: [
                AllowedFlow(direction: .ingress, source: nil, destination: "10.244.0.3", protocol: .udp, port: 5000, endPort: 5010),
                AllowedFlow(direction: .egress, source: "10.244.0.2", destination: "10.244.0.3"),
                AllowedFlow(direction: .egress, source: "10.244.0.2", destination: nil, protocol: .tcp),
            ])
        let s = NodeFirewall.script(r)
        #expect(s.contains("\t\tip daddr 10.244.0.3 udp dport 5000-5010 return\n"))
        #expect(s.contains("\t\tip saddr 10.244.0.3 udp sport 5000-5010 accept\n"))
        #expect(s.contains("\t\tip saddr 10.244.0.2 ip daddr 10.244.0.3 return\n"))
        #expect(s.contains("\t\tip saddr 10.244.0.3 ip daddr 10.244.0.2 meta l4proto tcp tcp flags & (syn | ack) != syn accept\n"))
        #expect(s.contains("\t\tip saddr 10.244.0.3 ip daddr 10.244.0.2 meta l4proto != tcp accept\n"))
        #expect(s.contains("\t\tip saddr 10.244.0.2 meta l4proto tcp return\n"))
        #expect(s.contains("ip saddr { 10.244.0.2 } jump egress_policy"))
    }

    @Test("Anti-spoofing: a pod's veth passes only IPv4 from the pod's address and ARP whose sender is the pod; every other frame from a bhv port drops")
    func antiSpoofing() {
        let ports = [NodeFirewall.Port(veth: "bhv0003", ip: "10.244.0.3", mac: nil),
                     NodeFirewall.Port(veth: "bhv0002", ip: "10.244.0.2", mac: "02:aa:bb:cc:dd:ee")]
        let s = NodeFirewall.script(NetworkPolicyResolution(ingressIsolated: [], egressIsolated: [], flows: []), ports: ports)
        let expected = """
            \tchain prerouting {
            \t\ttype filter hook prerouting priority filter; policy accept;
            \t\tiifname "bhv0002" ether saddr 02:aa:bb:cc:dd:ee ip saddr 10.244.0.2 accept
            \t\tiifname "bhv0002" ether saddr 02:aa:bb:cc:dd:ee arp htype 1 arp ptype 0x0800 arp hlen 6 arp plen 4 arp saddr ether 02:aa:bb:cc:dd:ee arp saddr ip 10.244.0.2 accept
            \t\tiifname "bhv0003" ip saddr 10.244.0.3 accept
            \t\tiifname "bhv0003" arp htype 1 arp ptype 0x0800 arp hlen 6 arp plen 4 arp saddr ip 10.244.0.3 accept
            \t\tiifname "bhv*" drop
            \t}

            """
        #expect(s.contains(expected), "\(s)")
        // The prerouting chain comes before the policy chains: spoofed frames never reach them.
        #expect(s.range(of: "chain prerouting")!.lowerBound < s.range(of: "chain forward")!.lowerBound)
        // No accept for one pod names another pod's address.
        for line in s.split(separator: "\n") where line.contains("iifname \"bhv0002\"") { #expect(!line.contains("10.244.0.3")) }
    }

    @Test("No pod on the node: every frame from a bhv port is dropped (an unknown veth sends nothing)")
    func unknownPortDrops() {
        let s = NodeFirewall.script(NetworkPolicyResolution(ingressIsolated: [], egressIsolated: [], flows: []))
        #expect(s.contains("\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t\tiifname \"bhv*\" drop\n\t}\n"))
    }
}
