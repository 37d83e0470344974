/// A policy cut down to what a bound allows (`seccomp record --within RuntimeDefault|FILE`): the
/// result never lets a call run that the bound would refuse, and says by name what it took away.
public struct SeccompBoundResult: Sendable, Equatable {
    public var policy: SeccompPolicy
    /// Calls the policy allowed that the bound never allows: no longer allowed at all.
    public var dropped: [String]
    /// Calls the bound allows only under conditions: their rules now carry the bound's
    /// conditions too (still allowed where both allow them).
    public var narrowed: [String]
    /// Architectures the policy accepted and the bound does not.
    public var droppedArchitectures: [SeccompArch]
}

extension SeccompPolicy {
    /// The intersection with `bound`, for a policy that refuses by default (an allow-list, what
    /// `seccomp record` writes); `native` is what an empty `architectures` means.
    ///
    /// For each call a rule of this policy lets run (`SCMP_ACT_ALLOW`, `SCMP_ACT_LOG`), what
    /// the bound does with it, read as libseccomp runs it (its first unconditional rule decides;
    /// else its conditional rules; else its default):
    /// - allows it unconditionally: the rule stays;
    /// - refuses it unconditionally, or by default: the call is dropped;
    /// - allows it under conditions (a refusing default, allowing conditional rules only): each
    ///   rule becomes one rule per bound rule, with both rules' conditions; a pair that conditions
    ///   one argument differently cannot be one rule (libseccomp refuses that) and is left out,
    ///   which only refuses more; a call left with no rule is dropped;
    /// - anything else (conditional refusals in the bound, or mixed conditional actions): the
    ///   call is dropped, because a rule cannot say "except where the bound refuses" in general.
    /// Rules that refuse (e.g. `clone3` → ENOSYS) stay: they never let more through.
    public func bounded(by bound: SeccompPolicy, native: SeccompArch) -> SeccompBoundResult {
        enum Verdict { case all, none, only([[SeccompArgCondition]]) }
        // The bound's rules by name, built once: a verdict costs that name's rules, not the bound's.
        var byName: [String: [SeccompRule]] = [:]
        for r in bound.rules { for n in Set(r.names) { byName[n, default: []].append(r) } }
        func verdict(_ name: String) -> Verdict {
            let rules = byName[name] ?? []
            if let u = rules.first(where: \.isUnconditional) { return u.action.letsCallRun ? .all : .none }
            if rules.isEmpty { return bound.defaultAction.letsCallRun ? .all : .none }
            if bound.defaultAction.letsCallRun || rules.contains(where: { !$0.action.letsCallRun }) { return .none }
            return .only(rules.map(\.args))
        }

        var verdicts: [String: Verdict] = [:]
        var out: [SeccompRule] = []
        var stillAllowed = Set<String>(), narrowed = Set<String>(), wasAllowed = Set<String>()
        for r in rules {
            guard r.action.letsCallRun else { out.append(r); continue }
            for name in r.names {
                wasAllowed.insert(name)
                let v = verdicts[name] ?? verdict(name)
                verdicts[name] = v
                switch v {
                case .none:
                    continue
                case .all:
                    out.append(SeccompRule(names: [name], action: r.action, errnoRet: r.errnoRet, args: r.args))
                    stillAllowed.insert(name)
                case .only(let alternatives):
                    for b in alternatives {
                        guard let both = Self.conjunction(r.args, b) else { continue }
                        out.append(SeccompRule(names: [name], action: r.action, errnoRet: r.errnoRet, args: both))
                        stillAllowed.insert(name)
                        if both != r.args { narrowed.insert(name) }
                    }
                }
            }
        }
        let boundArches = bound.architectures.isEmpty ? [native] : bound.architectures
        let ownArches = architectures.isEmpty ? [native] : architectures
        var p = self
        p.rules = out
        p.architectures = ownArches.filter(boundArches.contains)
        return SeccompBoundResult(
            policy: p.normalized(), dropped: wasAllowed.subtracting(stillAllowed).sorted(),
            narrowed: narrowed.intersection(stillAllowed).sorted(),
            droppedArchitectures: ownArches.filter { !boundArches.contains($0) })
    }

    /// Both lists of conditions as one rule's, or nil when they condition one argument
    /// differently (libseccomp allows one condition per argument in a rule).
    static func conjunction(_ a: [SeccompArgCondition], _ b: [SeccompArgCondition]) -> [SeccompArgCondition]? {
        var out = a
        for c in b {
            if let same = out.first(where: { $0.index == c.index }) {
                if same != c { return nil }
            } else {
                out.append(c)
            }
        }
        return out.sorted(by: argLess)
    }
}
