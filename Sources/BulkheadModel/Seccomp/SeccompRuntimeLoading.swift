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

/// What to do with a system-call name bulkhead does not know.
public enum SeccompUnknownNames: Sendable, Hashable {
    /// A `ConfigError` naming the field, with the closest known name.
    case refuse
    /// Leave the name out, with a note: what runc does ("unknown seccomp syscall ignored"), so
    /// that a profile written for a newer kernel still loads.
    case skip
}

/// Something the loader changed to read a profile as runc does: the rule (by its place in the
/// file) and the system calls concerned. It never carries the file's text: a name is given
/// only when it is spelled as a system-call name is (lower-case letters, digits, '_', at most
/// 64 characters), else the note says where it is.
public struct SeccompLoadNote: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A name bulkhead does not know, left out.
        case unknownName
        /// A rule ignored or replaced for one call because of another rule.
        case conflict
        /// A rule with the default action, skipped.
        case sameAsDefault
        /// A rule with two conditions on one argument, loaded as one rule per condition.
        case conditionsSplit
    }

    public var kind: Kind
    /// The system calls concerned, each shown only if it is spelled as a system-call name.
    public var names: [String]
    public var file: String
    /// `syscalls[i]` (or `syscalls[i].names[j]` for an unknown name).
    public var field: String
    public var line: Int?
    public var message: String
    /// The names are withheld (the file is not readable by everyone).
    public var hidden = false

    init(kind: Kind, names: [String], at n: ConfigNode, message: String) {
        self.kind = kind
        self.names = names
        self.file = n.file
        self.field = n.path
        self.line = n.line
        self.message = message
    }

    /// Whether `s` can be shown as a system-call name (any other text is not echoed).
    public static func isPrintableName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// The names, printable ones as they are, others as "(not a system-call name)".
    public var shownNames: String {
        if hidden { return "(a name, not shown: the file is not readable by everyone)" }
        return names.map { Self.isPrintableName($0) ? $0 : "(not a system-call name)" }.joined(separator: ", ")
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": \(field): "
        switch kind {
        case .unknownName: s += "unknown system call \(shownNames) skipped, as runc does (pass --strict to refuse it)"
        default: s += "\(shownNames): \(message)"
        }
        return s
    }

    /// The note without anything read from the file but its place: for a file not everyone can read.
    public func withoutContent() -> SeccompLoadNote {
        var n = self
        n.names = []
        n.hidden = true
        return n
    }
}

/// A parsed policy and what the loader changed to read it as runc does.
public struct SeccompLoad: Sendable {
    public var policy: SeccompPolicy
    public var notes: [SeccompLoadNote]

    /// The lines to print for `notes`: at most `limit`, then one line saying how many more, so
    /// a hostile file of a hundred thousand unknown names prints a screenful, not the file.
    public static func warnings(_ notes: [SeccompLoadNote], limit: Int = 20) -> [String] {
        var out = notes.prefix(limit).map { "warning: seccomp: \($0)" }
        if notes.count > limit, let file = notes.first?.file {
            out.append("warning: seccomp: \(file): \(notes.count - limit) more changes of the same kinds not listed (pass --strict to see the first as an error)")
        }
        return out
    }
}
