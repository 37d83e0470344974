import BulkheadModel
import CShims
import Glibc

/// A seccomp policy that could not be compiled, with what to do about it.
public struct SeccompCompileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What was being done: "validate", "resolve", "compile", "export".
    public var operation: String
    /// The errno libseccomp (or the system) returned, when there is one.
    public var errno: Errno?
    public var message: String

    public init(operation: String, errno: Errno? = nil, message: String) {
        self.operation = operation
        self.errno = errno
        self.message = message
    }

    public var description: String {
        var s = "seccomp \(operation): \(message)"
        if let errno { s += " (\(errno.name))" }
        return s
    }
}

extension SeccompCompileError: SystemErrorConvertible {
    public var systemError: SystemError {
        SystemError("seccomp \(operation): \(message)", errno: errno)
    }
}

/// Compiles a `SeccompPolicy` into the classic BPF program the kernel loads, through
/// libseccomp (binary-tree optimisation on). The program is only exported here; the launcher's
/// child loads it after setting no_new_privs.
///
/// Semantics that follow runc, so a profile means the same here as under Kubernetes:
/// - `errnoRet` absent on `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` means EPERM;
/// - a rule whose action equals the default action is skipped (libseccomp refuses it with
///   EACCES; it would change nothing unless it overlaps another rule of the same call);
/// - a call absent from an architecture is skipped there.
/// Unlike runc, calls the installed libseccomp does not know are still enforced on the native
/// architecture (bulkhead resolves numbers itself); on a non-native one they are left to the
/// default action when that is the stricter outcome, and refused with an error otherwise.
public enum SeccompCompiler {
    /// The BPF program: an array of `struct sock_filter`, 8 bytes each.
    /// - Parameter nativeOnly: the native architecture's rules only, whatever the policy's
    ///   `architectures` list (bulkhead's own policies): every other architecture, and on x86_64
    ///   every x32 call (the 0x40000000 bit), is refused in the filter's first instructions with
    ///   the policy's default action when that refuses, else with kill-process. Without it the
    ///   listed architectures are compiled, as runc does (an OCI config's, a user's policy).
    public static func compile(_ policy: SeccompPolicy, nativeOnly: Bool = false) throws(SeccompCompileError) -> [UInt8] {
        try run(policy, pfc: false, nativeOnly: nativeOnly)
    }

    /// libseccomp's pseudo filter code: a readable rendering of the same filter.
    public static func pfc(_ policy: SeccompPolicy, nativeOnly: Bool = false) throws(SeccompCompileError) -> String {
        String(decoding: try run(policy, pfc: true, nativeOnly: nativeOnly), as: UTF8.self)
    }

    /// (architecture, name) pairs of rules the installed libseccomp cannot place on a
    /// non-native architecture; the compiled filter leaves those calls to the default action.
    public static func unplaceable(_ policy: SeccompPolicy) throws(SeccompCompileError) -> [(SeccompArch, String)] {
        try plan(policy).unplaceable
    }

    /// libseccomp's token for each architecture bulkhead can compile for (the AUDIT_ARCH_*
    /// value; x32 has its own token, 0x4000003e, which libseccomp maps to x86_64's audit arch).
    public static func token(of arch: SeccompArch) -> UInt32? {
        switch arch {
        case .x86_64: return 0xC000_003E
        case .x86: return 0x4000_0003
        case .x32: return 0x4000_003E
        case .aarch64: return 0xC000_00B7  // AUDIT_ARCH_AARCH64
        case .arm: return 0x4000_0028  // AUDIT_ARCH_ARM
        default: return nil
        }
    }

    /// The native architecture of the installed libseccomp.
    public static var nativeArchitecture: SeccompArch? {
        let t = bh_seccomp_native_arch()
        return SyscallTable.architecturesWithNumbers.first { token(of: $0) == t }
    }

    // MARK: Planning

    struct Record {
        var arch: UInt32
        var nr: Int32
        var name: String
        var action: UInt32
        var data: UInt32
        var args: [SeccompArgCondition]
        var ruleIndex: Int
    }

