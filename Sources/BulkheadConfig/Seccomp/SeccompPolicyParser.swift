import BulkheadModel
/// Reads a seccomp profile: the strict OCI runtime-spec `LinuxSeccomp` object (what Kubernetes'
/// `seccompProfile.type: Localhost` loads) and Docker's superset of it (`archMap`,
/// `includes`/`excludes`, `comment`, the deprecated single `name`), plus the `errno`/`defaultErrno`
/// spellings that Podman's profile (containers/common) carries next to `errnoRet`.
///
/// Docker's conditions are resolved against a `SeccompContext` the way moby's
/// `profiles/seccomp` does it, so the result is what that runtime would hand to runc.
/// Unknown keys, names, actions, architectures and operators are `ConfigError`s naming the field.
public enum SeccompPolicyParser {
    public static func parse(text: String, file: String, context: SeccompContext) throws(ConfigError) -> SeccompPolicy {
        try parse(try ConfigNode.parse(text, file: file), context: context)
    }

    public static func parse(_ node: ConfigNode, context: SeccompContext) throws(ConfigError) -> SeccompPolicy {
        try load(node, context: context).policy
    }

    /// The policy and what was changed to read it as runc does (`SeccompRuntimeLoading`): names
    /// skipped with `context.unknownNames == .skip`, rules resolved with `.firstRuleWins`.
    public static func load(text: String, file: String, context: SeccompContext) throws(ConfigError) -> SeccompLoad {
        try load(try ConfigNode.parse(text, file: file), context: context)
    }

    public static func load(_ node: ConfigNode, context: SeccompContext) throws(ConfigError) -> SeccompLoad {
        var notes: [SeccompLoadNote] = []
        let top = try node.mapping(allowed: [
            "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap", "flags",
            "listenerPath", "listenerMetadata", "syscalls",
        ])
        let defaultActionNode = try top.require("defaultAction")
        let defaultAction = try action(defaultActionNode)
        let defaultErrnoRet = try errnoValue(ret: top["defaultErrnoRet"], name: top["defaultErrno"], owner: node)
        if defaultErrnoRet != nil, !defaultAction.takesErrnoRet {
            throw (top["defaultErrnoRet"] ?? top["defaultErrno"] ?? node).error(
                "defaultErrnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(defaultAction.rawValue)")
        }

        var architectures: [SeccompArch] = []
        if let a = top["architectures"] {
            for n in try a.sequence() { architectures.append(try arch(n)) }
        }
        if let m = top["archMap"] {
            if !architectures.isEmpty {
                throw m.error("use either \"architectures\" or \"archMap\", not both")
            }
            architectures = try resolveArchMap(m, context: context)
        }

        var flags: [String] = []
        if let f = top["flags"] {
            for n in try f.sequence() {
                let s = try n.string()
                guard SeccompPolicy.knownFlags.contains(s) else {
                    throw n.error(unknownMessage("filter flag", s, allowed: SeccompPolicy.knownFlags))
                }
                flags.append(s)
            }
        }
        let listenerPath = try top["listenerPath"]?.string()
        let listenerMetadata = try top["listenerMetadata"]?.string()

        var rules: [(SeccompRule, ConfigNode)] = []
        if let s = top["syscalls"] {
            for n in try s.sequence() {
                if let r = try rule(n, context: context, notes: &notes) { rules.append((r, n)) }
            }
        }
        if context.conflictingRules == .firstRuleWins {
            rules = SeccompRuntimeLoading.resolve(rules, defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet, notes: &notes)
        }
        let policy = SeccompPolicy(
            defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet, architectures: architectures,
            flags: flags, rules: rules.map(\.0), listenerPath: listenerPath, listenerMetadata: listenerMetadata)
        try SeccompPolicyValidation.check(policy, rulePlaces: rules.map(\.1.place), document: node.place)
        return SeccompLoad(policy: policy, notes: notes)
    }

    // MARK: Rules

