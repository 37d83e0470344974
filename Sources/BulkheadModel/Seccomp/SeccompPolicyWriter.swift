extension SeccompPolicy {
    /// The same filter with rules of identical action, errno and conditions merged, names sorted
    /// and de-duplicated, conditions and rules in a fixed order, and comments dropped: the form
    /// `kubernetesJSON` writes, so `parse(kubernetesJSON(p)) == p.normalized()`.
    public func normalized() -> SeccompPolicy {
        struct Key: Hashable {
            var action: SeccompAction
            var errnoRet: UInt32?
            var args: [SeccompArgCondition]
        }
        var order: [Key] = []
        var names: [Key: Set<String>] = [:]
        for r in rules {
            let k = Key(action: r.action, errnoRet: r.errnoRet, args: r.args.sorted(by: Self.argLess))
            if names[k] == nil { order.append(k) }
            names[k, default: []].formUnion(r.names)
        }
        var merged = order.map {
            SeccompRule(names: names[$0]!.sorted(), action: $0.action, errnoRet: $0.errnoRet, args: $0.args)
        }
        merged.sort(by: Self.ruleLess)
        var p = self
        p.rules = merged
        return p
    }

    /// Strict runtime-spec JSON (the file Kubernetes' `seccompProfile.type: Localhost` names):
    /// normalized, 2-space indented, keys in a fixed order, no Docker-only keys. `flags: true`
    /// also writes the `flags` list, which older runtimes reject, so it is off by default.
    public func kubernetesJSON(flags includeFlags: Bool = false) -> String {
        let p = normalized()
        var out = "{\n"
        var fields: [String] = []
        fields.append("  \"defaultAction\": \(json(p.defaultAction.rawValue))")
        if let e = p.defaultErrnoRet { fields.append("  \"defaultErrnoRet\": \(e)") }
        if !p.architectures.isEmpty {
            fields.append("  \"architectures\": [\n" + p.architectures.map { "    \(json($0.rawValue))" }.joined(separator: ",\n") + "\n  ]")
        }
        if includeFlags, !p.flags.isEmpty {
            fields.append("  \"flags\": [\n" + p.flags.map { "    \(json($0))" }.joined(separator: ",\n") + "\n  ]")
        }
        if let l = p.listenerPath { fields.append("  \"listenerPath\": \(json(l))") }
        if let l = p.listenerMetadata { fields.append("  \"listenerMetadata\": \(json(l))") }
        if p.rules.isEmpty {
            fields.append("  \"syscalls\": []")
        } else {
            fields.append("  \"syscalls\": [\n" + p.rules.map(Self.ruleJSON).joined(separator: ",\n") + "\n  ]")
        }
        out += fields.joined(separator: ",\n")
        out += "\n}\n"
        return out
    }

    static func ruleJSON(_ r: SeccompRule) -> String {
        var f: [String] = []
        f.append("      \"names\": [\n" + r.names.map { "        \(json($0))" }.joined(separator: ",\n") + "\n      ]")
        f.append("      \"action\": \(json(r.action.rawValue))")
        if let e = r.errnoRet { f.append("      \"errnoRet\": \(e)") }
        if !r.args.isEmpty {
            let args = r.args.map { a in
                "        {\n          \"index\": \(a.index),\n          \"value\": \(a.value),\n"
                    + "          \"valueTwo\": \(a.valueTwo),\n          \"op\": \(json(a.op.rawValue))\n        }"
            }
            f.append("      \"args\": [\n" + args.joined(separator: ",\n") + "\n      ]")
        }
        return "    {\n" + f.joined(separator: ",\n") + "\n    }"
    }

    static func argLess(_ a: SeccompArgCondition, _ b: SeccompArgCondition) -> Bool {
        (a.index, a.op.rawValue, a.value, a.valueTwo) < (b.index, b.op.rawValue, b.value, b.valueTwo)
    }

    /// Unconditional rules first, then by action, errno, conditions, and first name.
    static func ruleLess(_ a: SeccompRule, _ b: SeccompRule) -> Bool {
        if a.args.isEmpty != b.args.isEmpty { return a.args.isEmpty }
        if a.action != b.action { return a.action.rawValue < b.action.rawValue }
        if a.errnoRet != b.errnoRet { return (a.errnoRet.map(Int64.init) ?? -1) < (b.errnoRet.map(Int64.init) ?? -1) }
        if a.args != b.args {
            for (x, y) in zip(a.args, b.args) where x != y { return argLess(x, y) }
            return a.args.count < b.args.count
        }
        return a.names.lexicographicallyPrecedes(b.names)
    }
}

/// A JSON string literal (the one escaping rule: `JSONText.quote`).
func json(_ s: String) -> String {
    var out = ""
    JSONText.quote(s, into: &out)
    return out
}
