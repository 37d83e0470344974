import BulkheadModel
import BulkheadSystem
import CShims
import CShimsTesting
import Testing

/// A classic-BPF interpreter for seccomp programs (the instructions libseccomp emits), so a
/// test can ask what a filter for another architecture answers without running on it.
struct SeccompBPF {
    struct Insn { var code: UInt16; var jt: UInt8; var jf: UInt8; var k: UInt32 }
    struct Unsupported: Error { var code: UInt16 }
    var insns: [Insn]

    init(_ program: [UInt8]) {
        precondition(program.count % 8 == 0)
        insns = stride(from: 0, to: program.count, by: 8).map { i in
            func u16(_ o: Int) -> UInt16 { UInt16(program[i + o]) | UInt16(program[i + o + 1]) << 8 }
            func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(program[i + o + $1]) << (8 * UInt32($1)) } }
            return Insn(code: u16(0), jt: program[i + 2], jf: program[i + 3], k: u32(4))
        }
    }

    /// The action (SECCOMP_RET_*, with its data) for call `nr` on audit architecture `arch`.
    func run(arch: UInt32, nr: Int32, args: [UInt64] = []) throws -> UInt32 {
        var data = [UInt32](repeating: 0, count: 16)  // struct seccomp_data, 64 bytes
        data[0] = UInt32(bitPattern: nr)
        data[1] = arch
        for (i, a) in args.prefix(6).enumerated() {
            data[4 + 2 * i] = UInt32(truncatingIfNeeded: a)
            data[5 + 2 * i] = UInt32(truncatingIfNeeded: a >> 32)
        }
        var a: UInt32 = 0, x: UInt32 = 0, mem = [UInt32](repeating: 0, count: 16), pc = 0
        while pc < insns.count {
            let i = insns[pc]
            pc += 1
            switch i.code {
            case 0x20: a = data[Int(i.k / 4)]  // ld [k]
            case 0x00: a = i.k  // ld #k
            case 0x60: a = mem[Int(i.k)]  // ld M[k]
            case 0x61: x = mem[Int(i.k)]  // ldx M[k]
            case 0x02: mem[Int(i.k)] = a  // st M[k]
            case 0x03: mem[Int(i.k)] = x  // stx M[k]
            case 0x07: x = a  // tax
            case 0x87: a = x  // txa
            case 0x54: a &= i.k  // and #k
            case 0x44: a |= i.k  // or #k
            case 0x05: pc += Int(i.k)  // ja
            case 0x15: pc += Int(a == i.k ? i.jt : i.jf)
            case 0x25: pc += Int(a > i.k ? i.jt : i.jf)
            case 0x35: pc += Int(a >= i.k ? i.jt : i.jf)
            case 0x45: pc += Int(a & i.k != 0 ? i.jt : i.jf)
            case 0x06: return i.k  // ret #k
            case 0x16: return a  // ret a
            default: throw Unsupported(code: i.code)
            }
        }
        throw Unsupported(code: 0xFFFF)
    }
}

private let auditArchAarch64: UInt32 = 0xC000_00B7
private let auditArchArm: UInt32 = 0x4000_0028
private let auditArchX86_64: UInt32 = 0xC000_003E
private let retAllow: UInt32 = 0x7FFF_0000
private let retErrnoEPERM: UInt32 = 0x0005_0001

@Suite struct SyscallTableARMTests {
    /// Every name of bulkhead's aarch64 and arm tables resolves to the same number in
    /// libseccomp, except the calls newer than libseccomp 2.5 (which it does not know).
    @Test(arguments: [SeccompArch.aarch64, .arm])
    func everyNameAgreesWithLibseccomp(_ arch: SeccompArch) {
        let token = SeccompCompiler.token(of: arch)!
        var compared = 0
        for name in SyscallTable.allNames {
            guard let ours = SyscallTable.number(of: name, on: arch) else { continue }
            let lib = bh_seccomp_resolve_name(token, name)
            if lib == Int32.min || lib < 0 {
                #expect(SyscallTable.namesUnknownToLibseccomp2_5.contains(name), "\(name) on \(arch): libseccomp has \(lib), bulkhead \(ours)")
            } else {
                #expect(lib == ours, "\(name) on \(arch)")
                compared += 1
            }
        }
        #expect(compared > (arch == .arm ? 400 : 300))
    }

