import BulkheadModel
import PropertyBased
import Testing

/// `IDMapRules`, the checker of a hostile config's uid/gid maps: against a brute-force reading
/// of user_namespaces(7) on generated maps (overlaps, overflows and the limits made likely),
/// and what the planner makes of several ranges.
@Suite struct IDMapRulesTests {
    /// The rules as the kernel states them, pair by pair, in 64-bit arithmetic.
    static func reference(_ m: [IDMapEntry]) -> Bool {
        guard (1...340).contains(m.count) else { return false }
        let end = UInt64(UInt32.max)
        for e in m where e.count == 0 || UInt64(e.inside) + UInt64(e.count) > end || UInt64(e.outside) + UInt64(e.count) > end { return false }
        func overlap(_ a: UInt32, _ ca: UInt32, _ b: UInt32, _ cb: UInt32) -> Bool {
            UInt64(a) < UInt64(b) + UInt64(cb) && UInt64(b) < UInt64(a) + UInt64(ca)
        }
        for i in m.indices {
            for j in m.indices where i < j {
                if overlap(m[i].inside, m[i].count, m[j].inside, m[j].count) || overlap(m[i].outside, m[i].count, m[j].outside, m[j].count) { return false }
            }
        }
        return m.reduce(0) { $0 + $1.line.utf8.count } < 4096
    }

    /// A number that is often small (overlaps), often near 2^32 (overflow), sometimes anything.
    static func number(_ x: UInt64) -> UInt32 {
        let v = UInt32(truncatingIfNeeded: x >> 8)
        switch x & 3 {
        case 0: return v % 40
        case 1: return UInt32.max - v % 40
        case 2: return v
        default: return v % 4000
        }
    }

    static let maps = Gen.uint64().array(of: 0...60).map { xs in
        stride(from: 0, to: xs.count - xs.count % 3, by: 3).map { i in
            IDMapEntry(inside: number(xs[i]), outside: number(xs[i + 1]), count: number(xs[i + 2]))
        }
    }

    @Test func agreesWithTheKernelsRulesOnGeneratedMaps() async {
        await propertyCheck(count: 3000, input: Self.maps) { m in
            #expect((IDMapRules.problem(m) == nil) == Self.reference(m), "\(m)")
        }
    }

    /// Many lines (toward 340 and the page), built disjoint on both sides in shuffled order:
    /// accepted exactly when the kernel would, and each inside id has one host id.
    @Test func disjointMapsAreAcceptedAndMapOneToOne() async {
        let gen = Gen.uint64().array(of: 1...400)
        await propertyCheck(count: 300, input: gen) { xs in
            var inside: UInt32 = 0, outside: UInt32 = 100_000
            var m: [IDMapEntry] = []
            for x in xs {
                let count = UInt32(x % 5000) + 1, gap = UInt32((x >> 20) % 3)
                m.append(IDMapEntry(inside: inside + gap, outside: outside + gap, count: count))
                inside += gap + count; outside += gap + count
            }
            // Host ranges in another order than the inside ones: reversed.
            var start: UInt32 = 100_000
            for i in m.indices.reversed() { m[i].outside = start; start += m[i].count + 1 }
            #expect((IDMapRules.problem(m) == nil) == Self.reference(m))
            guard IDMapRules.problem(m) == nil else { return }
            for e in m {
                #expect(IDMapRules.host(m, e.inside) == e.outside)
                #expect(IDMapRules.host(m, e.inside + e.count - 1) == e.outside + e.count - 1)
                #expect(IDMapRules.maps(m, e.inside + e.count) == m.contains { $0.inside == e.inside + e.count })
            }
        }
    }

    @Test func namesTheLineAndTheSide() {
        let a = IDMapEntry(inside: 0, outside: 200_000, count: 10)
        #expect(IDMapRules.problem([a, IDMapEntry(inside: 100, outside: 200_005, count: 1)]) == "mappings 0 and 1 overlap on the hostID side")
        #expect(IDMapRules.problem([IDMapEntry(inside: 100, outside: 300_000, count: 1), a, IDMapEntry(inside: 9, outside: 400_000, count: 1)]) == "mappings 1 and 2 overlap on the containerID side")
        #expect(IDMapRules.problem([a, IDMapEntry(inside: 4_294_967_290, outside: 1, count: 6)])?.hasPrefix("mapping 1: containerID 4294967290 + size 6 overflows") == true)
        #expect(IDMapRules.problem([]) != nil)
        #expect(IDMapRules.problem(Array(repeating: a, count: 341))?.contains("at most 340") == true)
    }

    // MARK: The planner with a config's maps (a root-run OCI runtime)

    static let root = LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: true)
    static let three = [IDMapEntry(inside: 0, outside: 3_000_000_000, count: 1), IDMapEntry(inside: 1, outside: 3_000_100_000, count: 999),
                        IDMapEntry(inside: 1000, outside: 3_000_200_000, count: 65536)]

    func plan(_ maps: IDMaps, runAs: UInt32 = 0, reserved: [ReservedIDRange] = []) throws(ConfigError) -> LaunchPlan {
        var c = Self.root
        c.idMaps = maps
        c.reservedHostIDRanges = reserved
        var l = ProfileLayer()
        l.runAsUser = runAs
        return try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([l]), command: ["id"], context: c)
    }

    @Test func theConfigsLinesAreThePlansMaps() throws {
        let gid = [IDMapEntry(inside: 0, outside: 3_100_000_000, count: 70000)]
        let p = try plan(IDMaps(uid: Self.three, gid: gid), runAs: 1500)
        #expect(p.uidMap == Self.three && p.gidMap == gid && !p.denySetgroups)
        // The owner is in the owner band, which no valid range reaches.
        #expect(p.userNamespaceOwner == IDRange(hostStart: 3_000_000_000, count: 1).ownerHostID)
        #expect(p.userNamespaceOwner! >= IDRange.ownerBandStart)
    }

    @Test func eachHostRangeIsCheckedAgainstTheReservedOnesAndTheHostsAccounts() {
        let reserved = [ReservedIDRange("the default sandbox range", IDRange(hostStart: 3_000_150_000, count: 65536))]
        expectConfigError(field: "linux.uidMappings", contains: "host uids 3000200000:65536 (used for this sandbox) overlap the default sandbox range", file: "<command line>") { () throws(ConfigError) in
            try plan(IDMaps(uid: Self.three, gid: [Self.three[0]]), reserved: reserved)
        }
        expectConfigError(field: "linux.gidMappings", contains: "host gid range 1000:1 is not usable", file: "<command line>") { () throws(ConfigError) in
            try plan(IDMaps(uid: [Self.three[0]], gid: [Self.three[0], IDMapEntry(inside: 1, outside: 1000, count: 1)]))
        }
        expectConfigError(field: "securityContext.runAsUser", contains: "uid 70000 is not mapped by linux.uidMappings", file: "<command line>") { () throws(ConfigError) in
            try plan(IDMaps(uid: Self.three, gid: [IDMapEntry(inside: 0, outside: 3_100_000_000, count: 70001)]), runAs: 70000)
        }
    }
}
