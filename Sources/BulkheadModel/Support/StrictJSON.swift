/// A JSON text (RFC 8259) read strictly, without Foundation: the one reader of config.json's
/// `linux.seccomp` section at OCI `create` (issue 13; it replaced a `JSONDecoder` decode of the
/// whole config into a generic value, a sixth of `create`'s CPU in `perf record`).
///
/// Strict where JSON readers differ, so that no two readers of one document disagree on what it
/// says: anything RFC 8259 does not define is refused, never repaired.
/// - UTF-8 only, checked (no byte-order mark, no overlong forms, no surrogates encoded in UTF-8);
///   a string's escapes checked (`\uD800` without its low half is refused, as is a low half
///   alone); a raw control character (below U+0020) in a string is refused.
/// - A key twice in one object is refused, keys compared as `String`s (by canonical
///   equivalence: KELVIN SIGN is "K", a decomposed "é" the precomposed one), as the config's
///   YAML reader (Yams) compares and refuses them (`RedTeamStrictJSONTests`).
/// - Numbers: an integer must fit in 64 bits (`Int64`, or `UInt64` above `Int64.max`: a seccomp
///   argument is a 64-bit value); one with a fraction or an exponent must be a finite `Double`.
///   Leading zeros, `+1`, `.5`, `1.`, `NaN` and `Infinity` are refused (`-0` is the integer 0).
/// - At most `maximumDepth` nested arrays and objects; nothing after the value but whitespace
///   (space, tab, line feed, carriage return).
/// Errors name the byte offset and what was expected, never the document's text.
public enum StrictJSON {
    /// A JSON value; an object keeps its members in the document's order.
    public indirect enum Value: Equatable, Sendable {
        case null
        case bool(Bool)
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case string(String)
        case array([Value])
        case object([Member])

        /// The value of `key` in an object (nil: not an object, or no such member).
        public subscript(key: String) -> Value? {
            guard case .object(let members) = self else { return nil }
            return members.first { $0.key.unicodeScalars.elementsEqual(key.unicodeScalars) }?.value
        }
    }

    public struct Member: Equatable, Sendable {
        public var key: String
        public var value: Value
        public init(key: String, value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// Why a text is not read: the byte offset (from 0) and what was wrong there.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var offset: Int
        public var problem: String
        public var description: String { "not strict JSON (RFC 8259) at byte \(offset): \(problem)" }
    }

    /// Nesting deeper than this is refused (a config.json nests about six levels).
    public static let maximumDepth = 128

