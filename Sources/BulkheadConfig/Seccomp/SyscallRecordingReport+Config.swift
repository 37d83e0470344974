import BulkheadModel

extension SyscallRecordingReport {
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
