import BulkheadModel

/// `linux.seccomp` of a config.json as a document of its own: the container's seccomp.json,
/// which `create` loads as a Localhost policy and whose compiled filter is cached by the hash of
/// its text. The same policy is written as the same bytes whatever the order of its keys in the
/// config (compact, every object's keys in the order of their UTF-8 bytes), so that every
/// container of an engine's default profile hits one cache entry.
///
/// Read with `StrictJSON` (RFC 8259, Foundation-free) and written here. It was a `JSONDecoder`
/// decode of the whole config into a generic value, a sixth of `create`'s CPU with podman's
/// config (BENCHMARKS.md, issue 13, session 12); before that, JSONSerialization's `.sortedKeys`,
/// which loaded ICU's collation data.
enum OCISeccompSection {
    typealias Value = StrictJSON.Value

    /// The text of `linux.seccomp` of the config.json `text`, nil when it has none; throws when
    /// `text` is not strict JSON (a config written as YAML cannot carry its policy to the
    /// seccomp loader as JSON). The failure names a byte offset, never the text.
    static func section(ofConfig text: String) throws(StrictJSON.Failure) -> [UInt8]? {
        try value(ofConfig: text).map(document)
    }

    /// Whether `seccomp` (the section as read here, which is the policy loaded) names a
    /// listener: OCIConfig refuses one on its reading of the config; this is the same check on
    /// the section as written for the loader (`create` reads the config once, with `StrictJSON`,
    /// since issue 13's session 14; before, OCIConfig read it with Yams, and libyaml drops a raw
    /// U+FEFF inside a string and folds a raw U+0085).
    static func hasListener(_ seccomp: Value) -> Bool {
        guard let l = seccomp["listenerPath"] else { return false }
        return l != .null && l != .string("")
    }

    /// `seccomp` as the container's seccomp.json.
    static func document(_ seccomp: Value) -> [UInt8] {
        var out = ""
        write(seccomp, into: &out)
        return Array(out.utf8)
    }

    /// `section`, nil also when `text` is not strict JSON.
    static func document(ofConfig text: String) -> [UInt8]? { (try? section(ofConfig: text)) ?? nil }

    /// linux.seccomp of the config.json `text`, nil when it has none.
    static func value(ofConfig text: String) throws(StrictJSON.Failure) -> Value? {
        value(ofDocument: try StrictJSON.parse(text))
    }

    /// linux.seccomp of a config.json already read (`OCIConfig.decodeDocument`), nil when it has none.
    static func value(ofDocument document: Value) -> Value? {
        guard let seccomp = document["linux"]?["seccomp"], seccomp != .null else { return nil }
        return seccomp
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
        case .object(let members):
            out += "{"
            for (i, m) in members.sorted(by: { JSONText.keyPrecedes($0.key, $1.key) }).enumerated() {
                if i > 0 { out += "," }
                quote(m.key, into: &out)
                out += ":"
                write(m.value, into: &out)
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
        guard s.utf8.contains(where: { $0 >= 0x7F }), s.unicodeScalars.contains(where: notRawInYAML) else { JSONText.quote(s, into: &out); return }
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
