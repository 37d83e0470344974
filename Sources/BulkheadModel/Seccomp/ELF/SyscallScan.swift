/// Finds the system calls an x86_64 machine-code blob makes directly: each `syscall`
/// instruction (0F 05) whose number is a constant loaded into eax/rax shortly before it.
///
/// x86 code cannot be decoded backwards with certainty, so the scanner looks for the instruction
/// that loads the number (`mov $N,%eax` B8 imm32, `mov $N,%rax` 48 C7 C0 imm32, `xor %eax,%eax`)
/// at most `window` bytes before the `syscall`, and accepts it only when the bytes between
/// decode, forward, into instructions from a short list that cannot change eax (moves into other
/// registers, register and memory moves out of registers, `lea` into another register, `endbr64`,
/// `nop`), ending exactly at the `syscall`. A site it cannot prove is counted, not guessed
/// (`unresolved`): the number then came from elsewhere (glibc's `syscall()` wrapper takes it as
/// an argument).
public enum X86SyscallDecoder {
    public static let window = 48

    public struct Result: Sendable, Equatable {
        /// Each constant number with how many sites use it.
        public var numbers: [Int32: Int] = [:]
        /// `syscall` instructions whose number was not a provable constant.
        public var unresolved = 0
        public init() {}
    }

    public static func scan(_ code: ArraySlice<UInt8>) -> Result {
        var r = Result()
        let base = code.startIndex, end = code.endIndex
        var p = base
        while p + 1 < end {
            if code[p] == 0x0F, code[p + 1] == 0x05 {
                if let n = number(before: p, in: code, from: base) { r.numbers[n, default: 0] += 1 } else { r.unresolved += 1 }
                p += 2
            } else {
                p += 1
            }
        }
        return r
    }

    /// The constant in eax at the `syscall` at `site`, when the code before it proves one.
    static func number(before site: Int, in code: ArraySlice<UInt8>, from base: Int) -> Int32? {
        var s = site - 2
        while s >= max(base, site - window) {
            defer { s -= 1 }
            guard let (value, length) = loadsEax(code, s, site) else { continue }
            // A REX prefix right before would make B8 a load into r8d ... r15d (and 31 C0 an
            // xor of r8d); the forms with their own REX (48 C7 C0, 48 31 C0) are whole.
            if length <= 5, code[s] != 0x48, s > base, code[s - 1] & 0xF0 == 0x40 { continue }
            if skipsToSite(code, s + length, site) { return value }
        }
        return nil
    }

    /// (value, length) when the instruction at `i` puts a constant into eax/rax.
    static func loadsEax(_ c: ArraySlice<UInt8>, _ i: Int, _ end: Int) -> (Int32, Int)? {
        func imm32(_ at: Int) -> Int32? {
            guard at + 4 <= end else { return nil }
            return Int32(bitPattern: UInt32(c[at]) | UInt32(c[at + 1]) << 8 | UInt32(c[at + 2]) << 16 | UInt32(c[at + 3]) << 24)
        }
        if c[i] == 0xB8, let v = imm32(i + 1) { return (v, 5) }
        if i + 3 <= end, c[i] == 0x48, c[i + 1] == 0xC7, c[i + 2] == 0xC0, let v = imm32(i + 3) { return (v, 7) }
        if i + 2 <= end, (c[i] == 0x31 || c[i] == 0x33), c[i + 1] == 0xC0 { return (0, 2) }
        if i + 3 <= end, c[i] == 0x48, (c[i + 1] == 0x31 || c[i + 1] == 0x33), c[i + 2] == 0xC0 { return (0, 3) }
        return nil
    }

    /// Whether the bytes [from, to) are instructions that leave eax alone.
    static func skipsToSite(_ c: ArraySlice<UInt8>, _ from: Int, _ to: Int) -> Bool {
        var i = from
        while i < to {
            guard let n = lengthLeavingEax(c, i, to) else { return false }
            i += n
        }
        return i == to
    }

