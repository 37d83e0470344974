import BulkheadModel
/// How a policy is loaded the way runc loads it: what runc (libcontainer/seccomp, 1.1) and
/// libseccomp (src/db.c, `db_rule_add`, 2.5) do with rules the strict reading refuses, and the
/// notes that say what was changed. One place for these rules; the parser applies them when the
/// `SeccompContext` asks for it, and `bulkhead run`, `seccomp export` and `compile` print the notes.
///
/// runc, for each rule in order and each name in it (`matchCall`):
/// 1. skips a rule whose action (with its errno; absent means EPERM) is the default action's;
/// 2. skips a name libseccomp cannot resolve ("unknown seccomp syscall ignored");
/// 3. adds a rule whose conditions name one argument twice as one rule per condition;
/// 4. hands the rule to libseccomp, which per system call keeps the first unconditional rule:
///    an unconditional rule replaces earlier conditional ones, and a later rule of any kind is
///    dropped once an unconditional one is in place.
/// Two conditional rules of one call with different actions are left as they are: libseccomp
/// merges or refuses them (EEXIST) when the filter is compiled, for bulkhead as for runc.
public enum SeccompRuntimeLoading {
    /// Applies 1, 3 and 4 to `rules` (step 2 happens while names are read: `SeccompUnknownNames`).
    /// Each rule comes with its document node; the nodes of the rules kept are returned with them.
    static func resolve(_ rules: [(SeccompRule, ConfigNode)], defaultAction: SeccompAction, defaultErrnoRet: UInt32?,
                        notes: inout [SeccompLoadNote]) -> [(SeccompRule, ConfigNode)] {
        let defaultKey = effective(defaultAction, defaultErrnoRet)
        var split: [(SeccompRule, ConfigNode)] = []
        for (r, n) in rules {
            if effective(r.action, r.errnoRet) == defaultKey {
                notes.append(SeccompLoadNote(kind: .sameAsDefault, names: r.names, at: n,
                    message: "gives \(SeccompPolicyValidation.describe(r.action, r.errnoRet)), the default action: runc skips such a rule"))
                continue
            }
            let indices = r.args.map(\.index)
            if Set(indices).count != indices.count {
                notes.append(SeccompLoadNote(kind: .conditionsSplit, names: r.names, at: n,
                    message: "names one argument in two conditions: loaded as one rule per condition, as runc does"))
                for a in r.args {
                    var one = r
                    one.args = [a]
                    split.append((one, n))
                }
            } else {
                split.append((r, n))
            }
        }

        // Per system call, as libseccomp's db_rule_add: nothing, conditional chains, or one
        // unconditional action (the first one wins, and replaces earlier chains).
        enum State { case conditional, unconditional(ruleNode: ConfigNode, SeccompAction, UInt32?) }
        var state: [String: State] = [:]
        var keptNames: [[String]] = Array(repeating: [], count: split.count)
        // Where each name's conditional entries sit, to drop them when an unconditional rule comes.
        var conditionalAt: [String: [Int]] = [:]
        for (i, (r, n)) in split.enumerated() {
            for name in r.names {
                switch state[name] {
                case .unconditional(let first, let a, let e)?:
                    // The same action again changes nothing: no note.
                    if effective(a, e) == effective(r.action, r.errnoRet) { continue }
                    notes.append(SeccompLoadNote(kind: .conflict, names: [name], at: n,
                        message: "\(SeccompPolicyValidation.describe(r.action, r.errnoRet))\(r.isUnconditional ? "" : " (conditional)") is ignored: "
                            + "\(first.path) already gives it \(SeccompPolicyValidation.describe(a, e)) unconditionally, and runc "
                            + "(libseccomp) keeps the first unconditional rule"))
                case .conditional?, nil:
                    if r.isUnconditional {
                        for j in conditionalAt[name] ?? [] {
                            keptNames[j].removeAll { $0 == name }
                            if effective(split[j].0.action, split[j].0.errnoRet) == effective(r.action, r.errnoRet) { continue }
                            notes.append(SeccompLoadNote(kind: .conflict, names: [name], at: split[j].1,
                                message: "this conditional \(SeccompPolicyValidation.describe(split[j].0.action, split[j].0.errnoRet)) is replaced: "
                                    + "\(n.path) later gives it \(SeccompPolicyValidation.describe(r.action, r.errnoRet)) unconditionally, "
                                    + "and libseccomp lets an unconditional rule replace conditional ones"))
                        }
                        conditionalAt[name] = nil
                        state[name] = .unconditional(ruleNode: n, r.action, r.errnoRet)
                    } else {
                        state[name] = .conditional
                        conditionalAt[name, default: []].append(i)
                    }
                    keptNames[i].append(name)
                }
            }
        }
        var out: [(SeccompRule, ConfigNode)] = []
        for (i, (r, n)) in split.enumerated() where !keptNames[i].isEmpty {
            var kept = r
            kept.names = keptNames[i]
            out.append((kept, n))
        }
        return out
    }

    /// An action as runc compares it with the default: an absent errno is EPERM.
    static func effective(_ a: SeccompAction, _ e: UInt32?) -> String {
        a.takesErrnoRet ? "\(a.rawValue)(\(e ?? 1))" : a.rawValue
    }
}




extension SeccompLoadNote {
    init(kind: Kind, names: [String], at n: ConfigNode, message: String) {
        self.init(kind: kind, names: names, file: n.file, field: n.path, line: n.line, message: message)
    }
}
