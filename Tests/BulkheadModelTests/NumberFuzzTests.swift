import Foundation
import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// Issue 12, item 8: every number a profile, a Pod manifest, a Tenant or a ResourceQuota
/// carries is refused with a ConfigError naming the field and the accepted range, or taken
/// within that range; nothing traps (a Swift overflow trap kills the test process, so a trap
/// fails this suite by crashing it, as it crashed the root launcher). The command line's flags
/// are fuzzed here through `CommandLineLayer`, and from argv through ArgumentParser in
/// BulkheadTests (NumberCommandLineTests).
///
/// Values come from a fixed seed (`BULKHEAD_FUZZ_SEED`), `BULKHEAD_FUZZ_ITERATIONS` per field.
@Suite struct NumberFuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_ITERATIONS"] ?? "") ?? 400
    static let seed = UInt64(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SEED"] ?? "") ?? 0x5EED_0008

    /// The bounds the parsers promise (NumberField's, written out so that this suite also
    /// compiles against, and fails on, a tree without NumberField).
    static let maxCPUMilli: UInt64 = 1_000_000_000
    static let maxBytes: UInt64 = 1 << 62
    static let maxPids: UInt64 = 4_194_304

    // MARK: the values

    static let suffixes = ["", "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "e3", "e18", "e19", "E18", "e400", "e-3", "e", "n", "u"]
    static let specials = [
        "18446744073709551.999", "1000000000000000000m", "18446744073709551615", "18446744073709551616",
        "18446744073709551615m", "9223372036854775807", "9223372036854775808", "4294967295", "4294967296",
        "1e400", "1e18", "1e19", "9e18", "16Ei", "8Ei", "7.99Ei", "4Ei", "1Ei", "1E", "999999999999999999999999Ei",
        "0.0001", "0.001", "0.0005", "0.999999999999999999", ".999", "1.", ".", "..", "1..2", "-1", "-0", "+1", "-1m",
        "NaN", "nan", "inf", "-inf", "Infinity", "0x10", "0o7", "1_000", " 1", "1 ", "", "m", "Mi", "１", "١٢٣",
        "0", "1", "9", "10m", "9m", "4Mi", "4194303", "4194304", "4194305", "1000000", "1000001", "1000000000m", "1000000001m",
        "17592186044415", "1P", "1000P", "700G", "700000000001", "763G", "999", "1000", "1k", "2P", "4611686018427387904", "4611686018427387905",
    ]

    /// A hostile number: huge, negative, long, fractional, exponents, every suffix, NaN-like.
    static func value(_ rng: inout SplitMix64) -> String {
        switch rng.next() % 6 {
        case 0: return specials[Int(rng.next() % UInt64(specials.count))]
        case 1: // many digits
            let n = Int(rng.next() % 40) + 1
            return String((0..<n).map { _ in Character(String(rng.next() % 10)) }) + suffixes[Int(rng.next() % UInt64(suffixes.count))]
        case 2: // a fraction
            let w = rng.next() % 3 == 0 ? String(rng.next()) : String(rng.next() % 100_000)
            let fd = Int(rng.next() % 22) + 1
            let f = String((0..<fd).map { _ in Character(String(rng.next() % 10)) })
            return "\(w).\(f)" + suffixes[Int(rng.next() % UInt64(suffixes.count))]
        case 3: // near a power of two or ten
            let p = rng.next() % 2 == 0 ? (UInt64(1) << (rng.next() % 64)) : [1, 10, 100, 1000, 1_000_000, 1_000_000_000, 1_000_000_000_000, 1_000_000_000_000_000_000][Int(rng.next() % 8)]
            let d = rng.next() % 3
            return String(d == 0 ? p &- 1 : d == 1 ? p : p &+ 1) + suffixes[Int(rng.next() % UInt64(suffixes.count))]
        case 4: // negative or signed
            return (rng.next() % 2 == 0 ? "-" : "+") + String(rng.next() % 1_000_000) + suffixes[Int(rng.next() % UInt64(suffixes.count))]
        default: // anything
            return String(rng.next()) + suffixes[Int(rng.next() % UInt64(suffixes.count))]
        }
    }

    /// A YAML double-quoted scalar: the value reaches the number parser as it is.
    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    // MARK: the harness

    /// Runs `body` over random values for one field: each either parses, or throws a
    /// ConfigError at `field` whose message names the accepted range. Both must occur.
    static func fuzz(_ name: String, field: String, _ body: (String) throws(ConfigError) -> Void) {
        var rng = SplitMix64(seed: seed ^ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var parsed = 0, refused = 0
        let values = specials + (0..<iterations).map { _ in value(&rng) }
        for v in values {
            do throws(ConfigError) {
                try body(v)
                parsed += 1
            } catch {
                refused += 1
                #expect(error.field == field, "\(name) \(v): \(error)")
                #expect(error.message.contains("accepted"), "\(name) \(v): the refusal names no range: \(error)")
            }
        }
        #expect(parsed > 0 && refused > 0, "\(name): parsed \(parsed), refused \(refused)")
    }

    static func profile(resources key: String, _ v: String) -> String {
        "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nresources:\n  limits:\n    \(key): \(quoted(v))\n  requests:\n    \(key): \(quoted(v))\n"
    }

    static let containerLayers: [ProfileLayer] = (try? embeddedLayers("container")) ?? []

    /// Parses a profile, resolves it on the shipped container profile and renders everything
    /// derived from the numbers (the effective YAML, the Kubernetes spec).
    static func useProfile(_ text: String) throws(ConfigError) -> EffectiveProfile {
        let layer = try ProfileParser.parse(text, file: "fuzz.yaml")
        let e = try EffectiveProfile.resolve(containerLayers + [layer])
        _ = e.requestsCgroupLimits
        for t in e.tmpfs { _ = e.tmpfsSize(t) }
        _ = KubernetesContainerSpec(profile: e).yaml
        _ = e.yaml
        return e
    }

    // MARK: the command line

    @Test("Command line: every numeric flag, built by CommandLineLayer, is refused by name and range or taken within range")
    func commandLineFlags() {
        let flags: [(String, (String) -> CommandLineLayer)] = [
            ("--cpus", { v in var f = CommandLineLayer(); f.cpus = v; return f }),
            ("--memory", { v in var f = CommandLineLayer(); f.memory = v; return f }),
            ("--pids", { v in var f = CommandLineLayer(); f.pids = v; return f }),
            ("--ephemeral-storage", { v in var f = CommandLineLayer(); f.ephemeralStorage = v; return f }),
            ("--tmpfs", { v in var f = CommandLineLayer(); f.tmpfs = ["/scratch:" + v]; return f }),
            ("--user", { v in var f = CommandLineLayer(); f.user = "0:" + v; return f }),
            ("--rlimit", { v in var f = CommandLineLayer(); f.rlimits = ["nofile=" + v]; return f }),
            ("--io-weight", { v in var f = CommandLineLayer(); f.ioWeight = v; return f }),
            ("--io-max", { v in var f = CommandLineLayer(); f.ioMax = ["8:0 wbps=" + v]; return f }),
        ]
        for (flag, make) in flags {
            Self.fuzz("flag\(flag)", field: flag) { v throws(ConfigError) in
                let l = try make(v).layer(environment: [:], currentDirectory: "/")
                let e = try EffectiveProfile.resolve(Self.containerLayers + [l])
                _ = e.requestsCgroupLimits
                _ = e.yaml
                #expect((l.limits.cpuMilli ?? 0) <= Self.maxCPUMilli && (l.limits.pids ?? 0) <= Self.maxPids, "\(flag) \(v)")
                #expect((l.limits.memoryBytes ?? 0) <= Self.maxBytes && (l.limits.ephemeralStorageBytes ?? 0) <= Self.maxBytes, "\(flag) \(v)")
                #expect(e.tmpfs.allSatisfy { e.tmpfsSize($0) <= Self.maxBytes } && (l.ioWeight ?? 1) <= 10_000, "\(flag) \(v)")
                #expect(l.runAsGroup != UInt32.max, "\(flag) \(v): (gid_t)-1 taken")
            }
        }
    }

    // MARK: profiles

    @Test("Profiles: resources.limits and requests (cpu, memory, pids, ephemeral-storage) refuse out-of-range values by name")
    func profileResources() {
        for (key, max) in [("cpu", Self.maxCPUMilli), ("memory", Self.maxBytes), ("pids", Self.maxPids), ("ephemeral-storage", Self.maxBytes)] {
            Self.fuzz("profile.\(key)", field: "resources.limits.\(key)") { v throws(ConfigError) in
                let e = try Self.useProfile(Self.profile(resources: key, v))
                let got = key == "cpu" ? e.limits.cpuMilli : key == "memory" ? e.limits.memoryBytes : key == "pids" ? e.limits.pids : e.limits.ephemeralStorageBytes
                #expect(got.map { $0 <= max } ?? false, "profile \(key) \(v) took \(String(describing: got)), above \(max)")
            }
        }
    }

    @Test("Profiles: tmpfs sizeLimit and io.max rates refuse out-of-range values by name")
    func profileSizesAndRates() {
        Self.fuzz("profile.tmpfs", field: "filesystem.tmpfs[0].sizeLimit") { v throws(ConfigError) in
            let e = try Self.useProfile("filesystem:\n  tmpfs:\n  - path: /scratch\n    sizeLimit: \(Self.quoted(v))\n")
            // The accepted /scratch is there (an allSatisfy over a list without it proves nothing).
            #expect(e.tmpfs.contains { $0.path == "/scratch" }, "\(v): \(e.tmpfs)")
            #expect(e.tmpfs.allSatisfy { e.tmpfsSize($0) <= Self.maxBytes })
        }
        for key in ["rbps", "wbps", "riops", "wiops"] {
            Self.fuzz("profile.io.\(key)", field: "resources.io.max[0]") { v throws(ConfigError) in
                let e = try Self.useProfile("resources:\n  io:\n    max: [\(Self.quoted("8:0 \(key)=\(v)"))]\n")
                let cap = key.hasSuffix("iops") ? UInt64(UInt32.max) : Self.maxBytes
                #expect(e.ioMax.count == 1, "the accepted rate is kept: \(v) \(e.ioMax)")
                for t in e.ioMax {
                    for x in [t.readBytesPerSecond, t.writeBytesPerSecond, t.readIOPerSecond, t.writeIOPerSecond] {
                        #expect((x ?? 0) <= cap, "io \(key) \(v) took \(x ?? 0)")
                    }
                }
            }
        }
    }

    // MARK: Pod manifests

    static func pod(_ text: String) throws(ConfigError) -> PodLaunchSpec {
        let spec = try PodManifestParser.parse(text, file: "pod.yaml").launchSpec(volumeDirectory: "/v", profileLayers: embeddedLayers)
        _ = spec.usage
        for c in spec.containers { _ = KubernetesContainerSpec(profile: c.effective).yaml }
        return spec
    }

    @Test("Pods: container limits and requests, their sums over containers, emptyDir sizeLimit, bandwidth and pod-limits annotations")
    func podQuantities() {
        let twoContainers = { (res: String) in
            podYAML(spec: "  - name: b\n    image: x\n    command: [/bin/sh]\n    resources: \(res)\n", container: "    resources: \(res)\n")
        }
        // (pids is no per-container resource in Kubernetes: it comes from the profile or the
        // pod-limits annotation, fuzzed below.)
        for key in ["cpu", "memory", "ephemeral-storage"] {
            Self.fuzz("pod.limits.\(key)", field: "spec.containers[0].resources.limits.\(key)") { v throws(ConfigError) in
                _ = try Self.pod(podYAML(container: "    resources: {limits: {\(key): \(Self.quoted(v))}}\n"))
            }
            // Two containers: the pod's limit is the sum, which must stay in range or be refused.
            var rng = SplitMix64(seed: Self.seed ^ 0x2C)
            for v in Self.specials + (0..<Self.iterations).map({ _ in Self.value(&rng) }) {
                do throws(ConfigError) {
                    let s = try Self.pod(twoContainers("{limits: {\(key): \(Self.quoted(v))}, requests: {\(key): \(Self.quoted(v))}}"))
                    let totals = key == "cpu" ? [s.podLimits.cpuMilli, s.podRequests.cpuMilli] : key == "memory" ? [s.podLimits.memoryBytes] : [s.podLimits.ephemeralStorageBytes]
                    let cap = key == "cpu" ? Self.maxCPUMilli : Self.maxBytes
                    for x in totals { #expect((x ?? 0) <= cap, "two containers at \(key) \(v): pod total \(x ?? 0)") }
                } catch {
                    #expect(error.message.contains("accepted"), "\(key) \(v): \(error)")
                }
            }
        }
        Self.fuzz("pod.emptyDir", field: "spec.volumes[0].emptyDir.sizeLimit") { v throws(ConfigError) in
            _ = try Self.pod(podYAML(spec: "  volumes:\n  - name: d\n    emptyDir: {sizeLimit: \(Self.quoted(v))}\n"))
        }
        let a = "metadata.annotations"
        for ann in ["kubernetes.io/egress-bandwidth", "kubernetes.io/ingress-bandwidth"] {
            Self.fuzz("pod.\(ann)", field: "\(a).\(ann)") { v throws(ConfigError) in
                let s = try Self.pod(podYAML(annotations: "    bulkhead.dev/network: node\n    \(ann): \(Self.quoted(v))\n"))
                // At most what the node's token bucket can hold (NumberCommandLineTests checks it can).
                #expect((s.egressBitsPerSecond ?? 0) <= 700_000_000_000 && (s.ingressBitsPerSecond ?? 0) <= 700_000_000_000)
            }
        }
        for key in ["cpu", "memory", "pids"] {
            Self.fuzz("pod.pod-limits.\(key)", field: "\(a).bulkhead.dev/pod-limits") { v throws(ConfigError) in
                _ = try Self.pod(podYAML(annotations: "    bulkhead.dev/pod-limits: \(Self.quoted("\(key)=\(v)"))\n"))
            }
        }
    }

    @Test("The two exact quantities of the report are refused, by field and range, not trapped on")
    func reportedQuantities() {
        expectConfigError(field: "spec.containers[0].resources.limits.cpu", contains: "accepted") { () throws(ConfigError) in
            try Self.pod(podYAML(container: "    resources: {limits: {cpu: \"1000000000000000000m\"}}\n"))
        }
        expectConfigError(field: "resources.limits.cpu", contains: "accepted", file: "fuzz.yaml") { () throws(ConfigError) in
            try Self.useProfile(Self.profile(resources: "cpu", "18446744073709551.999"))
        }
        // Two containers whose requests.cpu are each in range but whose sum wraps 64 bits.
        expectConfigError(field: "spec.containers[*].resources.requests.cpu", contains: "accepted") { () throws(ConfigError) in
            try Self.pod(podYAML(spec: "  - name: b\n    image: x\n    command: [/bin/sh]\n    resources: {requests: {cpu: \"1000000\"}}\n",
                                 container: "    resources: {requests: {cpu: \"1000000\"}}\n"))
        }
    }

    @Test("NumberField and DurationField: the bounds, the refusal texts, and the sums")
    func rules() {
        #expect(NumberField.cpu.parse("1000000") == .success(1_000_000_000))
        #expect(NumberField.cpu.parse("1000000.001") == .failure(.init(message: "1000000.001 is above the maximum: it must be at most 1000000 (1000000 CPUs); accepted: 10m to 1000000")))
        #expect(NumberField.cpu.parse("18446744073709551.999") == .failure(.init(message: "expected a CPU quantity such as 500m, 1 or 1.5; accepted: 10m to 1000000, got \"18446744073709551.999\"")))
        #expect(NumberField.memory.parse("4Ei") == .success(1 << 62))
        #expect(NumberField.memory.parse("3Mi").failureMessage?.contains("at least 4Mi") == true)
        #expect(NumberField.pids.parse("4194305").failureMessage?.contains("PID_MAX_LIMIT") == true)
        #expect(NumberField.id.parse("4294967295").failureMessage?.contains("(uid_t)-1") == true)
        #expect(NumberField.id.parse("+1").failureMessage != nil && NumberField.id.parse("4294967294") == .success(4_294_967_294))
        #expect(NumberField.bandwidth.parse("700G") == .success(700_000_000_000))
        #expect(NumberField.cpu.sum([NumberField.maxCPUMilli, 1]) == nil)
        #expect(NumberField.cpu.sum([UInt64.max, 2]) == nil)
        #expect(NumberField.memory.sum([1 << 61, 1 << 61]) == 1 << 62)
        #expect(DurationField.seconds("500ms") == .success(0.5))
        #expect(DurationField.seconds("4294967295s") == .success(4_294_967_295))
        for bad in ["4294967296s", "1193047h", "1e308h", "nan", "inf", "-1s", "0", "0x10", "1e3", "1..2s", "", "s", "0.0001ms"] {
            #expect(DurationField.seconds(bad).failureMessage?.contains("accepted: 1ms to 4294967295s") == true, "\(bad)")
        }
        #expect(Checked.uint64(.nan) == nil && Checked.uint64(.infinity) == nil && Checked.uint64(-1) == nil)
        #expect(Checked.uint64(18_446_744_073_709_551_616.0) == nil && Checked.uint64(2.9) == 2)
    }

    // MARK: integers: ids, id ranges, deadlines, ports

    /// Integer fields that ConfigNode checks against a range: each either parses within its
    /// range, or is a ConfigError at the field (these name "out of range" or the format).
    static func fuzzInteger(_ name: String, field: String, range: ClosedRange<UInt64>, _ body: (String) throws(ConfigError) -> UInt64?) {
        var rng = SplitMix64(seed: seed ^ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var parsed = 0, refused = 0
        for v in specials + (0..<iterations).map({ _ in value(&rng) }) {
            do throws(ConfigError) {
                let got = try body(v)
                parsed += 1
                #expect(got.map { range.contains($0) } ?? true, "\(name) \(v) took \(String(describing: got)), outside \(range)")
            } catch {
                refused += 1
                #expect(error.field.hasPrefix(field), "\(name) \(v): \(error)")
            }
        }
        #expect(parsed > 0 && refused > 0, "\(name): parsed \(parsed), refused \(refused)")
    }

    @Test("Integers: runAsUser/runAsGroup (profiles and pods), hostIDRange (profiles and tenants), activeDeadlineSeconds, ports")
    func integers() {
        let ids: ClosedRange<UInt64> = 0...4_294_967_294
        for key in ["runAsUser", "runAsGroup"] {
            Self.fuzzInteger("profile.\(key)", field: "securityContext.\(key)", range: ids) { v throws(ConfigError) in
                let l = try ProfileParser.parse("securityContext:\n  \(key): \(v.isEmpty ? "\"\"" : v)\n", file: "fuzz.yaml")
                return UInt64(key == "runAsUser" ? l.runAsUser ?? 0 : l.runAsGroup ?? 0)
            }
            Self.fuzzInteger("pod.\(key)", field: "spec.containers[0].securityContext.\(key)", range: ids) { v throws(ConfigError) in
                let s = try Self.pod(podYAML(container: "    securityContext: {\(key): \(Self.quoted(v))}\n"))
                return UInt64(key == "runAsUser" ? s.containers[0].effective.runAsUser : s.containers[0].effective.runAsGroup)
            }
        }
        // START:COUNT, both random: the end must stay within 32 bits.
        var rng = SplitMix64(seed: Self.seed ^ 0x1D)
        for _ in 0..<Self.iterations {
            let text = "\(Self.value(&rng)):\(Self.value(&rng))"
            for (doc, file) in [("userNamespace:\n  hostIDRange: \(Self.quoted(text))\n", "p"),
                                ("apiVersion: bulkhead.dev/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec:\n  hostIDRange: \(Self.quoted(text))\n  allowedProfiles: [restricted]\n  secretsDirectory: /s\n", "t")] {
                do throws(ConfigError) {
                    let r = file == "p" ? try ProfileParser.parse(doc, file: "p.yaml").hostIDRange : try TenantParser.parse(doc, file: "t.yaml").hostIDRange
                    if let r { #expect(UInt64(r.hostStart) + UInt64(r.count) <= UInt64(UInt32.max), "\(text) took \(r)") }
                } catch {
                    #expect(error.field.hasSuffix("hostIDRange"), "\(text): \(error)")
                }
            }
        }
        Self.fuzzInteger("pod.activeDeadlineSeconds", field: "spec.activeDeadlineSeconds", range: 1...4_294_967_295) { v throws(ConfigError) in
            try Self.pod(podYAML(spec: "  activeDeadlineSeconds: \(v.isEmpty ? "\"\"" : v)\n")).activeDeadlineSeconds
        }
        for key in ["bindTCP", "connectTCP"] {
            Self.fuzzInteger("profile.\(key)", field: "filesystem.landlock.\(key)", range: 0...65535) { v throws(ConfigError) in
                let l = try ProfileParser.parse("filesystem:\n  landlock:\n    readOnly: [/]\n    \(key): [\(v.isEmpty ? "\"\"" : v)]\n", file: "fuzz.yaml")
                return (key == "bindTCP" ? l.landlock?.bindTCP : l.landlock?.connectTCP)?.first.map(UInt64.init)
            }
        }
        for key in ["port", "endPort"] {
            Self.fuzzInteger("networkpolicy.\(key)", field: "spec.ingress[0].ports[0]", range: 0...65535) { v throws(ConfigError) in
                let extra = key == "endPort" ? "port: 1, endPort: \(v.isEmpty ? "\"\"" : v)" : "port: \(v.isEmpty ? "\"\"" : v)"
                let p = try NetworkPolicyParser.parse("""
                    apiVersion: networking.k8s.io/v1
                    kind: NetworkPolicy
                    metadata: {name: n}
                    spec:
                      podSelector: {}
                      ingress:
                      - ports:
                        - {\(extra)}
                    """, file: "np.yaml")
                let port = p.ingress.first?.ports.first
                return (key == "port" ? port?.port : port?.endPort).map(UInt64.init)
            }
        }
    }

    // MARK: Tenants and ResourceQuotas

    static func quotaYAML(_ key: String, _ v: String) -> String {
        "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: team-a}\nspec:\n  hard:\n    \(key): \(quoted(v))\n"
    }
    static let tenant = try! TenantParser.parse("""
        apiVersion: bulkhead.dev/v1alpha1
        kind: Tenant
        metadata: {name: team-a}
        spec:
          hostIDRange: "3000000000:100000"
          allowedProfiles: [restricted, container]
          secretsDirectory: /var/lib/bulkhead/secrets/team-a
        """, file: "t.yaml")

    @Test("ResourceQuotas: every hard limit refuses out-of-range values by name; admission sums are checked")
    func quotas() throws {
        let pod = try Self.pod(podYAML(meta: "  namespace: team-a\n", container: "    resources: {limits: {cpu: \"1\", memory: 64Mi}}\n",
                                       annotations: "    bulkhead.dev/profile: restricted\n"))
        var rng = SplitMix64(seed: Self.seed ^ 0x9)
        for key in ["limits.cpu", "limits.memory", "pods", "bulkhead.dev/pids"] {
            Self.fuzz("quota.\(key)", field: "spec.hard.\(key)") { v throws(ConfigError) in
                let q = try ResourceQuotaParser.parse(Self.quotaYAML(key, v), file: "q.yaml")
                let cap = key == "limits.cpu" ? Self.maxCPUMilli : key == "limits.memory" ? Self.maxBytes : key == "pods" ? 1_000_000 : Self.maxPids
                #expect((q.hard.limitsCPUMilli ?? q.hard.limitsMemoryBytes ?? q.hard.pods ?? q.hard.pids ?? 0) <= cap, "quota \(key) \(v)")
                _ = q.hard.tenantCgroupLimits
                _ = QuotaLimits.tightest([q.hard, q.hard])
                // Running pods with hostile usage: admission never traps.
                let running = (0..<3).map { _ in PodUsage(name: "r", cpuMilli: rng.next() >> (rng.next() % 64), memoryBytes: rng.next(), pids: rng.next()) }
                _ = TenantAdmission.admit(pod, tenant: Self.tenant, quotas: [q], running: running)
            }
        }
    }

    @Test("Admission: running pods whose usage wraps 64 bits do not make room in a quota")
    func quotaSumDoesNotWrap() throws {
        let q = try ResourceQuotaParser.parse(Self.quotaYAML("limits.cpu", "2"), file: "q.yaml")
        let pod = try Self.pod(podYAML(meta: "  namespace: team-a\n", container: "    resources: {limits: {cpu: \"1\", memory: 64Mi}}\n",
                                       annotations: "    bulkhead.dev/profile: restricted\n"))
        // 2^63 + 2^63 wraps to 0: a wrapping sum would find the quota empty.
        let running = [PodUsage(name: "a", cpuMilli: 1 << 63), PodUsage(name: "b", cpuMilli: 1 << 63)]
        let d = TenantAdmission.admit(pod, tenant: Self.tenant, quotas: [q], running: running)
        #expect(!d.isAllowed, "a wrapped sum admitted the pod: \(d)")
    }
}

extension Result where Failure == NumberField.Refusal {
    var failureMessage: String? { if case .failure(let r) = self { r.message } else { nil } }
}