    struct Plan {
        var defaultAction: UInt32
        var defaultData: UInt32
        var arches: [UInt32]
        var records: [Record]
        var unplaceable: [(SeccompArch, String)]
        /// The action for another architecture's calls (0: libseccomp's default, kill thread).
        var badArchAction: UInt32 = 0
        var badArchData: UInt32 = 0
    }

    static func actionCode(_ a: SeccompAction, _ errnoRet: UInt32?) -> (UInt32, UInt32) {
        switch a {
        case .kill, .killThread: return (UInt32(BH_SECCOMP_ACT_KILL_THREAD), 0)
        case .killProcess: return (UInt32(BH_SECCOMP_ACT_KILL_PROCESS), 0)
        case .trap: return (UInt32(BH_SECCOMP_ACT_TRAP), 0)
        case .errno: return (UInt32(BH_SECCOMP_ACT_ERRNO), errnoRet ?? 1)  // EPERM, as runc
        case .trace: return (UInt32(BH_SECCOMP_ACT_TRACE), errnoRet ?? 1)
        case .allow: return (UInt32(BH_SECCOMP_ACT_ALLOW), 0)
        case .log: return (UInt32(BH_SECCOMP_ACT_LOG), 0)
        case .notify: return (UInt32(BH_SECCOMP_ACT_NOTIFY), 0)
        }
    }

    static func opCode(_ op: SeccompOp) -> UInt32 {
        switch op {
        case .notEqual: return UInt32(BH_SECCOMP_CMP_NE)
        case .lessThan: return UInt32(BH_SECCOMP_CMP_LT)
        case .lessOrEqual: return UInt32(BH_SECCOMP_CMP_LE)
        case .equal: return UInt32(BH_SECCOMP_CMP_EQ)
        case .greaterOrEqual: return UInt32(BH_SECCOMP_CMP_GE)
        case .greaterThan: return UInt32(BH_SECCOMP_CMP_GT)
        case .maskedEqual: return UInt32(BH_SECCOMP_CMP_MASKED_EQ)
        }
    }

    static func plan(_ policy: SeccompPolicy, nativeOnly: Bool = false) throws(SeccompCompileError) -> Plan {
        do {
            try policy.validate()
        } catch {
            throw SeccompCompileError(operation: "validate", message: error.description)
        }
        guard let native = nativeArchitecture else {
            throw SeccompCompileError(
                operation: "resolve",
                message: "this host's architecture is not one bulkhead has system-call tables for (x86_64, x86, x32, aarch64, arm)")
        }
        var arches = policy.architectures.isEmpty || nativeOnly ? [native] : policy.architectures
        var seen = Set<SeccompArch>()
        arches = arches.filter { seen.insert($0).inserted }
        // The native architecture first: libseccomp keeps the first context's attributes on merge.
        arches.sort { ($0 == native ? 0 : 1) < ($1 == native ? 0 : 1) }
        var tokens: [UInt32] = []
        for a in arches {
            guard let t = token(of: a) else {
                throw SeccompCompileError(
                    operation: "resolve",
                    message: "cannot compile for \(a.rawValue): bulkhead has system-call tables for x86_64, x86, x32, aarch64 and arm only; "
                        + "remove it from \"architectures\"")
            }
            tokens.append(t)
        }
        let (defAction, defData) = actionCode(policy.defaultAction, policy.defaultErrnoRet)
        var records: [Record] = []
        var unplaceable: [(SeccompArch, String)] = []
        for (i, rule) in policy.rules.enumerated() {
            let (action, data) = actionCode(rule.action, rule.errnoRet)
            if action == defAction, data == defData { continue }
            for name in rule.names {
                for (a, t) in zip(arches, tokens) {
                    guard let nr = SyscallTable.number(of: name, on: a) else { continue }
                    if a != native, bh_seccomp_resolve_name(t, name) != nr {
                        // libseccomp cannot place this call on a foreign architecture. Leaving it
                        // to the default is fine when the default is the stricter outcome.
                        if policy.defaultAction.letsCallRun, !rule.action.letsCallRun {
                            throw SeccompCompileError(
                                operation: "resolve",
                                message: "the installed libseccomp does not know \"\(name)\" on \(a.rawValue), so the "
                                    + "rule syscalls[\(i)] (\(rule.action.rawValue)) cannot be enforced there and the "
                                    + "default \(policy.defaultAction.rawValue) would let the call run; remove "
                                    + "\(a.rawValue) from \"architectures\" or install libseccomp >= 2.6")
                        }
                        unplaceable.append((a, name))
                        continue
                    }
                    records.append(Record(arch: t, nr: nr, name: name, action: action, data: data, args: rule.args, ruleIndex: i))
                }
            }
        }
        var plan = Plan(defaultAction: defAction, defaultData: defData, arches: tokens, records: records, unplaceable: unplaceable)
        if nativeOnly {
            // Refused as the policy refuses what it does not list; a policy that lets unlisted
            // calls run (a deny-list) still never lets a foreign architecture's call through.
            (plan.badArchAction, plan.badArchData) = policy.defaultAction.letsCallRun
                ? (UInt32(BH_SECCOMP_ACT_KILL_PROCESS), 0) : (defAction, defData)
        }
        return plan
    }