    /// One entry of `syscalls`, or nil when Docker's conditions drop it for `context`.
    static func rule(_ n: ConfigNode, context: SeccompContext, notes: inout [SeccompLoadNote]) throws(ConfigError) -> SeccompRule? {
        let m = try n.mapping(allowed: [
            "names", "name", "action", "errnoRet", "errno", "args", "comment", "includes", "excludes",
        ])
        var names: [String] = []
        var skipped = 0
        func add(_ item: ConfigNode) throws(ConfigError) {
            if context.unknownNames == .skip, let s = try? item.string(), !s.isEmpty, !SyscallTable.isKnown(s) {
                notes.append(SeccompLoadNote(kind: .unknownName, names: [s], at: item, message: "unknown system call"))
                skipped += 1
            } else {
                names.append(try syscallName(item))
            }
        }
        if let list = m["names"] {
            for item in try list.sequence() { try add(item) }
            if m["name"] != nil { throw m["name"]!.error("use either \"name\" or \"names\", not both") }
        } else if let single = m["name"] {
            try add(single)
        }
        if names.isEmpty, skipped == 0 {
            throw (m["names"] ?? n).error("a rule must name at least one system call in \"names\"")
        }
        let actionNode = try m.require("action")
        let act = try action(actionNode)
        let errnoRet = try errnoValue(ret: m["errnoRet"], name: m["errno"], owner: n)
        if errnoRet != nil, !act.takesErrnoRet {
            throw (m["errnoRet"] ?? m["errno"] ?? n).error(
                "errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(act.rawValue)")
        }
        var args: [SeccompArgCondition] = []
        if let a = m["args"] {
            for c in try a.sequence() { args.append(try condition(c)) }
        }
        let comment = try m["comment"]?.string()

        // Docker's includes/excludes, in moby's order; all of them must let the rule through.
        if let ex = m["excludes"] {
            let e = try conditions(ex)
            if !e.arches.isEmpty, e.arches.contains(where: { context.architecture.dockerNames.contains($0) }) { return nil }
            if e.caps.contains(where: { context.capabilities.contains($0) }) { return nil }
            if let k = e.minKernel, let v = context.kernelVersion, v >= k { return nil }
        }
        if let inc = m["includes"] {
            let i = try conditions(inc)
            if !i.arches.isEmpty, !i.arches.contains(where: { context.architecture.dockerNames.contains($0) }) { return nil }
            if !i.caps.allSatisfy({ context.capabilities.contains($0) }) { return nil }
            if let k = i.minKernel, let v = context.kernelVersion, v < k { return nil }
        }
        // Every name was unknown and skipped: the rule is gone, as under runc.
        if names.isEmpty { return nil }
        return SeccompRule(
            names: names, action: act, errnoRet: errnoRet, args: args,
            comment: comment.flatMap { $0.isEmpty ? nil : $0 })
    }

    struct DockerConditions {
        var caps: [String] = []
        var arches: [String] = []
        var minKernel: (Int, Int)?
    }

