import Testing
@testable import BulkheadModel

/// Issue 12 item 6 and /etc/subgid, pure: which host ids a sandbox's ids are, and which host uid
/// owns its user namespace. The kernel side is TrustIdentityTests (BulkheadTests).
struct IdentityRangeTests {
    static let root = LaunchContext(callerUID: 0, callerGID: 0, privileged: true, hasSeccomp: true)

    func plan(_ layer: ProfileLayer = ProfileLayer(), context: LaunchContext = root) throws(ConfigError) -> LaunchPlan {
        try LaunchPlanner.plan(profile: try EffectiveProfile.resolve([layer]), command: ["id"], context: context)
    }

    func mapped(_ m: [IDMapEntry], _ id: UInt32) -> Bool {
        m.contains { UInt64(id) >= UInt64($0.outside) && UInt64(id) < UInt64($0.outside) + UInt64($0.count) }
    }

    @Test("The owner of a sandbox's user namespace is the range's first id, which no map contains")
    func ownerIsNeverMapped() throws {
        for range in [EffectiveProfile.defaultHostIDRange, IDRange(hostStart: 1, count: 2), IDRange(hostStart: 4_294_967_293, count: 2)] {
            var l = ProfileLayer()
            l.hostIDRange = range
            let p = try plan(l)
            let owner = try #require(p.userNamespaceOwner)
            #expect(owner == range.hostStart && owner != 0)
            #expect(!mapped(p.uidMap, owner) && !mapped(p.gidMap, owner), "\(p.uidMap)")
            #expect(p.uidMap == [IDMapEntry(inside: 0, outside: range.hostStart + 1, count: range.count - 1)])
            // Every mapped id is inside the range: budgets stay per range.
            #expect(UInt64(p.uidMap[0].outside) + UInt64(p.uidMap[0].count) == UInt64(range.hostStart) + UInt64(range.count))
        }
        // The pod holder's plan: the same rule.
        let h = LaunchPlanner.holderPlan(namespaces: [.user, .network], hostIDRange: IDRange(hostStart: 3_000_000_000, count: 100), context: Self.root)
        #expect(h.userNamespaceOwner == 3_000_000_000)
        #expect(h.uidMap == [IDMapEntry(inside: 0, outside: 3_000_000_001, count: 99)] && h.gidMap == h.uidMap)
        // Rootless: the namespace is the caller's (no owner switch), only the caller is mapped.
        let rootless = LaunchContext(callerUID: 1000, callerGID: 1000, privileged: false, hasSeccomp: true)
        #expect(try plan(context: rootless).userNamespaceOwner == nil)
        #expect(LaunchPlanner.holderPlan(namespaces: [.user], hostIDRange: EffectiveProfile.defaultHostIDRange, context: rootless).userNamespaceOwner == nil)
    }

