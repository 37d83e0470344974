import BulkheadModel
import Yams

/// Reads a layer profile (YAML) strictly: unknown fields, wrong types, unknown capability
/// names, malformed quantities and impossible values are `ConfigError`s naming the file, the
/// field path and what is allowed. Pure: the caller reads the file.
public enum ProfileParser {
    public static let apiVersion = ProfileLayer.apiVersion
    public static let kind = ProfileLayer.kind

    static let topKeys = [
        "apiVersion", "kind", "metadata", "extends", "namespaces", "userNamespace", "securityContext",
        "resources", "filesystem", "network", "hostname", "workingDir", "env", "rlimits", "seccomp",
    ]

    /// The layer, or the document's first error by position (line, then column). When the
    /// parser found more, the message says how many and that `profile lint` lists them.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ProfileLayer {
        let (layer, errors) = try parseCollecting(text, file: file)
        guard var first = errors.first else { return layer }
        if errors.count > 1 {
            first.message += " (\(errors.count - 1) more error\(errors.count > 2 ? "s" : "") in this file; `bulkhead profile lint` lists them all)"
        }
        throw first
    }

    /// Every error of the document, by position. The parser goes on past an error wherever the
    /// rest does not depend on the value refused: past a field (each field, list item and
    /// mapping key is checked on its own), not into a section that is not a mapping, and not
    /// past YAML that does not parse (one error, libyaml stops there).
    public static func problems(_ text: String, file: String) -> [ConfigError] {
        do { return try parseCollecting(text, file: file).errors } catch { return [error] }
    }

    static func parseCollecting(_ text: String, file: String) throws(ConfigError) -> (layer: ProfileLayer, errors: [ConfigError]) {
        let doc = try ConfigNode.parse(text, file: file)
        let c = ConfigErrorCollector()
        var p = ProfileLayer()
        p.source = file
        let top = try doc.mapping(allowed: topKeys, problems: &c.errors)

        c.attempt { () throws(ConfigError) in
            if let v = top["apiVersion"], try v.string() != apiVersion {
                throw v.error("unsupported apiVersion \"\(try v.string())\"; this bulkhead reads \(apiVersion)")
            }
        }
        c.attempt { () throws(ConfigError) in
            if let v = top["kind"], try v.string() != kind { throw v.error("kind must be \(kind)") }
        }
        if let md = top["metadata"] {
            c.attempt { () throws(ConfigError) in
                let m = try c.mapping(md, allowed: ["name", "description", "labels", "annotations"])
                c.attempt { () throws(ConfigError) in
                    if let n = m["name"] {
                        let name = try n.string()
                        guard isValidName(name) else { throw n.error("a profile name is lower-case letters, digits and '-' (a DNS label), got \"\(name)\"") }
                        p.name = name
                    }
                }
                c.attempt { () throws(ConfigError) in p.description = try m["description"]?.string() }
            }
        }
        c.attempt { () throws(ConfigError) in if let e = top["extends"] { p.extends = try e.string() } }

        if let ns = top["namespaces"] {
            c.attempt { () throws(ConfigError) in
                for (key, v) in try c.mapping(ns, allowed: Namespace.allCases.map(\.rawValue)).entries {
                    c.attempt { () throws(ConfigError) in p.namespaces[Namespace(rawValue: key)!] = try v.bool() }
                }
            }
        }
        if let u = top["userNamespace"] {
            c.attempt { () throws(ConfigError) in
                let m = try c.mapping(u, allowed: ["hostIDRange"])
                if let r = m["hostIDRange"] { p.hostIDRange = try parseRange(r) }
            }
        }
        if let sc = top["securityContext"] { c.attempt { () throws(ConfigError) in try parseSecurityContext(sc, into: &p, collecting: c) } }
        if let r = top["resources"] {
            c.attempt { () throws(ConfigError) in
                let m = try c.mapping(r, allowed: ["limits", "requests", "memorySwap", "cpusetCpus", "io", "enforcement"])
                if let v = m["cpusetCpus"] { c.attempt { () throws(ConfigError) in p.cpusetCPUs = try FieldRules.cpuList(try v.scalarText()).at(v) } }
                if let v = m["memorySwap"] { c.attempt { () throws(ConfigError) in p.memorySwapBytes = try FieldRules.memorySwap(try v.scalarText()).at(v) } }
                if let l = m["limits"] { c.attempt { () throws(ConfigError) in p.limits = try parseResources(l, collecting: c) } }
                if let q = m["requests"] { c.attempt { () throws(ConfigError) in p.requests = try parseResources(q, collecting: c) } }
                if let io = m["io"] {
                    c.attempt { () throws(ConfigError) in
                        let im = try c.mapping(io, allowed: ["weight", "max"])
                        if let w = im["weight"] { c.attempt { () throws(ConfigError) in p.ioWeight = try NumberField.ioWeight.parse(w) } }
                        if let mx = im["max"] {
                            c.attempt { () throws(ConfigError) in
                                p.ioMax = try mx.sequence().map { (n) throws(ConfigError) in try FieldRules.ioThrottle(try n.string()).at(n) }
                            }
                        }
                    }
                }
                if let e = m["enforcement"] { c.attempt { () throws(ConfigError) in p.enforcement = try FieldRules.enforcement(try e.string()).at(e) } }
            }
        }
        if let fs = top["filesystem"] { c.attempt { () throws(ConfigError) in try parseFilesystem(fs, into: &p, collecting: c) } }
        if let n = top["network"] {
            c.attempt { () throws(ConfigError) in
                let m = try c.mapping(n, allowed: ["mode"])
                if let mode = m["mode"] { p.network = try FieldRules.networkMode(try mode.string()).at(mode) }
            }
        }
        if let h = top["hostname"] { c.attempt { () throws(ConfigError) in p.hostname = try FieldRules.hostname(try h.string()).at(h) } }
        if let w = top["workingDir"] { c.attempt { () throws(ConfigError) in p.workingDir = try workingDirectory(w) } }
        if let e = top["env"] {
            c.attempt { () throws(ConfigError) in
                for item in try e.sequence() {
                    c.attempt { () throws(ConfigError) in
                        let m = try c.mapping(item, allowed: ["name", "value"])
                        let name = try FieldRules.envName(try m.require("name").string()).at(item)
                        p.env.append(EnvVar(name: name, value: try m["value"]?.scalarText() ?? ""))
                    }
                }
            }
        }
        if let r = top["rlimits"] {
            c.attempt { () throws(ConfigError) in
                for (key, v) in try c.mapping(r, allowed: RlimitResource.allCases.map(\.rawValue)).entries {
                    c.attempt { () throws(ConfigError) in p.rlimits[RlimitResource(rawValue: key)!] = try parseRlimit(v) }
                }
            }
        }
        if let s = top["seccomp"] {
            c.attempt { () throws(ConfigError) in
                if p.seccomp != nil {
                    throw s.error("give either securityContext.seccompProfile or an inline seccomp policy, not both")
                }
                let text: String
                do { text = try Yams.serialize(node: s.node) } catch { throw s.error("cannot re-read the inline seccomp policy: \(error)") }
                p.seccomp = .inline(text: text, file: file, line: s.line ?? 0)
            }
        }
        return (p, c.sorted)
    }

    // MARK: securityContext

    /// - Parameter manifest: a Pod manifest's securityContext, whose `localhostProfile` is relative to
    ///   the seccomp root (`ProfileLayer.seccompRootMarker`), as the kubelet's is; a layer
    ///   profile's is relative to the profile's own directory (or absolute: profiles are the admin's).
    /// - Parameter collecting: where a profile's parser collects errors; without it (a
    ///   manifest's), the first error by position is thrown.
    /// - Parameter podWide: a Pod's `spec.securityContext`, which (unlike a container's) has
    ///   `supplementalGroups`.
    static func parseSecurityContext(_ node: ConfigNode, into p: inout ProfileLayer, manifest: Bool = false, podWide: Bool = false,
                                     collecting outer: ConfigErrorCollector? = nil) throws(ConfigError) {
        let c = outer ?? ConfigErrorCollector()
        // supplementalGroups: a profile's, or a Pod's (Kubernetes has it in the pod's securityContext only).
        let m = try c.mapping(node, allowed: [
            "runAsUser", "runAsGroup", "runAsNonRoot", "capabilities", "readOnlyRootFilesystem",
            "allowPrivilegeEscalation", "seccompProfile", "privileged", "procMount",
        ] + (manifest && !podWide ? [] : ["supplementalGroups"]))
        if let v = m["supplementalGroups"] {
            c.attempt { () throws(ConfigError) in
                let ids = try v.sequence().map { (n) throws(ConfigError) in GroupReference.id(UInt32(try NumberField.id.parse(n))) }
                p.supplementalGroups = try FieldRules.supplementalGroups(ids).at(v)
            }
        }
        if let v = m["runAsUser"] { c.attempt { () throws(ConfigError) in p.runAsUser = UInt32(try NumberField.id.parse(v)) } }
        if let v = m["runAsGroup"] { c.attempt { () throws(ConfigError) in p.runAsGroup = UInt32(try NumberField.id.parse(v)) } }
        if let v = m["runAsNonRoot"] { c.attempt { () throws(ConfigError) in p.runAsNonRoot = try v.bool() } }
        if let v = m["readOnlyRootFilesystem"] { c.attempt { () throws(ConfigError) in p.readOnlyRootFilesystem = try v.bool() } }
        if let v = m["allowPrivilegeEscalation"] { c.attempt { () throws(ConfigError) in p.allowPrivilegeEscalation = try v.bool() } }
        if let v = m["privileged"] {
            c.attempt { () throws(ConfigError) in
                if try v.bool() { throw v.error("privileged containers are not supported: they undo every control bulkhead exists to apply") }
            }
        }
        if let v = m["procMount"] {
            c.attempt { () throws(ConfigError) in
                if try v.string() != "Default" { throw v.error("only procMount: Default is supported (masked and read-only /proc paths)") }
            }
        }
        if let caps = m["capabilities"] {
            c.attempt { () throws(ConfigError) in
                let cm = try c.mapping(caps, allowed: ["add", "drop"])
                var spec = CapabilitySpec()
                for (key, list) in [("add", cm["add"]), ("drop", cm["drop"])] {
                    guard let list else { continue }
                    var names: [String] = []
                    c.attempt { () throws(ConfigError) in
                        for item in try list.sequence() {
                            c.attempt { () throws(ConfigError) in names.append(try FieldRules.capabilityName(try item.string()).at(item)) }
                        }
                    }
                    if key == "add" { spec.add = names } else { spec.drop = names }
                }
                p.capabilities = spec
            }
        }
        if let s = m["seccompProfile"] { c.attempt { () throws(ConfigError) in try parseSeccompProfile(s, into: &p, manifest: manifest) } }
        if outer == nil, let first = c.sorted.first { throw first }
    }

    static func parseSeccompProfile(_ s: ConfigNode, into p: inout ProfileLayer, manifest: Bool) throws(ConfigError) {
        let sm = try s.mapping(allowed: ["type", "localhostProfile"])
        let typeNode = try sm.require("type")
        let type = try typeNode.string()
        if type != "Localhost", let lp = sm["localhostProfile"] {
            throw lp.error("localhostProfile is only valid with type: Localhost")
        }
        switch type {
        case "RuntimeDefault": p.seccomp = .runtimeDefault
        case "Unconfined": p.seccomp = .unconfined
        case "Localhost":
            let lpNode = try sm.require("localhostProfile")
            let path = try lpNode.string()
            guard !path.utf8.contains(0), !path.isEmpty else { throw lpNode.error("expected a file name") }
            let climbs = ExactName.hasDotDot(path)
            if manifest {
                guard !path.hasPrefix("/") else {
                    throw lpNode.error("must be a path relative to the node's seccomp root (\(ProfileLayer.seccompRootDescription)), as the kubelet's is; an absolute path is not allowed")
                }
                guard !climbs else { throw lpNode.error("may not contain \"..\": it is relative to the node's seccomp root (\(ProfileLayer.seccompRootDescription))") }
                p.seccomp = .localhost(path: path, relativeTo: ProfileLayer.seccompRootMarker)
            } else {
                guard path.hasPrefix("/") || !climbs else {
                    throw lpNode.error("a relative path may not contain \"..\": it is relative to the profile's directory")
                }
                p.seccomp = .localhost(path: path, relativeTo: p.source.hasPrefix("<embedded") ? "<embedded>" : directoryOf(p.source))
            }
        default:
            throw typeNode.error("unknown seccompProfile type \"\(type)\"; allowed: RuntimeDefault, Localhost, Unconfined")
        }
    }

    // MARK: resources

    static func parseResources(_ node: ConfigNode, collecting outer: ConfigErrorCollector? = nil) throws(ConfigError) -> ResourceSpec {
        let c = outer ?? ConfigErrorCollector()
        var r = ResourceSpec()
        for (key, v) in try c.mapping(node, allowed: ["cpu", "memory", "pids", "ephemeral-storage"]).entries {
            c.attempt { () throws(ConfigError) in
                switch key {
                case "cpu": r.cpuMilli = try NumberField.cpu.parse(v)
                case "memory": r.memoryBytes = try NumberField.memory.parse(v)
                case "pids": r.pids = try NumberField.pids.parse(v)
                default: r.ephemeralStorageBytes = try NumberField.storage.parse(v)
                }
            }
        }
        if outer == nil, let first = c.sorted.first { throw first }
        return r
    }

    // MARK: filesystem

    static func parseFilesystem(_ node: ConfigNode, into p: inout ProfileLayer, collecting c: ConfigErrorCollector) throws(ConfigError) {
        let m = try c.mapping(node, allowed: ["root", "tmpfs", "shmSize", "devices", "maskedPaths", "readonlyPaths", "binds", "landlock"])
        if let s = m["shmSize"] { c.attempt { () throws(ConfigError) in p.shmSizeBytes = try NumberField.storage.parse(s) } }
        if let d = m["devices"] {
            c.attempt { () throws(ConfigError) in
                p.devices = try d.sequence().map { (n) throws(ConfigError) in try FieldRules.device(try n.string()).at(n) }
            }
        }
        if let l = m["landlock"] { c.attempt { () throws(ConfigError) in
            let lm = try c.mapping(l, allowed: ["readOnly", "readWrite", "bindTCP", "connectTCP"])
            var spec = LandlockSpec()
            if let v = lm["readOnly"] { spec.readOnly = try pathList(v) }
            if let v = lm["readWrite"] { spec.readWrite = try pathList(v) }
            if let v = lm["bindTCP"] { spec.bindTCP = try v.sequence().map { (n) throws(ConfigError) in UInt16(try n.int64(in: 0...65535)) } }
            if let v = lm["connectTCP"] { spec.connectTCP = try v.sequence().map { (n) throws(ConfigError) in UInt16(try n.int64(in: 0...65535)) } }
            guard !spec.readOnly.isEmpty || !spec.readWrite.isEmpty else {
                throw l.error("give at least one path in readOnly or readWrite; with none the workload could not even load its own binary")
            }
            p.landlock = spec
        } }
        if let r = m["root"] {
            c.attempt { () throws(ConfigError) in p.root = try FieldRules.rootFilesystem(try r.string()).at(r) }
        }
        if let t = m["tmpfs"] { c.attempt { () throws(ConfigError) in
            var mounts: [TmpfsMount] = []
            for item in try t.sequence() {
                c.attempt { () throws(ConfigError) in
                    let tm = try c.mapping(item, allowed: ["path", "sizeLimit", "optional"])
                    let path = try absolutePath(try tm.require("path"))
                    var size: UInt64?
                    if let s = tm["sizeLimit"] { size = try NumberField.storage.parse(s) }
                    mounts.append(TmpfsMount(path: path, sizeBytes: size, optional: try tm["optional"]?.bool() ?? false))
                }
            }
            p.tmpfs = mounts
        } }
        if let v = m["maskedPaths"] { c.attempt { () throws(ConfigError) in p.maskedPaths = try pathList(v) } }
        if let v = m["readonlyPaths"] { c.attempt { () throws(ConfigError) in p.readonlyPaths = try pathList(v) } }
        if let b = m["binds"] { c.attempt { () throws(ConfigError) in
            var binds: [BindMount] = []
            for item in try b.sequence() {
                c.attempt { () throws(ConfigError) in
                    let bm = try c.mapping(item, allowed: ["source", "destination", "readOnly"])
                    let src = try absolutePath(try bm.require("source"))
                    let dst = try bm["destination"].map { (n) throws(ConfigError) in try absolutePath(n) } ?? src
                    binds.append(BindMount(source: src, destination: dst, readOnly: try bm["readOnly"]?.bool() ?? true))
                }
            }
            p.binds = binds
        } }
    }

    // MARK: scalars

    static func parseRange(_ node: ConfigNode) throws(ConfigError) -> IDRange {
        let s = try node.scalarText()
        let parts = s.split(separator: ":")
        guard parts.count == 2, let start = UInt32(parts[0]), let count = UInt32(parts[1]), count > 0,
              UInt64(start) + UInt64(count) <= UInt64(UInt32.max) else {
            throw node.error("expected HOSTSTART:COUNT within 0..4294967295, such as 2000000000:65536, got \"\(s)\"")
        }
        if let problem = IDRange.problem(hostStart: start, count: count) { throw node.error(problem) }
        return IDRange(hostStart: start, count: count)
    }

    static func parseRlimit(_ node: ConfigNode) throws(ConfigError) -> Rlimit {
        if case .mapping = node.node {
            let m = try node.mapping(allowed: ["soft", "hard"])
            let soft = try value(try m.require("soft"))
            let hard = try value(try m.require("hard"))
            return try FieldRules.rlimit(soft: soft, hard: hard).at(node)
        }
        let v = try value(node)
        return Rlimit(soft: v, hard: v)

        func value(_ n: ConfigNode) throws(ConfigError) -> UInt64 { try FieldRules.rlimitValue(try n.scalarText()).at(n) }
    }

    static func pathList(_ node: ConfigNode) throws(ConfigError) -> [String] {
        var out: [String] = []
        for item in try node.sequence() { out.append(try absolutePath(item)) }
        return out
    }

    /// A path field of a profile, a manifest or a Tenant: `FieldRules.absolutePath`.
    static func absolutePath(_ node: ConfigNode) throws(ConfigError) -> String {
        try FieldRules.absolutePath(try node.string()).at(node)
    }

    /// A `workingDir` field (a profile's or a Pod container's): `FieldRules.workingDirectory`.
    static func workingDirectory(_ node: ConfigNode) throws(ConfigError) -> String {
        try FieldRules.workingDirectory(try node.string()).at(node)
    }

    /// `/a//b/./c/` → `/a/b/c` (`FieldRules.normalize`).
    public static func normalize(_ path: String) -> String { FieldRules.normalize(path) }

    /// A name `ProfileStore` looks up on its search path, never a path: letters, digits, `-`, `_`
    /// and `.`, not starting with `.`, not ending in `.yaml`/`.yml`.
    public static func isValidProfileName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 253 && s.first != "." && !s.hasSuffix(".yaml") && !s.hasSuffix(".yml")
            && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 63 && s.allSatisfy { ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" }
            && s.first != "-" && s.last != "-" && s.allSatisfy(\.isASCII)
    }

    static func directoryOf(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }
}