    // MARK: Calling the bridge

    static func run(_ policy: SeccompPolicy, pfc: Bool, nativeOnly: Bool) throws(SeccompCompileError) -> [UInt8] {
        let plan = try plan(policy, nativeOnly: nativeOnly)
        // C strings for the names, alive for the whole call.
        var names: [String: UnsafeMutablePointer<CChar>] = [:]
        defer { for p in names.values { free(p) } }
        var rules: [bh_seccomp_rule] = []
        rules.reserveCapacity(plan.records.count)
        for r in plan.records {
            let cname: UnsafeMutablePointer<CChar>
            if let p = names[r.name] { cname = p } else {
                guard let p = strdup(r.name) else { throw SeccompCompileError(operation: "compile", errno: Errno(ENOMEM), message: "out of memory") }
                names[r.name] = p
                cname = p
            }
            var a = r.args.map { bh_seccomp_arg(index: $0.index, op: opCode($0.op), value: $0.value, value_two: $0.valueTwo) }
            a += Array(repeating: bh_seccomp_arg(), count: 6 - a.count)  // validation keeps args at most 6 (one per index)
            rules.append(bh_seccomp_rule(
                arch: r.arch, syscall_nr: r.nr, name: UnsafePointer(cname), action: r.action, action_data: r.data,
                arg_count: UInt32(r.args.count), args: (a[0], a[1], a[2], a[3], a[4], a[5])))
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var len = 0
        var failed = Int.max
        let rc: Int32 = plan.arches.withUnsafeBufferPointer { arches in
            rules.withUnsafeBufferPointer { rs in
                var p = bh_seccomp_policy(
                    default_action: plan.defaultAction, default_action_data: plan.defaultData,
                    arches: arches.baseAddress ?? UnsafePointer(bitPattern: 8)!, arch_count: arches.count,
                    rules: rs.baseAddress ?? UnsafePointer(bitPattern: 8)!, rule_count: rs.count,
                    bad_arch_action: plan.badArchAction, bad_arch_action_data: plan.badArchData)
                if pfc {
                    return withUnsafeMutablePointer(to: &out) { o in
                        o.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: 1) { bh_seccomp_export_pfc(&p, $0, &len, &failed) }
                    }
                }
                return bh_seccomp_compile(&p, &out, &len, &failed)
            }
        }
        defer { bh_seccomp_free(out) }
        guard rc == 0, let out else {
            var msg = "libseccomp could not build the filter: \(String(cString: strerror(rc)))"
            if failed >= 0, failed < plan.records.count {
                let r = plan.records[failed]
                let arch = SyscallTable.architecturesWithNumbers.first { token(of: $0) == r.arch }?.rawValue ?? "?"
                msg = "libseccomp refused the rule for \"\(r.name)\" on \(arch) from syscalls[\(r.ruleIndex)] of the policy: "
                    + "\(String(cString: strerror(rc)))"
                if rc == EINVAL { msg += "; check its argument conditions" }
            }
            throw SeccompCompileError(operation: pfc ? "export" : "compile", errno: Errno(rc), message: msg)
        }
        return Array(UnsafeBufferPointer(start: out, count: len))
    }
}
