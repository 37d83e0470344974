/// Whether a classic BPF seccomp program lets a system call run whatever the values the caller
/// does not fix: every path the program can take for that call ends in `RET ALLOW`.
///
/// The program is run over abstract values: the architecture, the call's number and the
/// arguments given are known, everything else (the other arguments, the instruction pointer)
/// is unknown. A jump on a known value takes its one branch; a jump on an unknown value takes
/// both. So `allows` is true only when no value of the unknown fields could lead elsewhere: a
/// program that looks at an unknown argument on the way to its answer is not proven, even if
/// every value would have been allowed. An instruction the kernel's checker would refuse, a
/// return of A that is not known, a division by zero or by an X not known (the kernel returns 0:
/// kill), a shift by 32 or more (the kernel's is by X & 31), or more than
/// `budget` instructions walked in all (classic BPF only jumps forward, so the walk ends; the
/// budget bounds its branching) answer false.
public enum SeccompAllowProof {
    /// SECCOMP_RET_ALLOW: the whole return value, no data.
    static let allow: UInt32 = 0x7fff_0000

    /// One call: `args[i]` is argument i when the caller knows it (the rest are unknown).
    public static func allows(_ program: [UInt8], auditArch: UInt32, number: UInt32, args: [Int: UInt64] = [:], budget: Int = 20_000) -> Bool {
        guard !program.isEmpty, program.count % 8 == 0 else { return false }
        let count = program.count / 8
        func word(_ at: Int) -> UInt32 {
            UInt32(program[at]) | UInt32(program[at + 1]) << 8 | UInt32(program[at + 2]) << 16 | UInt32(program[at + 3]) << 24
        }
        // struct seccomp_data: nr, arch, instruction_pointer (8 bytes), args[6] (8 bytes each),
        // little-endian (x86_64, aarch64: the low word of each 64-bit field comes first).
        func field(_ offset: UInt32) -> UInt32?? {
            guard offset % 4 == 0, offset < 64 else { return .none }           // the checker refuses it
            switch offset {
            case 0: return .some(number)
            case 4: return .some(auditArch)
            case 8, 12: return .some(nil)
            default:
                let i = Int((offset - 16) / 8)
                guard let v = args[i] else { return .some(nil) }
                return .some(offset % 8 == 0 ? UInt32(truncatingIfNeeded: v) : UInt32(truncatingIfNeeded: v >> 32))
            }
        }
        struct State { var pc: Int; var a: UInt32?; var x: UInt32?; var mem: [UInt32?] }
        var pending = [State(pc: 0, a: 0, x: 0, mem: Array(repeating: 0, count: 16))]
        var walked = 0
        while var s = pending.popLast() {
            while true {
                walked += 1
                guard walked <= budget, s.pc >= 0, s.pc < count else { return false }
                let at = s.pc * 8
                let code = UInt16(program[at]) | UInt16(program[at + 1]) << 8
                let jt = Int(program[at + 2]), jf = Int(program[at + 3])
                let k = word(at + 4)
                s.pc += 1
                switch code & 0x07 {
                case 0x00, 0x01:                                                   // LD, LDX
                    guard code & 0x18 == 0x00 else { return false }                // 32-bit loads only
                    let value: UInt32?
                    switch code & 0xe0 {
                    case 0x00: value = k                                           // IMM
                    case 0x20:                                                     // ABS
                        guard code & 0x07 == 0x00, case .some(let v) = field(k) else { return false }
                        value = v
                    case 0x60:                                                     // MEM
                        guard k < 16 else { return false }
                        value = s.mem[Int(k)]
                    case 0x80: value = 64                                          // LEN: sizeof(struct seccomp_data)
                    default: return false
                    }
                    if code & 0x07 == 0x00 { s.a = value } else { s.x = value }
                case 0x02, 0x03:                                                   // ST, STX
                    guard code & 0xf8 == 0, k < 16 else { return false }
                    s.mem[Int(k)] = code & 0x07 == 0x02 ? s.a : s.x
                case 0x04:                                                         // ALU
                    let op = code & 0xf0
                    if op == 0x80 { s.a = s.a.map { 0 &- $0 }; break }             // NEG
                    let operand: UInt32? = code & 0x08 == 0 ? k : s.x
                    // A divisor that is zero or may be (an unknown X): the kernel's filter then
                    // returns 0, kill (bpf_convert_filter). MOD: seccomp's checker refuses it.
                    if op == 0x90 || (op == 0x30 && (operand ?? 0) == 0) { return false }
                    // A shift by 32 or more: the checker refuses it by K; by X the kernel shifts
                    // by X & 31 (a 32-bit shift), which is no shift C or Swift spells: not proven.
                    if (op == 0x60 || op == 0x70), let b = operand, b >= 32 { return false }
                    guard let a = s.a, let b = operand else {
                        guard [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0].contains(op) else { return false }
                        s.a = nil
                        break
                    }
                    switch op {
                    case 0x00: s.a = a &+ b
                    case 0x10: s.a = a &- b
                    case 0x20: s.a = a &* b
                    case 0x30: s.a = a / b
                    case 0x40: s.a = a | b
                    case 0x50: s.a = a & b
                    case 0x60: s.a = a << b
                    case 0x70: s.a = a >> b
                    case 0xa0: s.a = a ^ b
                    default: return false
                    }
                case 0x05:                                                         // JMP
                    let op = code & 0xf0
                    if op == 0x00 {                                                // JA
                        guard code & 0x08 == 0 else { return false }
                        s.pc += Int(k)
                        break
                    }
                    let b: UInt32? = code & 0x08 == 0 ? k : s.x
                    let taken: Bool?
                    if let a = s.a, let b {
                        switch op {
                        case 0x10: taken = a == b
                        case 0x20: taken = a > b
                        case 0x30: taken = a >= b
                        case 0x40: taken = a & b != 0
                        default: return false
                        }
                    } else {
                        guard [0x10, 0x20, 0x30, 0x40].contains(op) else { return false }
                        taken = nil
                    }
                    switch taken {
                    case true?: s.pc += jt
                    case false?: s.pc += jf
                    case nil:
                        var other = s
                        other.pc += jf
                        pending.append(other)
                        s.pc += jt
                    }
                case 0x06:                                                         // RET
                    let value: UInt32?
                    switch code {
                    case 0x06: value = k
                    case 0x16: value = s.a
                    default: return false
                    }
                    guard value == allow else { return false }
                case 0x07:                                                         // MISC
                    switch code {
                    case 0x07: s.x = s.a                                           // TAX
                    case 0x87: s.a = s.x                                           // TXA
                    default: return false
                    }
                default: return false
                }
                if code & 0x07 == 0x06 { break }
            }
        }
        return true
    }
}
