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
}