/// The errors of one document, collected where a parser can go on past one; `sorted` gives
/// them by position (line, then column; errors without a line last, in the order found).
final class ConfigErrorCollector {
    var errors: [ConfigError] = []

    func attempt(_ body: () throws(ConfigError) -> Void) {
        do { try body() } catch { errors.append(error) }
    }

    /// "Did you mean" among names the document itself declares (volumes, containers), for the
    /// first `ConfigError.listLimit` misses only: each costs the list's length, so a document
    /// of n misses among n names would cost n x n, and no more than that many are listed.
    private var suggestionsLeft = ConfigError.listLimit
    func suggestion(for word: String, in names: [String]) -> String? {
        guard suggestionsLeft > 0 else { return nil }
        suggestionsLeft -= 1
        return closestMatch(to: word, in: names)
    }

    /// The node's mapping, with an unknown or duplicate key collected and left out.
    func mapping(_ node: ConfigNode, allowed: [String]) throws(ConfigError) -> ConfigMapping {
        try node.mapping(allowed: allowed, problems: &errors)
    }

    var sorted: [ConfigError] {
        errors.enumerated().sorted { a, b in
            let ka = (a.element.line ?? Int.max, a.element.column ?? Int.max, a.offset)
            let kb = (b.element.line ?? Int.max, b.element.column ?? Int.max, b.offset)
            return ka < kb
        }.map(\.element)
    }
}
