/// One system call the seccomp policy refused (`bulkhead run`: `RunReport.seccompViolations`) or
/// would have refused (`bulkhead seccomp verify`: `SeccompVerifyReport.missing`), with how often.
/// Calls are told apart by architecture, number, answer and (verify) executable.
public struct SeccompViolation: Codable, Sendable, Equatable, Hashable {
    /// The call's name on `arch`, or `#N` when bulkhead has no name for number N there.
    public var name: String
    /// The architecture the call was made on, as a policy spells it (`SCMP_ARCH_X86_64`,
    /// `SCMP_ARCH_X86`, `SCMP_ARCH_X32`), or `AUDIT_ARCH_0x…` for one bulkhead has no table for.
    public var arch: String
    /// The system-call number on `arch` (x32 numbers with X32_SYSCALL_BIT, as the kernel sees them).
    public var number: Int32
    public var count: Int
    /// `run`: the errno the workload got (the policy's, e.g. `EPERM`). Nil in verify mode.
    public var errno: String?
    /// `verify`: what the policy would have done (`SCMP_ACT_ERRNO(EPERM)`, `SCMP_ACT_KILL_PROCESS`
    /// …). Nil in run mode (always SCMP_ACT_ERRNO there: kill actions stay the kernel's).
    public var action: String?
    /// `verify`: the executable that made the call (`/proc/PID/exe` while the call waited, as the
    /// launcher sees it; nil when the caller was gone before it could be read).
    public var executable: String?

    public init(name: String, arch: String, number: Int32, count: Int, errno: String? = nil,
                action: String? = nil, executable: String? = nil) {
        self.name = name; self.arch = arch; self.number = number; self.count = count
        self.errno = errno; self.action = action; self.executable = executable
    }

    /// At most this many kinds of calls are told apart in a report: the workload chooses the
    /// numbers it calls, so the launcher's records (and the report, and stderr) are bounded; calls
    /// of further kinds are counted in one entry named `moreKindsName`.
    public static let kindLimit = 256
    /// The entry that counts the calls past `kindLimit` (arch "*", number -1).
    public static let moreKindsName = "(more kinds)"

    /// One line for standard error: `openat (SCMP_ARCH_X86_64) refused 3 times with EPERM`.
    public var line: String {
        var s = "\(name) (\(arch), #\(number)) "
        if let errno { s += "refused \(count) time\(count == 1 ? "" : "s") with \(errno)" }
        else { s += "\(count) call\(count == 1 ? "" : "s")" }
        if let action { s += ", policy: \(action)" }
        if let executable { s += ", by \(executable)" }
        return s
    }

    /// Sorted for reports: by name, then architecture, then executable.
    public static func ordered(_ v: [SeccompViolation]) -> [SeccompViolation] {
        v.sorted { ($0.name, $0.arch, $0.executable ?? "", $0.errno ?? "") < ($1.name, $1.arch, $1.executable ?? "", $1.errno ?? "") }
    }
}

/// `bulkhead seccomp verify --json`: every call the policy would have refused over all runs.
public struct SeccompVerifyReport: Codable, Sendable, Equatable {
    public var bulkhead: String = BulkheadVersion.string
    public var policy: String
    public var command: [String]
    public var runs: Int
    /// Each run's exit code (the workload ran with nothing refused).
    public var exitCodes: [Int32]
    /// The calls the policy misses, summed over the runs.
    public var missing: [SeccompViolation]
    /// Why nothing could be observed, when that is so (the policy refuses the hand-over's own
    /// sendmsg or close: docs/seccomp.md); the verdict is then "unverified", exit 2.
    public var unverified: String?
    /// "complete" (nothing missing), "missing" or "unverified".
    public var verdict: String

    public init(policy: String, command: [String], runs: Int, exitCodes: [Int32], missing: [SeccompViolation], unverified: String?) {
        self.policy = policy; self.command = command; self.runs = runs; self.exitCodes = exitCodes
        self.missing = SeccompViolation.ordered(missing); self.unverified = unverified
        verdict = unverified != nil ? "unverified" : (missing.isEmpty ? "complete" : "missing")
    }
}
