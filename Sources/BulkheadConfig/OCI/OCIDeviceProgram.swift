import BulkheadModel

/// `linux.resources.devices` on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, the eBPF
/// equivalent of the v1 devices cgroup's list. The kernel runs it for every mknod and every open
/// of a device node by a task in the cgroup (and its descendants) with
/// `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }` (access_type: the
/// device type in the low 16 bits, BPF_DEVCG_DEV_BLOCK 1 / CHAR 2; the access in the high 16,
/// BPF_DEVCG_ACC_MKNOD 1 / READ 2 / WRITE 4); it returns 1 to allow, 0 to refuse (EPERM).
///
/// The rules as the v1 devices cgroup applies them, in the config's order, then the engine's own
/// nodes (`OCIConfig.engineDeviceRules`, as runc adds its default devices): a deny-all rule
/// empties the allow list, an allow rule adds to it. The program tests the allow list's rules
/// one after another (the first that matches allows) and refuses everything else: default deny,
/// also for a config without a deny-all rule (as runc's program does: its rules start from an
/// empty allow list). A deny rule other than deny-all is refused (the config decoder accepts none).
public enum OCIDeviceProgram {
    /// One allow rule: nil type, major or minor is a wildcard; access is the BPF_DEVCG_ACC_* bits.
    public struct Rule: Sendable, Equatable {
        public var type: UInt32?
        public var major: UInt32?
        public var minor: UInt32?
        public var access: UInt32
    }

    public static let devBlock: UInt32 = 1, devChar: UInt32 = 2
    public static let accessMknod: UInt32 = 1, accessRead: UInt32 = 2, accessWrite: UInt32 = 4
    /// The kernel's limit for a program loaded without CAP_PERFMON (BPF_MAXINSNS); far above
    /// what any accepted config needs (at most 8 instructions per rule).
    public static let maxInstructions = 4096

    static func error(_ message: String) -> ConfigError {
        ConfigError(file: OCIConfig.file, field: "linux.resources.devices", message: message)
    }

    /// The allow list the rules leave, in order: the config's rules, then the engine's nodes.
    public static func allowList(_ rules: [OCIConfig.DeviceRule]) throws(ConfigError) -> [Rule] {
        var list: [Rule] = []
        for r in rules + OCIConfig.engineDeviceRules.map({ OCIConfig.DeviceRule(allow: true, line: $0) }) {
            if !r.allow {
                guard r.line == "a" else { throw error("only the deny-all rule can deny") }
                list.removeAll()
                continue
            }
            list.append(try parse(r.line))
        }
        return list
    }

    /// "TYPE MAJOR:MINOR ACCESS" as `OCIConfig.DeviceRule.line` writes it (TYPE a, c or b;
    /// MAJOR and MINOR a number or *; ACCESS of r, w, m).
    static func parse(_ line: String) throws(ConfigError) -> Rule {
        let f = line.split(separator: " ", omittingEmptySubsequences: false)
        guard f.count == 3 else { throw error("a rule is TYPE MAJOR:MINOR ACCESS") }
        let type: UInt32?
        switch f[0] {
        case "a": type = nil
        case "c": type = devChar
        case "b": type = devBlock
        default: throw error("a device type is a, c or b")
        }
        let mm = f[1].split(separator: ":", omittingEmptySubsequences: false)
        guard mm.count == 2 else { throw error("a rule is TYPE MAJOR:MINOR ACCESS") }
        func number(_ s: Substring) throws(ConfigError) -> UInt32? {
            if s == "*" { return nil }
            // Compared as 64-bit registers against a sign-extended 32-bit immediate: only
            // numbers up to Int32.max compare as written (Linux majors have 12 bits, minors 20).
            guard let v = UInt32(s), v <= UInt32(Int32.max) else { throw error("a major or minor number is 0…2147483647 or *") }
            return v
        }
        var access: UInt32 = 0
        for ch in f[2] {
            switch ch {
            case "m": access |= accessMknod
            case "r": access |= accessRead
            case "w": access |= accessWrite
            default: throw error("r, w and m only")
            }
        }
        guard access != 0 else { throw error("r, w and m only") }
        return Rule(type: type, major: try number(mm[0]), minor: try number(mm[1]), access: access)
    }

    /// The program's instructions for `rules` (`OCIConfig.deviceRules`).
    ///
    /// r2 = type, r3 = access, r4 = major, r5 = minor (loaded once from the context in r1); then
    /// one block per allow rule, each test jumping to the next block when it fails and the
    /// block's end returning 1; after the last block, return 0. A rule that tests nothing (type
    /// a, *:*, rwm) ends the program there: the kernel's verifier refuses unreachable blocks.
    public static func instructions(_ rules: [OCIConfig.DeviceRule]) throws(ConfigError) -> [BPFInstruction] {
        typealias I = BPFInstruction
        var p: [I] = [
            I(code: I.loadWord, dst: 2, src: 1, off: 0),
            I(code: I.and32Imm, dst: 2, imm: 0xFFFF),
            I(code: I.loadWord, dst: 3, src: 1, off: 0),
            I(code: I.rsh32Imm, dst: 3, imm: 16),
            I(code: I.loadWord, dst: 4, src: 1, off: 4),
            I(code: I.loadWord, dst: 5, src: 1, off: 8),
        ]
        let all = accessMknod | accessRead | accessWrite
        for rule in try allowList(rules) {
            // The tests as (instruction, is a jump to the next block).
            var block: [I] = []
            if let t = rule.type { block.append(I(code: I.jneImm, dst: 2, imm: Int32(t))) }
            if rule.access != all {
                // The access asked for must be within the rule's: (r3 & access) == r3. r1 (the
                // context) is free once the fields are loaded.
                block.append(I(code: I.mov32Reg, dst: 1, src: 3))
                block.append(I(code: I.and32Imm, dst: 1, imm: Int32(rule.access)))
                block.append(I(code: I.jneReg, dst: 1, src: 3))
            }
            if let m = rule.major { block.append(I(code: I.jneImm, dst: 4, imm: Int32(m))) }
            if let m = rule.minor { block.append(I(code: I.jneImm, dst: 5, imm: Int32(m))) }
            block.append(I(code: I.mov32Imm, dst: 0, imm: 1))
            block.append(I(code: I.exit))
            // Each jump lands on the first instruction after this block.
            for i in block.indices where block[i].code == I.jneImm || block[i].code == I.jneReg {
                block[i].off = Int16(block.count - i - 1)
            }
            p += block
            if block.count == 2 {
                guard p.count <= maxInstructions else { throw error("too many rules for one device program (\(maxInstructions) instructions)") }
                return p
            }
        }
        p.append(I(code: I.mov32Imm, dst: 0, imm: 0))
        p.append(I(code: I.exit))
        guard p.count <= maxInstructions else { throw error("too many rules for one device program (\(maxInstructions) instructions)") }
        return p
    }
}
