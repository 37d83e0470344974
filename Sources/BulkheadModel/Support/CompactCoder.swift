/// The tree an `Encodable` value is encoded into before `JSONText` writes it, and the error of
/// the byte readers (`ProfileLayerBinary`) and writers built on it. No Foundation.
public enum CompactCoder {
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { "compact encoding: \(reason)" }
    }

    indirect enum Node {
        case null, bool(Bool), int(Int64), uint(UInt64), double(UInt64), string(String)
        case keyed([(String, Node)]), unkeyed([Node])
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
