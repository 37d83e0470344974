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

    static func arch(named s: String) -> SeccompArch? {
        switch s {
        case "x86_64": return .x86_64
        case "i386", "x86": return .x86
        case "x32": return .x32
        default: return SeccompArch(rawValue: s)
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

    /// Whether `text` looks like a report (rather than a seccomp policy).
    public static func isReport(_ node: ConfigNode) -> Bool {
        guard let m = try? node.mapping(), let k = m["kind"], let s = try? k.string() else { return false }
        return s == kind
    }

    /// Reads a report back (the parts a merge needs: calls and argument values).
    public static func parse(_ node: ConfigNode) throws(ConfigError) -> SyscallRecording {
        let m = try node.mapping()
        guard let k = m["kind"], try k.string() == kind else { throw node.error("not a \(kind) report") }
        let v = try m.require("version").int(in: 1...Int.max)
        guard v == version else { throw m["version"]!.error("report version \(v) is not supported (this bulkhead writes \(version))") }
        var r = SyscallRecording()
        r.command = try m["command"]?.stringList() ?? []
        r.profile = try m["profile"]?.string() ?? ""
        r.executables = try m["executables"]?.stringList() ?? []
        for c in try m.require("syscalls").sequence() {
            let cm = try c.mapping()
            let archText = try cm.require("arch").string()
            guard let arch = arch(named: archText) else { throw cm["arch"]!.error("unknown architecture \"\(archText)\"") }
            let nameNode = cm["name"]
            let name = try nameNode.flatMap { n throws(ConfigError) in n.isNull ? nil : try n.string() }
            if let name, !SyscallTable.isKnown(name) { throw nameNode!.error("unknown system call \"\(name)\"") }
            let number = Int32(truncatingIfNeeded: try cm.require("number").int64(in: Int64(Int32.min)...Int64(Int32.max)))
            let count = try cm["count"]?.uint64() ?? 1
            let exe = try cm["firstExecutable"].flatMap { n throws(ConfigError) in n.isNull ? nil : try n.string() }
            r.calls.append(SyscallRecording.Call(arch: arch, name: name, number: number, count: count, firstExecutable: exe))
        }
        if let a = try m["arguments"]?.mapping() {
            r.socketFamilies = try a["socketFamilies"]?.sequence().map { n throws(ConfigError) in try n.uint64() } ?? []
            r.socketFamiliesComplete = try a["socketFamiliesComplete"]?.bool() ?? false
            r.personalities = try a["personalities"]?.sequence().map { n throws(ConfigError) in try n.uint64() } ?? []
            r.personalitiesComplete = try a["personalitiesComplete"]?.bool() ?? false
            if let c = a["cloneFlags"], !c.isNull { r.cloneFlags = try c.uint64() }
        } else {
            // Without argument values, nothing may be narrowed: a call seen stays unconditional.
            r.socketFamiliesComplete = false
            r.personalitiesComplete = false
            r.cloneFlags = r.names.contains("clone") ? RecordedPolicy.cloneNamespaceMask : nil
        }
        if let rec = try m["recorder"]?.mapping() {
            r.stats.recorder = try rec["kind"]?.string() ?? "ptrace"
            if let why = rec["fallbackReason"], !why.isNull { r.stats.fallbackReason = try why.string() }
            r.stats.syscallEntries = try rec["syscallEntries"]?.uint64() ?? 0
            r.stats.ptraceStops = try rec["ptraceStops"]?.uint64() ?? 0
            r.stats.tasks = try rec["tasks"]?.uint64() ?? 0
            r.stats.execs = try rec["execs"]?.uint64() ?? 0
            r.stats.unknownArchitecture = try rec["unknownArchitecture"]?.uint64() ?? 0
            r.stats.outOfRange = try rec["outOfRange"]?.uint64() ?? 0
        }
        if let e = m["exitCode"], !e.isNull { r.exitCode = Int32(truncatingIfNeeded: try e.int64(in: Int64(Int32.min)...Int64(Int32.max))) }
        return r
    }
}
