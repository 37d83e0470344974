import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

struct QuantityTests {
    @Test(arguments: [("500m", 500), ("1", 1000), ("1.5", 1500), ("0.25", 250), ("2", 2000)] as [(String, UInt64)])
    func cpu(_ text: String, _ milli: UInt64) { #expect(Quantity.milli(text) == milli) }

    @Test(arguments: [("256Mi", 268_435_456), ("1Gi", 1 << 30), ("1G", 1_000_000_000), ("128", 128), ("1e3", 1000), ("1.5Ki", 1536)] as [(String, UInt64)])
    func bytes(_ text: String, _ value: UInt64) { #expect(Quantity.integer(text) == value) }

    @Test(arguments: ["", "Mi", "1.5", "1.1Ki", "-1", "1Zi", "99999999999Ei", "1e30", "abc", "1.2.3"])
    func rejected(_ text: String) { #expect(Quantity.integer(text) == nil) }

    @Test func formatting() {
        #expect(Quantity.formatBytes(268_435_456) == "256Mi")
        #expect(Quantity.formatBytes(1000) == "1000")
        #expect(Quantity.formatMilli(500) == "500m")
        #expect(Quantity.formatMilli(2000) == "2")
    }
}

struct CapabilityTests {
    @Test func namesAndNumbers() {
        #expect(Capability(name: "CAP_SYS_ADMIN")?.rawValue == 21)
        #expect(Capability(name: "NET_BIND_SERVICE")?.rawValue == 10)
        #expect(Capability(name: "sys_ptrace")?.rawValue == 19)
        #expect(Capability(name: "CAP_CHECKPOINT_RESTORE")?.rawValue == 40)
        #expect(Capability(name: "CAP_NOPE") == nil)
        #expect(Capability.allCases.count == 41)
    }

    @Test func kubernetesSemantics() {
        #expect(CapabilitySpec(drop: ["ALL"]).resolved.isEmpty)
        #expect(CapabilitySpec(add: ["NET_BIND_SERVICE"], drop: ["ALL"]).resolved == CapabilitySet([.netBindService]))
        let d = CapabilitySpec(drop: ["NET_RAW"]).resolved
        #expect(!d.contains(.netRaw) && d.contains(.chown) && !d.contains(.sysAdmin), "runtime default minus NET_RAW")
        #expect(CapabilitySpec(add: ["ALL"]).resolved == .all)
    }
}

struct ProfileParserTests {
    func parse(_ yaml: String) throws(ConfigError) -> ProfileLayer { try ProfileParser.parse(yaml, file: "p.yaml") }

    func expectError(_ yaml: String, field: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let l = try parse(yaml)
            _ = try EffectiveProfile.resolve([l])
            Issue.record("expected an error for \(field)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.file == "p.yaml", sourceLocation: sourceLocation)
            #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyShippedProfileParses() throws {
        var names: [String] = []
        for f in EmbeddedProfiles.files where f.path.hasSuffix(".yaml") {
            names.append(try ProfileParser.parse(f.text, file: f.path).name ?? "(unnamed \(f.path))")
        }
        // The loop ran over the shipped layers, each parsed under its own name.
        #expect(names.sorted() == ["container", "restricted", "unconfined"])
    }

    @Test func errorsNameTheField() {
        expectError("securityContext:\n  capabilities:\n    add: [SYS_ADMN]\n", field: "securityContext.capabilities.add[0]", contains: "did you mean \"SYS_ADMIN\"")
        expectError("resources:\n  limits:\n    memory: lots\n", field: "resources.limits.memory", contains: "memory quantity")
        expectError("resources:\n  limits:\n    cpu: 1m\n", field: "resources.limits.cpu", contains: "smallest enforceable")
        expectError("resources:\n  limits:\n    pids: 1\n", field: "resources.limits.pids", contains: "at least 2")
        expectError("resources:\n  io:\n    max: [\"8:0 xbps=1\"]\n", field: "resources.io.max[0]", contains: "unknown io limit")
        expectError("namespaces:\n  usr: true\n", field: "namespaces.usr", contains: "did you mean \"user\"")
        expectError("network:\n  mode: bridge\n", field: "network.mode", contains: "allowed: none, host")
        expectError("filesystem:\n  binds:\n    - source: relative\n", field: "filesystem.binds[0].source", contains: "absolute path")
        expectError("filesystem:\n  tmpfs:\n    - path: /a/../b\n", field: "filesystem.tmpfs[0].path", contains: "\"..\"")
        expectError("rlimits:\n  nofile: {soft: 10, hard: 5}\n", field: "rlimits.nofile", contains: "exceeds hard")
        expectError("rlimits:\n  nofiles: 10\n", field: "rlimits.nofiles", contains: "did you mean \"nofile\"")
        expectError("securityContext:\n  privileged: true\n", field: "securityContext.privileged", contains: "not supported")
        expectError("securityContext:\n  seccompProfile: {type: Default}\n", field: "securityContext.seccompProfile.type", contains: "RuntimeDefault")
        expectError("securityContext:\n  seccompProfile: {type: RuntimeDefault, localhostProfile: x.json}\n", field: "securityContext.seccompProfile.localhostProfile", contains: "only valid with type: Localhost")
        expectError("userNamespace:\n  hostIDRange: \"0:65536\"\n", field: "userNamespace.hostIDRange", contains: "host's root")
        expectError("userNamespace:\n  hostIDRange: \"4199934465:65536\"\n", field: "userNamespace.hostIDRange", contains: "must end at or below 4200000000")
        expectError("apiVersion: v1\n", field: "apiVersion", contains: "bulkhead.dev/v1alpha1")
        expectError("hostname: \"bad host\"\n", field: "hostname", contains: "hostname")
        expectError("env:\n  - name: 1X\n", field: "env[0]", contains: "invalid environment variable name")
        expectError("securityContext:\n  runAsNonRoot: true\n", field: "securityContext.runAsNonRoot", contains: "runAsUser is 0")
        expectError("namespaces:\n  mount: false\n", field: "namespaces.mount", contains: "cannot be switched off")
        expectError("namespaces:\n  network: false\n", field: "namespaces.network", contains: "network.mode: host")
        expectError("filesystem:\n  binds:\n    - {source: /a, destination: /proc/x}\n", field: "filesystem.binds", contains: "bulkhead owns")
    }

    @Test func malformedYAMLNamesTheLine() {
        do {
            _ = try parse("hostname: a\nnamespaces: [\n")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.line != nil)
            #expect(error.message.contains("not valid YAML"))
        }
    }

    @Test("Precedence: flags > profile > parent > built-in defaults")
    func precedence() throws {
        let parent = try parse("metadata: {name: base}\nhostname: parent\nworkingDir: /srv\nenv:\n  - {name: A, value: parent}\n  - {name: B, value: parent}\nresources:\n  limits: {memory: 128Mi, pids: 64}\n")
        let child = try parse("metadata: {name: child}\nextends: base\nhostname: child\nenv:\n  - {name: B, value: child}\nresources:\n  limits: {memory: 256Mi}\nrlimits: {nofile: 100}\n")
        var flags = ProfileLayer()
        flags.env = [EnvVar(name: "A", value: "flag")]
        flags.limits.pids = 8
        let e = try EffectiveProfile.resolve([parent, child, flags])
        #expect(e.chain == ["base", "child", "<command line>"])
        #expect(e.hostname == "child")
        #expect(e.workingDir == "/srv", "from the parent")
        #expect(e.env.first { $0.name == "A" }?.value == "flag")
        #expect(e.env.first { $0.name == "B" }?.value == "child")
        #expect(e.env.first { $0.name == "PATH" }?.value == EffectiveProfile.defaultPath, "built-in default")
        #expect(e.limits.memoryBytes == 256 << 20 && e.limits.pids == 8)
        #expect(e.rlimits[.nofile] == Rlimit(soft: 100, hard: 100))
        #expect(e.capabilities.isEmpty && e.noNewPrivs && e.readOnlyRootFilesystem, "hardened defaults")
    }

    @Test func networkModeDecidesTheNamespace() throws {
        let e = try EffectiveProfile.resolve([try parse("network: {mode: host}\n")])
        #expect(!e.namespaces.contains(.network))
        // The control: mode none keeps the namespace, so the check above can fail.
        let none = try EffectiveProfile.resolve([try parse("network: {mode: none}\n")])
        #expect(none.namespaces.contains(.network), "\(none.namespaces)")
    }

    @Test func effectiveYAMLParsesBackToTheSameProfile() throws {
        for name in ["container", "unconfined", "restricted"] {
            var layers: [ProfileLayer] = []
            var next: String? = name
            while let n = next {
                let text = EmbeddedProfiles.files.first { $0.path == "\(n).yaml" }!.text
                let l = try ProfileParser.parse(text, file: "<embedded:\(n)>")
                layers.insert(l, at: 0)
                next = l.extends
            }
            let e = try EffectiveProfile.resolve(layers)
            var again = try EffectiveProfile.resolve([try ProfileParser.parse(e.yaml, file: "effective.yaml")])
            again.chain = e.chain
            again.capabilitySpec = e.capabilitySpec
            if case .localhost = e.seccomp { again.seccomp = e.seccomp }
            // The effective YAML spells out sizes that the original leaves to a default.
            #expect(again.tmpfs.map(again.tmpfsSize) == e.tmpfs.map(e.tmpfsSize))
            again.tmpfs = e.tmpfs
            #expect(again == e, "\(name):\n\(e.yaml)")
        }
    }
}

struct EmbeddedProfilesTests {
    @Test("The embedded copies match Profiles/ (run scripts/embed-profiles.sh after editing a profile)")
    func upToDate() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for f in EmbeddedProfiles.files {
            // Bytes, not `String ==` (canonical equivalence: a KELVIN SIGN for a K would pass):
            // the file as shipped must be the compiled-in text and its final newline exactly.
            let disk = try Data(contentsOf: root.appendingPathComponent("Profiles/\(f.path)"))
            #expect(Array(disk) == Array(f.text.utf8) + [0x0a], "Profiles/\(f.path) differs from the embedded copy")
        }
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("Profiles").path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }
        #expect(Set(onDisk) == Set(EmbeddedProfiles.files.map(\.path)))
    }

    /// The seccomp cache names a bulkhead policy by these digests instead of hashing its text at
    /// every launch (`SeccompCache.key`): each must be the SHA-256 of what it names.
    @Test("Each stored digest is the SHA-256 of its compiled-in text and of the file as shipped (run scripts/embed-profiles.sh)")
    func digestsMatch() {
        #expect(EmbeddedProfiles.sha256.map(\.path) == EmbeddedProfiles.files.map(\.path), "one digest pair per file, in order")
        for f in EmbeddedProfiles.files {
            guard let d = EmbeddedProfiles.sha256.first(where: { $0.path == f.path }) else { continue }
            #expect(d.text == SHA256.hex(f.text), "\(f.path): the stored digest of the compiled-in text is stale")
            #expect(d.shipped == SHA256.hex(f.text + "\n"), "\(f.path): the stored digest of the shipped file is stale")
        }
    }

    @Test("A compiled-in file is recognised by its bytes only: its text, or the file with its final newline")
    func matchIsByteForByte() throws {
        let e = try #require(EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" })
        let d = try #require(EmbeddedProfiles.sha256.first { $0.path == e.path })
        #expect(EmbeddedProfiles.match(e.text, under: "seccomp/") == .init(path: e.path, shipped: false, sha256: d.text))
        #expect(EmbeddedProfiles.match(e.text + "\n", under: "seccomp/") == .init(path: e.path, shipped: true, sha256: d.shipped))
        // A copy built at run time (not the literal's storage) is the same text.
        let copy = String(decoding: Array(e.text.utf8), as: UTF8.self)
        #expect(EmbeddedProfiles.match(copy, under: "seccomp/")?.sha256 == d.text)
        #expect(EmbeddedProfiles.match(e.text, under: "nothing/") == nil)
        #expect(EmbeddedProfiles.match(e.text + "\n\n", under: "seccomp/") == nil)
        #expect(EmbeddedProfiles.match(e.text + " ", under: "seccomp/") == nil)
        #expect(EmbeddedProfiles.match(String(e.text.dropLast()), under: "seccomp/") == nil)
        #expect(EmbeddedProfiles.match("", under: "seccomp/") == nil)
        // One byte changed anywhere (the first, one in the middle, the last of an 8-byte block).
        for at in [0, e.text.utf8.count / 2, e.text.utf8.count - 1] {
            var bytes = Array(e.text.utf8)
            bytes[at] = bytes[at] == UInt8(ascii: " ") ? UInt8(ascii: "\t") : UInt8(ascii: " ")
            #expect(EmbeddedProfiles.match(String(decoding: bytes, as: UTF8.self), under: "seccomp/") == nil, "byte \(at) changed")
        }
        // Canonically equivalent, other bytes: Swift's `==` calls them equal (KELVIN SIGN is a
        // canonical `K`), the cache key must not: this text is hashed, not named by the file's digest.
        let kelvin = e.text.replacing("MASKED", with: "MAS\u{212A}ED")
        #expect(kelvin == e.text && Array(kelvin.utf8) != Array(e.text.utf8))
        #expect(EmbeddedProfiles.match(kelvin, under: "seccomp/") == nil)
        #expect(EmbeddedProfiles.match(kelvin + "\n", under: "seccomp/") == nil)
    }
}
