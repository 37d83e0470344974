/// The JSON report of `bulkhead seccomp record --report FILE`: every call with its architecture,
/// count and first executable; the recorder's own counters; the argument values recorded; and
/// what the generated policy added (the safety set and the argument rules). Deterministic, and
/// readable back (`--merge REPORT`), so recordings made on different runs can be combined.
public enum SyscallRecordingReport {
    public static let kind = "bulkhead-syscall-recording"
    public static let version = 1

    /// The short architecture names of the report.
    public static func archName(_ a: SeccompArch) -> String {
        switch a {
        case .x86_64: return "x86_64"
        case .x86: return "i386"
        case .x32: return "x32"
        default: return a.rawValue
        }
    }

    package static func arch(named s: String) -> SeccompArch? {
        switch s {
        case "x86_64": return .x86_64
        case "i386", "x86": return .x86
        case "x32": return .x32
        default: return SeccompArch(exactly: s)
        }
    }

    static func order(_ a: SeccompArch) -> Int { SyscallTable.architecturesWithNumbers.firstIndex(of: a) ?? 99 }

    /// The calls in report order: by architecture (x86_64, i386, x32), then name (unnamed last, by number).
    public static func sorted(_ calls: [SyscallRecording.Call]) -> [SyscallRecording.Call] {
        calls.sorted { a, b in
            if a.arch != b.arch { return order(a.arch) < order(b.arch) }
            switch (a.name, b.name) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.number < b.number
            }
        }
    }

    public static func json(_ r: SyscallRecording, policy: RecordedPolicy? = nil) -> String {
        func list(_ items: [String], indent: String) -> String {
            items.isEmpty ? "[]" : "[\n" + items.map { indent + "  " + $0 }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        var f: [String] = []
        f.append("\"kind\": \(BulkheadModel.json(kind))")
        f.append("\"version\": \(version)")
        f.append("\"command\": " + list(r.command.map { BulkheadModel.json($0) }, indent: "  "))
        f.append("\"profile\": \(BulkheadModel.json(r.profile))")
        f.append("\"exitCode\": " + (r.exitCode.map(String.init) ?? "null"))
        let s = r.stats
        f.append("\"recorder\": {\n    \"kind\": \(BulkheadModel.json(s.recorder)),\n"
            + "    \"fallbackReason\": \(s.fallbackReason.map { BulkheadModel.json($0) } ?? "null"),\n"
            + "    \"syscallEntries\": \(s.syscallEntries),\n    \"ptraceStops\": \(s.ptraceStops),\n"
            + "    \"tasks\": \(s.tasks),\n    \"execs\": \(s.execs),\n    \"unknownArchitecture\": \(s.unknownArchitecture),\n"
            + "    \"outOfRange\": \(s.outOfRange)\n  }")
        f.append("\"executables\": " + list(r.executables.map { BulkheadModel.json($0) }, indent: "  "))
        let calls = sorted(r.calls).map { c -> String in
            var o = "{\"arch\": \(BulkheadModel.json(archName(c.arch))), \"name\": \(c.name.map { BulkheadModel.json($0) } ?? "null"), "
            o += "\"number\": \(c.number), \"count\": \(c.count), \"firstExecutable\": \(c.firstExecutable.map { BulkheadModel.json($0) } ?? "null")}"
            return o
        }
        f.append("\"syscalls\": " + list(calls, indent: "  "))
        var a: [String] = []
        a.append("\"socketFamilies\": [\(r.socketFamilies.map(String.init).joined(separator: ", "))]")
        a.append("\"socketFamiliesComplete\": \(r.socketFamiliesComplete)")
        a.append("\"personalities\": [\(r.personalities.map(String.init).joined(separator: ", "))]")
        a.append("\"personalitiesComplete\": \(r.personalitiesComplete)")
        a.append("\"cloneFlags\": " + (r.cloneFlags.map(String.init) ?? "null"))
        f.append("\"arguments\": {\n" + a.map { "    " + $0 }.joined(separator: ",\n") + "\n  }")
        if let policy {
            let safety = policy.safetySet.map { s -> String in
                var o = "{\"name\": \(BulkheadModel.json(s.name)), \"action\": \(BulkheadModel.json(s.action.rawValue)), "
                if let e = s.errnoRet { o += "\"errnoRet\": \(e), " }
                return o + "\"reason\": \(BulkheadModel.json(s.reason))}"
            }
            f.append("\"safetySet\": " + list(safety, indent: "  "))
            f.append("\"argumentRules\": " + list(policy.argumentRules.map { BulkheadModel.json($0) }, indent: "  "))
        }
        return "{\n" + f.map { "  " + $0 }.joined(separator: ",\n") + "\n}\n"
    }


}
