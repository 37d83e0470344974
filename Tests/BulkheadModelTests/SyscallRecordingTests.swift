import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

private func call(_ name: String, _ arch: SeccompArch = .x86_64, count: UInt64 = 1, exe: String? = "/bin/sh") -> SyscallRecording.Call {
    SyscallRecording.Call(arch: arch, name: name, number: SyscallTable.number(of: name, on: arch)!, count: count, firstExecutable: exe)
}

private func recording(_ names: [String], families: [UInt64] = [], personalities: [UInt64] = [], clone: UInt64? = nil) -> SyscallRecording {
    SyscallRecording(command: ["sh"], profile: "container", calls: names.map { call($0) }, executables: ["/bin/sh"],
                     socketFamilies: families, personalities: personalities, cloneFlags: clone)
}

private func allowed(_ p: SeccompPolicy, _ name: String) -> Bool {
    p.rules.contains { $0.names.contains(name) && $0.action == .allow && $0.args.isEmpty }
}

@Suite struct SyscallRecordingTests {
    @Test func minimalPolicyHasTheSafetySet() throws {
        let b = RecordedPolicy.build([recording(["read", "write", "openat", "execve"])])
        let p = b.policy
        #expect(p.defaultAction == .errno && p.defaultErrnoRet == 1)
        #expect(p.architectures == [.x86_64])
        for n in ["read", "write", "openat", "execve", "exit", "exit_group", "rt_sigreturn", "restart_syscall"] {
            #expect(allowed(p, n), "\(n) should be allowed")
        }
        #expect(!allowed(p, "unshare"))
        #expect(p.rules.contains { $0.names == ["clone3"] && $0.action == .errno && $0.errnoRet == 38 })
        #expect(Set(b.safetySet.map(\.name)) == ["exit", "exit_group", "rt_sigreturn", "restart_syscall", "clone3"])
        try p.validate()
    }

    @Test func clone3SeenIsAllowed() {
        let p = RecordedPolicy.build([recording(["clone3"])]).policy
        #expect(allowed(p, "clone3"))
        #expect(!p.rules.contains { $0.action == .errno })
    }

