import Glibc
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/BulkheadModelTests/<file>
    return parts.joined(separator: "/")
}()

func readText(_ path: String) throws -> String {
    try String(decoding: readBytes(path), as: UTF8.self)
}

func readBytes(_ path: String) throws -> [UInt8] {
    struct Missing: Error { var path: String }
    guard let f = fopen(path, "rb") else { throw Missing(path: path) }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n == 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// Docker's and Podman's default profiles, checked in unchanged (Tests/Fixtures/seccomp/README.md).
let seccompFixtures: String = {
    var p = "\(#filePath)" // Tests/BulkheadModelTests/this file
    for _ in 0..<2 { p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)]) }
    return p + "/Fixtures/seccomp"
}()
let dockerDefaultPath = seccompFixtures + "/docker-default.json"
let podmanDefaultPath = seccompFixtures + "/podman-default.json"

func parse(_ text: String, caps: Set<String> = [], arch: SeccompArch = .x86_64, kernel: (Int, Int)? = nil) throws(ConfigError)
    -> SeccompPolicy
{
    try SeccompPolicyParser.parse(
        text: text, file: "t.json", context: SeccompContext(capabilities: caps, architecture: arch, kernelVersion: kernel))
}

/// The error a document produces, or nil.
func parseError(_ text: String) -> ConfigError? {
    do {
        _ = try parse(text)
        return nil
    } catch { return error }
}

