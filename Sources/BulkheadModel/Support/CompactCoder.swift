/// A compact binary form of any `Codable` value, for on-disk caches (`ProfileLayerCache`):
/// no Foundation, no text. The bytes are a tree of tagged nodes:
///
/// | tag | node | body |
/// |---|---|---|
/// | 0 | nil | — |
/// | 1, 2 | false, true | — |
/// | 3 | signed integer | 8 bytes, little-endian |
/// | 4 | unsigned integer | 8 bytes, little-endian |
/// | 5 | floating point | the 8 bytes of the `Double`'s bit pattern |
/// | 6 | string | u32 length, UTF-8 bytes |
/// | 7 | keyed | u32 count, then count × (u32 length, UTF-8 key, node) |
/// | 8 | unkeyed | u32 count, then count nodes |
///
/// The decoder trusts nothing it reads: every length and count is checked against the bytes
/// left before anything is allocated or read (a count can never exceed them, as every node
/// takes at least one byte), nesting is limited to `maximumDepth`, strings must be valid UTF-8,
/// a key may appear once per container, integers must fit the type asked for, and the input
/// must end where the top node ends. Anything else is a `CompactCoder.Invalid`.
public enum CompactCoder {
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { "compact encoding: \(reason)" }
    }

    public static let maximumDepth = 64

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let ref = EncRef()
        try value.encode(to: CompactEncoder(ref: ref, codingPath: []))
        var out: [UInt8] = []
        write(ref.freeze(), into: &out)
        return out
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var reader = Reader(bytes: bytes)
        let node = try reader.node(depth: 0)
        guard reader.position == bytes.count else { throw Invalid("\(bytes.count - reader.position) bytes after the value") }
        return try T(from: CompactDecoder(node: node, codingPath: []))
    }

    // MARK: The tree

    indirect enum Node {
        case null, bool(Bool), int(Int64), uint(UInt64), double(UInt64), string(String)
        case keyed([(String, Node)]), unkeyed([Node])
    }

    static func write(_ node: Node, into out: inout [UInt8]) {
        func u32(_ v: Int) { var x = UInt32(v).littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { var x = v.littleEndian; withUnsafeBytes(of: &x) { out.append(contentsOf: $0) } }
        func str(_ s: String) { var s = s; s.withUTF8 { u32($0.count); out.append(contentsOf: $0) } }
        switch node {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let v): out.append(3); u64(UInt64(bitPattern: v))
        case .uint(let v): out.append(4); u64(v)
        case .double(let bits): out.append(5); u64(bits)
        case .string(let s): out.append(6); str(s)
        case .keyed(let entries):
            out.append(7); u32(entries.count)
            for (k, v) in entries { str(k); write(v, into: &out) }
        case .unkeyed(let items):
            out.append(8); u32(items.count)
            for v in items { write(v, into: &out) }
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        var remaining: Int { bytes.count - position }

        mutating func byte() throws -> UInt8 {
            guard remaining >= 1 else { throw Invalid("truncated at byte \(position)") }
            defer { position += 1 }
            return bytes[position]
        }
        mutating func u32() throws -> Int {
            guard remaining >= 4 else { throw Invalid("truncated length at byte \(position)") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
            position += 4
            return Int(v)
        }
        mutating func u64() throws -> UInt64 {
            guard remaining >= 8 else { throw Invalid("truncated number at byte \(position)") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return v
        }
        mutating func string() throws -> String {
            let n = try u32()
            guard n <= remaining else { throw Invalid("a string of \(n) bytes with \(remaining) left at byte \(position)") }
            defer { position += n }
            guard let s = String(validating: bytes[position..<(position + n)], as: UTF8.self) else {
                throw Invalid("a string that is not UTF-8 at byte \(position)")
            }
            return s
        }
        mutating func node(depth: Int) throws -> Node {
            guard depth <= CompactCoder.maximumDepth else { throw Invalid("nested deeper than \(CompactCoder.maximumDepth)") }
            let tag = try byte()
            switch tag {
            case 0: return .null
            case 1: return .bool(false)
            case 2: return .bool(true)
            case 3: return .int(Int64(bitPattern: try u64()))
            case 4: return .uint(try u64())
            case 5: return .double(try u64())
            case 6: return .string(try string())
            case 7:
                let count = try u32()
                // Each entry takes at least 5 bytes (a key's length and a node's tag).
                guard count <= remaining / 5 else { throw Invalid("\(count) entries with \(remaining) bytes left") }
                var entries: [(String, Node)] = []
                entries.reserveCapacity(count)
                for _ in 0..<count { entries.append((try string(), try node(depth: depth + 1))) }
                return .keyed(entries)
            case 8:
                let count = try u32()
                guard count <= remaining else { throw Invalid("\(count) items with \(remaining) bytes left") }
                var items: [Node] = []
                items.reserveCapacity(count)
                for _ in 0..<count { items.append(try node(depth: depth + 1)) }
                return .unkeyed(items)
            default:
                throw Invalid("unknown tag \(tag) at byte \(position - 1)")
            }
        }
    }
}

// MARK: Encoding

/// A node being built: a leaf, or a container that nested encoders keep adding to.
final class EncRef {
    var leaf: CompactCoder.Node?
    var keys: [(String, EncRef)]?
    var items: [EncRef]?

    func freeze() -> CompactCoder.Node {
        if let keys { return .keyed(keys.map { ($0.0, $0.1.freeze()) }) }
        if let items { return .unkeyed(items.map { $0.freeze() }) }
        return leaf ?? .null
    }
}

struct CompactEncoder: Encoder {
    let ref: EncRef
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if ref.keys == nil { ref.keys = [] }
        return KeyedEncodingContainer(CompactKeyedEncoder<Key>(ref: ref, codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if ref.items == nil { ref.items = [] }
        return CompactUnkeyedEncoder(ref: ref, codingPath: codingPath)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { CompactSingleEncoder(ref: ref, codingPath: codingPath) }
}

struct CompactKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let ref: EncRef
    var codingPath: [any CodingKey]

    private func add(_ key: Key) -> EncRef {
        let child = EncRef()
        ref.keys!.append((key.stringValue, child))
        return child
    }
    mutating func encodeNil(forKey key: Key) throws { add(key).leaf = .null }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: CompactEncoder(ref: add(key), codingPath: codingPath + [key]))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        CompactEncoder(ref: add(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        CompactEncoder(ref: add(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { CompactEncoder(ref: add(Key(stringValue: "super")!), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { CompactEncoder(ref: add(key), codingPath: codingPath + [key]) }
}

struct CompactUnkeyedEncoder: UnkeyedEncodingContainer {
    let ref: EncRef
    var codingPath: [any CodingKey]
    var count: Int { ref.items!.count }

    private func add() -> EncRef {
        let child = EncRef()
        ref.items!.append(child)
        return child
    }
    mutating func encodeNil() throws { add().leaf = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: CompactEncoder(ref: add(), codingPath: codingPath)) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        CompactEncoder(ref: add(), codingPath: codingPath).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { CompactEncoder(ref: add(), codingPath: codingPath).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { CompactEncoder(ref: add(), codingPath: codingPath) }
}

struct CompactSingleEncoder: SingleValueEncodingContainer {
    let ref: EncRef
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { ref.leaf = .null }
    mutating func encode(_ value: Bool) throws { ref.leaf = .bool(value) }
    mutating func encode(_ value: String) throws { ref.leaf = .string(value) }
    mutating func encode(_ value: Double) throws { ref.leaf = .double(value.bitPattern) }
    mutating func encode(_ value: Float) throws { ref.leaf = .double(Double(value).bitPattern) }
    mutating func encode(_ value: Int) throws { ref.leaf = .int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { ref.leaf = .int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { ref.leaf = .int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { ref.leaf = .int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { ref.leaf = .int(value) }
    mutating func encode(_ value: UInt) throws { ref.leaf = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { ref.leaf = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { ref.leaf = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { ref.leaf = .uint(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { ref.leaf = .uint(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: CompactEncoder(ref: ref, codingPath: codingPath)) }
}

// MARK: Decoding

struct CompactDecoder: Decoder {
    let node: CompactCoder.Node
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ what: String) -> CompactCoder.Invalid {
        CompactCoder.Invalid("expected \(what) at \(codingPath.map(\.stringValue).joined(separator: "."))")
    }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .keyed(let entries) = node else { throw mismatch("a keyed container") }
        var values: [String: CompactCoder.Node] = [:]
        for (k, v) in entries {
            guard values.updateValue(v, forKey: k) == nil else { throw CompactCoder.Invalid("key \"\(k)\" twice") }
        }
        return KeyedDecodingContainer(CompactKeyedDecoder<Key>(values: values, order: entries.map(\.0), codingPath: codingPath))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .unkeyed(let items) = node else { throw mismatch("an unkeyed container") }
        return CompactUnkeyedDecoder(items: items, codingPath: codingPath)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { CompactSingleDecoder(node: node, codingPath: codingPath) }
}

struct CompactKeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: [String: CompactCoder.Node]
    let order: [String]
    var codingPath: [any CodingKey]

    var allKeys: [Key] { order.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }
    private func child(_ key: Key) throws -> CompactDecoder {
        guard let node = values[key.stringValue] else { throw CompactCoder.Invalid("no key \"\(key.stringValue)\"") }
        return CompactDecoder(node: node, codingPath: codingPath + [key])
    }
    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try child(key).node { return true }
        return false
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: child(key)) }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { try child(Key(stringValue: "super")!) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

struct CompactUnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [CompactCoder.Node]
    var codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> CompactDecoder {
        guard !isAtEnd else { throw CompactCoder.Invalid("fewer items than expected") }
        defer { currentIndex += 1 }
        return CompactDecoder(node: items[currentIndex], codingPath: codingPath)
    }
    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw CompactCoder.Invalid("fewer items than expected") }
        if case .null = items[currentIndex] { currentIndex += 1; return true }
        return false
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

struct CompactSingleDecoder: SingleValueDecodingContainer {
    let node: CompactCoder.Node
    var codingPath: [any CodingKey]

    private func fail(_ what: String) -> CompactCoder.Invalid {
        CompactCoder.Invalid("expected \(what) at \(codingPath.map(\.stringValue).joined(separator: "."))")
    }
    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        switch node {
        case .int(let v): if let x = I(exactly: v) { return x }
        case .uint(let v): if let x = I(exactly: v) { return x }
        default: break
        }
        throw fail("\(I.self)")
    }
    func decodeNil() -> Bool { if case .null = node { return true }; return false }
    func decode(_ type: Bool.Type) throws -> Bool { guard case .bool(let b) = node else { throw fail("a Bool") }; return b }
    func decode(_ type: String.Type) throws -> String { guard case .string(let s) = node else { throw fail("a String") }; return s }
    func decode(_ type: Double.Type) throws -> Double { guard case .double(let d) = node else { throw fail("a Double") }; return Double(bitPattern: d) }
    func decode(_ type: Float.Type) throws -> Float {
        guard case .double(let d) = node, let f = Float(exactly: Double(bitPattern: d)) else { throw fail("a Float") }
        return f
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: CompactDecoder(node: node, codingPath: codingPath)) }
}
