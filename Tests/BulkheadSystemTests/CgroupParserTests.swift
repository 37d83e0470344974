import Testing
import BulkheadModel
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// Pure parsers of /proc and cgroup files, tested with the real contents of files from
/// the development machine (hybrid, kernel 6.18) and from cgroup v2 hosts.
@Suite("cgroup file parsers")
struct CgroupParserTests {
    // /proc/self/cgroup of a process on the hybrid development machine.
    static let hybridProcCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/70e4bf513b1b424ce99e5dadb646e1e8
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """

    // The cgroup lines of /proc/self/mountinfo on the same machine.
    static let hybridMountinfo = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw

        """

    // A systemd unified host (Debian 12 default), shared: and master: optional fields.
    static let unifiedMountinfo = """
        25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        28 25 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot

        """
    static let unifiedProcCgroup = "0::/user.slice/user-1000.slice/session-2.scope\n"

    // Inside a container with a cgroup namespace and a bind-mounted subtree: the mount's
    // root is the container's cgroup, and /proc/self/cgroup is relative to the namespace.
    static let legacyMountinfo = """
        700 690 0:40 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
        701 690 0:41 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
        702 690 0:42 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids

        """
    static let legacyProcCgroup = """
        4:memory:/docker/abc/sub
        3:cpu,cpuacct:/docker/abc
        2:pids:/x

        """

    @Test func procCgroupHybrid() {
        let entries = ProcCgroupEntry.parse(Self.hybridProcCgroup)
        #expect(entries.count == 10)
        #expect(entries.first(where: \.isUnified)?.path == "/")
        #expect(entries.first(where: { $0.controllers == ["memory"] })?.path == "/process_api/70e4bf513b1b424ce99e5dadb646e1e8")
        #expect(entries.first?.controllers == ["name=systemd"])
    }