    /// The length of the instruction at `i` when it is one that cannot write eax/rax.
    static func lengthLeavingEax(_ c: ArraySlice<UInt8>, _ i: Int, _ end: Int) -> Int? {
        if let n = sseLength(c, i, end) { return n }
        var p = i
        var rex: UInt8 = 0
        if c[p] & 0xF0 == 0x40 { rex = c[p]; p += 1; guard p < end else { return nil } }
        let op = c[p]
        let rexB = rex & 1 != 0, rexR = rex & 4 != 0
        switch op {
        case 0x90 where rex == 0: return 1  // nop
        case 0xF3 where rex == 0:  // endbr64
            if p + 4 <= end, c[p + 1] == 0x0F, c[p + 2] == 0x1E, c[p + 3] == 0xFA { return 4 }
            return nil
        case 0xB9...0xBF:  // mov $imm32, %reg other than eax (any, with REX.B: r8 ... r15)
            return rex & 0x08 != 0 ? nil : (p + 5 <= end ? p + 5 - i : nil)
        case 0xB8 where rexB:  // mov $imm32, %r8d
            return rex & 0x08 != 0 ? nil : (p + 5 <= end ? p + 5 - i : nil)
        case 0x89, 0x8B, 0x8D, 0x31, 0x33, 0xC7:
            guard p + 1 < end else { return nil }
            let modrm = c[p + 1]
            let mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7
            // The register written: the r/m operand for 89, 31, C7 with mod 11; the reg
            // operand for 8B, 8D, 33; none for a store to memory (89, C7 with mod != 11).
            let writesRM = (op == 0x89 || op == 0x31 || op == 0xC7) && mod == 3
            let writesReg = op == 0x8B || op == 0x8D || op == 0x33
            if writesRM, rm == 0, !rexB { return nil }
            if writesReg, reg == 0, !rexR { return nil }
            if op == 0xC7, reg != 0 { return nil }
            if op == 0x8D, mod == 3 { return nil }
            guard let l = modrmLength(c, p + 1, end) else { return nil }
            let immediate = op == 0xC7 ? 4 : 0
            let total = p + 1 + l + immediate - i
            return i + total <= end ? total : nil
        default:
            return nil
        }
    }

    /// SSE moves between xmm registers and memory, and from a general register into an xmm
    /// register (`movq %rdi,%xmm0`, `punpcklqdq`, `movups %xmm0,(%rbx)`, `pxor`): none writes a
    /// general register. `endbr64` (F3 0F 1E FA) is not one of them.
    static let sseOpcodes: Set<UInt8> = [0x10, 0x11, 0x28, 0x29, 0x6C, 0x6D, 0x6E, 0x6F, 0x7F, 0xD6, 0xEF]

    static func sseLength(_ c: ArraySlice<UInt8>, _ i: Int, _ end: Int) -> Int? {
        var p = i
        if p < end, c[p] == 0x66 || c[p] == 0xF2 || c[p] == 0xF3 { p += 1 }
        if p < end, c[p] & 0xF0 == 0x40 { p += 1 }
        guard p + 2 < end, c[p] == 0x0F, sseOpcodes.contains(c[p + 1]) else { return nil }
        // 0F 6E and 0F 7E move between general and xmm registers; only 6E (into xmm) is listed.
        guard let l = modrmLength(c, p + 2, end) else { return nil }
        let total = p + 2 + l - i
        return i + total <= end ? total : nil
    }

    /// Bytes of a ModRM byte with its SIB and displacement.
    static func modrmLength(_ c: ArraySlice<UInt8>, _ at: Int, _ end: Int) -> Int? {
        guard at < end else { return nil }
        let modrm = c[at], mod = modrm >> 6, rm = modrm & 7
        if mod == 3 { return 1 }
        var n = 1
        if rm == 4 {
            guard at + 1 < end else { return nil }
            n += 1
            if mod == 0, c[at + 1] & 7 == 5 { n += 4 }
        } else if mod == 0, rm == 5 {
            n += 4
        }
        if mod == 1 { n += 1 } else if mod == 2 { n += 4 }
        return n
    }
}

/// The system calls one ELF file makes directly, and the functions it takes from libraries.
public struct ELFSyscallSummary: Sendable, Equatable {
    /// Constant numbers of `syscall` instructions in the executable sections, with their site counts.
    public var direct: [Int32: Int]
    public var unresolvedSites: Int
    public var imports: [String]
    public var needed: [String]
    public var runPath: [String]

    /// Scans a parsed file (x86_64 only: another machine's code is refused).
    public static func scan(_ elf: ELFFile, bytes: [UInt8]) throws(ELFError) -> ELFSyscallSummary {
        guard elf.machine == .x86_64 else { throw ELFError("not an x86_64 file (the scanner decodes x86_64 code only)") }
        var direct: [Int32: Int] = [:], unresolved = 0
        for s in elf.sections where s.isExecutable && s.size > 0 {
            let r = X86SyscallDecoder.scan(elf.contents(of: s, in: bytes))
            direct.merge(r.numbers, uniquingKeysWith: +)
            unresolved += r.unresolved
        }
        return ELFSyscallSummary(direct: direct, unresolvedSites: unresolved, imports: elf.imports, needed: elf.needed, runPath: elf.runPath)
    }
}
