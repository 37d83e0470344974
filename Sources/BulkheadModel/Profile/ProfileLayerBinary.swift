/// A parsed layer as bytes, read and written field by field in declaration order, with no
/// `Codable` and no generic container: the form `ProfileLayerCache` keeps on disk. Decoding
/// through `Codable` cost more than the YAML parse it replaces (BENCHMARKS.md, issue 17); this
/// reader costs a few instructions per byte.
///
/// The reader trusts nothing: every length and count is checked against the bytes left before
/// anything is allocated (each element takes at least one byte), strings must be UTF-8, enum
/// values must be known, integers must fit, and the bytes must end where the layer ends; any
/// of these is a `CompactCoder.Invalid`. ProfileLayerBinaryTests checks that every field of a layer
/// comes back (`fullLayerSetsEveryField` fails when a field is added but not tested).
public enum ProfileLayerBinary {
    /// The form's version: part of the cache's key and magic.
    public static let version = 1

    public static func encode(_ l: ProfileLayer) -> [UInt8] {
        let w = Writer()
        w.opt(l.name, w.str); w.opt(l.description, w.str); w.opt(l.extends, w.str); w.str(l.source); w.bool(l.isPrivate)
        let ns = l.namespaces.sorted { $0.key < $1.key }
        w.count(ns.count)
        for (k, v) in ns { w.str(k.rawValue); w.bool(v) }
        w.opt(l.hostIDRange) { r in w.u64(UInt64(r.hostStart)); w.u64(UInt64(r.count)) }
        w.opt(l.runAsUser) { w.u64(UInt64($0)) }; w.opt(l.runAsGroup) { w.u64(UInt64($0)) }
        w.opt(l.runAsUserName, w.str); w.opt(l.runAsGroupName, w.str)
        w.opt(l.supplementalGroups) { gs in
            w.list(gs) { g in
                switch g {
                case .id(let id): w.byte(0); w.u64(UInt64(id))
                case .name(let n): w.byte(1); w.str(n)
                }
            }
        }
        w.bool(l.addsGroups); w.opt(l.runAsNonRoot, w.bool)
        w.opt(l.capabilities) { c in w.list(c.add, w.str); w.list(c.drop, w.str) }
        w.opt(l.readOnlyRootFilesystem, w.bool); w.opt(l.allowPrivilegeEscalation, w.bool)
        w.opt(l.seccomp) { s in
            switch s {
            case .unconfined: w.byte(0)
            case .runtimeDefault: w.byte(1)
            case .localhost(let path, let relativeTo): w.byte(2); w.str(path); w.str(relativeTo)
            case .inline(let text, let file, let line): w.byte(3); w.str(text); w.str(file); w.u64(UInt64(bitPattern: Int64(line)))
            }
        }
        for r in [l.limits, l.requests] { for v in [r.cpuMilli, r.memoryBytes, r.pids, r.ephemeralStorageBytes] { w.opt(v, w.u64) } }
        w.opt(l.ioWeight, w.u64)
        w.opt(l.ioMax) { ts in
            w.list(ts) { t in
                w.u64(UInt64(t.major)); w.u64(UInt64(t.minor))
                for v in [t.readBytesPerSecond, t.writeBytesPerSecond, t.readIOPerSecond, t.writeIOPerSecond] { w.opt(v, w.u64) }
            }
        }
        w.opt(l.memorySwapBytes, w.u64)
        w.opt(l.cpusetCPUs) { w.list($0) { w.u64(UInt64($0)) } }
        w.opt(l.enforcement) { w.str($0.rawValue) }
        w.opt(l.root) { r in
            switch r {
            case .host: w.byte(0)
            case .directory(let d): w.byte(1); w.str(d)
            }
        }
        w.opt(l.tmpfs) { w.list($0) { t in w.str(t.path); w.opt(t.sizeBytes, w.u64); w.bool(t.optional) } }
        w.opt(l.devices) { w.list($0, w.str) }
        w.opt(l.shmSizeBytes, w.u64)
        w.opt(l.maskedPaths) { w.list($0, w.str) }; w.opt(l.readonlyPaths) { w.list($0, w.str) }
        w.opt(l.binds) { w.list($0) { b in w.str(b.source); w.str(b.destination); w.bool(b.readOnly); w.bool(b.sourceIsFile) } }
        w.bool(l.addsMounts)
        w.opt(l.landlock) { s in
            w.list(s.readOnly, w.str); w.list(s.readWrite, w.str)
            w.opt(s.bindTCP) { w.list($0) { w.u64(UInt64($0)) } }; w.opt(s.connectTCP) { w.list($0) { w.u64(UInt64($0)) } }
        }
        w.opt(l.network) { w.str($0.rawValue) }
        w.opt(l.hostname, w.str); w.opt(l.workingDir, w.str)
        w.list(l.env) { e in w.str(e.name); w.str(e.value) }
        w.list(l.unsetEnv, w.str)
        let rl = l.rlimits.sorted { $0.key < $1.key }
        w.count(rl.count)
        for (k, v) in rl { w.str(k.rawValue); w.u64(v.soft); w.u64(v.hard) }
        return w.out
    }