    @Test func procCgroupPathWithColon() {
        let entries = ProcCgroupEntry.parse("0::/a:b/c\n1:cpu,cpuacct:/x\n")
        #expect(entries == [
            ProcCgroupEntry(hierarchyID: 0, controllers: [], path: "/a:b/c"),
            ProcCgroupEntry(hierarchyID: 1, controllers: ["cpu", "cpuacct"], path: "/x"),
        ])
    }

    @Test func mountinfoFieldsAndEscapes() {
        let entries = MountInfoEntry.parse(Self.unifiedMountinfo + "90 28 0:50 / /mnt/with\\040space rw - cgroup cgroup rw,name=x\n")
        #expect(entries.count == 3)
        #expect(entries[1] == MountInfoEntry(root: "/", mountPoint: "/sys/fs/cgroup", fileSystemType: "cgroup2",
                                              superOptions: ["rw", "nsdelegate", "memory_recursiveprot"]))
        #expect(entries[2].mountPoint == "/mnt/with space")
        #expect(entries[2].v1Controllers == ["name=x"])
        #expect(MountInfoEntry.unescape("a\\134b\\011") == "a\\b\t")
    }

    @Test func layoutHybrid() {
        let layout = CgroupLayout.resolve(mounts: MountInfoEntry.parse(Self.hybridMountinfo),
                                          membership: ProcCgroupEntry.parse(Self.hybridProcCgroup))
        #expect(layout.mode == .hybrid)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup/unified")
        #expect(layout.unified?.ownDirectory == "/sys/fs/cgroup/unified")
        #expect(layout.v1MountPoints["memory"] == "/sys/fs/cgroup/memory")
        #expect(layout.v1MountPoints["cpuacct"] == "/sys/fs/cgroup/cpuacct")
        #expect(layout.v1MountPoints["name=systemd"] == "/sys/fs/cgroup/systemd")
        let memory = layout.v1.first { $0.controllers == ["memory"] }
        #expect(memory?.ownDirectory == "/sys/fs/cgroup/memory/process_api/70e4bf513b1b424ce99e5dadb646e1e8")
        #expect(layout.v1.first { $0.controllers == ["pids"] }?.ownDirectory == "/sys/fs/cgroup/pids")
    }

    @Test func layoutUnified() {
        let layout = CgroupLayout.resolve(mounts: MountInfoEntry.parse(Self.unifiedMountinfo),
                                          membership: ProcCgroupEntry.parse(Self.unifiedProcCgroup))
        #expect(layout.mode == .unified)
        #expect(layout.v1.isEmpty)
        #expect(layout.unified?.ownDirectory == "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope")
    }

    @Test func layoutLegacyInsideCgroupNamespace() {
        let layout = CgroupLayout.resolve(mounts: MountInfoEntry.parse(Self.legacyMountinfo),
                                          membership: ProcCgroupEntry.parse(Self.legacyProcCgroup))
        #expect(layout.mode == .legacy)
        #expect(layout.unified == nil)
        // The mount root /docker/abc is stripped from the own path.
        #expect(layout.v1.first { $0.controllers == ["memory"] }?.ownDirectory == "/sys/fs/cgroup/memory/sub")
        #expect(layout.v1.first { $0.controllers == ["cpu", "cpuacct"] }?.ownDirectory == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(layout.v1.first { $0.controllers == ["pids"] }?.ownDirectory == "/sys/fs/cgroup/pids/x")
        #expect(layout.v1MountPoints["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct")
    }

    @Test func layoutNone() {
        #expect(CgroupLayout.resolve(mounts: MountInfoEntry.parse("22 27 0:21 / /proc rw - proc proc rw\n"), membership: []).mode == nil)
    }

    @Test(arguments: [
        // v1 cpu.stat from the development machine (kernel 6.18), throttled_time in ns.
        ("nr_periods 21\nnr_throttled 20\nthrottled_time 1004503662\nnr_bursts 0\nburst_time 0\n",
         CpuStat.make(usage: nil, periods: 21, throttled: 20, throttledMicros: 1_004_503)),
        // cgroup2 cpu.stat without the cpu controller (hybrid unified tree).
        ("usage_usec 92103018\nuser_usec 63226160\nsystem_usec 28876858\nnice_usec 0\n",
         CpuStat.make(usage: 92_103_018, periods: nil, throttled: nil, throttledMicros: nil)),
        // cgroup2 cpu.stat with the cpu controller enabled.
        ("usage_usec 1000845\nuser_usec 999000\nsystem_usec 1845\nnice_usec 0\ncore_sched.force_idle_usec 0\nnr_periods 20\nnr_throttled 19\nthrottled_usec 949651\nnr_bursts 0\nburst_usec 0\n",
         CpuStat.make(usage: 1_000_845, periods: 20, throttled: 19, throttledMicros: 949_651)),
    ])
    func cpuStat(text: String, expected: CpuStat) {
        let parsed = CgroupStatParser.cpuStat(text)
        #expect(parsed.usageMicros == expected.usageMicros)
        #expect(parsed.periods == expected.periods)
        #expect(parsed.throttledPeriods == expected.throttledPeriods)
        #expect(parsed.throttledMicros == expected.throttledMicros)
    }

    @Test func memoryEventsV2() {
        let text = "low 0\nhigh 0\nmax 1734\noom 1\noom_kill 1\noom_group_kill 0\n"
        #expect(CgroupStatParser.memoryEvents(text) == MemoryEvents(low: 0, high: 0, max: 1734, oom: 1, oomKill: 1))
    }

    @Test func memoryOOMControlV1() {
        #expect(CgroupStatParser.memoryOOMControl("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").oomKill == 0)
        #expect(CgroupStatParser.memoryOOMControl("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n").oomKill == 3)
        #expect(CgroupStatParser.memoryOOMControl("oom_kill_disable 0\nunder_oom 0\n").oomKill == nil)
    }

    @Test func pidsEvents() {
        #expect(CgroupStatParser.pidsMaxEvents("max 0\n") == 0)
        #expect(CgroupStatParser.pidsMaxEvents("max 48\nmax.imposed 48\n") == 48)
        #expect(CgroupStatParser.pidsMaxEvents("") == nil)
    }

    @Test func memoryStatV1() {
        let text = "cache 46247936\nrss 1712128\nrss_huge 0\nhierarchical_memory_limit 9223372036854771712\ntotal_rss 1712128\n"
        let keys = CgroupStatParser.flatKeyed(text)
        #expect(keys["rss"] == 1_712_128)
        #expect(keys["hierarchical_memory_limit"] == 9_223_372_036_854_771_712)
        #expect(keys.count == 5)
    }

    @Test func memoryStatV2WithNonNumbers() {
        let text = "anon 1064960\nfile 0\nkernel 172032\npgscan 0\nbogus not-a-number\n"
        let keys = CgroupStatParser.flatKeyed(text)
        #expect(keys["anon"] == 1_064_960 && keys["bogus"] == nil && keys.count == 4)
    }

    @Test func singleValues() {
        #expect(CgroupStatParser.singleValue("max\n") == .max)
        #expect(CgroupStatParser.singleValue("67108864\n") == .value(67_108_864))
        #expect(CgroupStatParser.singleValue("-1\n") == .max)
        #expect(CgroupStatParser.singleValue("50000 100000\n") == .value(50000))
        #expect(CgroupStatParser.singleValue("") == nil)
    }

    @Test func procStatStartTime() {
        // The development machine's /proc/self/stat of `cat`.
        let cat = "5925 (cat) R 5921 5921 4474 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 37141 3133440 381 18446744073709551615 94414589616128 0"
        #expect(ProcStat.startTime(fromStat: cat) == 37141)
        // A command name with spaces and parentheses.
        let odd = "77 (a) b (c d) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99999 1 1 1"
        #expect(ProcStat.startTime(fromStat: odd) == 99999)
        #expect(ProcStat.startTime(fromStat: "1 (x) S 0") == nil)
    }

    @Test(arguments: [
        ("c-123-456-0", CgroupLeafName(launcherPID: 123, launcherStartTime: 456, sequence: 0)),
        ("c-1-0-99", CgroupLeafName(launcherPID: 1, launcherStartTime: 0, sequence: 99)),
        ("c-123-456", nil), ("c-0-1-2", nil), ("x-1-2-3", nil), ("c-1-2-3-4", nil), ("c--2-3", nil),
        ("c-1-2-+3", nil), ("c-1-2-٣", nil), ("default", nil),
    ] as [(String, CgroupLeafName?)])
    func leafNames(name: String, expected: CgroupLeafName?) {
        #expect(CgroupLeafName(parsing: name) == expected)
        if let expected { #expect(expected.description == name) }
    }

    @Test(arguments: [(UInt64(1), UInt64(2)), (100, 1024), (10_000, 262_144)])
    func cpuWeightToSharesAnchors(weight: UInt64, shares: UInt64) {
        // The exact anchors of the runc/crun formula: both minimums, both defaults, both maximums.
        #expect(CgroupConversions.cpuShares(fromWeight: weight) == shares)
    }

    @Test(arguments: [UInt64(2), 10, 39, 50, 500, 1000, 5000, 9999])
    func cpuWeightToSharesRoundTrips(weight: UInt64) {
        // runc/crun's forward mapping, shares → weight = ⌈10^((L² + 125L)/612 − 7/34)⌉.
        func forward(_ shares: UInt64) -> Double {
            let l = log2(Double(shares))
            return pow(10, (l * l + 125 * l) / 612 - 7.0 / 34.0)
        }
        let shares = CgroupConversions.cpuShares(fromWeight: weight)
        #expect(abs(forward(shares) - Double(weight)) <= max(1, Double(weight) * 0.005),
                "weight \(weight) → shares \(shares) → weight \(forward(shares))")
    }

    @Test func ioWeightToBlkio() {
        #expect(CgroupConversions.blkioWeight(fromIOWeight: 1) == 10)
        #expect(CgroupConversions.blkioWeight(fromIOWeight: 10_000) == 1000)
        #expect(CgroupConversions.blkioWeight(fromIOWeight: 100) == 19)
    }

    @Test func limitsValidation() {
        #expect(throws: CgroupError.self) { try CgroupLimits(cpuWeight: 0).validate() }
        #expect(throws: CgroupError.self) { try CgroupLimits(cpuPeriodMicros: 10).validate() }
        #expect(throws: CgroupError.self) { try CgroupLimits(ioMax: [IOMaxEntry(major: 8, minor: 0)]).validate() }
        #expect(throws: Never.self) { try CgroupLimits(cpuQuotaMicros: 50_000, memoryMax: 1 << 26, pidsMax: 16).validate() }
        let l = CgroupLimits(cpuQuotaMicros: 50_000, memoryMax: 1, pidsMax: 2, ioMax: [IOMaxEntry(major: 8, minor: 0, writeBytesPerSecond: 1)])
        #expect(l.requested == [.cpuMax, .memoryMax, .pidsMax, .ioMax])
        #expect(l.controllers == ["cpu", "memory", "pids", "io"])
        #expect(IOMaxEntry(major: 8, minor: 16, readBytesPerSecond: 1_048_576, writeIOPerSecond: 120).v2Line == "8:16 rbps=1048576 wiops=120")
    }

    @Test func pathValidation() {
        for bad in [[String](), [""], ["a/b"], [".."], ["cgroup.procs"], ["ok", "."]] {
            #expect(throws: CgroupError.self) { try SandboxCgroup.validate(path: bad) }
        }
        #expect(throws: Never.self) { try SandboxCgroup.validate(path: ["default", "default", "c-1-2-3"]) }
    }
}

extension CpuStat {
    static func make(usage: UInt64?, periods: UInt64?, throttled: UInt64?, throttledMicros: UInt64?) -> CpuStat {
        var s = CpuStat()
        s.usageMicros = usage
        s.periods = periods
        s.throttledPeriods = throttled
        s.throttledMicros = throttledMicros
        return s
    }
}