    static func conditions(_ n: ConfigNode) throws(ConfigError) -> DockerConditions {
        let m = try n.mapping(allowed: ["caps", "arches", "minKernel"])
        var d = DockerConditions()
        if let c = m["caps"] {
            for item in try c.sequence() {
                let s = try item.string()
                guard s.hasPrefix("CAP_"), s.count > 4 else {
                    throw item.error("expected a capability name such as \"CAP_SYS_ADMIN\", found \"\(s)\"")
                }
                d.caps.append(s)
            }
        }
        if let a = m["arches"] {
            let known = SeccompArch.allCases.reduce(into: Set<String>()) { $0.formUnion($1.dockerNames) }
            for item in try a.sequence() {
                let s = try item.string()
                guard known.contains(where: { ExactName.same($0, s) }) || SeccompArch(exactly: s) != nil else {
                    throw item.error(unknownMessage("architecture", s, allowed: known.sorted()))
                }
                d.arches.append(SeccompArch(exactly: s).map { $0.dockerNames.sorted()[0] } ?? s)
            }
        }
        if let k = m["minKernel"] {
            let s = try k.scalarText()
            let parts = s.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]), major >= 0, minor >= 0 else {
                throw k.error("expected a kernel version \"MAJOR.MINOR\" such as \"4.8\", found \"\(s)\"")
            }
            d.minKernel = (major, minor)
        }
        return d
    }

    static func condition(_ n: ConfigNode) throws(ConfigError) -> SeccompArgCondition {
        let m = try n.mapping(allowed: ["index", "value", "valueTwo", "op"])
        let indexNode = try m.require("index")
        let index = try indexNode.uint64()
        guard index <= 5 else {
            throw indexNode.error("argument index \(index) is out of range: a system call has arguments 0...5")
        }
        let value = try m.require("value").uint64()
        let valueTwo = try m["valueTwo"]?.uint64() ?? 0
        let opNode = try m.require("op")
        let opText = try opNode.string()
        guard let op = SeccompOp(exactly: opText) else {
            throw opNode.error(unknownMessage("operator", opText, allowed: SeccompOp.allCases.map(\.rawValue)))
        }
        return SeccompArgCondition(index: UInt32(index), value: value, valueTwo: valueTwo, op: op)
    }

    // MARK: Scalars

    static func syscallName(_ n: ConfigNode) throws(ConfigError) -> String {
        let s = try n.string()
        guard !s.isEmpty else { throw n.error("a system call name must not be empty") }
        guard SyscallTable.isKnown(s) else {
            guard SeccompLoadNote.isPrintableName(s) else {
                throw n.error("not a system-call name (names are lower-case letters, digits and '_'); it is not shown. "
                    + "runc skips a name it does not know: remove it, " + SeccompPolicyValidation.asRuncHint)
            }
            var msg = "unknown system call \"\(s)\""
            if let c = suggestion(for: s) { msg += "; did you mean \"\(c)\"?" } else { msg += "." }
            msg += " Names are the kernel's (see syscalls(2)), e.g. \"openat\", \"clone3\"; runc skips a name it does not know: remove it, "
                + SeccompPolicyValidation.asRuncHint
            throw n.error(msg)
        }
        return s
    }

    /// The closest known system-call name, preferring one of the same length on a tie
    /// ("clone4" suggests "clone3", not "clone").
    static func suggestion(for name: String) -> String? {
        SeccompPolicyValidation.suggestion(for: name)
    }

    static func action(_ n: ConfigNode) throws(ConfigError) -> SeccompAction {
        let s = try n.string()
        guard let a = SeccompAction(exactly: s) else {
            throw n.error(unknownMessage("action", s, allowed: SeccompAction.allCases.map(\.rawValue)))
        }
        return a
    }

    static func arch(_ n: ConfigNode) throws(ConfigError) -> SeccompArch {
        let s = try n.string()
        guard let a = SeccompArch(exactly: s) else {
            throw n.error(unknownMessage("architecture", s, allowed: SeccompArch.allCases.map(\.rawValue)))
        }
        return a
    }

    /// `errnoRet` (a number) and/or Podman's `errno` (a name); when both are given they must agree.
    static func errnoValue(ret: ConfigNode?, name: ConfigNode?, owner: ConfigNode) throws(ConfigError) -> UInt32? {
        var value: UInt32?
        if let ret {
            let v = try ret.uint64()
            guard v <= UInt64(SeccompPolicy.maxErrno) else {
                throw ret.error("errno \(v) is out of range 0...\(SeccompPolicy.maxErrno) (the kernel's MAX_ERRNO)")
            }
            value = UInt32(v)
        }
        if let name {
            let s = try name.string()
            guard ExactName.isASCII(s), let v = errnoNumbers.first(where: { ExactName.same($0.key, s) })?.value else {
                throw name.error(unknownMessage("errno name", s, allowed: errnoNumbers.keys.sorted()))
            }
            if let value, value != v {
                throw name.error("errno \"\(s)\" is \(v) but errnoRet says \(value); give one or make them agree")
            }
            value = v
        }
        return value
    }

    /// The errno names Podman's profiles use (asm-generic/errno-base.h and errno.h on x86).
    static let errnoNumbers: [String: UInt32] = [
        "EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7, "ENOEXEC": 8,
        "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14, "EBUSY": 16,
        "EEXIST": 17, "EXDEV": 18, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21, "EINVAL": 22, "ENFILE": 23,
        "EMFILE": 24, "ENOTTY": 25, "ETXTBSY": 26, "EFBIG": 27, "ENOSPC": 28, "ESPIPE": 29, "EROFS": 30,
        "EMLINK": 31, "EPIPE": 32, "EDOM": 33, "ERANGE": 34, "ENOSYS": 38, "EOPNOTSUPP": 95, "ENOTSUP": 95,
        "EAFNOSUPPORT": 97, "EPROTONOSUPPORT": 93,
    ]

    /// Docker's `archMap`: the entry whose `architecture` is the native one gives the list.
    static func resolveArchMap(_ n: ConfigNode, context: SeccompContext) throws(ConfigError) -> [SeccompArch] {
        var result: [SeccompArch] = []
        for entry in try n.sequence() {
            let m = try entry.mapping(allowed: ["architecture", "subArchitectures"])
            let main = try arch(try m.require("architecture"))
            var subs: [SeccompArch] = []
            if let s = m["subArchitectures"] {
                for item in try s.sequence() { subs.append(try arch(item)) }
            }
            if main == context.architecture, result.isEmpty { result = [main] + subs }
        }
        return result
    }

    static func unknownMessage(_ what: String, _ value: String, allowed: [String]) -> String {
        var msg = "unknown \(what) \"\(value)\""
        if let c = closestMatch(to: value, in: allowed) { msg += "; did you mean \"\(c)\"?" }
        return msg + " Allowed: \(allowed.joined(separator: ", "))"
    }
}
