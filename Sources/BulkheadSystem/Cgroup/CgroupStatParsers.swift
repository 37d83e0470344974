import BulkheadModel

/// Pure parsers of the cgroup statistics files, v1 and v2. Each takes the file's text and
/// returns a typed value; a key that is absent stays `nil`, so a caller can tell "zero"
/// from "this kernel does not report it".
public enum CgroupStatParser {
    /// Parses a flat-keyed file (`key value` per line: cpu.stat, memory.events,
    /// pids.events, memory.stat, memory.oom_control). Lines whose value is not an
    /// unsigned integer are skipped.
    public static func flatKeyed(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in text.asciiSplit("\n") {
            let fields = line.asciiSplit(" ")
            guard fields.count == 2, let value = UInt64(fields[1]) else { continue }
            result[String(fields[0])] = value
        }
        return result
    }

    /// Parses a single-value file such as memory.max, pids.max, pids.current,
    /// memory.peak or memory.max_usage_in_bytes. "max" is `.max`.
    public static func singleValue(_ text: String) -> CgroupValue? {
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        if trimmed == "max" { return .max }
        if let v = UInt64(trimmed) { return .value(v) }
        // v1 writes -1 for "no limit" in cfs_quota_us.
        if trimmed == "-1" { return .max }
        return nil
    }

    /// CPU accounting from cpu.stat: v2 (`usage_usec`, `throttled_usec`) or the v1 cpu
    /// controller's (`throttled_time` in nanoseconds, no usage: that is cpuacct.usage).
    public static func cpuStat(_ text: String) -> CpuStat {
        let keys = flatKeyed(text)
        var stat = CpuStat()
        stat.usageMicros = keys["usage_usec"]
        stat.userMicros = keys["user_usec"]
        stat.systemMicros = keys["system_usec"]
        stat.periods = keys["nr_periods"]
        stat.throttledPeriods = keys["nr_throttled"]
        if let usec = keys["throttled_usec"] {
            stat.throttledMicros = usec
        } else if let ns = keys["throttled_time"] {
            stat.throttledMicros = ns / 1000
        }
        return stat
    }

    /// memory.events (v2): `oom_kill` counts processes killed by the OOM killer in this
    /// cgroup; `max` counts times usage hit memory.max.
    public static func memoryEvents(_ text: String) -> MemoryEvents {
        let keys = flatKeyed(text)
        return MemoryEvents(low: keys["low"], high: keys["high"], max: keys["max"],
                            oom: keys["oom"], oomKill: keys["oom_kill"])
    }

    /// memory.oom_control (v1): `oom_kill` is the v1 counterpart of memory.events' oom_kill
    /// (Linux 4.13+); `under_oom` is 1 while the group is stuck at its limit.
    public static func memoryOOMControl(_ text: String) -> MemoryEvents {
        let keys = flatKeyed(text)
        return MemoryEvents(low: nil, high: nil, max: nil, oom: keys["under_oom"], oomKill: keys["oom_kill"])
    }

    /// pids.events: `max` counts fork()/clone() calls refused because pids.max was hit
    /// (in this cgroup or, on v1, anywhere it was the limiting one).
    public static func pidsMaxEvents(_ text: String) -> UInt64? {
        flatKeyed(text)["max"]
    }
}

/// A value of a cgroup limit file.
public enum CgroupValue: Sendable, Equatable {
    case max
    case value(UInt64)
}

/// The fields of cpu.stat bulkhead reports.
public struct CpuStat: Sendable, Equatable {
    public var usageMicros: UInt64?
    public var userMicros: UInt64?
    public var systemMicros: UInt64?
    public var periods: UInt64?
    public var throttledPeriods: UInt64?
    public var throttledMicros: UInt64?
    public init() {}
}

/// The fields of memory.events (v2) or memory.oom_control (v1).
public struct MemoryEvents: Sendable, Equatable {
    public var low: UInt64?
    public var high: UInt64?
    public var max: UInt64?
    public var oom: UInt64?
    public var oomKill: UInt64?
    public init(low: UInt64? = nil, high: UInt64? = nil, max: UInt64? = nil, oom: UInt64? = nil, oomKill: UInt64? = nil) {
        self.low = low
        self.high = high
        self.max = max
        self.oom = oom
        self.oomKill = oomKill
    }
}
