import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// `linux.resources.devices` on cgroup v2: the BPF_PROG_TYPE_CGROUP_DEVICE program OCIDeviceProgram
/// generates, read as instructions and run by a small interpreter of the opcodes it uses (what the
/// kernel does with `struct bpf_cgroup_dev_ctx`), against the v1 devices cgroup's semantics: the
/// config's rules in order, then the engine's nodes, everything else refused.
struct OCIDeviceProgramTests {
    typealias I = BPFInstruction
    typealias Rule = OCIConfig.DeviceRule
    static let c = OCIDeviceProgram.devChar, b = OCIDeviceProgram.devBlock
    static let m = OCIDeviceProgram.accessMknod, r = OCIDeviceProgram.accessRead, w = OCIDeviceProgram.accessWrite

    /// Runs `p` as the kernel would for a device access; nil when the program is not one the
    /// verifier takes (a jump out of it, a load from r1 after r1 was overwritten, an unknown opcode,
    /// falling off the end).
    static func run(_ p: [I], type: UInt32, access: UInt32, major: UInt32, minor: UInt32) -> UInt64? {
        var reg = [UInt64](repeating: 0, count: 11)
        var ctxInR1 = true
        let ctx: [Int16: UInt32] = [0: access << 16 | type, 4: major, 8: minor]
        var pc = 0
        var steps = 0
        while pc >= 0 && pc < p.count && steps < 10_000 {
            steps += 1
            let i = p[pc]
            let d = Int(i.dst), s = Int(i.src)
            pc += 1
            switch i.code {
            case I.loadWord:
                guard s == 1, ctxInR1, let v = ctx[i.off] else { return nil }
                reg[d] = UInt64(v)
                if d == 1 { ctxInR1 = false }
            case I.and32Imm: reg[d] = UInt64(UInt32(truncatingIfNeeded: reg[d]) & UInt32(bitPattern: i.imm))
            case I.rsh32Imm: reg[d] = UInt64(UInt32(truncatingIfNeeded: reg[d]) >> UInt32(i.imm))
            case I.mov32Imm: reg[d] = UInt64(UInt32(bitPattern: i.imm))
            case I.mov32Reg: reg[d] = UInt64(UInt32(truncatingIfNeeded: reg[s]))
            case I.jneImm: if reg[d] != UInt64(bitPattern: Int64(i.imm)) { pc += Int(i.off) }
            case I.jneReg: if reg[d] != reg[s] { pc += Int(i.off) }
            case I.exit: return reg[0]
            default: return nil
            }
            if d == 1 && i.code != I.loadWord { ctxInR1 = false }
        }
        return nil
    }

    /// Every instruction is reachable and every jump lands inside the program (the verifier
    /// refuses a program with unreachable instructions or a jump out of it).
    static func wellFormed(_ p: [I]) -> Bool {
        var reached = Set<Int>(), todo = [0]
        while let pc = todo.popLast() {
            guard pc >= 0 && pc < p.count else { return false }
            guard reached.insert(pc).inserted else { continue }
            switch p[pc].code {
            case I.exit: break
            case I.jneImm, I.jneReg: todo += [pc + 1, pc + 1 + Int(p[pc].off)]
            default: todo.append(pc + 1)
            }
        }
        return reached.count == p.count
    }

    static func allows(_ p: [I], _ type: UInt32, _ major: UInt32, _ minor: UInt32, _ access: UInt32) -> Bool {
        run(p, type: type, access: access, major: major, minor: minor) == 1
    }

    /// podman's and runc's shape: deny-all, then allow rules. The listed nodes and the engine's
    /// open for read and write and can be made; anything else is refused, for every access, and
    /// a block device with a listed char device's numbers is refused too.
    @Test func denyAllThenAllowList() throws {
        let p = try OCIDeviceProgram.instructions([Rule(allow: false, line: "a"), Rule(allow: true, line: "c 1:3 rwm"), Rule(allow: true, line: "c 1:5 rwm")])
        #expect(Self.wellFormed(p))
        for a in [Self.r, Self.w, Self.m, Self.r | Self.w] {
            #expect(Self.allows(p, Self.c, 1, 3, a) && Self.allows(p, Self.c, 1, 5, a), "access \(a)")
            #expect(Self.allows(p, Self.c, 136, 7, a) && Self.allows(p, Self.c, 5, 2, a) && Self.allows(p, Self.c, 1, 9, a), "engine nodes, access \(a)")
            #expect(!Self.allows(p, Self.c, 1, 11, a), "c 1:11 (kmsg) is not listed, access \(a)")
            #expect(!Self.allows(p, Self.b, 1, 3, a), "b 1:3 is not c 1:3, access \(a)")
            #expect(!Self.allows(p, Self.b, 8, 0, a) && !Self.allows(p, Self.c, 10, 200, a) && !Self.allows(p, Self.c, 4, 1, a))
        }
    }

