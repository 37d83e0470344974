@testable import BulkheadConfig
@testable import BulkheadModel
import Testing

/// The pure halves of `bulkhead.dev/profile`: the two seccomp programs as one, and the
/// tightening of a decoded config by a resolved profile.
@Suite struct OCIProfileAnnotationModelTests {
    static func insn(_ code: UInt16, _ k: UInt32, jt: UInt8 = 0, jf: UInt8 = 0) -> [UInt8] {
        [UInt8(code & 0xff), UInt8(code >> 8), jt, jf, UInt8(k & 0xff), UInt8((k >> 8) & 0xff), UInt8((k >> 16) & 0xff), UInt8(k >> 24)]
    }

    /// Every RET ALLOW (and LOG) of the first becomes a forward jump to the second (after A and X
    /// are cleared); refusing returns and other instructions are kept in place.
    @Test func allowOfTheFirstRunsTheSecond() throws {
        let ld = Self.insn(0x20, 0) // ld [0]
        let jeq = Self.insn(0x15, 83, jt: 0, jf: 1)
        let errno = Self.insn(0x06, 0x0005_0001)
        let allow = Self.insn(0x06, 0x7fff_0000)
        let first = ld + jeq + errno + allow
        let second = ld + Self.insn(0x06, 0x0005_000d)
        let r = SeccompProgramStack.intersect(first, second)
        let p = try #require(r.program, "\(r.problem ?? "")")
        #expect(p.count == (4 + 2 + 2) * 8)
        #expect(Array(p[0..<24]) == ld + jeq + errno)
        #expect(Array(p[24..<32]) == Self.insn(0x05, 0), "RET ALLOW at 3 jumps 0 forward, to 4")
        #expect(Array(p[32..<48]) == Self.insn(0x00, 0) + Self.insn(0x01, 0))
        #expect(Array(p[48...]) == second)
        let log = SeccompProgramStack.intersect(Self.insn(0x06, 0x7ffc_0000) + allow, second)
        #expect(log.program.map { Array($0[0..<8]) } == Self.insn(0x05, 1))
    }

    @Test func whatCannotBeCombinedIsRefused() {
        let second = Self.insn(0x06, 0x7fff_0000)
        for k: UInt32 in [0x7ff0_0000, 0x7fc0_0000, 0x1234_0000] {
            #expect(SeccompProgramStack.intersect(Self.insn(0x06, k), second).program == nil, "action \(k)")
        }
        #expect(SeccompProgramStack.intersect(Self.insn(0x16, 0), second).program == nil, "RET A")
        #expect(SeccompProgramStack.intersect([1, 2, 3], second).program == nil)
        let long = [UInt8](repeating: 0, count: 4095 * 8)
        #expect(SeccompProgramStack.intersect(long, second).problem?.contains("4096") == true)
    }

    static let config = """
        {"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
         "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL"]},
         "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]},
         "root": {"path": "rootfs"}, "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}],
         "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 50}}}}
        """

    /// Property: whatever the profile says, the tightened config grants no capability, limit or
    /// rlimit beyond the config's, and keeps no_new_privs and a read-only root once either asks.
    @Test func neverWiderThanTheConfig() throws {
        let base = try OCIConfig.decode(Self.config, bundle: "/b")
        let inherited: [RlimitResource: Rlimit] = [.core: Rlimit(soft: 0, hard: 0), .nproc: Rlimit(soft: 500, hard: 1000)]
        for caps in [CapabilitySet(), .all, CapabilitySet([.kill, .sysAdmin])] {
            for (memory, pids) in [(UInt64(1) << 40, UInt64(1) << 20), (1 << 20, 5)] {
                var p = EffectiveProfile.defaults
                p.capabilities = caps
                p.limits.memoryBytes = memory
                p.limits.pids = pids
                p.allowPrivilegeEscalation = true
                p.readOnlyRootFilesystem = false
                p.rlimits = [.nofile: Rlimit(soft: 1 << 20, hard: 1 << 20), .nproc: Rlimit(soft: 10_000, hard: 10_000), .core: Rlimit(soft: 5, hard: 9)]
                var c = base
                _ = try OCIProfileAnnotation.tighten(&c, with: p, inherited: inherited)
                let kept = try #require(c.layer.capabilities).resolved
                #expect(kept.mask & ~CapabilitySet([.chown, .kill]).mask == 0)
                #expect(kept.mask == caps.mask & CapabilitySet([.chown, .kill]).mask)
                #expect(c.layer.limits.memoryBytes == min(memory, 64 << 20))
                #expect(c.layer.limits.pids == min(pids, 50))
                #expect(c.layer.rlimits[.nofile] == Rlimit(soft: 1024, hard: 1024))
                #expect(c.layer.rlimits[.nproc] == Rlimit(soft: 500, hard: 1000), "bounded by what it inherits")
                #expect(c.layer.rlimits[.core] == Rlimit(soft: 0, hard: 0))
                #expect(c.layer.allowPrivilegeEscalation == base.layer.allowPrivilegeEscalation)
                #expect(c.layer.readOnlyRootFilesystem == base.layer.readOnlyRootFilesystem)
                #expect(c.layer.binds == base.layer.binds && c.layer.namespaces == base.layer.namespaces)
            }
        }
    }

    @Test func namesAreNeverPaths() {
        for bad in ["", "/etc/x", "../x", "a/b", "x.yaml", "x.yml", ".x", String(repeating: "a", count: 256), "a\u{0}b"] {
            #expect(throws: ConfigError.self, "\(bad)") { try OCIProfileAnnotation.checkName(bad) }
        }
        for good in ["container", "restricted", "my_profile-2.v1"] {
            #expect(throws: Never.self) { try OCIProfileAnnotation.checkName(good) }
        }
    }
}