    public static func decode(_ bytes: [UInt8]) throws(CompactCoder.Invalid) -> ProfileLayer {
        var r = Reader(bytes: bytes)
        var l = ProfileLayer()
        l.name = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.description = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.extends = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.source = try r.str(); l.isPrivate = try r.bool()
        for _ in 0..<(try r.count()) {
            let k = try r.raw(Namespace.self)
            guard l.namespaces.updateValue(try r.bool(), forKey: k) == nil else { throw CompactCoder.Invalid("namespace \(k) twice") }
        }
        l.hostIDRange = try r.opt { (r) throws(CompactCoder.Invalid) in IDRange(hostStart: try r.u32(), count: try r.u32()) }
        l.runAsUser = try r.opt { (r) throws(CompactCoder.Invalid) in try r.u32() }
        l.runAsGroup = try r.opt { (r) throws(CompactCoder.Invalid) in try r.u32() }
        l.runAsUserName = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.runAsGroupName = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.supplementalGroups = try r.opt { (r) throws(CompactCoder.Invalid) in
            try r.list { (r) throws(CompactCoder.Invalid) in
                switch try r.byte() {
                case 0: return .id(try r.u32())
                case 1: return .name(try r.str())
                case let t: throw CompactCoder.Invalid("group tag \(t)")
                }
            }
        }
        l.addsGroups = try r.bool()
        l.runAsNonRoot = try r.opt { (r) throws(CompactCoder.Invalid) in try r.bool() }
        l.capabilities = try r.opt { (r) throws(CompactCoder.Invalid) in CapabilitySpec(add: try r.strings(), drop: try r.strings()) }
        l.readOnlyRootFilesystem = try r.opt { (r) throws(CompactCoder.Invalid) in try r.bool() }
        l.allowPrivilegeEscalation = try r.opt { (r) throws(CompactCoder.Invalid) in try r.bool() }
        l.seccomp = try r.opt { (r) throws(CompactCoder.Invalid) -> SeccompSelection in
            switch try r.byte() {
            case 0: return .unconfined
            case 1: return .runtimeDefault
            case 2: return .localhost(path: try r.str(), relativeTo: try r.str())
            case 3:
                let text = try r.str(), file = try r.str()
                return .inline(text: text, file: file, line: Int(Int64(bitPattern: try r.u64())))
            case let t: throw CompactCoder.Invalid("seccomp tag \(t)")
            }
        }
        for i in 0..<2 {
            var s = ResourceSpec()
            s.cpuMilli = try r.optU64(); s.memoryBytes = try r.optU64(); s.pids = try r.optU64(); s.ephemeralStorageBytes = try r.optU64()
            if i == 0 { l.limits = s } else { l.requests = s }
        }
        l.ioWeight = try r.optU64()
        l.ioMax = try r.opt { (r) throws(CompactCoder.Invalid) in
            try r.list { (r) throws(CompactCoder.Invalid) in
                IOThrottle(major: try r.u32(), minor: try r.u32(), readBytesPerSecond: try r.optU64(), writeBytesPerSecond: try r.optU64(),
                           readIOPerSecond: try r.optU64(), writeIOPerSecond: try r.optU64())
            }
        }
        l.memorySwapBytes = try r.optU64()
        l.cpusetCPUs = try r.opt { (r) throws(CompactCoder.Invalid) in try r.list { (r) throws(CompactCoder.Invalid) in try r.u32() } }
        l.enforcement = try r.opt { (r) throws(CompactCoder.Invalid) in try r.raw(LimitEnforcement.self) }
        l.root = try r.opt { (r) throws(CompactCoder.Invalid) -> RootFilesystem in
            switch try r.byte() {
            case 0: return .host
            case 1: return .directory(try r.str())
            case let t: throw CompactCoder.Invalid("root tag \(t)")
            }
        }
        l.tmpfs = try r.opt { (r) throws(CompactCoder.Invalid) in
            try r.list { (r) throws(CompactCoder.Invalid) in TmpfsMount(path: try r.str(), sizeBytes: try r.optU64(), optional: try r.bool()) }
        }
        l.devices = try r.opt { (r) throws(CompactCoder.Invalid) in try r.strings() }
        l.shmSizeBytes = try r.optU64()
        l.maskedPaths = try r.opt { (r) throws(CompactCoder.Invalid) in try r.strings() }
        l.readonlyPaths = try r.opt { (r) throws(CompactCoder.Invalid) in try r.strings() }
        l.binds = try r.opt { (r) throws(CompactCoder.Invalid) in
            try r.list { (r) throws(CompactCoder.Invalid) in
                BindMount(source: try r.str(), destination: try r.str(), readOnly: try r.bool(), sourceIsFile: try r.bool())
            }
        }
        l.addsMounts = try r.bool()
        l.landlock = try r.opt { (r) throws(CompactCoder.Invalid) in
            LandlockSpec(readOnly: try r.strings(), readWrite: try r.strings(),
                         bindTCP: try r.opt { (r) throws(CompactCoder.Invalid) in try r.list { (r) throws(CompactCoder.Invalid) in try r.u16() } },
                         connectTCP: try r.opt { (r) throws(CompactCoder.Invalid) in try r.list { (r) throws(CompactCoder.Invalid) in try r.u16() } })
        }
        l.network = try r.opt { (r) throws(CompactCoder.Invalid) in try r.raw(NetworkMode.self) }
        l.hostname = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.workingDir = try r.opt { (r) throws(CompactCoder.Invalid) in try r.str() }
        l.env = try r.list { (r) throws(CompactCoder.Invalid) in EnvVar(name: try r.str(), value: try r.str()) }
        l.unsetEnv = try r.strings()
        for _ in 0..<(try r.count()) {
            let k = try r.raw(RlimitResource.self)
            let v = Rlimit(soft: try r.u64(), hard: try r.u64())
            guard l.rlimits.updateValue(v, forKey: k) == nil else { throw CompactCoder.Invalid("rlimit \(k) twice") }
        }
        guard r.position == bytes.count else { throw CompactCoder.Invalid("\(bytes.count - r.position) bytes after the layer") }
        return l
    }

