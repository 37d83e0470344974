/// The uid and gid maps a config asks for (OCI `linux.uidMappings`/`gidMappings`), each a list
/// of /proc/PID/uid_map (gid_map) lines, checked by `IDMapRules`.
public struct IDMaps: Sendable, Equatable {
    public var uid: [IDMapEntry]
    public var gid: [IDMapEntry]
    public init(uid: [IDMapEntry], gid: [IDMapEntry]) { self.uid = uid; self.gid = gid }

    /// The host ranges the maps give the container, uid ranges then gid ranges.
    public var hostRanges: [IDRange] { (uid + gid).map { IDRange(hostStart: $0.outside, count: $0.count) } }
}

/// The one place for the rules of a list of id-map lines, whoever wrote it (a hostile config):
/// what the kernel takes (user_namespaces(7): at most 340 lines in less than a page, no
/// overlap on either side, no id 4294967295 on either side) checked before any write, with checked arithmetic.
/// What a caller may map on the host (`IDRange.problem`, the reserved ranges) is checked on
/// top of these, per host range.
public enum IDMapRules {
    /// The kernel's limit on lines in one uid_map or gid_map (since Linux 4.15).
    public static let maxLines = 340
    /// The end (exclusive) of every range, inside and on the host: (uid_t)-1 is never an id.
    public static let idEnd: UInt64 = UInt64(UInt32.max)
    /// The kernel takes one write of less than a page (kernel/user_namespace.c, map_write):
    /// 4096 bytes, the smallest page of the architectures bulkhead runs on.
    public static let maxBytes = 4095
    /// The most ids one map may give a container in all (its lines' sizes added).
    public static let maxTotal: UInt64 = UInt64(UInt32.max)

    /// Why `map` (one uid_map or gid_map) is not acceptable, naming the line (0-based, as in
    /// the config's list), or nil.
    public static func problem(_ map: [IDMapEntry]) -> String? {
        if map.isEmpty { return "at least one mapping is needed" }
        if map.count > maxLines { return "\(map.count) mappings; the kernel takes at most \(maxLines)" }
        var total: UInt64 = 0
        for (i, e) in map.enumerated() {
            if e.count == 0 { return "mapping \(i): size must be at least 1" }
            let insideEnd = UInt64(e.inside) + UInt64(e.count), hostEnd = UInt64(e.outside) + UInt64(e.count)
            if insideEnd > idEnd { return "mapping \(i): containerID \(e.inside) + size \(e.count) overflows (ids end below \(idEnd))" }
            if hostEnd > idEnd { return "mapping \(i): hostID \(e.outside) + size \(e.count) overflows (ids end below \(idEnd))" }
            total += UInt64(e.count)
        }
        if total > maxTotal { return "the mappings' sizes add up to \(total), more than \(maxTotal)" }
        let bytes = map.reduce(0) { $0 + $1.line.utf8.count }
        if bytes > maxBytes { return "the \(map.count) mappings are \(bytes) bytes as uid_map/gid_map text; the kernel takes at most \(maxBytes) (less than a page): use fewer, larger ranges" }
        for (side, start) in [("containerID", { (e: IDMapEntry) in e.inside }), ("hostID", { (e: IDMapEntry) in e.outside })] {
            let order = map.indices.sorted { (start(map[$0]), $0) < (start(map[$1]), $1) }
            for (a, b) in zip(order, order.dropFirst()) where UInt64(start(map[a])) + UInt64(map[a].count) > UInt64(start(map[b])) {
                return "mappings \(min(a, b)) and \(max(a, b)) overlap on the \(side) side"
            }
        }
        return nil
    }

    /// The inside id `id` is mapped by `map`.
    public static func maps(_ map: [IDMapEntry], _ id: UInt32) -> Bool {
        map.contains { id >= $0.inside && UInt64(id) < UInt64($0.inside) + UInt64($0.count) }
    }

    /// The host id of inside id `id` under `map`, or nil when `map` does not map it.
    public static func host(_ map: [IDMapEntry], _ id: UInt32) -> UInt32? {
        guard let e = map.first(where: { id >= $0.inside && UInt64(id) < UInt64($0.inside) + UInt64($0.count) }) else { return nil }
        return e.outside + (id - e.inside) // < outside + count <= idEnd: checked by `problem`
    }
}
