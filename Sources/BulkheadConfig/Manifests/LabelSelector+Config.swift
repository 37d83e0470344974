import BulkheadModel

extension LabelSelector {
    /// Reads `{matchLabels: {...}, matchExpressions: [{key, operator, values}]}`.
    public static func parse(_ node: ConfigNode) throws(ConfigError) -> LabelSelector {
        let m = try node.mapping(allowed: ["matchLabels", "matchExpressions"])
        var s = LabelSelector()
        if let ml = m["matchLabels"] { s.matchLabels = try KubernetesLabels.parseLabels(ml) }
        if let me = m["matchExpressions"] {
            for item in try me.sequence() {
                let im = try item.mapping(allowed: ["key", "operator", "values"])
                let keyNode = try im.require("key")
                let key = try keyNode.string()
                if let p = KubernetesLabels.keyProblem(key) { throw keyNode.error("label key \"\(key)\" \(p)") }
                let opNode = try im.require("operator")
                let opText = try opNode.string()
                guard let op = Operator(exactly: opText) else {
                    var msg = "unknown operator \"\(opText)\""
                    if let s = closestMatch(to: opText, in: Operator.allCases.map(\.rawValue)) { msg += "; did you mean \"\(s)\"?" }
                    throw opNode.error(msg + " Allowed: In, NotIn, Exists, DoesNotExist (Gt and Lt are for node selectors)")
                }
                var values: [String] = []
                if let v = im["values"] {
                    for n in try v.sequence() {
                        let value = try n.scalarText()
                        if let p = KubernetesLabels.valueProblem(value) { throw n.error("label value \"\(value)\" \(p)") }
                        values.append(value)
                    }
                }
                switch op {
                case .in, .notIn:
                    guard !values.isEmpty else { throw item.error("operator \(opText) needs a non-empty values list") }
                case .exists, .doesNotExist:
                    if !values.isEmpty, let v = im["values"] { throw v.error("operator \(opText) takes no values") }
                }
                s.matchExpressions.append(Requirement(key: key, operator: op, values: values))
            }
        }
        return s
    }
}

extension KubernetesLabels {
    /// A `labels:` mapping, every key and value checked.
    public static func parseLabels(_ node: ConfigNode) throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in try node.mapping().entries {
            if let p = keyProblem(k) { throw v.error("label key \"\(k)\" \(p)") }
            let value = v.isNull ? "" : try v.scalarText()
            if let p = valueProblem(value) { throw v.error("label value \"\(value)\" \(p)") }
            out[k] = value
        }
        return out
    }

    /// An `annotations:` mapping: keys checked like label keys, values are any string.
    public static func parseAnnotations(_ node: ConfigNode) throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in try node.mapping().entries {
            if let p = keyProblem(k) { throw v.error("annotation key \"\(k)\" \(p)") }
            out[k] = v.isNull ? "" : try v.scalarText()
        }
        return out
    }
}
