import BulkheadModel
import Yams

/// A node of a parsed YAML or JSON document with its field path, for strict decoding with
/// precise errors. Every accessor throws a `ConfigError` naming the file and the field.
///
/// JSON documents are read through the same YAML parser (JSON is YAML's flow style), so the
/// seccomp JSON of Docker, Podman and Kubernetes and the inline YAML form share one decoder.
public struct ConfigNode {
    public let node: Node
    public let path: String
    public let file: String

    public init(node: Node, path: String = "", file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    /// Parses a whole document; an empty document is an error.
    ///
    /// Scalars are read as text by the accessors below (`bool()`, `int64()`, `isNull`), never
    /// through their resolved YAML tags or constructed values, so the document is composed with
    /// Yams' `basic` resolver and an empty constructor. The defaults would compile seven
    /// NSRegularExpressions (ICU) and build Yams' tag-to-type tables on first use: more than a
    /// millisecond of every launch, for values nothing reads. The encoding is given (a Swift
    /// string is UTF-8) because Yams' default reads the whole process environment to find it.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic, Self.textOnlyConstructor(), .utf8)
        } catch let e as YamlError {
            throw ConfigError(file: file, field: "", line: Self.line(of: e), column: Self.column(of: e), message: "not valid YAML/JSON: \(Self.describe(e))")
        } catch {
            // Not `\(error)`: a decoding error may quote the document.
            throw ConfigError(file: file, field: "", message: "not valid YAML/JSON (\(type(of: error)))")
        }
        guard let root else { throw ConfigError(file: file, field: "", message: "the document is empty") }
        try checkExpansion([root], of: text, file: file)
        return ConfigNode(node: root, file: file)
    }

    /// A JSON document (RFC 8259) read by `StrictJSON` alone, as nodes every accessor reads as
    /// it reads a YAML document's (a string is a double-quoted scalar, a number, `true`, `false`
    /// and `null` plain ones): the reader of an OCI config.json, whose every reader (this one,
    /// its `linux.seccomp` section, `exec`) then sees the same document. No YAML: no anchors,
    /// tags, comments or unquoted keys; a key twice is refused as `StrictJSON` refuses it.
    /// Errors give the line and column of the byte `StrictJSON` names, never the text; a field's
    /// error names its path (its node has no mark).
    public static func parseJSON(_ text: String, file: String) throws(ConfigError) -> (ConfigNode, StrictJSON.Value) {
        let value: StrictJSON.Value
        do { value = try StrictJSON.parse(text) } catch {
            let (line, column) = Self.position(of: error.offset, in: text)
            throw ConfigError(file: file, field: "", line: line, column: column, message: "not valid JSON (RFC 8259): \(error.problem)")
        }
        let tags = TagMaker()
        return (ConfigNode(node: tags.node(value), file: file), value)
    }

    /// Line and column (from 1; the column in Unicode scalars, as libyaml counts) of a byte offset.
    static func position(of offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, at = 0
        for u in text.unicodeScalars {
            if at >= offset { break }
            at += UTF8.width(u)
            if u == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    /// Yams nodes of a JSON value, each with its own tag (a `Tag` is a mutable class) made with
    /// the resolver and constructor `parse` uses (neither builds Yams' default tables). A scalar
    /// carries its JSON type as its tag (as libyaml tags a quoted scalar `!!str`): `string()`
    /// refuses a number, a boolean or null where a string is expected, as runc's reader does
    /// (a number has no text of its own here: `1e2` would read as "100.0").
    struct TagMaker {
        let resolver = Resolver.basic
        let constructor = ConfigNode.textOnlyConstructor()

        func tag(_ name: Tag.Name = .implicit) -> Tag { Tag(name, resolver, constructor) }

        func node(_ v: StrictJSON.Value) -> Node {
            switch v {
            case .null: return .scalar(.init("null", tag(.null), .plain))
            case .bool(let b): return .scalar(.init(b ? "true" : "false", tag(.bool), .plain))
            case .int(let i): return .scalar(.init(String(i), tag(.int), .plain))
            case .uint(let u): return .scalar(.init(String(u), tag(.int), .plain))
            case .double(let d): return .scalar(.init(d.description, tag(.float), .plain))
            case .string(let s): return .scalar(.init(s, tag(.str), .doubleQuoted))
            case .array(let items): return .sequence(.init(items.map { node($0) }, tag(), .flow))
            case .object(let members): return .mapping(.init(members.map { (Node.scalar(.init($0.key, tag(.str), .doubleQuoted)), node($0.value)) }, tag(), .flow))
            }
        }
    }

    /// The one limit on anchors and aliases, for a file's documents together (`parse`, and
    /// `ManifestSet` for a multi-document file): composing shares an anchored node among its
    /// aliases, but every walk over the document (and a policy stored as JSON) sees each alias
    /// as a copy: a few lines of nested aliases are a million nodes. Without aliases a document
    /// has fewer nodes than bytes, so the limit is twice the file's bytes.
    static func checkExpansion(_ roots: [Node], of text: String, file: String) throws(ConfigError) {
        let limit = 2 * text.utf8.count + 1024
        var total = 0
        for root in roots {
            total += expandedCount(root, limit: limit - total)
            guard total <= limit else {
                throw ConfigError(file: file, field: "", message: "its anchors and aliases expand the document to more than \(limit) nodes (twice its size); write the repeated parts out")
            }
        }
    }

    /// How many nodes `root` has with its aliases expanded, counting no further than `limit + 1`.
    static func expandedCount(_ root: Node, limit: Int) -> Int {
        var count = 0
        var stack = [root]
        while let n = stack.popLast() {
            count += 1
            if count > limit { break }
            switch n {
            case .mapping(let m): for (k, v) in m { stack.append(k); stack.append(v) }
            case .sequence(let q): stack.append(contentsOf: q)
            default: break
            }
        }
        return count
    }

    /// A Yams constructor that constructs nothing: see `parse`.
    static func textOnlyConstructor() -> Constructor { Constructor([:], [:], [:]) }

    public var line: Int? { node.mark.map { $0.line } }
    public var column: Int? { node.mark.map { $0.column } }

    public func error(_ message: String) -> ConfigError {
        place.error(message)
    }

    /// Where this node is, for checks that run without the document (ConfigPlace).
    public var place: ConfigPlace { ConfigPlace(file: file, path: path, line: line, column: column) }

    func child(_ node: Node, key: String) -> ConfigNode {
        ConfigNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    func child(_ node: Node, index: Int) -> ConfigNode {
        ConfigNode(node: node, path: "\(path)[\(index)]", file: file)
    }

    public var isNull: Bool {
        if case .scalar(let s) = node { return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) }
        return false
    }

    // MARK: Mappings

    /// The mapping's entries in document order, after checking every key against `allowed`
    /// (nil allows any key). Unknown and duplicate keys are errors that list what is allowed.
    public func mapping(allowed: [String]? = nil) throws(ConfigError) -> ConfigMapping {
        var problems: [ConfigError] = []
        let mapping = try mapping(allowed: allowed, problems: &problems)
        if let first = problems.first { throw first }
        return mapping
    }

    /// The same, going on past an unknown or duplicate key: its error is added to `problems` and
    /// the key left out, so a parser that collects errors sees the rest of the mapping.
    public func mapping(allowed: [String]?, problems: inout [ConfigError]) throws(ConfigError) -> ConfigMapping {
        guard case .mapping(let m) = node else { throw error("expected a mapping (key: value), found \(kind)") }
        var entries: [(String, ConfigNode)] = []
        // Keys compare byte for byte (ExactName), as Go's and libyaml's readers do: a key
        // canonically equivalent to an allowed one ("\u{212A}ind" for "Kind") is unknown.
        var seen = Set<[UInt8]>()
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw error("mapping keys must be strings") }
            let key = ks.string
            let value = child(v, key: key)
            if !seen.insert(Array(key.utf8)).inserted { problems.append(value.error("duplicate key \"\(key)\"")); continue }
            if let allowed, !allowed.contains(where: { ExactName.same($0, key) }) {
                var msg = "unknown field \"\(key)\""
                if let s = closestMatch(to: key, in: allowed) { msg += "; did you mean \"\(s)\"?" }
                msg += " Allowed here: \(allowed.joined(separator: ", "))"
                problems.append(value.error(msg))
                continue
            }
            entries.append((key, value))
        }
        return ConfigMapping(owner: self, entries: entries)
    }

    // MARK: Sequences

    public func sequence() throws(ConfigError) -> [ConfigNode] {
        guard case .sequence(let s) = node else { throw error("expected a list, found \(kind)") }
        return s.enumerated().map { child($0.element, index: $0.offset) }
    }

    public func stringList() throws(ConfigError) -> [String] {
        var out: [String] = []
        for n in try sequence() { out.append(try n.string()) }
        return out
    }

    // MARK: Scalars

    public func scalarText() throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error("expected a single value, found \(kind)") }
        return s.string
    }

    public func string() throws(ConfigError) -> String {
        guard case .scalar(let s) = node, !isNull else { throw error("expected a string, found \(kind)") }
        // Tagged as another type: a JSON number, boolean or null (`parseJSON`), or a YAML
        // scalar with that explicit tag. Named by its type, not its text.
        switch s.tag.description {
        case Tag.Name.int.rawValue, Tag.Name.float.rawValue: throw error("expected a string, found a number")
        case Tag.Name.bool.rawValue: throw error("expected a string, found a boolean")
        case Tag.Name.null.rawValue: throw error("expected a string, found null")
        default: return s.string
        }
    }

    public func bool() throws(ConfigError) -> Bool {
        let t = try scalarText()
        switch t {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw error("expected true or false, found \"\(t)\"")
        }
    }

    /// An integer in decimal, or hexadecimal with 0x (kernel constants are often written so).
    public func int64(in range: ClosedRange<Int64> = Int64.min...Int64.max) throws(ConfigError) -> Int64 {
        let t = try scalarText()
        guard let v = Self.parseInteger(t) else { throw error("expected an integer, found \"\(t)\"") }
        let i: Int64
        if v.negative {
            guard v.magnitude <= UInt64(Int64.max) + 1 else { throw error("\(t) is out of range") }
            i = v.magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(v.magnitude)
        } else {
            guard v.magnitude <= UInt64(Int64.max) else { throw error("\(t) is out of range") }
            i = Int64(v.magnitude)
        }
        guard range.contains(i) else { throw error("\(i) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    public func uint64() throws(ConfigError) -> UInt64 {
        let t = try scalarText()
        guard let v = Self.parseInteger(t), !v.negative || v.magnitude == 0 else {
            throw error("expected a non-negative integer (0...\(UInt64.max)), found \"\(t)\"")
        }
        return v.magnitude
    }

    public func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        Int(try int64(in: Int64(range.lowerBound)...Int64(range.upperBound)))
    }

    static func parseInteger(_ text: String) -> (negative: Bool, magnitude: UInt64)? {
        var t = Substring(text)
        var negative = false
        if t.hasPrefix("-") { negative = true; t = t.dropFirst() } else if t.hasPrefix("+") { t = t.dropFirst() }
        let mag: UInt64?
        if t.hasPrefix("0x") || t.hasPrefix("0X") { mag = UInt64(t.dropFirst(2), radix: 16) }
        else if t.hasPrefix("0o") { mag = UInt64(t.dropFirst(2), radix: 8) }
        else { mag = t.isEmpty ? nil : UInt64(t, radix: 10) }
        guard let mag else { return nil }
        return (negative, mag)
    }

    var kind: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s): return isNull ? "null" : "\"\(s.string)\""
        }
    }

    static func line(of e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func column(of e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.column
        default: return nil
        }
    }

    /// libyaml's description of the problem, never the document's text (Yams' own description
    /// of a reader error or of duplicate keys quotes the document).
    static func describe(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        case .reader(let problem, let offset, _, _): return problem + (offset.map { " at byte \($0)" } ?? "")
        case .duplicatedKeysInMapping: return "duplicate keys in a mapping"
        case .no: return "no error"
        case .memory: return "out of memory"
        case .dataCouldNotBeDecoded: return "the data could not be decoded"
        default: return "the document could not be read"
        }
    }
}

/// A checked mapping: look up fields by name; each value carries its own path.
public struct ConfigMapping {
    public let owner: ConfigNode
    public let entries: [(String, ConfigNode)]

    public subscript(_ key: String) -> ConfigNode? {
        guard let v = entries.first(where: { ExactName.same($0.0, key) })?.1, !v.isNull else { return nil }
        return v
    }

    public func require(_ key: String) throws(ConfigError) -> ConfigNode {
        guard let v = self[key] else { throw owner.error("missing required field \"\(key)\"") }
        return v
    }

    public var keys: [String] { entries.map(\.0) }
}
