import BulkheadModel
import Foundation

/// `linux.seccomp` of a config.json as a document of its own: the container's seccomp.json,
/// which `create` loads as a Localhost policy and whose compiled filter is cached by the hash of
/// its text. The same policy is written as the same bytes whatever the order of its keys in the
/// config (compact, every object's keys in the order of their UTF-8 bytes), so that every
/// container of an engine's default profile hits one cache entry.
///
/// Decoded with JSONDecoder and written here, not re-serialised with JSONSerialization's
/// `.sortedKeys`: that option orders keys with ICU collation, and loading ICU's collation data
/// cost every `create` of a config with a seccomp profile (podman's) milliseconds (issue 13,
/// BENCHMARKS.md "Where bulkhead-runc's share of a podman run goes").
enum OCISeccompSection {
    /// A JSON value as decoded: integers kept exact (a rule's argument is a 64-bit value).
    indirect enum Value: Decodable, Equatable {
        case null
        case bool(Bool)
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .int(i) }
            else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
            else if let d = try? c.decode(Double.self) { self = .double(d) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let a = try? c.decode([Value].self) { self = .array(a) }
            else { self = .object(try c.decode([String: Value].self)) }
        }
    }

    private struct Config: Decodable {
        struct Linux: Decodable { var seccomp: Value? }
        var linux: Linux?
    }

    /// The text of `linux.seccomp` of the config.json `text`; nil when it has none or `text` is
    /// not JSON (a config written as YAML cannot carry its policy to the seccomp loader as JSON).
    static func document(ofConfig text: String) -> [UInt8]? {
        guard let config = try? JSONDecoder().decode(Config.self, from: Data(text.utf8)),
              let seccomp = config.linux?.seccomp else { return nil }
        var out = ""
        write(seccomp, into: &out)
        return Array(out.utf8)
    }

    static func write(_ v: Value, into out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += d.isFinite ? d.description : "null"
        case .string(let s): quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let entries):
            out += "{"
            for (i, (k, value)) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
                if i > 0 { out += "," }
                quote(k, into: &out)
                out += ":"
                write(value, into: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string that the engine's reader (`ConfigNode`: libyaml, YAML 1.1) reads back
    /// as the same scalars: `JSONText.quote`, and as a `\uXXXX` escape every character JSON takes
    /// raw but YAML does not. A raw U+0085, U+2028 or U+2029 is a line break to YAML (folded
    /// into a space inside a quoted scalar), and a raw DEL, C1 control, U+FEFF, U+FFFE or U+FFFF
    /// is refused by libyaml's reader (`RedTeamOCISeccompSectionTests`).
    static func quote(_ s: String, into out: inout String) {
        guard s.unicodeScalars.contains(where: notRawInYAML) else { JSONText.quote(s, into: &out); return }
        out += "\""
        var run = ""
        func flush() {
            guard !run.isEmpty else { return }
            var quoted = ""
            JSONText.quote(run, into: &quoted)
            out += quoted.dropFirst().dropLast()
            run = ""
        }
        for u in s.unicodeScalars {
            guard notRawInYAML(u) else { run.unicodeScalars.append(u); continue }
            flush()
            let hex = String(u.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.utf8.count) + hex
        }
        flush()
        out += "\""
    }

    /// Characters a JSON string may hold raw that YAML 1.1 does not read back as themselves.
    static func notRawInYAML(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x7F...0x9F, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF: return true
        default: return false
        }
    }
}
