/// Two compiled seccomp programs (classic BPF, `struct sock_filter` of 8 bytes each) as one:
/// a call runs only if both let it run. Used when an OCI config's own `linux.seccomp` and a
/// bulkhead profile's policy (`bulkhead.dev/profile`) both apply: the result is their
/// intersection, never wider than either.
///
/// How: `first`'s instructions, where every `RET ALLOW` (and `RET LOG`, which lets the call
/// run) becomes a jump to `second`, which starts with A and X cleared (as the kernel starts a
/// program). Any other return of `first` (KILL, TRAP, ERRNO) is kept: the call is refused
/// without running `second`. A return whose outcome another process decides (`TRACE`,
/// `USER_NOTIF`: a tracer or listener could let the call run), `RET A` (not known until the
/// call) and an unknown action are refused rather than combined. Jumps are never rewritten
/// (every replacement is one instruction in place), so `first`'s conditional offsets keep
/// their targets.
///
/// A single program, not two filters: the second `seccomp(2)` call would pass through the
/// first filter, which may refuse it.
public enum SeccompProgramStack {
    /// BPF_MAXINSNS: the kernel's bound on a classic program.
    public static let maxInstructions = 4096

    static let retK: UInt16 = 0x06, retA: UInt16 = 0x16, ja: UInt16 = 0x05
    static let ldImm: UInt16 = 0x00, ldxImm: UInt16 = 0x01

    /// SECCOMP_RET_* actions (the top 16 bits of a return value).
    static let allow: UInt32 = 0x7fff_0000, log: UInt32 = 0x7ffc_0000
    static let refusing: Set<UInt32> = [0x8000_0000, 0x0000_0000, 0x0003_0000, 0x0005_0000] // KILL_PROCESS, KILL_THREAD, TRAP, ERRNO

    /// `first` then `second`; nil with why when they cannot be combined.
    public static func intersect(_ first: [UInt8], _ second: [UInt8]) -> (program: [UInt8]?, problem: String?) {
        guard first.count % 8 == 0, second.count % 8 == 0, !first.isEmpty, !second.isEmpty else {
            return (nil, "a seccomp program is not a whole number of BPF instructions")
        }
        let n1 = first.count / 8, n2 = second.count / 8
        let total = n1 + 2 + n2
        guard total <= maxInstructions else {
            return (nil, "the two seccomp programs together have \(total) BPF instructions, above the kernel's \(maxInstructions)")
        }
        var out = [UInt8]()
        out.reserveCapacity(total * 8)
        for i in 0..<n1 {
            let base = i * 8
            let code = UInt16(first[base]) | UInt16(first[base + 1]) << 8
            let k = UInt32(first[base + 4]) | UInt32(first[base + 5]) << 8 | UInt32(first[base + 6]) << 16 | UInt32(first[base + 7]) << 24
            if code == retA { return (nil, "the config's seccomp program returns a computed action (RET A)") }
            if code == retK {
                let action = k & 0xffff_0000
                if action == allow || action == log {
                    // Jump over the rest of `first` to the two clearing instructions before `second`.
                    append(&out, code: ja, k: UInt32(n1 - i - 1))
                    continue
                }
                guard refusing.contains(action) else {
                    return (nil, "the config's seccomp program returns an action another process decides (SCMP_ACT_TRACE, SCMP_ACT_NOTIFY) or an unknown one (0x\(String(action, radix: 16)))")
                }
            }
            out += first[base..<(base + 8)]
        }
        append(&out, code: ldImm, k: 0)
        append(&out, code: ldxImm, k: 0)
        out += second
        return (out, nil)
    }

    static func append(_ out: inout [UInt8], code: UInt16, k: UInt32) {
        out += [UInt8(code & 0xff), UInt8(code >> 8), 0, 0,
                UInt8(k & 0xff), UInt8((k >> 8) & 0xff), UInt8((k >> 16) & 0xff), UInt8(k >> 24)]
    }
}
