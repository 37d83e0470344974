import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// Reading a policy as runc does (SeccompRuntimeLoading): runc's matchCall and libseccomp's
/// db_rule_add, rule by rule, and the notes that say what changed.
struct SeccompCompatModelTests {
    static let asRunc = SeccompContext(conflictingRules: .firstRuleWins, unknownNames: .skip)

    static func load(_ json: String, _ context: SeccompContext = asRunc, file: String = "p.json") throws -> SeccompLoad {
        try SeccompPolicyParser.load(text: json, file: file, context: context)
    }

    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/seccomp/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// libseccomp: an unconditional rule replaces the earlier conditional ones of its call.
    @Test func laterUnconditionalReplacesConditional() throws {
        let l = try Self.load("""
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
          {"names": ["personality", "getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ]}
        """)
        #expect(l.policy.rules == [SeccompRule(names: ["personality", "getpid"], action: .errno, errnoRet: 13)])
        #expect(l.notes.count == 1)
        #expect(l.notes[0].kind == .conflict && l.notes[0].field == "syscalls[0]" && l.notes[0].names == ["personality"])
        #expect(l.notes[0].description.contains("personality: this conditional SCMP_ACT_ERRNO(22) is replaced: syscalls[1] later gives it SCMP_ACT_ERRNO(13) unconditionally"))
    }

    /// libseccomp: once a call has an unconditional rule, later rules of it are dropped; the
    /// same action again is no conflict and gives no note.
    @Test func firstUnconditionalWins() throws {
        let l = try Self.load("""
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["setns", "read"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
          {"names": ["setns"], "action": "SCMP_ACT_KILL", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
          {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
        ]}
        """)
        #expect(l.policy.rules == [SeccompRule(names: ["setns", "read"], action: .allow)])
        #expect(l.notes.map(\.field) == ["syscalls[1]", "syscalls[2]"])
        #expect(l.notes[1].description.contains("SCMP_ACT_KILL (conditional) is ignored: syscalls[0] already gives it SCMP_ACT_ALLOW"))
        // Strictly read, the same file is refused, and the message says how to load it as runc.
        #expect(throws: ConfigError.self) { try Self.load("""
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["setns"], "action": "SCMP_ACT_ALLOW"}, {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
        """, SeccompContext()) }
        do {
            _ = try Self.load(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["setns"], "action": "SCMP_ACT_ALLOW"}, {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#, SeccompContext())
        } catch let error as ConfigError {
            #expect(error.message.contains("--seccomp-strict from run"))
        }
    }

    /// runc skips a rule whose action is the default's (errno absent = EPERM), before libseccomp
    /// sees it: so it does not replace a conditional allow of the same call.
    @Test func ruleWithTheDefaultActionIsSkipped() throws {
        let l = try Self.load("""
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
          {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]}
        """)
        #expect(l.policy.rules == [SeccompRule(names: ["socket"], action: .allow, args: [SeccompArgCondition(index: 0, value: 1, op: .equal)])])
        #expect(l.notes.map(\.kind) == [.sameAsDefault])
    }

    /// runc adds a rule with two conditions on one argument as one rule per condition (an OR).
    @Test func twoConditionsOnOneArgumentAreSplit() throws {
        let json = """
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]}
        """
        let l = try Self.load(json)
        #expect(l.policy.rules.count == 2)
        #expect(l.policy.rules.allSatisfy { $0.args.count == 1 && $0.names == ["personality"] })
        #expect(l.notes.map(\.kind) == [.conditionsSplit])
        #expect(throws: ConfigError.self) { try Self.load(json, SeccompContext()) }
    }

    /// Unknown names are skipped with a note naming them; a rule left without names is gone;
    /// a name not spelled as a system call is never shown, in a note or an error.
    @Test func unknownNamesAreSkipped() throws {
        let l = try Self.load("""
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["read", "getpid_of_the_future"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["\\u001b]0;pwned\\u0007"], "action": "SCMP_ACT_ALLOW"}
        ]}
        """)
        #expect(l.policy.rules == [SeccompRule(names: ["read"], action: .allow)])
        #expect(l.notes.map(\.field) == ["syscalls[0].names[1]", "syscalls[1].names[0]"])
        #expect(l.notes[0].description == "p.json:2: syscalls[0].names[1]: unknown system call getpid_of_the_future skipped, as runc does (pass --strict to refuse it)")
        #expect(!l.notes[1].description.contains("pwned"))
        #expect(!l.notes[0].withoutContent().description.contains("getpid_of_the_future"))
        do {
            _ = try Self.load(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["\u001b]0;pwned\u0007"], "action": "SCMP_ACT_ALLOW"}]}"#, SeccompContext())
            Issue.record("expected a refusal")
        } catch let error as ConfigError {
            #expect(!error.description.contains("pwned"))
            #expect(error.message.contains("not a system-call name"))
        }
    }

    /// The checked-in defaults: Podman's needs exactly one change (setns, without
    /// CAP_SYS_ADMIN), Docker's none; with CAP_SYS_ADMIN Podman's needs none either.
    @Test func defaultProfilesNeedWhatRuncDoes() throws {
        let podman = try Self.load(try Self.fixture("podman-default.json"), file: "podman-default.json")
        #expect(podman.notes.map(\.names) == [["setns"]])
        #expect(podman.policy.rules.contains { $0.names.contains("setns") && $0.action == .allow })
        let admin = try Self.load(try Self.fixture("podman-default.json"),
                                  SeccompContext(capabilities: ["CAP_SYS_ADMIN"], conflictingRules: .firstRuleWins, unknownNames: .skip))
        #expect(admin.notes.isEmpty)
        let docker = try Self.load(try Self.fixture("docker-default.json"), file: "docker-default.json")
        #expect(docker.notes.isEmpty)
        // minKernel: Docker's ptrace rule needs 4.8; on an older kernel it is left out.
        let old = try Self.load(try Self.fixture("docker-default.json"),
                                SeccompContext(kernelVersion: (4, 4), conflictingRules: .firstRuleWins, unknownNames: .skip))
        #expect(docker.policy.rules.contains { $0.names.contains("ptrace") })
        #expect(!old.policy.rules.contains { $0.names.contains("ptrace") })
    }

    /// Many changes print a screenful: the first 20 and a count.
    @Test func warningsAreBounded() throws {
        let names = (0..<5000).map { "\"future_call_\($0)\"" }.joined(separator: ", ")
        let l = try Self.load("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\", " + names + "], \"action\": \"SCMP_ACT_ALLOW\"}]}")
        #expect(l.notes.count == 5000)
        #expect(l.policy.rules == [SeccompRule(names: ["read"], action: .allow)])
        let w = SeccompLoad.warnings(l.notes)
        #expect(w.count == 21)
        #expect(w.last == "warning: seccomp: p.json: 4980 more changes of the same kinds not listed (pass --strict to see the first as an error)")
        #expect(SeccompLoad.warnings([]).isEmpty)
    }
}
