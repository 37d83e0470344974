import BulkheadModel


/// Strict mapping access for manifests: fields are supported, known-but-refused (each with
/// the reason), cluster-only (accepted and listed as ignored), or unknown (an error).
struct ManifestFields {
    var supported: [String]
    var refused: [String: String] = [:]
    var clusterOnly: [String: String] = [:]

    /// The mapping's supported entries; refused fields throw with their reason, cluster-only
    /// ones are appended to `ignored`, anything else is an "unknown field" error.
    /// A refused field that is null or an empty list/mapping asks for nothing and is accepted.
    /// - Parameter c: where a parser that goes on past an error collects them: a refused,
    ///   unknown or duplicate key is added there and left out, and the rest is read.
    func mapping(_ node: ConfigNode, ignored: inout [IgnoredField], collecting c: ConfigErrorCollector? = nil) throws(ConfigError) -> ConfigMapping {
        var problems: [ConfigError] = []
        let all = try node.mapping(allowed: nil, problems: &problems)
        var kept: [(String, ConfigNode)] = []
        for (key, value) in all.entries {
            if supported.contains(key) { kept.append((key, value)); continue }
            if let reason = refused[key] {
                if value.isEmptyValue { continue }
                problems.append(value.error(reason))
                continue
            }
            if let reason = clusterOnly[key] { ignored.append(IgnoredField(path: value.path, reason: reason)); continue }
            let known = supported + clusterOnly.keys.sorted()
            var msg = "unknown field \"\(key)\""
            if let s = closestMatch(to: key, in: known + refused.keys.sorted()) { msg += "; did you mean \"\(s)\"?" }
            msg += " Supported here: \(supported.joined(separator: ", "))"
            problems.append(value.error(msg))
        }
        if let c { c.errors += problems } else if let first = problems.first { throw first }
        return ConfigMapping(owner: node, entries: kept)
    }

    static let objectTop = ManifestFields(
        supported: ["apiVersion", "kind", "metadata", "spec"],
        clusterOnly: ["status": "written by the cluster, not by the author"])

    static let metadata = ManifestFields(
        supported: ["name", "namespace", "labels", "annotations"],
        clusterOnly: [
            "uid": "cluster bookkeeping", "resourceVersion": "cluster bookkeeping", "generation": "cluster bookkeeping",
            "creationTimestamp": "cluster bookkeeping", "deletionTimestamp": "cluster bookkeeping",
            "deletionGracePeriodSeconds": "cluster bookkeeping", "managedFields": "cluster bookkeeping",
            "selfLink": "cluster bookkeeping", "ownerReferences": "garbage collection in the cluster",
            "finalizers": "deletion hooks of the cluster's controllers", "generateName": "the API server's name generator; metadata.name is required here",
        ])

    /// Reads `metadata` (name required, namespace defaulting to "default").
    /// - Parameter c: where a parser that goes on past an error collects them (each field's).
    static func parseMetadata(_ node: ConfigNode?, owner: ConfigNode, ignored: inout [IgnoredField],
                              collecting c: ConfigErrorCollector? = nil) throws(ConfigError) -> ObjectMeta {
        guard let node else { throw owner.error("missing required field \"metadata\" (metadata.name names the object)") }
        let m = try metadata.mapping(node, ignored: &ignored, collecting: c)
        // With a collector, each field on its own.
        func field(_ body: () throws(ConfigError) -> Void) throws(ConfigError) { if let c { c.attempt(body) } else { try body() } }
        let nameNode = try m.require("name")
        let name = try nameNode.string()
        var meta = ObjectMeta(name: name)
        try field { () throws(ConfigError) in
            if let p = KubernetesLabels.dnsLabelProblem(name) { throw nameNode.error("name \"\(name)\" \(p)") }
        }
        if let n = m["namespace"] {
            try field { () throws(ConfigError) in
                let ns = try n.string()
                if let p = KubernetesLabels.dnsLabelProblem(ns) { throw n.error("namespace \"\(ns)\" \(p)") }
                meta.namespace = ns
            }
        }
        if let l = m["labels"] { try field { () throws(ConfigError) in meta.labels = try KubernetesLabels.parseLabels(l) } }
        if let a = m["annotations"] { try field { () throws(ConfigError) in meta.annotations = try KubernetesLabels.parseAnnotations(a) } }
        return meta
    }
}

extension ConfigNode {
    /// Null, an empty list or an empty mapping: the field asks for nothing.
    var isEmptyValue: Bool {
        if isNull { return true }
        switch node {
        case .sequence(let s): return s.isEmpty
        case .mapping(let m): return m.isEmpty
        default: return false
        }
    }

    /// A boolean field that is refused when true (hostNetwork, hostUsers...); false is accepted.
    func refuseTrue(_ reason: String) throws(ConfigError) {
        if try bool() { throw error(reason) }
    }
}
