import Testing
@testable import BulkheadConfig
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

    @Test("The owner of a sandbox's user namespace is the range's uid in the owner band, which no map contains; the maps are whole")
    func ownerIsNeverMapped() throws {
        let last = IDRange(hostStart: IDRange.ownerBandStart - 65536, count: 65536)
        for range in [EffectiveProfile.defaultHostIDRange, IDRange(hostStart: IDRange.firstHostID, count: 1), last,
                      IDRange(hostStart: IDRange.ownerBandStart - 1, count: 1)] {
            var l = ProfileLayer()
            l.hostIDRange = range
            let p = try plan(l)
            let owner = try #require(p.userNamespaceOwner)
            #expect(owner == IDRange.ownerBandStart + range.hostStart / 65536, "\(range): \(owner)")
            #expect(owner >= IDRange.ownerBandStart && owner <= 4_200_064_086)
            #expect(!mapped(p.uidMap, owner) && !mapped(p.gidMap, owner), "\(p.uidMap)")
            #expect(p.uidMap == [IDMapEntry(inside: 0, outside: range.hostStart, count: range.count)])
            #expect(p.uidMap[0].line == "0 \(range.hostStart) \(range.count)\n")
        }
        // The highest owner there is: a range starting in the last block below the band.
        #expect(IDRange(hostStart: IDRange.ownerBandStart - 1, count: 1).ownerHostID == 4_200_064_086)
        // Ranges starting in one 65,536-id block share an owner; the next block has the next one.
        #expect(IDRange(hostStart: 3_000_041_472, count: 10).ownerHostID == IDRange(hostStart: 3_000_041_472 + 65535, count: 10).ownerHostID)
        #expect(IDRange(hostStart: 3_000_041_472 + 65536, count: 10).ownerHostID == IDRange(hostStart: 3_000_041_472, count: 10).ownerHostID + 1)
        // The pod holder's plan: the same rule.
        let h = LaunchPlanner.holderPlan(namespaces: [.user, .network], hostIDRange: IDRange(hostStart: 3_000_000_000, count: 100), context: Self.root)
        #expect(h.userNamespaceOwner == IDRange.ownerBandStart + 3_000_000_000 / 65536)
        #expect(h.uidMap == [IDMapEntry(inside: 0, outside: 3_000_000_000, count: 100)] && h.gidMap == h.uidMap)
        // Rootless: the namespace is the caller's (no owner switch), only the caller is mapped.
        let rootless = LaunchContext(callerUID: 1000, callerGID: 1000, privileged: false, hasSeccomp: true)
        #expect(try plan(context: rootless).userNamespaceOwner == nil)
        #expect(LaunchPlanner.holderPlan(namespaces: [.user], hostIDRange: EffectiveProfile.defaultHostIDRange, context: rootless).userNamespaceOwner == nil)
    }

    @Test("No valid range reaches the owner band, so no range maps any owner, whatever two ranges are used together")
    func noRangeMapsAnyOwner() {
        // Adjacent, overlapping and nested ranges (the red team's "S-1:65536" against "S:65536"):
        // none maps the other's owner, nor its own.
        let s: UInt32 = 3_500_000_000
        let ranges = [IDRange(hostStart: s, count: 65536), IDRange(hostStart: s - 1, count: 65536), IDRange(hostStart: s + 1, count: 10),
                      IDRange(hostStart: IDRange.firstHostID, count: IDRange.ownerBandStart - IDRange.firstHostID)]
        for a in ranges {
            #expect(a.isValid, "\(a)")
            for b in ranges { #expect(!mapped([b.idMap], a.ownerHostID), "\(b) maps \(a)'s owner \(a.ownerHostID)") }
        }
        // The band's edge: a range may end at the band, not in it.
        #expect(IDRange(hostStart: IDRange.ownerBandStart - 10, count: 10).isValid)
        #expect(!IDRange(hostStart: IDRange.ownerBandStart - 10, count: 11).isValid)
        #expect(!IDRange(hostStart: IDRange.ownerBandStart, count: 1).isValid)
        #expect(!IDRange(hostStart: 4_294_967_293, count: 2).isValid)
        #expect(!IDRange(hostStart: 65535, count: 1).isValid)
        #expect(!IDRange(hostStart: 100_000, count: 0).isValid)
    }

    @Test("runAsUser/runAsGroup must be among the mapped ids: all count of them")
    func runAsMustBeMapped() throws {
        var l = ProfileLayer()
        l.hostIDRange = IDRange(hostStart: 3_000_000_000, count: 1000)
        l.runAsUser = 999
        l.runAsGroup = 999
        #expect(try plan(l).uidMap == [IDMapEntry(inside: 0, outside: 3_000_000_000, count: 1000)])
        l.runAsUser = 1000   // would be host id 3000001000, past the range
        expectConfigError(field: "userNamespace.hostIDRange", contains: "outside the 1000 ids", file: "<command line>") { () throws(ConfigError) in try plan(l) }
        // From the installation's ranges (no profile range): uid and gid checked each against its own.
        var c = Self.root
        c.defaultHostIDRange = IDRange(hostStart: 500_000, count: 100)
        c.defaultHostGIDRange = IDRange(hostStart: 700_000, count: 10)
        var u = ProfileLayer()
        u.runAsUser = 50
        u.runAsGroup = 9
        let p = try plan(u, context: c)
        #expect(p.uidMap == [IDMapEntry(inside: 0, outside: 500_000, count: 100)])
        #expect(p.gidMap == [IDMapEntry(inside: 0, outside: 700_000, count: 10)])
        #expect(p.userNamespaceOwner == IDRange.ownerBandStart + 500_000 / 65536)
        u.runAsGroup = 10
        expectConfigError(field: "securityContext.runAsGroup", contains: "gid 10 is outside the 10 ids", file: "<command line>") { () throws(ConfigError) in try plan(u, context: c) }
        // An empty range is refused, never mapped with count 0; so is one reaching the owner band.
        c.defaultHostIDRange = IDRange(hostStart: 500_000, count: 0)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "at least 1 id", file: "<command line>") { () throws(ConfigError) in try plan(context: c) }
        c.defaultHostIDRange = IDRange(hostStart: IDRange.ownerBandStart - 100, count: 101)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "must end at or below 4200000000", file: "<command line>") { () throws(ConfigError) in try plan(context: c) }
        c.defaultHostIDRange = IDRange(hostStart: 500_000, count: 100)
        c.defaultHostGIDRange = IDRange(hostStart: 4_250_000_000, count: 10)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "host gid range 4250000000:10 is not usable", file: "<command line>") { () throws(ConfigError) in try plan(u, context: c) }
    }

    @Test("A profile's or a tenant's range is refused when parsed if it reaches the owner band; one id is enough")
    func parsedRangesStayBelowTheBand() throws {
        expectConfigError(field: "userNamespace.hostIDRange", contains: "must end at or below 4200000000", file: "p.yaml") { () throws(ConfigError) in
            try ProfileParser.parse("userNamespace:\n  hostIDRange: \"4199999999:2\"\n", file: "p.yaml")
        }
        expectConfigError(field: "userNamespace.hostIDRange", contains: "owners of sandboxes' user namespaces", file: "p.yaml") { () throws(ConfigError) in
            try ProfileParser.parse("userNamespace:\n  hostIDRange: \"4200000000:1\"\n", file: "p.yaml")
        }
        #expect(try ProfileParser.parse("userNamespace:\n  hostIDRange: \"4199999999:1\"\n", file: "p.yaml").hostIDRange == IDRange(hostStart: 4_199_999_999, count: 1))
        #expect(try ProfileParser.parse("userNamespace:\n  hostIDRange: \"3000000000:1\"\n", file: "p.yaml").hostIDRange == IDRange(hostStart: 3_000_000_000, count: 1))
        let tenant = "apiVersion: bulkhead.dev/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec: {hostIDRange: \"4199990000:65536\", secretsDirectory: /s}\n"
        expectConfigError(field: "spec.hostIDRange", contains: "must end at or below 4200000000", file: "t.yaml") { () throws(ConfigError) in
            _ = try ManifestSet.parse(tenant, file: "t.yaml")
        }
    }

    @Test("Tenant admission counts the mapped ids: the whole range")
    func admissionCountsMappedIDs() throws {
        let tenant = Tenant(name: "team-a", hostIDRange: IDRange(hostStart: 3_000_000_000, count: 1000), allowedProfiles: ["container"], secretsDirectory: "/s")
        let podYAML = { (uid: Int) in
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-a}\nspec:\n  containers:\n  - name: app\n    image: x\n    command: [\"true\"]\n    securityContext: {runAsUser: \(uid), runAsGroup: \(uid)}\n"
        }
        let ok = try PodManifestParser.parse(podYAML(999), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { n throws(ConfigError) in try embeddedLayers(n) }
        #expect(TenantAdmission.admit(ok, tenant: tenant).isAllowed, "\(TenantAdmission.admit(ok, tenant: tenant).reasons)")
        let edge = try PodManifestParser.parse(podYAML(1000), file: "pod.yaml").launchSpec(volumeDirectory: "/v") { n throws(ConfigError) in try embeddedLayers(n) }
        #expect(TenantAdmission.admit(edge, tenant: tenant).reasons.contains { $0.contains("runs as uid 1000 gid 1000 (securityContext.runAsUser, runAsGroup), outside the 1000 ids tenant team-a maps") })
    }

    @Test("A profile's range may be a reserved range or apart from it, never overlap it (shared host ids)")
    func pinnedRangesDoNotOverlapReserved() throws {
        let a = IDRange(hostStart: 2_000_000_000, count: 65536)
        #expect(!a.conflicts(with: a))
        #expect(IDRange(hostStart: 1_999_999_999, count: 2).conflicts(with: a), "shares a's first id")
        #expect(IDRange(hostStart: 2_000_000_100, count: 10).conflicts(with: a), "nested")
        #expect(!IDRange(hostStart: 1_999_999_998, count: 2).conflicts(with: a), "ends right before a")
        #expect(!IDRange(hostStart: 2_000_065_536, count: 2).conflicts(with: a), "starts right after a")
        var c = Self.root
        c.reservedHostIDRanges = [ReservedIDRange("the default sandbox range", a)]
        var l = ProfileLayer()
        l.hostIDRange = IDRange(hostStart: 1_999_999_000, count: 5000)
        expectConfigError(field: "userNamespace.hostIDRange", contains: "overlap the default sandbox range", file: "<command line>") { () throws(ConfigError) in try plan(l, context: c) }
        l.hostIDRange = a
        #expect(try plan(l, context: c).userNamespaceOwner == a.ownerHostID)
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
            ("bulkhead:0:65536", "host's root"),               // host root would be mapped
            ("bulkhead:1000:65536", "below 65536"),            // the host's own accounts
            ("bulkhead:2000000000:0", "at least 1 id"),        // nothing to map
            ("bulkhead:4199999999:2", "at or below 4200000000"), // an owner of the band
            ("bulkhead:4294967295:2", "at or below 4200000000"), // past the last id
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
