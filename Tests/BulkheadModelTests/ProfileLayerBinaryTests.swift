import BulkheadConfig
import BulkheadModel
import PropertyBased
import Testing

/// The binary form of a parsed layer (`ProfileLayerBinary`), which `ProfileLayerCache` keeps on
/// disk: every layer comes back equal, and no byte string (flipped, truncated, arbitrary) traps.
@Suite struct ProfileLayerBinaryTests {
    /// A layer with every field set to something other than its default.
    static let full: ProfileLayer = {
        var l = ProfileLayer()
        l.name = "full"; l.description = "every field"; l.extends = "container"; l.source = "/etc/bulkhead/full.yaml"
        l.isPrivate = true
        l.namespaces = [.user: true, .network: false, .time: true]
        l.hostIDRange = IDRange(hostStart: 100_000, count: 65536)
        l.runAsUser = 1000; l.runAsGroup = 1001; l.runAsUserName = "app"; l.runAsGroupName = "staff"
        l.supplementalGroups = [.id(5), .name("wheel")]
        l.addsGroups = true
        l.runAsNonRoot = true
        l.capabilities = CapabilitySpec(add: ["NET_BIND_SERVICE"], drop: ["ALL"])
        l.readOnlyRootFilesystem = false
        l.allowPrivilegeEscalation = false
        l.seccomp = .inline(text: "defaultAction: SCMP_ACT_ERRNO\n", file: "/p.yaml", line: 12)
        l.limits.cpuMilli = 500; l.limits.memoryBytes = 1 << 30; l.limits.pids = 64; l.limits.ephemeralStorageBytes = 1 << 24
        l.requests.cpuMilli = 100
        l.ioWeight = 200
        l.ioMax = [IOThrottle(major: 8, minor: 0, readBytesPerSecond: 1, writeBytesPerSecond: UInt64.max, readIOPerSecond: 3, writeIOPerSecond: 4)]
        l.memorySwapBytes = UInt64.max
        l.cpusetCPUs = [0, 1, 3]
        l.enforcement = .bestEffort
        l.root = .directory("/srv/root")
        l.tmpfs = [TmpfsMount(path: "/tmp", sizeBytes: 1 << 20, optional: true)]
        l.devices = ["fuse", "net/tun"]
        l.shmSizeBytes = 1 << 26
        l.maskedPaths = ["/proc/kcore"]; l.readonlyPaths = ["/proc/sys"]
        l.binds = [BindMount(source: "/src", destination: "/dst", readOnly: true, sourceIsFile: true)]
        l.addsMounts = true
        l.landlock = LandlockSpec(readOnly: ["/usr"], readWrite: ["/tmp"], bindTCP: [80], connectTCP: [443, 0])
        l.network = .host
        l.hostname = "héllo ✓"
        l.workingDir = "/work"
        l.env = [EnvVar(name: "A", value: ""), EnvVar(name: "B", value: "x=y\n\0z")]
        l.unsetEnv = ["C"]
        l.rlimits = [.nofile: Rlimit(soft: 1024, hard: 4096), .core: Rlimit(soft: 0, hard: Rlimit.unlimited)]
        return l
    }()

    /// Guards the test above: a field added to ProfileLayer must be set there, or this fails.
    @Test func fullLayerSetsEveryField() {
        let defaults = Mirror(reflecting: ProfileLayer()).children.map { "\($0.value)" }
        let full = Mirror(reflecting: Self.full).children.map { ($0.label ?? "?", "\($0.value)") }
        #expect(defaults.count == full.count)
        for (i, (label, value)) in full.enumerated() where value == defaults[i] {
            Issue.record("ProfileLayerBinaryTests.full leaves \(label) at its default")
        }
    }

    @Test func everyLayerRoundTrips() throws {
        var layers = [Self.full, ProfileLayer()]
        for f in EmbeddedProfiles.files where !f.path.contains("/") {
            layers.append(try ProfileParser.parse(f.text, file: "<embedded:\(f.path)>"))
        }
        for l in layers {
            #expect(try ProfileLayerBinary.decode(ProfileLayerBinary.encode(l)) == l)
        }
    }

    /// Generated layers (environment, numbers, lists, enums) come back equal.
    @Test func generatedLayersRoundTrip() async {
        let text = Gen.character(in: "\0"..."\u{D7FF}").string(of: 0...12)
        await propertyCheck(count: 300, input: Gen.uint64().array(of: 0...6), text.array(of: 0...6), Gen.bool.array(of: 3)) { numbers, strings, flags in
            var l = ProfileLayer()
            l.hostname = strings.first
            l.env = zip(strings, strings.reversed()).map { EnvVar(name: $0, value: $1) }
            l.maskedPaths = flags[0] ? strings : nil
            l.limits.memoryBytes = numbers.first
            l.cpusetCPUs = numbers.map { UInt32(truncatingIfNeeded: $0) }
            l.ioMax = numbers.map { IOThrottle(major: UInt32(truncatingIfNeeded: $0), minor: 1, readIOPerSecond: $0) }
            l.network = flags[1] ? NetworkMode.none : .host
            l.root = flags[2] ? .host : .directory(strings.last ?? "")
            l.rlimits = Dictionary(uniqueKeysWithValues: zip(RlimitResource.allCases, numbers).map { ($0, Rlimit(soft: $1, hard: $1)) })
            #expect((try? ProfileLayerBinary.decode(ProfileLayerBinary.encode(l))) == l)
        }
    }

    // MARK: ProfileLayerBinary, the cache's form

    /// One to eight bytes changed anywhere: refused or a layer, never a trap; truncated or
    /// extended: always refused.
    @Test func binaryFormRefusesDamage() async throws {
        let base = ProfileLayerBinary.encode(Self.full)
        await propertyCheck(count: 2000, input: Gen.int(in: 0..<base.count).array(of: 1...8), Gen.uint8().array(of: 8)) { positions, values in
            var b = base
            for (i, p) in positions.enumerated() { b[p] = values[i % values.count] }
            _ = try? ProfileLayerBinary.decode(b)
        }
        for n in 0..<base.count {
            #expect(throws: CompactCoder.Invalid.self) { try ProfileLayerBinary.decode(Array(base.prefix(n))) }
        }
        #expect(throws: CompactCoder.Invalid.self) { try ProfileLayerBinary.decode(base + [0]) }
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...300)) { bytes in
            _ = try? ProfileLayerBinary.decode(bytes)
        }
    }

    /// A count or length larger than the bytes left is refused before anything is allocated.
    @Test func binaryFormRefusesHostileCounts() {
        // name: present, length 2^63.
        let hugeName: [UInt8] = [1] + [0, 0, 0, 0, 0, 0, 0, 0x80]
        #expect(throws: CompactCoder.Invalid.self) { try ProfileLayerBinary.decode(hugeName) }
        // Everything absent up to the namespaces, then a count of 2^64-1.
        let w = ProfileLayerBinary.encode(ProfileLayer())
        let nsOffset = 3 + 8 + "<command line>".utf8.count + 1
        var b = w
        for i in 0..<8 { b[nsOffset + i] = 0xFF }
        #expect(throws: CompactCoder.Invalid.self) { try ProfileLayerBinary.decode(b) }
    }
}
