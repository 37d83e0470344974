import BulkheadModel
import Testing

@Suite struct SyscallEquivalenceTests {
    /// Every x86_64 call aarch64 lacks has an equivalence or is listed as having none, and every
    /// replacement is an aarch64 call (the list is derived from the tables, not hand-picked).
    @Test func everyX86CallMissingOnAarch64IsCovered() {
        let missing = SyscallTable.names(on: .x86_64).subtracting(SyscallTable.names(on: .aarch64)).sorted()
        #expect(missing.count > 50)
        for call in missing {
            let r = SyscallEquivalence.replacements[call], none = SyscallEquivalence.withoutEquivalent[call]
            #expect((r != nil) != (none != nil), "\(call): needs exactly one of a replacement or a reason")
        }
        for (call, names) in SyscallEquivalence.replacements {
            #expect(SyscallTable.number(of: call, on: .aarch64) == nil, "\(call) exists on aarch64: not a replacement case")
            #expect(SyscallTable.number(of: call, on: .x86_64) != nil, "\(call) is not an x86_64 call")
            #expect(!names.isEmpty)
            for n in names { #expect(SyscallTable.number(of: n, on: .aarch64) != nil, "\(n) (for \(call)) is not an aarch64 call") }
        }
        for call in SyscallEquivalence.withoutEquivalent.keys {
            #expect(SyscallTable.number(of: call, on: .x86_64) != nil, "\(call) is not an x86_64 call")
        }
    }

    /// The same for 32-bit arm: a call arm lacks has a replacement present on arm, an arm
    /// variant, or a reason; every arm variant is an arm call.
    @Test func everyX86CallMissingOnArmIsCovered() {
        let missing = SyscallTable.names(on: .x86_64).subtracting(SyscallTable.names(on: .arm)).sorted()
        #expect(missing.count > 20)
        for call in missing {
            let viaGeneric = (SyscallEquivalence.replacements[call] ?? []).contains { SyscallTable.number(of: $0, on: .arm) != nil }
            let viaArm = SyscallEquivalence.arm32[call] != nil
            let none = SyscallEquivalence.withoutEquivalent[call] != nil
            #expect(viaGeneric || viaArm || none, "\(call) has no equivalence on arm")
        }
        for (call, names) in SyscallEquivalence.arm32 {
            #expect(SyscallTable.number(of: call, on: .x86_64) != nil, "\(call) is not an x86_64 call")
            for n in names { #expect(SyscallTable.number(of: n, on: .arm) != nil, "\(n) (for \(call)) is not an arm call") }
        }
    }

    /// A recording made on x86_64 exported for aarch64 and x86_64: the aarch64 calls are added,
    /// fork becomes clone without namespace flags, conditional rules are reported, not changed.
    @Test func x86RecordingForAMixedCluster() {
        let recorded = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64], rules: [
            SeccompRule(names: ["read", "write", "open", "stat", "poll", "fork", "dup2", "pipe", "select", "epoll_wait", "access", "execve", "exit_group"], action: .allow),
            SeccompRule(names: ["socket"], action: .allow, args: [SeccompArgCondition(index: 0, value: 1, op: .equal)]),
        ])
        let (p, added, notCarried) = recorded.forArchitectures([.aarch64, .x86_64])
        #expect(p.architectures == [.aarch64, .x86_64])
        let names = Set(added.map(\.name))
        #expect(names == ["openat", "newfstatat", "statx", "ppoll", "clone", "dup3", "fcntl", "pipe2", "pselect6", "epoll_pwait", "faccessat", "faccessat2"])
        #expect(added.first { $0.name == "openat" }?.forCall == "open")
        let clone = p.rules.first { $0.names == ["clone"] }
        #expect(clone?.args == [SeccompArgCondition(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)])
        #expect(notCarried.isEmpty)  // socket exists everywhere
        // Every call allowed on x86_64 has its work allowed on aarch64.
        let allowed = Set(p.rules.filter { $0.action == .allow }.flatMap(\.names))
        for n in ["read", "write", "openat", "newfstatat", "ppoll", "clone", "pipe2", "pselect6", "epoll_pwait", "execve", "exit_group"] {
            #expect(allowed.contains(n) && SyscallTable.number(of: n, on: .aarch64) != nil, "\(n)")
        }
        // One architecture: nothing to add.
        #expect(recorded.forArchitectures([.x86_64]).added.isEmpty)
    }

    /// A recording made on aarch64 (no open, poll, pipe there) gets x86_64's legacy calls.
    @Test func aarch64RecordingForAMixedCluster() {
        let recorded = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.aarch64], rules: [
            SeccompRule(names: ["openat", "ppoll", "pipe2", "newfstatat", "clone", "getdents64", "fcntl"], action: .allow),
        ])
        let (_, added, _) = recorded.forArchitectures([.x86_64, .aarch64])
        let names = Set(added.map(\.name))
        #expect(names.isSuperset(of: ["open", "creat", "poll", "pause", "pipe", "stat", "lstat", "fork", "vfork", "getdents"]))
        // fcntl alone is not dup2's replacement (dup3 is), so dup2 is not added.
        #expect(!names.contains("dup2"))
        for a in added { #expect(SyscallTable.number(of: a.name, on: .x86_64) != nil, "\(a.name)") }
    }

    /// With arm: the 32-bit-id, large-file and time64 variants, and rules with arguments are
    /// named as not carried over when their call needs another name.
    @Test func armVariants() {
        let recorded = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, rules: [
            SeccompRule(names: ["getuid", "clock_gettime", "mmap", "fstat", "futex", "rt_sigreturn"], action: .allow),
            SeccompRule(names: ["open"], action: .allow, args: [SeccompArgCondition(index: 1, value: 0, op: .equal)]),
        ])
        let (p, added, notCarried) = recorded.forArchitectures([.x86_64, .aarch64, .arm])
        #expect(Set(added.map(\.name)).isSuperset(of: ["getuid32", "clock_gettime64", "mmap2", "fstat64", "futex_time64", "sigreturn"]))
        #expect(notCarried == ["open"])
        #expect(!p.rules.contains { $0.names.contains("openat") })
    }

    /// A refusing rule is never widened to other calls.
    @Test func refusalsAreNotTranslated() {
        let p = SeccompPolicy(defaultAction: .allow, rules: [SeccompRule(names: ["open"], action: .errno, errnoRet: 13)])
        let (out, added, _) = p.forArchitectures([.aarch64, .x86_64])
        #expect(added.isEmpty)
        #expect(out.rules == p.normalized().rules)
    }

    @Test func architectureNames() {
        #expect(SeccompArch.named("arm64") == .aarch64)
        #expect(SeccompArch.named("AARCH64") == .aarch64)
        #expect(SeccompArch.named("SCMP_ARCH_ARM") == .arm)
        #expect(SeccompArch.named("amd64") == .x86_64)
        #expect(SeccompArch.named("sparc") == nil)
    }

    /// The exported profile names both architectures and the added calls.
    @Test func exportedProfile() throws {
        let p = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, rules: [SeccompRule(names: ["open", "read"], action: .allow)])
        let json = try p.forArchitectures([.aarch64, .x86_64]).policy.export(.kubernetes)
        #expect(json.contains("\"SCMP_ARCH_AARCH64\""))
        #expect(json.contains("\"SCMP_ARCH_X86_64\""))
        #expect(json.contains("\"openat\""))
    }
}
