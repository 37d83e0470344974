/// One eBPF instruction (`struct bpf_insn`): opcode, destination and source registers, offset,
/// immediate. Pure data: the launcher hands the list to the kernel as it is.
public struct BPFInstruction: Sendable, Equatable, CustomStringConvertible {
    public var code: UInt8
    public var dst: UInt8
    public var src: UInt8
    public var off: Int16
    public var imm: Int32

    public init(code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) {
        self.code = code
        self.dst = dst
        self.src = src
        self.off = off
        self.imm = imm
    }

    // The opcodes the device program uses (linux/bpf_common.h, linux/bpf.h).
    public static let loadWord: UInt8 = 0x61      // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
    public static let and32Imm: UInt8 = 0x54      // BPF_ALU | BPF_AND | BPF_K
    public static let rsh32Imm: UInt8 = 0x74      // BPF_ALU | BPF_RSH | BPF_K
    public static let mov32Imm: UInt8 = 0xb4      // BPF_ALU | BPF_MOV | BPF_K
    public static let mov32Reg: UInt8 = 0xbc      // BPF_ALU | BPF_MOV | BPF_X
    public static let jneImm: UInt8 = 0x55        // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
    public static let jneReg: UInt8 = 0x5d        // BPF_JMP | BPF_JNE | BPF_X: if dst != src goto +off
    public static let exit: UInt8 = 0x95          // BPF_JMP | BPF_EXIT: return r0

    public var description: String {
        "code=0x\(String(code, radix: 16)) dst=r\(dst) src=r\(src) off=\(off) imm=\(imm)"
    }
}

