import BulkheadModel
extension SeccompPolicy {
    /// The union of allow-list policies: a call is allowed when any of them allows it
    /// (`bulkhead seccomp record --merge`).
    ///
    /// - Every policy must refuse by default (its default action does not let calls run); a
    ///   deny-list has no meaningful union with an allow-list. The default action and errno are
    ///   the first policy's; a policy with a different default is refused.
    /// - A call with an unconditional allowing rule in any policy is allowed unconditionally;
    ///   its conditional rules and refusing rules from the other policies are dropped.
    /// - Otherwise the conditional allowing rules of every policy are kept (any of them matching
    ///   lets the call run).
    /// - Refusing rules (e.g. `clone3` → ENOSYS) are kept for calls nobody allows; for one call
    ///   with different unconditional refusals, the first policy's wins.
    /// - Architectures and flags are the union, in first-seen order.
    public static func union(_ policies: [SeccompPolicy], file: String = "<merge>") throws(ConfigError) -> SeccompPolicy {
        guard let first = policies.first else {
            throw ConfigError(file: file, field: "", message: "nothing to merge")
        }
        for (i, p) in policies.enumerated() {
            if p.defaultAction.letsCallRun {
                throw ConfigError(file: file, field: "[\(i)].defaultAction",
                                  message: "\(p.defaultAction.rawValue) lets unlisted calls run: only allow-lists (a refusing default) can be merged")
            }
            if p.defaultAction != first.defaultAction || (p.defaultErrnoRet ?? 1) != (first.defaultErrnoRet ?? 1) {
                throw ConfigError(file: file, field: "[\(i)].defaultAction",
                                  message: "default \(SeccompPolicyValidation.describe(p.defaultAction, p.defaultErrnoRet)) differs from the first "
                                      + "policy's \(SeccompPolicyValidation.describe(first.defaultAction, first.defaultErrnoRet)); merge policies with one default")
            }
        }
        var unconditionalAllow: [String: SeccompAction] = [:]
        for p in policies {
            for r in p.rules where r.isUnconditional && r.action.letsCallRun {
                for n in r.names where unconditionalAllow[n] == nil { unconditionalAllow[n] = r.action }
            }
        }
        var conditional: [SeccompRule] = []
        var refusals: [String: SeccompRule] = [:]
        var refusalOrder: [String] = []
        var conditionalRefusals: [SeccompRule] = []
        for p in policies {
            for r in p.rules {
                let names = r.names.filter { unconditionalAllow[$0] == nil }
                if names.isEmpty { continue }
                var kept = r
                kept.names = names
                kept.comment = nil
                if r.action.letsCallRun {
                    conditional.append(kept)
                } else if r.isUnconditional {
                    for n in names where refusals[n] == nil {
                        refusals[n] = SeccompRule(names: [n], action: r.action, errnoRet: r.errnoRet)
                        refusalOrder.append(n)
                    }
                } else {
                    conditionalRefusals.append(kept)
                }
            }
        }
        // A call allowed only conditionally somewhere keeps its conditional refusals only when
        // no unconditional refusal is kept for it (libseccomp would drop them anyway).
        var rules: [SeccompRule] = []
        var byAction: [SeccompAction: [String]] = [:]
        for (n, a) in unconditionalAllow { byAction[a, default: []].append(n) }
        for a in SeccompAction.allCases { if let ns = byAction[a] { rules.append(SeccompRule(names: ns.sorted(), action: a)) } }
        let conditionallyAllowed = Set(conditional.flatMap(\.names))
        rules += conditional
        for n in refusalOrder where !conditionallyAllowed.contains(n) { rules.append(refusals[n]!) }
        rules += conditionalRefusals.filter { r in r.names.allSatisfy { refusals[$0] == nil } }

        var arches: [SeccompArch] = [], flags: [String] = []
        for p in policies {
            for a in p.architectures where !arches.contains(a) { arches.append(a) }
            for f in p.flags where !flags.contains(f) { flags.append(f) }
        }
        let merged = SeccompPolicy(defaultAction: first.defaultAction, defaultErrnoRet: first.defaultErrnoRet,
                                   architectures: arches, flags: flags, rules: rules,
                                   listenerPath: first.listenerPath, listenerMetadata: first.listenerMetadata).normalized()
        try merged.validate(file: file)
        return merged
    }
}
