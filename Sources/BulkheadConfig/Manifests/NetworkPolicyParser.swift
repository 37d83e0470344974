import BulkheadModel

/// Reads a NetworkPolicy strictly. Pure.
public enum NetworkPolicyParser {
    public static let apiVersion = "networking.k8s.io/v1"
    public static let kind = "NetworkPolicy"

    public static func parse(_ text: String, file: String) throws(ConfigError) -> NetworkPolicyManifest {
        try parse(try ConfigNode.parse(text, file: file))
    }

    public static func parse(_ doc: ConfigNode) throws(ConfigError) -> NetworkPolicyManifest {
        var ignored: [IgnoredField] = []
        let top = try ManifestFields.objectTop.mapping(doc, ignored: &ignored)
        try PodManifestParser.checkType(top, apiVersion: apiVersion, kind: kind, owner: doc)
        let meta = try ManifestFields.parseMetadata(top["metadata"], owner: doc, ignored: &ignored)
        let spec = try top.require("spec").mapping(allowed: ["podSelector", "policyTypes", "ingress", "egress"])
        var p = NetworkPolicyManifest(metadata: meta)
        // An absent podSelector is the empty selector, as the API's zero value is.
        if let s = spec["podSelector"] { p.podSelector = try LabelSelector.parse(s) }
        if let i = spec["ingress"] { p.ingress = try i.sequence().map { (n) throws(ConfigError) in try parseRule(n, peersKey: "from") } }
        if let e = spec["egress"] { p.egress = try e.sequence().map { (n) throws(ConfigError) in try parseRule(n, peersKey: "to") } }
        if let t = spec["policyTypes"] {
            var types = Set<NetworkPolicyType>()
            for n in try t.sequence() {
                let s = try n.string()
                guard let type = NetworkPolicyType(exactly: s) else { throw n.error("unknown policy type \"\(s)\"; allowed: Ingress, Egress") }
                guard types.insert(type).inserted else { throw n.error("\(s) is listed twice") }
            }
            guard !types.isEmpty else { throw t.error("policyTypes may not be empty; leave it out for the default") }
            // Kubernetes ignores rules of a type the policy does not list; here that is an error, never silent.
            if !types.contains(.ingress), let i = spec["ingress"], !i.isEmptyValue {
                throw i.error("ingress rules are given but policyTypes does not list Ingress; Kubernetes would ignore them")
            }
            if !types.contains(.egress), let e = spec["egress"], !e.isEmptyValue {
                throw e.error("egress rules are given but policyTypes does not list Egress; Kubernetes would ignore them")
            }
            p.policyTypes = types
        } else {
            p.policyTypes = p.egress.isEmpty ? [.ingress] : [.ingress, .egress]
        }
        p.ignoredFields = ignored
        return p
    }

    static func parseRule(_ node: ConfigNode, peersKey: String) throws(ConfigError) -> NetworkPolicyRule {
        let m = try node.mapping(allowed: [peersKey, "ports"])
        var rule = NetworkPolicyRule()
        if let ps = m[peersKey] {
            for item in try ps.sequence() {
                var none: [IgnoredField] = []  // peers have no cluster-only fields
                let pm = try ManifestFields(
                    supported: ["podSelector", "namespaceSelector"],
                    refused: ["ipBlock": "ipBlock is not supported: bulkhead's node network holds only pod addresses; select pods with podSelector and namespaceSelector"]
                ).mapping(item, ignored: &none)
                var peer = NetworkPolicyPeer()
                if let s = pm["podSelector"] { peer.podSelector = try LabelSelector.parse(s) }
                if let s = pm["namespaceSelector"] { peer.namespaceSelector = try LabelSelector.parse(s) }
                guard peer.podSelector != nil || peer.namespaceSelector != nil else {
                    throw item.error("a peer needs podSelector, namespaceSelector or both (an empty peer is invalid in Kubernetes)")
                }
                rule.peers.append(peer)
            }
        }
        if let ports = m["ports"] {
            for item in try ports.sequence() {
                let pm = try item.mapping(allowed: ["protocol", "port", "endPort"])
                var port = NetworkPolicyPort()
                if let pr = pm["protocol"] {
                    let s = try pr.string()
                    guard let p = NetworkProtocol(exactly: s) else {
                        throw pr.error(s == "SCTP" ? "SCTP is not supported; allowed: TCP, UDP" : "unknown protocol \"\(s)\"; allowed: TCP, UDP")
                    }
                    port.protocol = p
                }
                if let pn = pm["port"] {
                    let t = try pn.scalarText()
                    guard let n = Int(t) else {
                        throw pn.error("named ports are not supported (\"\(t)\"): bulkhead does not read container port names; give the port number")
                    }
                    guard (1...65535).contains(n) else { throw pn.error("port \(n) is out of range 1...65535") }
                    port.port = UInt16(n)
                }
                if let ep = pm["endPort"] {
                    guard let start = port.port else { throw ep.error("endPort needs port (the start of the range)") }
                    let e = try ep.int(in: 1...65535)
                    guard e >= Int(start) else { throw ep.error("endPort \(e) is below port \(start)") }
                    port.endPort = UInt16(e)
                }
                rule.ports.append(port)
            }
        }
        return rule
    }
}
