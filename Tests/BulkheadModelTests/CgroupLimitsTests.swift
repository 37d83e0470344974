import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// The pure mapping from a profile's (or a pod's, or a tenant's) resources to cgroup values,
/// and the report types the cgroup driver's results are (one type each, no copies).
@Suite("cgroup limits and their report")
struct CgroupLimitsTests {
    // MARK: - The mapping

    @Test func profileResourcesBecomeKernelValues() {
        var p = EffectiveProfile.defaults
        p.limits.cpuMilli = 500
        p.limits.memoryBytes = 64 << 20
        p.limits.pids = 32
        p.requests.cpuMilli = 250
        p.ioWeight = 200
        p.ioMax = [IOThrottle(major: 8, minor: 0, writeBytesPerSecond: 1 << 20)]
        let l = CgroupLimits(profile: p, boundSwap: false)
        // 500m is half of a 100 ms period.
        #expect(l.cpuQuotaMicros == 50_000 && l.cpuPeriodMicros == 100_000)
        // 250m → 256 shares → weight 1 + 254 * 9999 / 262142 (the kubelet's and runc's mapping).
        #expect(l.cpuWeight == 10)
        #expect(l.memoryMax == 64 << 20 && l.memorySwapMax == nil)
        #expect(l.pidsMax == 32)
        #expect(l.ioWeight == 200 && l.ioMax == p.ioMax)
        #expect(l.requested == [.cpuMax, .cpuWeight, .memoryMax, .pidsMax, .ioWeight, .ioMax])
        #expect(l.controllers == ["cpu", "memory", "pids", "io"])
    }

    @Test func swapIsBoundOnlyWithAMemoryLimitWhereSwapIsActive() {
        var spec = ResourceSpec()
        spec.memoryBytes = 1 << 30
        #expect(CgroupLimits(limits: spec, boundSwap: true).memorySwapMax == 0)
        #expect(CgroupLimits(limits: spec, boundSwap: false).memorySwapMax == nil)
        spec.memoryBytes = nil
        spec.pids = 5
        #expect(CgroupLimits(limits: spec, boundSwap: true).memorySwapMax == nil)
    }

    /// A profile asks for a cgroup exactly when its mapped limits are not empty: the launch
    /// decides "no cgroup" from the limits alone.
    @Test func noResourcesNoLimits() {
        let p = EffectiveProfile.defaults
        #expect(!p.requestsCgroupLimits)
        #expect(CgroupLimits(profile: p, boundSwap: true).requested.isEmpty)
        var q = p
        q.requests.cpuMilli = 100
        #expect(q.requestsCgroupLimits && CgroupLimits(profile: q, boundSwap: true).requested == [.cpuWeight])
    }

    /// A tenant's quota maps through the same function as a container's resources.
    @Test func tenantQuotaBecomesTheTenantCgroupsLimits() {
        let quota = QuotaLimits(limitsCPUMilli: 2000, limitsMemoryBytes: 512 << 20, pods: 4, pids: 100)
        let l = CgroupLimits(limits: quota.tenantCgroupLimits, boundSwap: false)
        #expect(l == CgroupLimits(cpuQuotaMicros: 200_000, cpuPeriodMicros: 100_000, memoryMax: 512 << 20, pidsMax: 100))
    }

    /// An absurd CPU limit does not trap: the quota saturates and the driver's validate()
    /// refuses it by name.
    @Test func hugeCPUSaturates() {
        var spec = ResourceSpec()
        spec.cpuMilli = UInt64.max
        #expect(CgroupLimits(limits: spec, boundSwap: false).cpuQuotaMicros == UInt64.max)
        var req = ResourceSpec()
        req.cpuMilli = UInt64.max
        #expect(CgroupLimits(limits: ResourceSpec(), requests: req, boundSwap: false).cpuWeight == 10_000)
    }

    // MARK: - The report's shape

    /// `Tests/Fixtures/run-report-limits.json` is the `--report` of main's binary (094a9b0, before
    /// `CgroupStats` and `EnforcedLimit` became the report's own types) for
    /// `bulkhead run --cpus 500m --memory 64Mi --pids 32 --io-weight 200 --limits best-effort
    /// -- sh -c 'for i in 1 2 3 4 5; do sleep 0.3 & done; wait'` on the hybrid development host:
    /// limits enforced and not enforced, cgroup stats. Decoding it and encoding it again must give
    /// the same keys and values: a renamed or dropped field changes the keys, a retyped one fails
    /// the decoding.
    @Test func reportJSONKeepsTheShapeOfMain() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/run-report-limits.json")
        let fixture = try Data(contentsOf: url)
        let report = try JSONDecoder().decode(RunReport.self, from: fixture)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let again = try encoder.encode(report)
        let before = try JSONSerialization.jsonObject(with: fixture), after = try JSONSerialization.jsonObject(with: again)
        let keysBefore = Self.keyPaths(before), keysAfter = Self.keyPaths(after)
        #expect(keysAfter == keysBefore, "missing: \(keysBefore.subtracting(keysAfter).sorted()), new: \(keysAfter.subtracting(keysBefore).sorted())")
        #expect((after as? NSDictionary) == (before as? NSDictionary), "the values changed on the way through RunReport")
        // The fixture is the case this suite is about: it has both limit lists and the stats.
        #expect(keysBefore.isSuperset(of: ["limits.enforced[].limit", "limits.enforced[].driver", "limits.enforced[].file",
                                           "limits.enforced[].value", "limits.notEnforced[].limit", "limits.notEnforced[].reason",
                                           "cgroup.stats.memoryPeakBytes", "cgroup.stats.pidsMaxHits", "cgroup.directories"]))
    }

    /// Every figure `cgroup.stats` can hold, with main's names (`CgroupUsage` on main): the
    /// fixture cannot show pidsPeak, which main never filled.
    @Test func cgroupStatsKeysAreMains() throws {
        let all = CgroupStats(memoryPeakBytes: 1, cpuUsageMicros: 2, cpuPeriods: 3, cpuThrottledPeriods: 4,
                              cpuThrottledMicros: 5, oomKills: 6, pidsMaxHits: 7, pidsPeak: 8)
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(all)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["memoryPeakBytes", "cpuUsageMicros", "cpuPeriods", "cpuThrottledPeriods",
                                                        "cpuThrottledMicros", "oomKills", "pidsMaxHits", "pidsPeak"])
        #expect(object?["pidsPeak"] as? Int == 8)
        // nil is absent, not null: "the host did not provide that figure".
        let none = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(CgroupStats())) as? [String: Any]
        #expect(none?.isEmpty == true)
    }

    /// The dotted paths of every key in a JSON value (`[]` for an array's elements).
    static func keyPaths(_ value: Any, prefix: String = "") -> Set<String> {
        var paths: Set<String> = []
        if let object = value as? [String: Any] {
            for (k, v) in object {
                let path = prefix.isEmpty ? k : prefix + "." + k
                paths.insert(path)
                paths.formUnion(keyPaths(v, prefix: path))
            }
        } else if let array = value as? [Any] {
            for element in array { paths.formUnion(keyPaths(element, prefix: prefix + "[]")) }
        }
        return paths
    }
}