    public static func parse(_ text: String) throws(Failure) -> Value {
        var copy = text
        let result = copy.withUTF8 { bytes -> Result<Value, Failure> in
            do throws(Failure) { return .success(try parse(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> Value {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.at == bytes.count else { throw reader.failure("nothing may follow the value") }
        return value
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        func failure(_ problem: String, at offset: Int? = nil) -> Failure { Failure(offset: offset ?? at, problem: problem) }

        var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

        mutating func skipWhitespace() {
            while let b = peek, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { at += 1 }
        }

        mutating func expect(_ word: String) throws(Failure) {
            let start = at
            for b in word.utf8 {
                guard peek == b else { throw failure("a literal (true, false or null) expected", at: start) }
                at += 1
            }
        }

        mutating func value(depth: Int) throws(Failure) -> Value {
            guard let b = peek else { throw failure("a value expected, the text ended") }
            switch b {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw failure("a value expected")
            }
        }

        mutating func object(depth: Int) throws(Failure) -> Value {
            guard depth <= StrictJSON.maximumDepth else { throw failure("nested deeper than \(StrictJSON.maximumDepth) arrays and objects") }
            at += 1
            var members: [Member] = []
            var keys = Set<String>()
            skipWhitespace()
            if peek == UInt8(ascii: "}") { at += 1; return .object(members) }
            while true {
                skipWhitespace()
                let keyAt = at
                guard peek == UInt8(ascii: "\"") else { throw failure("a key (a string) expected") }
                let key = try string()
                guard keys.insert(key).inserted else { throw failure("a key appears twice in one object", at: keyAt) }
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw failure("':' expected after a key") }
                at += 1
                skipWhitespace()
                members.append(Member(key: key, value: try value(depth: depth)))
                skipWhitespace()
                if peek == UInt8(ascii: ",") { at += 1; continue }
                guard peek == UInt8(ascii: "}") else { throw failure("',' or '}' expected in an object") }
                at += 1
                return .object(members)
            }
        }

        mutating func array(depth: Int) throws(Failure) -> Value {
            guard depth <= StrictJSON.maximumDepth else { throw failure("nested deeper than \(StrictJSON.maximumDepth) arrays and objects") }
            at += 1
            var items: [Value] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth))
                skipWhitespace()
                if peek == UInt8(ascii: ",") { at += 1; continue }
                guard peek == UInt8(ascii: "]") else { throw failure("',' or ']' expected in an array") }
                at += 1
                return .array(items)
            }
        }

        /// A string; `at` is on its opening quote. Runs of bytes without an escape are checked
        /// (`utf8Sequence`) and copied as they are; a string without escapes is one copy.
        mutating func string() throws(Failure) -> String {
            at += 1
            var out: [UInt8] = []
            var run = at
            while true {
                guard let b = peek else { throw failure("a string is not closed") }
                switch b {
                case UInt8(ascii: "\""):
                    let text: String
                    if out.isEmpty {
                        text = String(decoding: UnsafeBufferPointer(rebasing: bytes[run..<at]), as: UTF8.self)
                    } else {
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<at]))
                        text = String(decoding: out, as: UTF8.self)
                    }
                    at += 1
                    return text
                case UInt8(ascii: "\\"):
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<at]))
                    // Never empty after an escape: `out` empty at the end means none was seen.
                    out.append(contentsOf: String(try escape()).utf8)
                    run = at
                case 0x00..<0x20:
                    throw failure("a control character (below U+0020) in a string must be escaped")
                case 0x20..<0x80:
                    at += 1
                default:
                    _ = try utf8Sequence()
                }
            }
        }

        /// One escape; `at` is on its backslash.
        mutating func escape() throws(Failure) -> Unicode.Scalar {
            let start = at
            at += 1
            guard let e = peek else { throw failure("a string is not closed") }
            at += 1
            switch e {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let unit = try hex4()
                switch unit {
                case 0xD800...0xDBFF:
                    guard peek == UInt8(ascii: "\\"), at + 1 < bytes.count, bytes[at + 1] == UInt8(ascii: "u") else {
                        throw failure("a high surrogate escape without its low half", at: start)
                    }
                    at += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw failure("a high surrogate escape without its low half", at: start) }
                    // Both halves in range: the scalar is 0x10000...0x10FFFF, always valid.
                    return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
                case 0xDC00...0xDFFF:
                    throw failure("a low surrogate escape without its high half", at: start)
                default:
                    return Unicode.Scalar(unit)!
                }
            default:
                throw failure("an unknown escape", at: start)
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let b = peek else { throw failure("four hexadecimal digits expected after \\u") }
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: throw failure("four hexadecimal digits expected after \\u")
                }
                v = v << 4 | UInt32(d)
                at += 1
            }
            return v
        }

        /// One UTF-8 sequence of two to four bytes, checked (RFC 3629: no overlong form, no
        /// surrogate, nothing above U+10FFFF).
        mutating func utf8Sequence() throws(Failure) -> Unicode.Scalar {
            let start = at
            let lead = bytes[at]
            let count: Int, minimum: UInt32
            var v: UInt32
            switch lead {
            case 0xC2...0xDF: count = 2; minimum = 0x80; v = UInt32(lead & 0x1F)
            case 0xE0...0xEF: count = 3; minimum = 0x800; v = UInt32(lead & 0x0F)
            case 0xF0...0xF4: count = 4; minimum = 0x10000; v = UInt32(lead & 0x07)
            default: throw failure("not UTF-8")
            }
            guard start + count <= bytes.count else { throw failure("not UTF-8 (a sequence cut short)") }
            for i in 1..<count {
                let c = bytes[start + i]
                guard c & 0xC0 == 0x80 else { throw failure("not UTF-8") }
                v = v << 6 | UInt32(c & 0x3F)
            }
            guard v >= minimum, v <= 0x10FFFF, !(0xD800...0xDFFF).contains(v), let scalar = Unicode.Scalar(v) else {
                throw failure("not UTF-8 (an overlong form, a surrogate or a value above U+10FFFF)")
            }
            at += count
            return scalar
        }

        /// A number; `at` is on its first byte ('-' or a digit).
        mutating func number() throws(Failure) -> Value {
            let start = at
            let negative = peek == UInt8(ascii: "-")
            if negative { at += 1 }
            func digits() -> Int {
                let s = at
                while let b = peek, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { at += 1 }
                return at - s
            }
            let intStart = at
            let intDigits = digits()
            guard intDigits > 0 else { throw failure("a digit expected in a number", at: start) }
            guard intDigits == 1 || bytes[intStart] != UInt8(ascii: "0") else { throw failure("a number may not have a leading zero", at: start) }
            var isInteger = true
            if peek == UInt8(ascii: ".") {
                at += 1
                isInteger = false
                guard digits() > 0 else { throw failure("a digit expected after '.' in a number", at: start) }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                at += 1
                isInteger = false
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { throw failure("a digit expected in a number's exponent", at: start) }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
            if isInteger {
                if negative {
                    guard let v = Int64(text) else { throw failure("an integer below the 64-bit range", at: start) }
                    return .int(v)
                }
                if let v = Int64(text) { return .int(v) }
                guard let v = UInt64(text) else { throw failure("an integer above the 64-bit range", at: start) }
                return .uint(v)
            }
            guard let d = Double(text), d.isFinite else { throw failure("a number beyond the range of a 64-bit floating point value", at: start) }
            return .double(d)
        }
    }
}
