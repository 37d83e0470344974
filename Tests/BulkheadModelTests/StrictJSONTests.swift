import BulkheadModel
import Foundation
import PropertyBased
import Testing

/// `StrictJSON`, the reader of config.json's `linux.seccomp` at OCI `create`: RFC 8259 and no
/// more. What it refuses (a table), what it reads (a table), generated documents read back as
/// the values written, its UTF-8 check against the standard library's, and mutated documents
/// that never crash it.
@Suite struct StrictJSONTests {
    static func parse(_ text: String) -> StrictJSON.Value? { try? StrictJSON.parse(text) }

    static func parse(bytes: [UInt8]) -> Result<StrictJSON.Value, StrictJSON.Failure> {
        bytes.withUnsafeBufferPointer { buffer in
            do throws(StrictJSON.Failure) { return .success(try StrictJSON.parse(buffer)) } catch { return .failure(error) }
        }
    }

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a key appears twice"),
        (#"{"linux":{"seccomp":{"defaultAction":"A","defaultAction":"B"}}}"#, "a key appears twice"),
        (#"{"\u00e9":1,"é":2}"#, "a key appears twice"),
        (#"["\ud800"]"#, "high surrogate"),
        (#"["\ud800\u0041"]"#, "high surrogate"),
        (#"["\udc00"]"#, "low surrogate"),
        (#"[01]"#, "leading zero"),
        (#"[-01]"#, "leading zero"),
        (#"[1.]"#, "after '.'"),
        (#"[.5]"#, "a value expected"),
        (#"[+1]"#, "a value expected"),
        (#"[1e]"#, "exponent"),
        (#"[NaN]"#, "a value expected"),
        (#"[Infinity]"#, "a value expected"),
        (#"[1e400]"#, "floating point"),
        (#"[18446744073709551616]"#, "above the 64-bit range"),
        (#"[-9223372036854775809]"#, "below the 64-bit range"),
        (#"[1,]"#, "a value expected"),
        (#"{"a":1,}"#, "a key"),
        (#"{'a':1}"#, "a key"),
        (#"{a:1}"#, "a key"),
        (#"[1] // note"#, "nothing may follow"),
        (#"[1] [2]"#, "nothing may follow"),
        (#"["\x"]"#, "unknown escape"),
        (#"["\u12"]"#, "hexadecimal"),
        ("[\"a\tb\"]", "control character"),
        ("\u{FEFF}[1]", "a value expected"),
        ("[tru]", "literal"),
        ("", "the text ended"),
        ("[\"abc", "not closed"),
    ])
    func refused(_ text: String, _ why: String) {
        switch Self.parse(bytes: Array(text.utf8)) {
        case .success(let v): Issue.record("read \(text) as \(v)")
        case .failure(let f):
            #expect(f.problem.contains(why), "\(text): \(f)")
            #expect(f.offset >= 0 && f.offset <= text.utf8.count)
        }
    }

    @Test func refusedBytes() {
        // Not UTF-8: an overlong "/", a surrogate encoded in UTF-8, a lone continuation byte,
        // above U+10FFFF, a sequence cut short by the closing quote.
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let doc = Array("[\"".utf8) + bad + Array("\"]".utf8)
            guard case .failure(let f) = Self.parse(bytes: doc) else { Issue.record("read \(bad)"); continue }
            #expect(f.problem.contains("UTF-8"), "\(bad): \(f)")
        }
    }

    @Test func depthLimit() {
        let n = StrictJSON.maximumDepth
        #expect(Self.parse(String(repeating: "[", count: n) + String(repeating: "]", count: n)) != nil)
        let deeper = String(repeating: "[", count: n + 1) + String(repeating: "]", count: n + 1)
        #expect(Self.parse(deeper) == nil)
        let objects = String(repeating: #"{"a":"#, count: n + 1) + "1" + String(repeating: "}", count: n + 1)
        #expect(Self.parse(objects) == nil)
    }

    @Test func read() throws {
        #expect(Self.parse("[18446744073709551615]") == .array([.uint(.max)]))
        #expect(Self.parse("[9223372036854775807]") == .array([.int(.max)]))
        #expect(Self.parse("[-9223372036854775808]") == .array([.int(.min)]))
        #expect(Self.parse("[-0]") == .array([.int(0)]))
        #expect(Self.parse("[1.5e3, -2E-2, 0.0]") == .array([.double(1500), .double(-0.02), .double(0)]))
        #expect(Self.parse(#"["\ud83d\ude00\u0000\/\b\f\n\r\t\"\\"]"#) == .array([.string("😀\u{0}/\u{8}\u{C}\n\r\t\"\\")]))
        #expect(Self.parse(" \t\r\n{ \"a\" : [ true , false , null ] }\n") == .object([.init(key: "a", value: .array([.bool(true), .bool(false), .null]))]))
        // Members keep the document's order; `subscript` finds a key by its scalars.
        let v = try StrictJSON.parse(#"{"b":1,"a":{"c":"x"}}"#)
        #expect(v == .object([.init(key: "b", value: .int(1)), .init(key: "a", value: .object([.init(key: "c", value: .string("x"))]))]))
        #expect(v["a"]?["c"] == .string("x"))
        #expect(v["z"] == nil)
        // A raw U+0085, U+2028 and DEL are JSON characters (YAML would fold or refuse them).
        #expect(Self.parse("[\"a\u{85}b\u{2028}c\u{7F}\"]") == .array([.string("a\u{85}b\u{2028}c\u{7F}")]))
    }

    // MARK: generated

    /// A value built from `codes` (and `strings` for the text): every kind, nested up to 4 deep.
    static func build(_ codes: inout ArraySlice<UInt64>, _ strings: [String], depth: Int) -> StrictJSON.Value {
        let c = codes.popFirst() ?? 0
        switch c % 8 {
        case 0: return .null
        case 1: return .bool(c & 8 != 0)
        case 2: return .int(Int64(bitPattern: c))
        case 3: return .uint(c | 1 << 63)
        case 4:
            let d = Double(bitPattern: c)
            return .double(d.isFinite ? d : 0.5)
        case 5: return .string(strings.isEmpty ? "" : strings[Int(c >> 3 % UInt64(max(strings.count, 1))) % strings.count])
        case 6:
            guard depth < 4 else { return .null }
            return .array((0..<Int(c >> 3 % 4)).map { _ in build(&codes, strings, depth: depth + 1) })
        default:
            guard depth < 4 else { return .null }
            return .object((0..<Int(c >> 3 % 4)).map { i in
                .init(key: (strings.isEmpty ? "" : strings[i % strings.count]) + "#\(i)", value: build(&codes, strings, depth: depth + 1))
            })
        }
    }

    static func write(_ v: StrictJSON.Value, into out: inout String) {
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += d.description
        case .string(let s): JSONText.quote(s, into: &out)
        case .array(let items):
            out += "[ "
            for (i, item) in items.enumerated() { out += i == 0 ? "" : " ,\n"; write(item, into: &out) }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, m) in members.enumerated() {
                out += i == 0 ? "" : ","
                JSONText.quote(m.key, into: &out)
                out += "\t:"
                write(m.value, into: &out)
            }
            out += "}"
        }
    }

    /// Written and read back: the same value; and Foundation's reader accepts the same text.
    @Test func generatedDocumentsReadBack() async {
        let tricky = Array("\"\\/\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}\u{85}\u{2028} aé{}[]:,".unicodeScalars)
        let text = Gen.uint32(in: 0...0x10FFFF).array(of: 0...8).map { codes in
            String(String.UnicodeScalarView(codes.map { c -> Unicode.Scalar in
                if c < 0x60 { return tricky[Int(c) % tricky.count] }
                return Unicode.Scalar(c) ?? "\u{FFFD}"
            }))
        }
        await propertyCheck(count: 500, input: Gen.uint64().array(of: 1...40), text.array(of: 0...4)) { codes, strings in
            var slice = codes[...]
            let value = Self.build(&slice, strings, depth: 0)
            var out = ""
            Self.write(value, into: &out)
            #expect(Self.parse(out) == value, "\(out)")
            #expect((try? JSONSerialization.jsonObject(with: Data(out.utf8), options: [.fragmentsAllowed])) != nil, "\(out)")
        }
    }

    /// A string's bytes (no quote, backslash or control character) are read iff they are UTF-8,
    /// as the standard library's validating decoder says, and as the same text.
    @Test func utf8AsTheStandardLibrary() async {
        await propertyCheck(count: 2000, input: Gen.uint8(in: 0x20...0xFF).array(of: 0...12)) { raw in
            let bytes = raw.filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
            let doc = [UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]
            let expected = String(validating: bytes, as: UTF8.self)
            switch Self.parse(bytes: doc) {
            case .success(let v): #expect(v == .string(expected ?? "<not UTF-8>"), "\(bytes)")
            case .failure(let f): #expect(expected == nil, "\(bytes): \(f)")
            }
        }
    }

    /// Mutated documents (bytes overwritten, the text cut): read or refused, never a crash, and
    /// a refusal's offset inside the text.
    @Test func mutatedDocumentsNeverCrash() async {
        let base = Array(#"{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}],"x":[1.5e3,-0,"\ud83d\ude00",null,true]}}}"#.utf8)
        #expect(Self.parse(bytes: base).isSuccess)
        await propertyCheck(count: 3000, input: Gen.int(in: 0..<base.count).array(of: 1...6), Gen.uint8().array(of: 6), Gen.int(in: 0...base.count)) { positions, values, cut in
            var doc = base
            for (p, v) in zip(positions, values) { doc[p] = v }
            doc = Array(doc[..<max(cut, positions.max() ?? 0)])
            if case .failure(let f) = Self.parse(bytes: doc) { #expect(f.offset >= 0 && f.offset <= doc.count) }
        }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