    /// And the other way: every number libseccomp names on aarch64 and arm (0 ... 1023 and ARM's
    /// private 0xf0000 range) is in bulkhead's table under that name.
    @Test(arguments: [SeccompArch.aarch64, .arm])
    func everyLibseccompNumberIsInTheTable(_ arch: SeccompArch) {
        let token = SeccompCompiler.token(of: arch)!
        var buf = [CChar](repeating: 0, count: 64)
        var seen = 0
        for nr in Array(0..<1024) + Array(0xF_0000..<0xF_0010) {
            guard bh_testing_seccomp_resolve_num(token, Int32(nr), &buf, buf.count) == 1 else { continue }
            let name = String(cString: buf)
            #expect(SyscallTable.number(of: name, on: arch) == Int32(nr), "\(name) = \(nr) on \(arch)")
            #expect(SyscallTable.name(of: Int32(nr), on: arch) == name, "\(nr) on \(arch)")
            seen += 1
        }
        #expect(seen > 300)
    }

    /// An x86_64 recording exported for aarch64 compiles with libseccomp for SCMP_ARCH_AARCH64
    /// (seccomp_arch_add, seccomp_rule_add, seccomp_export_bpf through SeccompCompiler); the BPF
    /// checks AUDIT_ARCH_AARCH64 and allows the aarch64 numbers of the recorded calls and of
    /// their replacements, refuses the rest, and kills a third architecture.
    @Test func aarch64PolicyCompilesAndAllowsTheRecordedCalls() throws {
        let recordedNames = ["read", "write", "close", "open", "stat", "poll", "fork", "pipe", "execve", "exit_group", "rt_sigreturn", "mmap"]
        let recorded = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64],
                                     rules: [SeccompRule(names: recordedNames, action: .allow)])
        let aarch64Only = recorded.forArchitectures([.aarch64]).policy
        let mixed = recorded.forArchitectures([.aarch64, .x86_64]).policy
        for policy in [aarch64Only, mixed] {
            let program = try SeccompCompiler.compile(policy)
            let bpf = SeccompBPF(program)
            #expect(bpf.insns.contains { $0.code == 0x15 && $0.k == auditArchAarch64 }, "the filter checks AUDIT_ARCH_AARCH64")
            #expect(try SeccompCompiler.pfc(policy).contains("if ($arch == 3221225655)"))
            for name in ["read", "write", "close", "openat", "newfstatat", "ppoll", "pipe2", "execve", "exit_group", "rt_sigreturn", "mmap"] {
                let nr = SyscallTable.number(of: name, on: .aarch64)!
                #expect(try bpf.run(arch: auditArchAarch64, nr: nr) == retAllow, "\(name) (\(nr)) on aarch64")
            }
            // clone as fork does it (SIGCHLD) is allowed, with a namespace flag it is not.
            let clone = SyscallTable.number(of: "clone", on: .aarch64)!
            #expect(try bpf.run(arch: auditArchAarch64, nr: clone, args: [17]) == retAllow)
            #expect(try bpf.run(arch: auditArchAarch64, nr: clone, args: [0x1000_0000 | 17]) == retErrnoEPERM)
            for name in ["mount", "ptrace", "unshare", "bpf"] {
                #expect(try bpf.run(arch: auditArchAarch64, nr: SyscallTable.number(of: name, on: .aarch64)!) == retErrnoEPERM, "\(name)")
            }
            // An architecture the policy does not list gets no allowance at all.
            #expect(try bpf.run(arch: auditArchArm, nr: 3) & 0xFFFF_0000 != retAllow, "arm is not in the filter")
        }
        // 32-bit arm: the filter checks AUDIT_ARCH_ARM and allows glibc's arm variants.
        let arm = SeccompBPF(try SeccompCompiler.compile(recorded.forArchitectures([.arm]).policy))
        #expect(arm.insns.contains { $0.code == 0x15 && $0.k == auditArchArm })
        for name in ["read", "open", "mmap2", "stat64", "sigreturn", "rt_sigreturn", "execve", "poll"] {
            let nr = try #require(SyscallTable.number(of: name, on: .arm), "\(name)")
            #expect(try arm.run(arch: auditArchArm, nr: nr) == retAllow, "\(name) (\(nr)) on arm")
        }
        #expect(try arm.run(arch: auditArchArm, nr: SyscallTable.number(of: "mount", on: .arm)!) == retErrnoEPERM)
        let bpf = SeccompBPF(try SeccompCompiler.compile(mixed))
        #expect(try bpf.run(arch: auditArchX86_64, nr: SyscallTable.number(of: "open", on: .x86_64)!) == retAllow)
        #expect(try bpf.run(arch: auditArchX86_64, nr: SyscallTable.number(of: "mount", on: .x86_64)!) == retErrnoEPERM)
    }
}
