import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// A small policy touching every field the writers handle.
private let sample = SeccompPolicy(
    defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64, .x86],
    flags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    rules: [
        SeccompRule(names: ["write", "read"], action: .allow),
        SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38),
        SeccompRule(names: ["personality"], action: .allow, args: [SeccompArgCondition(index: 0, value: 8, op: .equal)]),
    ])

private let dataDir = seccompFixtures

private func load(_ path: String, conflicts: SeccompConflictResolution = .refuse) throws -> SeccompPolicy {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try SeccompPolicyParser.parse(text: text, file: path, context: SeccompContext(conflictingRules: conflicts))
}

private func containerPolicy() throws -> SeccompPolicy {
    let e = EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" }!
    return try SeccompPolicyParser.parse(text: e.text, file: "container.json", context: SeccompContext())
}

private func reparse(_ text: String) throws -> SeccompPolicy {
    try SeccompPolicyParser.parse(text: text, file: "<export>", context: SeccompContext())
}

/// The keys Docker's format has and the runtime spec does not.
private let dockerOnlyKeys = ["archMap", "includes", "excludes", "comment", "minKernel", "subArchitectures", "\"name\"", "defaultErrno\"", "\"errno\""]

@Suite struct SeccompExportTests {
    // MARK: golden files

    @Test func kubernetesGolden() throws {
        #expect(try sample.export(.kubernetes) == """
        {
          "defaultAction": "SCMP_ACT_ERRNO",
          "defaultErrnoRet": 1,
          "architectures": [
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86"
          ],
          "syscalls": [
            {
              "names": [
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
            },
            {
              "names": [
                "personality"
              ],
              "action": "SCMP_ACT_ALLOW",
              "args": [
                {
                  "index": 0,
                  "value": 8,
                  "valueTwo": 0,
                  "op": "SCMP_CMP_EQ"
                }
              ]
            }
          ]
        }

        """)
        // flags only on request (runc < 1.2 refuses them)
        #expect(!(try sample.export(.kubernetes)).contains("flags"))
        #expect(try sample.export(.kubernetes, options: SeccompExportOptions(flags: true)).contains("\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\""))
    }

    @Test func ociGolden() throws {
        let text = try sample.export(.oci)
        #expect(text.hasPrefix("{\n  \"linux\": {\n    \"seccomp\": {\n      \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"))
        #expect(text.hasSuffix("      ]\n    }\n  }\n}\n"))
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let inner = (obj["linux"] as! [String: Any])["seccomp"]!
        let innerText = String(decoding: try JSONSerialization.data(withJSONObject: inner), as: UTF8.self)
        #expect(try reparse(innerText) == sample.normalized().withoutFlags)
    }

    @Test func dockerGolden() throws {
        let text = try sample.export(.docker)
        #expect(text.contains("""
          "archMap": [
            {
              "architecture": "SCMP_ARCH_X86_64",
              "subArchitectures": [
                "SCMP_ARCH_X86"
              ]
            }
          ],
        """))
        #expect(!text.contains("\"architectures\""))
        // Docker's reader (ours, following moby) resolves archMap for the native architecture.
        #expect(try reparse(text) == sample.normalized().withoutFlags)
    }

    @Test func spoGolden() throws {
        #expect(try sample.export(.spo, options: SeccompExportOptions(name: "sample")) == """
        apiVersion: security-profiles-operator.x-k8s.io/v1
        kind: SeccompProfile
        metadata:
          name: sample
        spec:
          defaultAction: SCMP_ACT_ERRNO
          architectures:
          - SCMP_ARCH_X86_64
          - SCMP_ARCH_X86
          syscalls:
          - action: SCMP_ACT_ALLOW
            names:
            - read
            - write
          - action: SCMP_ACT_ERRNO
            errnoRet: 38
            names:
            - clone3
          - action: SCMP_ACT_ALLOW
            args:
            - index: 0
              value: 8
              valueTwo: 0
              op: SCMP_CMP_EQ
            names:
            - personality

        """)
        let beta = try sample.export(.spo, options: SeccompExportOptions(name: "sample", spoVersion: .v1beta1))
        #expect(beta.hasPrefix("apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n"))
    }

    // MARK: determinism

    @Test(arguments: SeccompExportFormat.allCases)
    func exportIsDeterministic(_ format: SeccompExportFormat) throws {
        let p = try containerPolicy()
        var shuffled = p
        shuffled.rules.reverse()
        shuffled.rules = shuffled.rules.map { var r = $0; r.names.reverse(); return r }
        let a = try p.export(format), b = try p.export(format), c = try shuffled.export(format)
        #expect(a == b)
        #expect(a == c)
    }

    @Test func kubernetesHasNoDockerOnlyKeys() throws {
        for p in [try containerPolicy(), try load("\(dataDir)/docker-default.json"),
                  try load("\(dataDir)/podman-default.json", conflicts: .firstRuleWins)] {
            let text = try p.export(.kubernetes)
            for k in dockerOnlyKeys { #expect(!text.contains(k), "kubernetes output contains \(k)") }
            #expect(!text.contains("\"flags\""))
            #expect(try reparse(text) == p.normalized())
        }
    }

    // MARK: Docker's and Podman's defaults

    @Test func dockerAndPodmanDefaultsLoadAndExportInEveryFormat() throws {
        let docker = try load("\(dataDir)/docker-default.json")
        // Podman's profile allows setns unconditionally and also refuses it without CAP_SYS_ADMIN.
        #expect(throws: ConfigError.self) { try load("\(dataDir)/podman-default.json") }
        let podman = try load("\(dataDir)/podman-default.json", conflicts: .firstRuleWins)
        for p in [docker, podman] {
            for f in SeccompExportFormat.allCases where f != .spo { _ = try p.export(f, options: SeccompExportOptions(name: "default")) }
            // SPO has no defaultErrnoRet: Docker's ENOSYS default cannot be carried, and is refused, not changed.
            if (p.defaultErrnoRet ?? 1) == 1 {
                _ = try p.export(.spo, options: SeccompExportOptions(name: "default"))
            } else {
                #expect(throws: SeccompExportError.self) { try p.export(.spo, options: SeccompExportOptions(name: "default")) }
            }
            #expect(try reparse(try p.export(.docker)) == p.normalized().withoutFlags)
        }
    }

    // MARK: SPO's limits

    @Test func spoRefusesValuesAboveInt64Max() throws {
        let p = SeccompPolicy(defaultAction: .errno, rules: [
            SeccompRule(names: ["read"], action: .allow),
            SeccompRule(names: ["ioctl"], action: .allow,
                        args: [SeccompArgCondition(index: 1, value: 0xFFFF_FFFF_0000_0000, valueTwo: 0, op: .maskedEqual)]),
        ])
        do {
            _ = try p.export(.spo)
            Issue.record("SPO export accepted a value above Int64.max")
        } catch {
            #expect(error.rule == 1)
            #expect(error.description.contains("syscalls[1]"))
            #expect(error.description.contains("ioctl"))
            #expect(error.description.contains("18446744069414584320"))
        }
        // The other formats carry it.
        #expect(try p.export(.kubernetes).contains("18446744069414584320"))
        // Int64.max itself is fine.
        var ok = p
        ok.rules[1].args[0].value = UInt64(Int64.max)
        _ = try ok.export(.spo)
    }

    @Test func spoRefusesWhatItsSchemaCannotHold() throws {
        func refused(_ p: SeccompPolicy, name: String = "x") -> Bool { (try? p.export(.spo, options: SeccompExportOptions(name: name))) == nil }
        #expect(refused(SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 38)))
        #expect(!refused(SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1)))
        #expect(refused(SeccompPolicy(defaultAction: .errno, rules: [SeccompRule(names: ["read"], action: .errno, errnoRet: 0)])))
        #expect(refused(SeccompPolicy(defaultAction: .errno, architectures: [.loongarch64])))
        #expect(refused(SeccompPolicy(defaultAction: .errno), name: "Not_A_Name"))
    }

    // MARK: Kubernetes install hints

    @Test func installInstructions() {
        #expect(KubernetesSeccompInstall.nodePath(name: "web") == "/var/lib/kubelet/seccomp/profiles/web.json")
        let s = KubernetesSeccompInstall.securityContextSnippet(name: "web")
        #expect(s == "securityContext:\n  seccompProfile:\n    type: Localhost\n    localhostProfile: profiles/web.json\n")
        #expect(KubernetesName.sanitized("My_Profile.json") == "my-profile.json")
        #expect(KubernetesName.problem("ok-name.v1") == nil)
        #expect(KubernetesName.problem("-bad") != nil)
    }
}

extension SeccompPolicy {
    /// The policy as a writer without `--flags` produces it.
    var withoutFlags: SeccompPolicy { var p = self; p.flags = []; return p }
}