    @Test("runAsUser/runAsGroup must be among the mapped ids: count-1 of them")
    func runAsMustBeMapped() throws {
        var l = ProfileLayer()
        l.hostIDRange = IDRange(hostStart: 3_000_000_000, count: 1000)
        l.runAsUser = 998
        l.runAsGroup = 998
        #expect(try plan(l).uidMap == [IDMapEntry(inside: 0, outside: 3_000_000_001, count: 999)])
        l.runAsUser = 999   // would be host id 3000001000, the next range's owner
        expectConfigError(field: "userNamespace.hostIDRange", contains: "outside the 999 ids", file: "<command line>") { () throws(ConfigError) in try plan(l) }
        // From the installation's ranges (no profile range): uid and gid checked each against its own.
        var c = Self.root
        c.defaultHostIDRange = IDRange(hostStart: 500_000, count: 100)
        c.defaultHostGIDRange = IDRange(hostStart: 700_000, count: 10)
        var u = ProfileLayer()
        u.runAsUser = 50
        u.runAsGroup = 8
        let p = try plan(u, context: c)
        #expect(p.uidMap == [IDMapEntry(inside: 0, outside: 500_001, count: 99)])
        #expect(p.gidMap == [IDMapEntry(inside: 0, outside: 700_001, count: 9)])
        #expect(p.userNamespaceOwner == 500_000)
        u.runAsGroup = 9
        expectConfigError(field: "securityContext.runAsGroup", contains: "gid 9 is outside the 9 ids", file: "<command line>") { () throws(ConfigError) in try plan(u, context: c) }
        // A range too small to hold an owner and an id is refused, never mapped with count 0.
        c.defaultHostIDRange = IDRange(hostStart: 500_000, count: 1)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "at least 2 ids", file: "<command line>") { () throws(ConfigError) in try plan(context: c) }
    }

    @Test("A profile's or a tenant's range of one id is refused when parsed")
    func parsedRangesHoldAnOwner() throws {
        expectConfigError(field: "userNamespace.hostIDRange", contains: "at least 2 ids", file: "p.yaml") { () throws(ConfigError) in
            try ProfileParser.parse("userNamespace:\n  hostIDRange: \"3000000000:1\"\n", file: "p.yaml")
        }
        #expect(try ProfileParser.parse("userNamespace:\n  hostIDRange: \"3000000000:2\"\n", file: "p.yaml").hostIDRange == IDRange(hostStart: 3_000_000_000, count: 2))
    }

    @Test("Tenant admission counts the mapped ids, not the range's size")
    func admissionCountsMappedIDs() throws {
        let tenant = Tenant(name: "team-a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 1000), allowedProfiles: ["container"], secretsDirectory: "/s")
        let podYAML = { (uid: Int) in
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-a}\nspec:\n  containers:\n  - name: app\n    image: x\n    command: [\"true\"]\n    securityContext: {runAsUser: \(uid), runAsGroup: \(uid)}\n"
        }
        let ok = try PodManifestParser.parse(podYAML(998), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { n throws(ConfigError) in try embeddedLayers(n) }
        #expect(TenantAdmission.admit(ok, tenant: tenant).isAllowed, "\(TenantAdmission.admit(ok, tenant: tenant).reasons)")
        let edge = try PodManifestParser.parse(podYAML(999), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { n throws(ConfigError) in try embeddedLayers(n) }
        #expect(TenantAdmission.admit(edge, tenant: tenant).reasons.contains { $0.contains("runs as uid 999 gid 999, outside the 999 ids tenant team-a maps") })
    }

    @Test("A profile's range may be a reserved range or apart from it, never overlap it")
    func pinnedRangesDoNotOverlapReserved() throws {
        let a = IDRange(hostStart: 2_000_000_000, count: 65536)
        #expect(!a.conflicts(with: a))
        #expect(IDRange(hostStart: 1_999_999_999, count: 2).conflicts(with: a), "maps a's owner")
        #expect(IDRange(hostStart: 2_000_000_100, count: 10).conflicts(with: a), "nested: a maps its owner")
        #expect(!IDRange(hostStart: 1_999_999_998, count: 2).conflicts(with: a), "ends right before a")
        #expect(!IDRange(hostStart: 2_000_065_536, count: 2).conflicts(with: a), "starts right after a")
        var c = Self.root
        c.reservedHostIDRanges = [ReservedIDRange("the default sandbox range", a)]
        var l = ProfileLayer()
        l.hostIDRange = IDRange(hostStart: 1_999_999_000, count: 5000)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "overlap the default sandbox range", file: "<command line>") { () throws(ConfigError) in try plan(l, context: c) }
        l.hostIDRange = a
        #expect(try plan(l, context: c).userNamespaceOwner == a.hostStart)
        // The installation's range (/etc/subuid) is checked the same way.
        c.defaultHostIDRange = IDRange(hostStart: 2_000_065_000, count: 65536)
        c.reservedHostIDRanges.append(ReservedIDRange("the bulkhead range of /etc/subuid", c.defaultHostIDRange))
        expectConfigError(field: "userNamespace.hostIDRange", contains: "/etc/subuid, used for this sandbox) overlap the default sandbox range", file: "<command line>") { () throws(ConfigError) in try plan(context: c) }
    }

    // MARK: /etc/subuid and /etc/subgid

    @Test("subuid/subgid: each file gives its own map; the first bulkhead line counts")
    func subordinateFiles() throws {
        let subuid = "alice:100000:65536\nbulkhead:2000000000:65536\nbulkhead:5:5\n"
        let subgid = "bulkhead:2100000000:1000\nalice:100000:65536\n"
        let r = try #require(try SubordinateIDs.ranges(subuid: subuid, subgid: subgid))
        #expect(r.uid == IDRange(hostStart: 2_000_000_000, count: 65536))
        #expect(r.gid == IDRange(hostStart: 2_100_000_000, count: 1000), "gids come from /etc/subgid, not /etc/subuid")
        // Neither names bulkhead (or the files are missing or empty): the built-in default.
        #expect(try SubordinateIDs.ranges(subuid: "alice:1:2\n", subgid: nil) == nil)
        #expect(try SubordinateIDs.ranges(subuid: "", subgid: "") == nil)
        // "bulkheadx" or a prefix is another user.
        #expect(try SubordinateIDs.ranges(subuid: "bulkheadx:1:2\nbulk:1:2\n", subgid: "") == nil)
    }

    @Test("subuid/subgid: one half missing, or a malformed entry, is refused naming file and line, not content")
    func subordinateRefusals() {
        expectConfigError(field: "bulkhead", contains: "gives it no gids", file: "/etc/subgid") { () throws(ConfigError) in
            try SubordinateIDs.ranges(subuid: "bulkhead:2000000000:65536\n", subgid: "other:1:2\n")
        }
        expectConfigError(field: "bulkhead", contains: "gives it no uids", file: "/etc/subuid") { () throws(ConfigError) in
            try SubordinateIDs.ranges(subuid: nil, subgid: "bulkhead:2000000000:65536\n")
        }
        let cases: [(String, String)] = [
            ("bulkhead:0:65536", "START > 0"),                 // host root would own the namespace
            ("bulkhead:2000000000:1", "COUNT >= 2"),           // only the owner, nothing to map
            ("bulkhead:4294967295:2", "START+COUNT"),          // past the last id
            ("bulkhead:-1:SECRET-TEXT", "decimal"),
            ("bulkhead:1:2:3", "decimal"),
        ]
        for (line, message) in cases {
            do {
                _ = try SubordinateIDs.ranges(subuid: "x:1:2\n" + line + "\n", subgid: "bulkhead:2000000000:65536\n")
                Issue.record("accepted \(line)")
            } catch {
                #expect(error.file == "/etc/subuid" && error.line == 2 && error.message.contains(message), "\(error)")
                #expect(!error.description.contains("SECRET-TEXT"), "no file content in the error: \(error)")
            }
        }
    }
}
