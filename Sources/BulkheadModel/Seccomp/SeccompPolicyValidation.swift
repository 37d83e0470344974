/// Checks on a whole policy that no single field can make: rules that contradict each other,
/// and combinations libseccomp would silently change. Runtimes (runc, crun) take the first of
/// two contradicting rules or let libseccomp merge them; read strictly (`--strict`, a policy
/// built in code), bulkhead refuses instead. The default reading resolves them first as runc
/// does, with notes (`SeccompRuntimeLoading`), so these checks then pass.
package enum SeccompPolicyValidation {
    /// `rulePlaces[i]` is where `policy.rules[i]` is in its document, for error locations; pass
    /// an empty array for a policy built in code (errors then name `syscalls[i]` of the policy).
    package static func check(_ policy: SeccompPolicy, rulePlaces: [ConfigPlace], document: ConfigPlace) throws(ConfigError) {
        func where_(_ i: Int) -> ConfigPlace {
            i < rulePlaces.count ? rulePlaces[i] : ConfigPlace(file: document.file, path: "syscalls[\(i)]", line: document.line, column: document.column)
        }

        // Unconditional rules per system call: (rule index, action, errno).
        var unconditional: [String: (Int, SeccompAction, UInt32?)] = [:]
        var conditional: [String: [(Int, SeccompAction, UInt32?)]] = [:]
        for (i, r) in policy.rules.enumerated() {
            if r.names.isEmpty { throw where_(i).error("a rule must name at least one system call in \"names\"") }
            if let e = r.errnoRet {
                if !r.action.takesErrnoRet {
                    throw where_(i).error("errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(r.action.rawValue)")
                }
                if e > SeccompPolicy.maxErrno {
                    throw where_(i).error("errno \(e) is out of range 0...\(SeccompPolicy.maxErrno) (the kernel's MAX_ERRNO)")
                }
            }
            var seenIndex = Set<UInt32>()
            for (j, a) in r.args.enumerated() {
                let rule = where_(i)
                let argNode = ConfigPlace(file: document.file, path: "\(rule.path).args[\(j)]", line: rule.line, column: rule.column)
                if a.index > 5 {
                    throw argNode.error("argument index \(a.index) is out of range: a system call has arguments 0...5")
                }
                if !seenIndex.insert(a.index).inserted {
                    throw argNode.error(
                        "a second condition on argument \(a.index) in the same rule: libseccomp refuses this (EINVAL); "
                            + "write a separate rule for each alternative")
                }
            }
            if r.action == .notify, policy.listenerPath == nil {
                throw where_(i).error("SCMP_ACT_NOTIFY needs \"listenerPath\", the socket the notification fd is sent to")
            }
            for name in r.names {
                if r.isUnconditional {
                    if let (k, act, err) = unconditional[name], act != r.action || err != r.errnoRet {
                        throw where_(i).error(
                            "\"\(name)\" already has an unconditional rule in syscalls[\(k)] with \(describe(act, err)); "
                                + "this rule gives it \(describe(r.action, r.errnoRet)). Runtimes silently take the first; "
                                + "remove one of them, \(SeccompPolicyValidation.asRuncHint)")
                    }
                    unconditional[name] = (i, r.action, r.errnoRet)
                } else {
                    conditional[name, default: []].append((i, r.action, r.errnoRet))
                }
            }
        }
        // libseccomp drops every conditional rule of a system call that also has an unconditional
        // rule (db.c, db_rule_add: "syscall exists with chains but the new filter has no chains");
        // a conditional rule with a different action would therefore never apply.
        for (name, conds) in conditional.sorted(by: { $0.key < $1.key }) {
            guard let (k, act, err) = unconditional[name] else { continue }
            if let c = conds.first(where: { $0.1 != act || $0.2 != err }) {
                throw where_(c.0).error(
                    "this conditional rule gives \"\(name)\" \(describe(c.1, c.2)), but syscalls[\(k)] gives it "
                        + "\(describe(act, err)) unconditionally, and libseccomp lets an unconditional rule override "
                        + "every conditional one: this rule would never apply. Express the exception as conditions "
                        + "on the unconditional rule instead, \(SeccompPolicyValidation.asRuncHint)")
            }
        }
    }

    /// The one hint of every refusal that runc would resolve silently (`run`, `export`, `compile`).
    package static let asRuncHint = "or load it without strict checking, as runc does, with a warning "
        + "(drop --strict from seccomp export/compile, --seccomp-strict from run)"

    /// The known system-call name closest to `name` (one of the same length first), for "did
    /// you mean".
    package static func suggestion(for name: String) -> String? {
        let sameLength = SyscallTable.allNames.filter { $0.count == name.count }.sorted()
        if let c = closestMatch(to: name, in: sameLength), let any = closestMatch(to: name, in: SyscallTable.allNames.sorted()),
            editDistance(Array(c.utf8), Array(name.utf8)) <= editDistance(Array(any.utf8), Array(name.utf8))
        {
            return c
        }
        return closestMatch(to: name, in: SyscallTable.allNames.sorted())
    }

    package static func describe(_ a: SeccompAction, _ e: UInt32?) -> String {
        if let e { return "\(a.rawValue)(\(e))" }
        return a.rawValue
    }
}

extension SeccompPolicy {
    /// Runs the whole-policy checks the parser runs (conflicting rules, argument indices, errno
    /// ranges) on a policy built in code; `file` names it in errors.
    public func validate(file: String = "<policy>") throws(ConfigError) {
        let doc = ConfigPlace(file: file, path: "")
        for (i, r) in rules.enumerated() {
            for (j, name) in r.names.enumerated() where !SyscallTable.isKnown(name) {
                var msg = "unknown system call \"\(name)\""
                if let c = SeccompPolicyValidation.suggestion(for: name) { msg += "; did you mean \"\(c)\"?" }
                throw ConfigError(file: file, field: "syscalls[\(i)].names[\(j)]", message: msg)
            }
        }
        try SeccompPolicyValidation.check(self, rulePlaces: [], document: doc)
    }
}
