import BulkheadConfig
import BulkheadModel
import Testing

/// Names are matched byte for byte, ASCII only (`ExactName`), as runc, libseccomp and Kubernetes
/// match them. Swift's `==`, `hasSuffix`, `init(rawValue:)` and dictionary keys use canonical
/// equivalence (U+212A KELVIN SIGN is K), and `uppercased()` Unicode's case mapping (U+017F LATIN
/// SMALL LETTER LONG S upper-cases to S): each case below was accepted as the ASCII name before.
@Suite struct ExactNameTests {
    static let kelvin = "\u{212A}"  // canonically "K"
    static let longS = "\u{17F}"  // upper-cases to "S"

    @Test func theRule() {
        #expect("SCMP_ACT_\(Self.kelvin)ILL" == "SCMP_ACT_KILL")  // what Swift says, and why this exists
        #expect(!ExactName.same("SCMP_ACT_\(Self.kelvin)ILL", "SCMP_ACT_KILL"))
        #expect(ExactName.asciiUppercased("\(Self.longS)ys_admin") == nil)
        #expect(ExactName.asciiUppercased("sys_Admin-1") == "SYS_ADMIN-1")
        #expect(ExactName.asciiLowercased("NOFILE") == "nofile")
        #expect(ExactName.sameIgnoringASCIICase("all", "ALL"))
        #expect(SeccompAction(exactly: "SCMP_ACT_\(Self.kelvin)ILL_PROCESS") == nil)
        #expect(SeccompAction(exactly: "SCMP_ACT_KILL_PROCESS") == .killProcess)
    }

    @Test func capabilities() {
        #expect(Capability(name: "CAP_\(Self.kelvin)ILL") == nil)
        #expect(Capability(name: "\(Self.longS)ys_admin") == nil)
        #expect(Capability(name: "cap_\(Self.longS)ys_admin") == nil)
        #expect(Capability(name: "MKNOD") == .mknod)
        #expect(Capability(name: "sys_admin") == .sysAdmin)
        #expect(Capability(name: "CAP_KILL") == .kill)
        // A profile's capabilities go through the same rule.
        #expect(throws: ConfigError.self) {
            _ = try ProfileParser.parse(
                """
                apiVersion: bulkhead.dev/v1alpha1
                kind: LayerProfile
                securityContext:
                  capabilities:
                    add: ["\(Self.longS)ys_admin"]
                """, file: "p.yaml")
        }
    }

    @Test func quantitiesAndSignals() {
        #expect(Quantity.integer("1\(Self.kelvin)i") == nil)
        #expect(Quantity.integer("1Ki") == 1024)
        #expect(Quantity.milli("500\u{1D5C6}") == nil)  // MATHEMATICAL SANS-SERIF SMALL M
        #expect(Quantity.milli("500m") == 500)
        if case .success = FieldRules.stopSignal("\(Self.longS)igterm") { Issue.record("long s taken for SIGTERM") }
        if case .success = FieldRules.stopSignal("SIG\(Self.kelvin)ILL") { Issue.record("Kelvin sign taken for SIGKILL") }
        if case .success(let n) = FieldRules.stopSignal("term") { #expect(n == 15) } else { Issue.record("term refused") }
    }

    @Test func seccompPolicies() {
        func policy(action: String = "SCMP_ACT_ERRNO", op: String = "SCMP_CMP_MASKED_EQ", errno: String = "EPERM",
                    includesKey: String = "minKernel") -> String {
            """
            {"defaultAction": "\(action)", "architectures": ["SCMP_ARCH_X86_64"],
             "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errno": "\(errno)",
                           "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": "\(op)"}],
                           "includes": {"\(includesKey)": "4.8"}}]}
            """
        }
        #expect(parseError(policy()) == nil)
        #expect(parseError(policy(action: "SCMP_ACT_KILL")) == nil)
        #expect(parseError(policy(action: "SCMP_ACT_\(Self.kelvin)ILL")) != nil)
        #expect(parseError(policy(op: "SCMP_CMP_MAS\(Self.kelvin)ED_EQ")) != nil)
        #expect(parseError(policy(errno: "EMLIN\(Self.kelvin)")) != nil)
        #expect(parseError(policy(errno: "EMLINK")) == nil)
        // A mapping's key too: "min\u{212A}ernel" is not minKernel.
        #expect(parseError(policy(includesKey: "min\(Self.kelvin)ernel")) != nil)
    }

    @Test func ociConfigs() {
        func config(rlimit: String = "RLIMIT_MEMLOCK", tmpfsSize: String = "1k", hugepage: String = "2MB") -> String {
            """
            {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
             "process": {"args": ["/bin/true"], "cwd": "/", "rlimits": [{"type": "\(rlimit)", "soft": 1024, "hard": 1024}]},
             "mounts": [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=\(tmpfsSize)"]}],
             "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
                       "resources": {"hugepageLimits": [{"pageSize": "\(hugepage)", "limit": 4194304}]}}}
            """
        }
        func refused(_ text: String) -> Bool {
            do { _ = try OCIConfig.decode(text, bundle: "/b"); return false } catch { return true }
        }
        #expect(!refused(config()))
        #expect(refused(config(rlimit: "RLIMIT_MEMLOC\(Self.kelvin)")))
        #expect(refused(config(tmpfsSize: "1\(Self.kelvin)")))
        #expect(refused(config(tmpfsSize: "1\u{600}k")))  // a prepended mark makes one Character with "k"
        #expect(refused(config(hugepage: "2\(Self.kelvin)B")))
        #expect(!refused(config(hugepage: "64KB")))
    }
}