/// `linux.uidMappings`/`gidMappings`: up to 340 lines each (`IDMapRules`), containerID 0
/// mapped, with a user namespace; what a caller may map on the host is the runtime's check.
@Suite struct OCIIDMappingModelTests {
    static func config(_ linux: String, user: Bool = true) -> String {
        let ns = user ? #"[{"type": "mount"}, {"type": "user"}]"# : #"[{"type": "mount"}]"#
        return #"{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"], "cwd": "/"}, "root": {"path": "rootfs"}, "linux": {"namespaces": "# + ns + ", " + linux + "}}"
    }

    static func lines(_ entries: [(Int, Int, Int)]) -> String {
        "[" + entries.map { #"{"containerID": \#($0.0), "hostID": \#($0.1), "size": \#($0.2)}"# }.joined(separator: ", ") + "]"
    }

    @Test func oneRangeEachIsDecoded() throws {
        let c = try OCIConfig.decode(Self.config(#""uidMappings": [{"containerID": 0, "hostID": 3000000000, "size": 65536}], "gidMappings": [{"containerID": 0, "hostID": 3000000000, "size": 65536}]"#), bundle: "/b")
        #expect(c.idMappings?.uid == [IDMapEntry(inside: 0, outside: 3_000_000_000, count: 65536)])
        #expect(c.idMappings?.gid == [IDMapEntry(inside: 0, outside: 3_000_000_000, count: 65536)])
    }

    /// Several lines each, in the config's order, uids and gids on different ranges.
    @Test func severalRangesAreDecodedInOrder() throws {
        let u = [(0, 3_000_000_000, 1), (1, 3_000_100_000, 1000), (5000, 3_000_200_000, 10)]
        let g = [(0, 3_100_000_000, 65536), (70000, 3_100_100_000, 5)]
        let c = try OCIConfig.decode(Self.config(#""uidMappings": "# + Self.lines(u) + #", "gidMappings": "# + Self.lines(g)), bundle: "/b")
        #expect(c.idMappings?.uid == u.map { IDMapEntry(inside: UInt32($0.0), outside: UInt32($0.1), count: UInt32($0.2)) })
        #expect(c.idMappings?.gid == g.map { IDMapEntry(inside: UInt32($0.0), outside: UInt32($0.1), count: UInt32($0.2)) })
    }

    static let one = #""gidMappings": [{"containerID": 0, "hostID": 3000000000, "size": 1}]"#
    @Test(arguments: [
        (#""uidMappings": [{"containerID": 1, "hostID": 100000, "size": 1}], "gidMappings": [{"containerID": 1, "hostID": 100000, "size": 1}]"#, true, "linux.uidMappings", "containerID 0"),
        (#""uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}], "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}]"#, false, "linux.uidMappings", "user namespace"),
        (#""uidMappings": [{"containerID": 0, "hostID": 100000, "size": 0}], "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}]"#, true, "linux.uidMappings[0]", "range"),
        // Overlap, on either side, in either map.
        (#""uidMappings": "# + lines([(0, 3_000_000_000, 10), (5, 3_100_000_000, 10)]) + ", " + one, true, "linux.uidMappings", "mappings 0 and 1 overlap on the containerID side"),
        (#""uidMappings": "# + lines([(0, 3_000_000_000, 10), (10, 3_000_000_009, 10)]) + ", " + one, true, "linux.uidMappings", "mappings 0 and 1 overlap on the hostID side"),
        (#""uidMappings": [{"containerID": 0, "hostID": 3000000000, "size": 1}], "gidMappings": "# + lines([(0, 3_000_000_000, 1), (7, 3_000_000_100, 2), (8, 3_000_000_200, 1)]), true, "linux.gidMappings", "mappings 1 and 2 overlap on the containerID side"),
        // start+size past the last id, on either side (checked, never wrapped).
        (#""uidMappings": "# + lines([(0, 3_000_000_000, 1), (4_294_967_294, 3_100_000_000, 2)]) + ", " + one, true, "linux.uidMappings", "mapping 1: containerID 4294967294 + size 2 overflows"),
        (#""uidMappings": "# + lines([(0, 4_294_967_294, 4_294_967_295)]) + ", " + one, true, "linux.uidMappings", "mapping 0: hostID 4294967294 + size 4294967295 overflows"),
        (#""uidMappings": "# + lines([(0, 4_294_967_290, 6)]) + ", " + one, true, "linux.uidMappings", "mapping 0: hostID 4294967290 + size 6 overflows"),
        // Count and size limits.
        (#""uidMappings": "# + lines((0..<341).map { ($0, 3_000_000_000 + $0, 1) }) + ", " + one, true, "linux.uidMappings", "341 mappings; the kernel takes at most 340"),
        (#""uidMappings": "# + lines((0..<340).map { (1_000_000_000 + $0 * 10, 3_000_000_000 + $0 * 10, 10) }) + ", " + one, true, "linux.uidMappings", "the kernel takes at most 4095"),
    ])
    func refusedNamingTheField(_ linux: String, _ user: Bool, _ field: String, _ words: String) {
        do {
            _ = try OCIConfig.decode(Self.config(linux, user: user), bundle: "/b")
            Issue.record("accepted: \(words)")
        } catch {
            #expect(error.field == field || error.field.hasPrefix(field + "."), "\(error)")
            #expect(error.message.contains(words), "\(error)")
        }
    }
}