    /// The exact program for one rule: the context's fields loaded once, one block per allow rule
    /// whose tests jump past the block, return 1 at the block's end, return 0 after the last.
    @Test func instructionsForOneRule() throws {
        let p = try OCIDeviceProgram.instructions([Rule(allow: false, line: "a"), Rule(allow: true, line: "b 8:* r")])
        let header: [I] = [I(code: I.loadWord, dst: 2, src: 1, off: 0), I(code: I.and32Imm, dst: 2, imm: 0xFFFF),
                           I(code: I.loadWord, dst: 3, src: 1, off: 0), I(code: I.rsh32Imm, dst: 3, imm: 16),
                           I(code: I.loadWord, dst: 4, src: 1, off: 4), I(code: I.loadWord, dst: 5, src: 1, off: 8)]
        let block: [I] = [I(code: I.jneImm, dst: 2, off: 6, imm: 1),
                          I(code: I.mov32Reg, dst: 1, src: 3), I(code: I.and32Imm, dst: 1, imm: 2), I(code: I.jneReg, dst: 1, src: 3, off: 3),
                          I(code: I.jneImm, dst: 4, off: 2, imm: 8),
                          I(code: I.mov32Imm, dst: 0, imm: 1), I(code: I.exit)]
        #expect(Array(p.prefix(header.count + block.count)) == header + block, "\(p)")
        #expect(Array(p.suffix(2)) == [I(code: I.mov32Imm, dst: 0, imm: 0), I(code: I.exit)])
        // 6 + 7 + the engine's 8 rules (5 instructions each, c 136:* 4) + 2.
        #expect(p.count == 6 + 7 + 7 * 5 + 4 + 2)
        #expect(Self.wellFormed(p))
        #expect(Self.allows(p, Self.b, 8, 17, Self.r) && !Self.allows(p, Self.b, 8, 17, Self.w) && !Self.allows(p, Self.b, 8, 17, Self.r | Self.w))
        #expect(!Self.allows(p, Self.b, 9, 0, Self.r))
    }

    /// The access asked for must be within the rule's: `c *:* m` (mknod of any, containerd's
    /// default) lets any char node be made, never opened.
    @Test func accessIsASubset() throws {
        let p = try OCIDeviceProgram.instructions([Rule(allow: false, line: "a"), Rule(allow: true, line: "c *:* m"), Rule(allow: true, line: "b *:* m")])
        #expect(Self.wellFormed(p))
        #expect(Self.allows(p, Self.c, 10, 200, Self.m) && Self.allows(p, Self.b, 8, 0, Self.m))
        #expect(!Self.allows(p, Self.c, 10, 200, Self.r) && !Self.allows(p, Self.c, 10, 200, Self.w) && !Self.allows(p, Self.b, 8, 0, Self.r | Self.m))
        #expect(Self.allows(p, Self.c, 1, 3, Self.r | Self.w), "the engine's /dev/null still opens")
    }

    /// As in the v1 devices cgroup, a deny-all rule empties what came before it; and with no
    /// deny-all rule the program still refuses what is not listed (default deny, as runc's).
    @Test func denyAllResetsAndDefaultIsDeny() throws {
        let reset = try OCIDeviceProgram.instructions([Rule(allow: true, line: "c 4:1 rwm"), Rule(allow: false, line: "a"), Rule(allow: true, line: "c 1:3 rwm")])
        #expect(!Self.allows(reset, Self.c, 4, 1, Self.r) && Self.allows(reset, Self.c, 1, 3, Self.r))
        let noDeny = try OCIDeviceProgram.instructions([Rule(allow: true, line: "c 1:3 rwm")])
        #expect(Self.wellFormed(noDeny))
        #expect(!Self.allows(noDeny, Self.c, 1, 11, Self.m) && !Self.allows(noDeny, Self.b, 8, 0, Self.r))
    }

    /// A rule that tests nothing ends the program: nothing after it (the verifier refuses
    /// unreachable instructions), and everything is allowed.
    @Test func allowAllEndsTheProgram() throws {
        let p = try OCIDeviceProgram.instructions([Rule(allow: true, line: "a *:* rwm"), Rule(allow: true, line: "c 1:3 r")])
        #expect(p.count == 8 && Self.wellFormed(p), "\(p)")
        #expect(Self.allows(p, Self.b, 8, 0, Self.r | Self.w | Self.m) && Self.allows(p, Self.c, 1, 11, Self.m))
    }

    /// What the program cannot express as the decoder's rules mean it is refused, naming the
    /// field: a deny rule other than deny-all, numbers a 32-bit immediate would sign-extend,
    /// malformed lines.
    @Test func refusals() {
        for rules in [[Rule(allow: false, line: "c 1:3 rwm")], [Rule(allow: true, line: "c 2147483648:0 rwm")],
                      [Rule(allow: true, line: "c 1:3")], [Rule(allow: true, line: "x 1:3 rwm")], [Rule(allow: true, line: "c 1:3 rx")],
                      [Rule(allow: true, line: "c 1-3 rwm")], [Rule(allow: true, line: "c -1:3 rwm")]] {
            #expect(throws: ConfigError.self, "\(rules)") { try OCIDeviceProgram.instructions(rules) }
            do { _ = try OCIDeviceProgram.instructions(rules) } catch { #expect(error.field == "linux.resources.devices") }
        }
    }

    /// Every config the decoder accepts gives a program the verifier would take, default deny.
    @Test func decodedConfigsGiveWellFormedPrograms() throws {
        let c = try OCIConfig.decode(OCIConfigTests.config(linux: #""resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}, {"allow": true, "type": "c", "major": 136, "access": "rwm"}, {"allow": true, "type": "c", "access": "m"}, {"allow": true, "type": "b", "access": "m"}, {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}]}"#), bundle: "/b")
        let p = try OCIDeviceProgram.instructions(c.deviceRules)
        #expect(Self.wellFormed(p))
        #expect(Self.allows(p, Self.c, 10, 200, Self.r | Self.w) && !Self.allows(p, Self.c, 10, 229, Self.r) && !Self.allows(p, Self.b, 7, 0, Self.r))
    }
}