@Suite struct SeccompPolicyParserTests {
    @Test func readsStrictRuntimeSpec() throws {
        let p = try parse(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
             "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
             "flags": ["SECCOMP_FILTER_FLAG_LOG"],
             "syscalls": [
               {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
               {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
             ]}
            """)
        #expect(p.defaultAction == .errno)
        #expect(p.defaultErrnoRet == 1)
        #expect(p.architectures == [.x86_64, .x86])
        #expect(p.flags == ["SECCOMP_FILTER_FLAG_LOG"])
        #expect(p.rules.count == 3)
        #expect(p.rules[1] == SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38))
        #expect(p.rules[2].args == [SeccompArgCondition(index: 0, value: 8, valueTwo: 0, op: .equal)])
    }

    @Test func readsYAMLToo() throws {
        let p = try parse("defaultAction: SCMP_ACT_ALLOW\nsyscalls:\n- names: [mount]\n  action: SCMP_ACT_ERRNO\n")
        #expect(p.rules == [SeccompRule(names: ["mount"], action: .errno)])
    }

    @Test func dockerConditionsFollowTheContext() throws {
        let doc = """
            {"defaultAction": "SCMP_ACT_ERRNO",
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                         {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
             "syscalls": [
               {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
               {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
               {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
               {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
               {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
               {"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "single-name form"}
             ]}
            """
        let none = try parse(doc)
        #expect(none.architectures == [.x86_64, .x86, .x32])
        #expect(none.rules.map(\.names) == [["clone3"], ["arch_prctl"], ["ptrace"], ["getpid"]])
        #expect(none.rules[3].comment == "single-name form")

        let admin = try parse(doc, caps: ["CAP_SYS_ADMIN"])
        #expect(admin.rules.map(\.names) == [["bpf"], ["arch_prctl"], ["ptrace"], ["getpid"]])

        let arm = try parse(doc, arch: .aarch64, kernel: (4, 4))
        #expect(arm.architectures == [.aarch64, .arm])
        #expect(arm.rules.map(\.names) == [["clone3"], ["set_tls"], ["getpid"]])
    }

    @Test func dockerDefaultLoadsUnchanged() throws {
        let text = try readText(dockerDefaultPath)
        let p = try SeccompPolicyParser.parse(text: text, file: dockerDefaultPath, context: SeccompContext())
        #expect(p.defaultAction == .errno)
        #expect(p.defaultErrnoRet == 1)
        #expect(p.architectures == [.x86_64, .x86, .x32])
        let names = Set(p.rules.flatMap(\.names))
        #expect(names.contains("read"))
        #expect(names.contains("arch_prctl"))
        #expect(!names.contains("bpf"))  // CAP_SYS_ADMIN/CAP_BPF only
        #expect(p.rules.contains(SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38)))

        let admin = try SeccompPolicyParser.parse(
            text: text, file: dockerDefaultPath, context: SeccompContext(capabilities: ["CAP_SYS_ADMIN"]))
        #expect(Set(admin.rules.flatMap(\.names)).contains("mount"))
        #expect(!admin.rules.contains { $0.names == ["clone3"] && $0.action == .errno })
        for arch in [SeccompArch.aarch64, .s390x, .riscv64, .ppc64le] {
            _ = try SeccompPolicyParser.parse(text: text, file: dockerDefaultPath, context: SeccompContext(architecture: arch))
        }
    }

    /// Podman's default allows `setns` in its big allow-list and also refuses it (EPERM) to
    /// containers without CAP_SYS_ADMIN; runtimes take the first rule. bulkhead refuses that by
    /// default and loads the file with `.firstRuleWins`, which reproduces what Podman does.
    @Test func podmanDefaultLoadsUnchanged() throws {
        let text = try readText(podmanDefaultPath)
        do {
            _ = try SeccompPolicyParser.parse(text: text, file: podmanDefaultPath, context: SeccompContext())
            Issue.record("expected the setns conflict to be reported")
        } catch {
            #expect(error.field == "syscalls[15]")
            #expect(error.message.contains("\"setns\" already has an unconditional rule in syscalls[1]"))
        }
        let p = try SeccompPolicyParser.parse(
            text: text, file: podmanDefaultPath, context: SeccompContext(conflictingRules: .firstRuleWins))
        #expect(p.rules.contains { $0.names.contains("setns") && $0.action == .allow })
        #expect(!p.rules.contains { $0.names.contains("setns") && $0.action == .errno })
        #expect(p.rules.contains { $0.names.contains("quotactl") && $0.action == .errno })
        #expect(p.defaultAction == .errno)
        #expect(p.defaultErrnoRet == 38)
        #expect(p.architectures == [.x86_64, .x86, .x32])
        // errno "EPERM" with errnoRet 1 agree; the socket rule from Podman's AF_NETLINK/NETLINK_AUDIT block stays.
        #expect(p.rules.contains { $0.names == ["socket"] && $0.action == .errno && $0.errnoRet == 22 })
        let all = try SeccompPolicyParser.parse(
            text: text, file: podmanDefaultPath,
            context: SeccompContext(capabilities: ["CAP_SYS_ADMIN", "CAP_AUDIT_WRITE", "CAP_BPF", "CAP_PERFMON"]))
        #expect(all.rules.contains { $0.names.contains("setns") })
        #expect(all.rules.contains { $0.names == ["socket"] && $0.args.isEmpty })
    }

    @Test func writerIsDeterministicAndRoundTrips() throws {
        for path in [dockerDefaultPath, podmanDefaultPath] {
            let p = try SeccompPolicyParser.parse(
                text: try readText(path), file: path, context: SeccompContext(conflictingRules: .firstRuleWins))
            let out = p.kubernetesJSON()
            let again = try SeccompPolicyParser.parse(text: out, file: "out.json", context: SeccompContext())
            #expect(again == p.normalized())
            #expect(again.kubernetesJSON() == out)
            #expect(!out.contains("includes"))
            #expect(!out.contains("comment"))
            #expect(!out.contains("archMap"))
        }
        // Reordering rules and names does not change the output; identical rules merge.
        let a = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, rules: [
            SeccompRule(names: ["write", "read"], action: .allow),
            SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38),
            SeccompRule(names: ["getpid"], action: .allow),
        ])
        let b = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, rules: [
            SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38),
            SeccompRule(names: ["getpid", "read", "write"], action: .allow),
        ])
        #expect(a.kubernetesJSON() == b.kubernetesJSON())
        #expect(a.normalized().rules.count == 2)
        #expect(a.normalized().rules[0].names == ["getpid", "read", "write"])
        let flagged = SeccompPolicy(defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_LOG"])
        #expect(!flagged.kubernetesJSON().contains("flags"))
        #expect(try parse(flagged.kubernetesJSON(flags: true)) == flagged)
        #expect(
            a.kubernetesJSON() == """
                {
                  "defaultAction": "SCMP_ACT_ERRNO",
                  "defaultErrnoRet": 1,
                  "syscalls": [
                    {
                      "names": [
                        "getpid",
                        "read",
                        "write"
                      ],
                      "action": "SCMP_ACT_ALLOW"
                    },
                    {
                      "names": [
                        "clone3"
                      ],
                      "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 38
                    }
                  ]
                }

                """)
    }
}

@Suite struct SeccompPolicyValidationTests {
    func expectError(_ text: String, field: String, contains: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = parseError(text) else {
            Issue.record("expected an error at \(field)", sourceLocation: sourceLocation)
            return
        }
        #expect(e.file == "t.json", sourceLocation: sourceLocation)
        #expect(e.field == field, "\(e)", sourceLocation: sourceLocation)
        #expect(e.message.contains(contains), "\(e)", sourceLocation: sourceLocation)
        #expect(e.line != nil, "\(e)", sourceLocation: sourceLocation)
    }

    @Test func unknownSyscallSuggestsTheClosest() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["close"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["openat", "clone4"], "action": "SCMP_ACT_ALLOW"}]}
            """, field: "syscalls[3].names[1]", contains: "unknown system call \"clone4\"; did you mean \"clone3\"?")
    }

    @Test func unknownAction() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOWED\"}]}",
            field: "syscalls[0].action", contains: "did you mean \"SCMP_ACT_ALLOW\"?")
        expectError("{\"defaultAction\": \"ALLOW\"}", field: "defaultAction", contains: "Allowed: SCMP_ACT_KILL")
    }

    @Test func unknownArchitecture() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X87\"]}",
            field: "architectures[1]", contains: "unknown architecture \"SCMP_ARCH_X87\"")
    }

    @Test func badOperator() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQUAL"}]}]}
            """, field: "syscalls[0].args[0].op", contains: "unknown operator \"SCMP_CMP_EQUAL\"")
    }

    @Test func argumentIndexAboveFive() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 6, "value": 8, "op": "SCMP_CMP_EQ"}]}]}
            """, field: "syscalls[0].args[0].index", contains: "arguments 0...5")
    }

    @Test func twoConditionsOnOneArgument() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 9, "op": "SCMP_CMP_LE"}]}]}
            """, field: "syscalls[0].args[1]", contains: "libseccomp refuses this")
    }

    @Test func errnoRetOnANonErrnoAction() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1}]}",
            field: "syscalls[0].errnoRet", contains: "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_KILL\", \"defaultErrnoRet\": 1}",
            field: "defaultErrnoRet", contains: "only valid with SCMP_ACT_ERRNO")
    }

    @Test func errnoRetAboveMaxErrno() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 4096}]}",
            field: "syscalls[0].errnoRet", contains: "out of range 0...4095")
    }

    @Test func podmanErrnoNameMustAgree() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
              "errnoRet": 1, "errno": "ENOSYS"}]}
            """, field: "syscalls[0].errno", contains: "make them agree")
    }

    @Test func conflictingUnconditionalRules() {
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["read", "mount"], "action": "SCMP_ACT_ALLOW"},
              {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
            """, field: "syscalls[1]", contains: "already has an unconditional rule in syscalls[0]")
        // The same action twice is not a conflict; nor are rules Docker's conditions separate.
        #expect(
            parseError(
                """
                {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                  {"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
                """) == nil)
    }

    @Test func conditionalRuleShadowedByAnUnconditionalOne() {
        // libseccomp lets the unconditional ALLOW win, so the TIOCSTI refusal would never apply.
        expectError(
            """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
              {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
               "args": [{"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}]},
              {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW"}]}
            """, field: "syscalls[0]", contains: "would never apply")
    }

    @Test func emptyNames() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ALLOW\"}]}",
            field: "syscalls[0].names", contains: "at least one system call")
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
            field: "syscalls[0].names[0]", contains: "must not be empty")
    }

    @Test func unknownKeys() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"actoin\": \"SCMP_ACT_ALLOW\"}]}",
            field: "syscalls[0].actoin", contains: "did you mean \"action\"?")
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoReturn\": 1}",
            field: "defaultErrnoReturn", contains: "unknown field")
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"includes\": {\"cap\": []}}]}",
            field: "syscalls[0].includes.cap", contains: "did you mean \"caps\"?")
    }

    @Test func notifyNeedsAListener() {
        expectError(
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mount\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
            field: "syscalls[0]", contains: "listenerPath")
    }

    @Test func validateChecksPoliciesBuiltInCode() {
        let p = SeccompPolicy(defaultAction: .errno, rules: [
            SeccompRule(names: ["mount"], action: .allow), SeccompRule(names: ["mount"], action: .kill),
        ])
        #expect(throws: ConfigError.self) { try p.validate() }
        let q = SeccompPolicy(defaultAction: .errno, rules: [SeccompRule(names: ["mounty"], action: .allow)])
        do {
            try q.validate(file: "code")
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "syscalls[0].names[0]")
            #expect(error.message.contains("did you mean \"mount\""))
        }
    }
}

@Suite struct SyscallTableTests {
    @Test func knownNumbers() {
        #expect(SyscallTable.number(of: "read", on: .x86_64) == 0)
        #expect(SyscallTable.number(of: "ioctl", on: .x86_64) == 16)
        #expect(SyscallTable.number(of: "clone", on: .x86_64) == 56)
        #expect(SyscallTable.number(of: "mount", on: .x86_64) == 165)
        #expect(SyscallTable.number(of: "clone3", on: .x86_64) == 435)
        #expect(SyscallTable.number(of: "io_uring_setup", on: .x86_64) == 425)
        #expect(SyscallTable.number(of: "uretprobe", on: .x86_64) == 335)
        #expect(SyscallTable.number(of: "mseal", on: .x86_64) == 462)
        #expect(SyscallTable.number(of: "file_setattr", on: .x86_64) == 469)
        #expect(SyscallTable.number(of: "map_shadow_stack", on: .x86_64) == 453)

        #expect(SyscallTable.number(of: "read", on: .x86) == 3)
        #expect(SyscallTable.number(of: "ioctl", on: .x86) == 54)
        #expect(SyscallTable.number(of: "socketcall", on: .x86) == 102)
        #expect(SyscallTable.number(of: "clone3", on: .x86) == 435)
        #expect(SyscallTable.number(of: "mseal", on: .x86) == 462)
        #expect(SyscallTable.number(of: "uretprobe", on: .x86) == nil)
        #expect(SyscallTable.number(of: "socketcall", on: .x86_64) == nil)

        #expect(SyscallTable.number(of: "read", on: .x32) == 0x4000_0000)
        #expect(SyscallTable.number(of: "ioctl", on: .x32) == Int32(0x4000_0000 + 514))
        #expect(SyscallTable.number(of: "execve", on: .x32) == Int32(0x4000_0000 + 520))
        #expect(SyscallTable.number(of: "file_setattr", on: .x32) == Int32(0x4000_0000 + 469))
        #expect(SyscallTable.number(of: "map_shadow_stack", on: .x32) == nil)
        #expect(SyscallTable.number(of: "uretprobe", on: .x32) == nil)

        #expect(SyscallTable.name(of: 435, on: .x86_64) == "clone3")
        #expect(SyscallTable.number(of: "read", on: .aarch64) == 63)
        #expect(SyscallTable.number(of: "read", on: .riscv64) == nil)
    }

    @Test func namesOfOtherArchitecturesAreKnown() {
        for n in ["set_tls", "breakpoint", "s390_runtime_instr", "riscv_flush_icache", "sync_file_range2"] {
            #expect(SyscallTable.isKnown(n), "\(n)")
        }
        #expect(!SyscallTable.isKnown("clone4"))
    }

    @Test func namesNewerThanLibseccomp2_5() {
        #expect(SyscallTable.namesUnknownToLibseccomp2_5.contains("mseal"))
        #expect(SyscallTable.namesUnknownToLibseccomp2_5.contains("statmount"))
        #expect(!SyscallTable.namesUnknownToLibseccomp2_5.contains("cachestat"))
        #expect(!SyscallTable.namesUnknownToLibseccomp2_5.contains("read"))
    }
}
