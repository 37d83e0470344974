import BulkheadModel
import Foundation
import PropertyBased
import Testing

/// The Foundation-free JSON reader and writers of the OCI runtime's state (issue 13, session
/// 14): `StrictJSON.decode` (Codable over `StrictJSON`), `JSONText.encodeCompact` and
/// `Base64Bytes`, each against what Foundation's `JSONDecoder`/`JSONEncoder` did before.
@Suite struct StrictJSONDecoderTests {
    enum Colour: String, Codable, Equatable { case red, green }
    struct Inner: Codable, Equatable {
        var name: String
        var values: [Int32]
        var flag: Bool?
    }
    struct Sample: Codable, Equatable {
        var text: String
        var int: Int
        var int8: Int8
        var int16: Int16
        var int32: Int32
        var int64: Int64
        var uint: UInt
        var uint8: UInt8
        var uint16: UInt16
        var uint32: UInt32
        var uint64: UInt64
        var double: Double
        var bool: Bool
        var optional: String?
        var colour: Colour
        var map: [String: String]
        var nested: [Inner]
        var lists: [[UInt64]]
        var bytes: Base64Bytes?
    }

    static func foundationCompact<T: Encodable>(_ v: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(v), as: UTF8.self)
    }

    static let text = Gen.uint32(in: 0...0xD7FF).array(of: 0...8).map { codes in
        String(String.UnicodeScalarView(codes.map { $0 < 0x30 ? Array("\"\\/\n\t\u{1}é{}".unicodeScalars)[Int($0) % 9] : Unicode.Scalar($0)! }))
    }

    /// Generated values: written by `encodeCompact`, read by `StrictJSON.decode` and by
    /// `JSONDecoder` (the same value); written by `JSONEncoder` (state.json of an older
    /// bulkhead-runc: `/` escaped, bytes in Base64), read by `StrictJSON.decode` (the same value);
    /// and `encodeCompact` writes Foundation's bytes.
    @Test func generatedValuesRoundTrip() async {
        let ints = Gen.int64().array(of: 6)
        let uints = Gen.uint64().array(of: 6)
        let double = Gen.uint64().map { Double(bitPattern: $0) }.filter { $0.isFinite }
        await propertyCheck(count: 300, input: Self.text.array(of: 1...4), ints, uints, double, Gen.uint8().array(of: 0...40)) { strings, i, u, d, bytes in
            let s = Sample(text: strings[0], int: Int(i[0]), int8: Int8(truncatingIfNeeded: i[1]), int16: Int16(truncatingIfNeeded: i[2]),
                           int32: Int32(truncatingIfNeeded: i[3]), int64: i[4], uint: UInt(u[0]), uint8: UInt8(truncatingIfNeeded: u[1]),
                           uint16: UInt16(truncatingIfNeeded: u[2]), uint32: UInt32(truncatingIfNeeded: u[3]), uint64: u[4], double: d,
                           bool: i[5] < 0, optional: strings.count > 1 ? strings[1] : nil, colour: u[5] % 2 == 0 ? .red : .green,
                           map: Dictionary(strings.map { ($0, $0 + "/") }, uniquingKeysWith: { a, _ in a }),
                           nested: strings.map { Inner(name: $0, values: [Int32(truncatingIfNeeded: i[0]), 0], flag: $0.isEmpty ? nil : true) },
                           lists: [[], [u[4], 0]], bytes: bytes.isEmpty ? nil : Base64Bytes(bytes))
            let ours = try! JSONText.encodeCompact(s)
            #expect(ours == (try! Self.foundationCompact(s)))
            #expect((try? StrictJSON.decode(Sample.self, from: ours)) == s)
            #expect((try? JSONDecoder().decode(Sample.self, from: Data(ours.utf8))) == s)
            let old = JSONEncoder()
            old.outputFormatting = [.sortedKeys]
            let theirs = String(decoding: try! old.encode(s), as: UTF8.self)
            #expect((try? StrictJSON.decode(Sample.self, from: theirs)) == s)
        }
    }

    /// No conversions: an integer field takes an integer that fits, nothing else; a key is found
    /// by its exact scalars; a missing key, a wrong type, an array too short are errors that
    /// name the path and never the document's text.
    @Test func decodesExactlyOrNames() throws {
        struct N: Decodable { var n: Int8 }
        struct K: Decodable { var Kind: String }
        struct L: Decodable { var l: [Int] }
        #expect(try StrictJSON.decode(N.self, from: #"{"n": -128}"#).n == -128)
        for bad in [#"{"n": 128}"#, #"{"n": 1.0}"#, #"{"n": "1"}"#, #"{"n": true}"#, #"{"n": null}"#, #"{}"#, #"[1]"#] {
            #expect(throws: DecodingError.self, "\(bad)") { try StrictJSON.decode(N.self, from: bad) }
        }
        // KELVIN SIGN: canonically "K", not the same scalars; the parser refuses both in one object.
        #expect(throws: DecodingError.self) { try StrictJSON.decode(K.self, from: "{\"\u{212A}ind\": \"secret-value\"}") }
        #expect(throws: StrictJSON.Failure.self) { try StrictJSON.decode(K.self, from: "{\"\u{212A}ind\": \"a\", \"Kind\": \"b\"}") }
        do {
            _ = try StrictJSON.decode(L.self, from: #"{"l": [1, "secret-value"]}"#)
            Issue.record("decoded a string as an Int")
        } catch let e as DecodingError {
            guard case .typeMismatch(_, let ctx) = e else { Issue.record("\(e)"); return }
            #expect(ctx.codingPath.map(\.stringValue) == ["l", "Index 1"])
            #expect(!"\(e)".contains("secret-value"))
        }
        #expect(try StrictJSON.decode([String: UInt64].self, from: #"{"a": 18446744073709551615, "b": 0}"#) == ["a": .max, "b": 0])
        #expect(try StrictJSON.decode([Double].self, from: "[1, -2.5e3, 18446744073709551615]") == [1, -2500, 18446744073709551615])
    }

    /// Base64 as Foundation writes a `Data` (every length, every byte), and read back strictly:
    /// what Foundation's reader accepts and this one refuses is only what no writer produces
    /// (bits set in the unused end: "QR==" read by Foundation as "A"; "====" as one zero byte).
    @Test func base64AsFoundationWritesIt() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...70)) { bytes in
            let theirs = Data(bytes).base64EncodedString()
            #expect(Base64Bytes.encode(bytes) == theirs)
            #expect(Base64Bytes.decode(theirs) == bytes)
        }
        let alphabet = Array("QRAB+/=a0 ".unicodeScalars)
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...12)) { picks in
            let s = String(String.UnicodeScalarView(picks.map { alphabet[Int($0) % alphabet.count] }))
            if let ours = Base64Bytes.decode(s) { #expect(Data(base64Encoded: s).map { [UInt8]($0) } == ours, "\(s)") }
        }
        for refused in ["QR==", "QUJ=", "====", "Q===", "QQ", "Q=Q=", "QU JD", "QUJD\n", "QQ==QQ=="] {
            #expect(Base64Bytes.decode(refused) == nil, "\(refused)")
        }
        #expect(Base64Bytes.decode("QQ==") == [0x41] && Base64Bytes.decode("QUI=") == [0x41, 0x42] && Base64Bytes.decode("") == [])
    }
}