    @Test func argumentRulesNarrowWhatWasSeen() throws {
        let b = RecordedPolicy.build([recording(["socket", "personality", "clone", "ioctl"], families: [1, 10], personalities: [0, 8], clone: 0x11)])
        let p = b.policy
        for n in ["socket", "personality", "clone", "ioctl"] { #expect(!allowed(p, n), "\(n) should be conditional") }
        let socketValues = p.rules.filter { $0.names == ["socket"] }.map { $0.args[0].value }
        #expect(Set(socketValues) == [1, 10])
        #expect(Set(p.rules.filter { $0.names == ["personality"] }.map { $0.args[0].value }) == [0, 8])
        #expect(p.rules.contains { $0.names == ["clone"] && $0.args == [SeccompArgCondition(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)] })
        #expect(b.argumentRules.count == 4)
        try p.validate()

        // Namespace flags seen, or a family that could not be recorded: unconditional.
        let wide = RecordedPolicy.build([SyscallRecording(calls: [call("socket"), call("clone")], socketFamilies: [1],
                                                           socketFamiliesComplete: false, cloneFlags: 0x1000_0000)]).policy
        #expect(allowed(wide, "socket") && allowed(wide, "clone"))
        // Switched off: unconditional.
        let off = RecordedPolicy.build([recording(["ioctl"])], argumentRules: false).policy
        #expect(allowed(off, "ioctl"))
    }

    /// The ioctl branches allow every 32-bit request but TIOCSTI and TIOCLINUX, and are the
    /// same set as the container layer's checked-in profile.
    @Test func ioctlBranchesMatchTheContainerProfile() throws {
        let branches = SeccompMaskedComplement.branches(excluding: [0x5412, 0x541C], bits: 32)
        func matches(_ v: UInt64) -> Int { branches.filter { v & $0.mask == $0.value }.count }
        for v: UInt64 in [0, 0x5401, 0x5413, 0x541B, 0x541D, 0x8000_0000, 0xFFFF_FFFF] { #expect(matches(v) == 1) }
        for v: UInt64 in [0x5412, 0x541C, 0x1_0000_5412, 0xFFFF_FFFF_0000_541C] { #expect(matches(v) == 0) }
        let e = EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" }!
        let container = try SeccompPolicyParser.parse(text: e.text, file: "container.json", context: SeccompContext())
        struct Pair: Hashable { var m: UInt64; var v: UInt64 }
        let checkedIn = Set(container.rules.filter { $0.names == ["ioctl"] }.map { Pair(m: $0.args[0].value, v: $0.args[0].valueTwo) })
        #expect(Set(branches.map { Pair(m: $0.mask, v: $0.value) }) == checkedIn)
    }

    @Test func architecturesAreToldApart() {
        let r = SyscallRecording(calls: [call("getpid"), call("getpid", .x86), call("getpid", .x32)])
        #expect(r.architectures == [.x86_64, .x86, .x32])
        let b = RecordedPolicy.build([r])
        #expect(b.policy.architectures == [.x86_64, .x86, .x32])
        #expect(b.safetySet.contains { $0.name == "sigreturn" })
    }

    @Test func runcRuntimeSetIsAdded() {
        let b = RecordedPolicy.build([recording(["read"])], runtime: .runc)
        for n in ["futex", "fstatfs", "nanosleep", "openat"] { #expect(allowed(b.policy, n)) }
        #expect(b.safetySet.contains { $0.name == "futex" && $0.reason.contains("runc") })
    }

    @Test func reportRoundTrips() throws {
        var r = recording(["read", "socket"], families: [1], personalities: [0], clone: nil)
        r.calls.append(call("getpid", .x32, count: 3, exe: nil))
        r.calls.append(SyscallRecording.Call(arch: .x86_64, name: nil, number: 999, count: 2))
        r.exitCode = 0
        r.stats.syscallEntries = 42
        r.stats.recorder = "ptrace"
        r.stats.fallbackReason = "bulkhead runs without root"
        let b = RecordedPolicy.build([r])
        let text = SyscallRecordingReport.json(r, policy: b)
        _ = try JSONSerialization.jsonObject(with: Data(text.utf8))
        #expect(text.contains("\"safetySet\""))
        #expect(text.contains("{\"arch\": \"x32\", \"name\": \"getpid\", \"number\": 1073741863, \"count\": 3, \"firstExecutable\": null}"))
        let node = try ConfigNode.parse(text, file: "r.json")
        #expect(SyscallRecordingReport.isReport(node))
        let back = try SyscallRecordingReport.parse(node)
        var expected = r
        expected.calls = SyscallRecordingReport.sorted(r.calls)
        #expect(back == expected)
        #expect(SyscallRecordingReport.json(r, policy: b) == text)
        #expect(back.stats.fallbackReason == "bulkhead runs without root")

        // Merged recordings say which recorders counted.
        var fast = r
        fast.stats.recorder = "ebpf"
        fast.stats.fallbackReason = nil
        #expect(SyscallRecording.merged([fast, r]).stats.recorder == "ebpf+ptrace")
        #expect(SyscallRecording.merged([fast, fast]).stats.recorder == "ebpf")
    }

    @Test func mergeUnitesRecordings() {
        let a = recording(["read", "socket"], families: [1])
        let b = recording(["read", "write", "socket"], families: [2])
        let m = SyscallRecording.merged([a, b])
        #expect(m.names == ["read", "write", "socket"])
        #expect(m.calls.first { $0.name == "read" }?.count == 2)
        #expect(m.socketFamilies == [1, 2])
        let p = RecordedPolicy.build([m]).policy
        #expect(Set(p.rules.filter { $0.names == ["socket"] }.map { $0.args[0].value }) == [1, 2])
    }

    @Test func unionOfPolicies() throws {
        let a = RecordedPolicy.build([recording(["read", "personality"], personalities: [0])]).policy
        let b = RecordedPolicy.build([recording(["write", "clone3", "personality"], personalities: [8])]).policy
        let u = try SeccompPolicy.union([a, b])
        #expect(allowed(u, "read") && allowed(u, "write") && allowed(u, "clone3"))
        #expect(!u.rules.contains { $0.names == ["clone3"] && $0.action == .errno })
        #expect(Set(u.rules.filter { $0.names == ["personality"] }.map { $0.args[0].value }) == [0, 8])
        try u.validate()
        // A deny-list cannot be merged.
        #expect(throws: ConfigError.self) {
            try SeccompPolicy.union([a, SeccompPolicy(defaultAction: .allow, rules: [SeccompRule(names: ["read"], action: .errno)])])
        }
    }
}
