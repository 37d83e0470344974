/// Readable, stable JSON for reports, without Foundation: the text Foundation's `JSONEncoder`
/// writes with `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]` (two-space indentation,
/// `"key" : value`, keys in `String` order, `/` unescaped, a `Double` as its shortest
/// round-trip spelling without a trailing `.0`), built on `CompactCoder`'s encoder.
/// JSONTextTests compares both writers on many reports (the same bytes, the same decoded value).
/// A non-finite number cannot be written (as JSONEncoder's default): `CompactCoder.Invalid`.
public enum JSONText {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let ref = EncRef()
        try value.encode(to: CompactEncoder(ref: ref, codingPath: []))
        var out = ""
        try write(ref.freeze(), indent: 0, into: &out)
        return out
    }

    /// The same value on one line, as `JSONEncoder` writes it with `[.sortedKeys,
    /// .withoutEscapingSlashes]` (no whitespace): the OCI runtime's state.json, its `list` and
    /// `ps` output and the state its hooks read.
    public static func encodeCompact<T: Encodable>(_ value: T) throws -> String {
        let ref = EncRef()
        try value.encode(to: CompactEncoder(ref: ref, codingPath: []))
        var out = ""
        try write(ref.freeze(), indent: nil, into: &out)
        return out
    }

    /// `indent` nil: compact.
    static func write(_ node: CompactCoder.Node, indent: Int?, into out: inout String) throws {
        guard let indent else { return try writeCompact(node, into: &out) }
        switch node {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .double(let bits):
            let d = Double(bitPattern: bits)
            guard d.isFinite else { throw CompactCoder.Invalid("\(d) is not a JSON number") }
            var s = d.description
            if s.hasSuffix(".0") { s.removeLast(2) }
            out += s
        case .string(let s): quote(s, into: &out)
        case .keyed(let entries):
            let pad = String(repeating: " ", count: indent + 2)
            guard !entries.isEmpty else { out += "{\n\n" + String(repeating: " ", count: indent) + "}"; return }
            out += "{\n"
            for (i, (k, v)) in entries.sorted(by: { keyPrecedes($0.0, $1.0) }).enumerated() {
                out += i == 0 ? pad : ",\n" + pad
                quote(k, into: &out)
                out += " : "
                try write(v, indent: indent + 2, into: &out)
            }
            out += "\n" + String(repeating: " ", count: indent) + "}"
        case .unkeyed(let items):
            let pad = String(repeating: " ", count: indent + 2)
            guard !items.isEmpty else { out += "[\n\n" + String(repeating: " ", count: indent) + "]"; return }
            out += "[\n"
            for (i, v) in items.enumerated() {
                out += i == 0 ? pad : ",\n" + pad
                try write(v, indent: indent + 2, into: &out)
            }
            out += "\n" + String(repeating: " ", count: indent) + "]"
        }
    }

    static func writeCompact(_ node: CompactCoder.Node, into out: inout String) throws {
        switch node {
        case .keyed(let entries):
            out += "{"
            for (i, (k, v)) in entries.sorted(by: { keyPrecedes($0.0, $1.0) }).enumerated() {
                if i > 0 { out += "," }
                quote(k, into: &out)
                out += ":"
                try writeCompact(v, into: &out)
            }
            out += "}"
        case .unkeyed(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                try writeCompact(v, into: &out)
            }
            out += "]"
        default:
            try write(node, indent: 0, into: &out)
        }
    }

    /// The one order of an object's keys in the JSON bulkhead writes (reports, the OCI state,
    /// a config's seccomp section): by their UTF-8 bytes (= by their scalars), as Foundation
    /// sorts keys; not String's `<`, which compares canonically equivalent forms (U+1FEB Ύ
    /// sorts as U+038E, before U+038F, for `<`; after it for Foundation).
    public static func keyPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// `s` as a JSON string (quotes, the two-character escapes, other control characters as
    /// `\u00XX`, everything else as is): the one JSON string writer of the reports and of
    /// `OCISeccompSection`.
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Nearly every string needs no escape: then it is copied whole.
        guard s.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) else {
            out += s
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