    /// A class, so that the closures of `opt` and `list` write to the same bytes.
    final class Writer {
        var out: [UInt8] = []
        func byte(_ b: UInt8) { out.append(b) }
        func bool(_ b: Bool) { out.append(b ? 1 : 0) }
        func u64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        func count(_ n: Int) { u64(UInt64(n)) }
        func str(_ s: String) { count(s.utf8.count); out.append(contentsOf: s.utf8) }
        func opt<T>(_ v: T?, _ body: (T) -> Void) {
            guard let v else { byte(0); return }
            byte(1); body(v)
        }
        func list<T>(_ items: [T], _ body: (T) -> Void) { count(items.count); for i in items { body(i) } }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0
        var remaining: Int { bytes.count - position }

        mutating func byte() throws(CompactCoder.Invalid) -> UInt8 {
            guard remaining >= 1 else { throw CompactCoder.Invalid("truncated at byte \(position)") }
            defer { position += 1 }
            return bytes[position]
        }
        mutating func bool() throws(CompactCoder.Invalid) -> Bool {
            switch try byte() {
            case 0: return false
            case 1: return true
            case let b: throw CompactCoder.Invalid("\(b) is not a Bool at byte \(position - 1)")
            }
        }
        mutating func u64() throws(CompactCoder.Invalid) -> UInt64 {
            guard remaining >= 8 else { throw CompactCoder.Invalid("truncated number at byte \(position)") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return v
        }
        mutating func u32() throws(CompactCoder.Invalid) -> UInt32 {
            guard let v = UInt32(exactly: try u64()) else { throw CompactCoder.Invalid("a number above UInt32 at byte \(position - 8)") }
            return v
        }
        mutating func u16() throws(CompactCoder.Invalid) -> UInt16 {
            guard let v = UInt16(exactly: try u64()) else { throw CompactCoder.Invalid("a number above UInt16 at byte \(position - 8)") }
            return v
        }
        /// A count or length: at most the bytes left (every element takes at least one).
        mutating func count() throws(CompactCoder.Invalid) -> Int {
            let n = try u64()
            guard n <= UInt64(remaining) else { throw CompactCoder.Invalid("a count of \(n) with \(remaining) bytes left") }
            return Int(n)
        }
        mutating func str() throws(CompactCoder.Invalid) -> String {
            let n = try count()
            defer { position += n }
            guard let s = String(validating: bytes[position..<(position + n)], as: UTF8.self) else {
                throw CompactCoder.Invalid("a string that is not UTF-8 at byte \(position)")
            }
            return s
        }
        mutating func raw<E: RawRepresentable>(_ type: E.Type) throws(CompactCoder.Invalid) -> E where E.RawValue == String {
            let s = try str()
            guard let e = E(rawValue: s) else { throw CompactCoder.Invalid("unknown \(E.self) \"\(s)\"") }
            return e
        }
        mutating func opt<T>(_ body: (inout Reader) throws(CompactCoder.Invalid) -> T) throws(CompactCoder.Invalid) -> T? {
            switch try byte() {
            case 0: return nil
            case 1: return try body(&self)
            case let b: throw CompactCoder.Invalid("optional tag \(b) at byte \(position - 1)")
            }
        }
        mutating func optU64() throws(CompactCoder.Invalid) -> UInt64? { try opt { (r) throws(CompactCoder.Invalid) in try r.u64() } }
        mutating func list<T>(_ body: (inout Reader) throws(CompactCoder.Invalid) -> T) throws(CompactCoder.Invalid) -> [T] {
            let n = try count()
            var items: [T] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try body(&self)) }
            return items
        }
        mutating func strings() throws(CompactCoder.Invalid) -> [String] { try list { (r) throws(CompactCoder.Invalid) in try r.str() } }
    }
}
