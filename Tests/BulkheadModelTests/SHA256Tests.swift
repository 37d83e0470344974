import Testing
@testable import BulkheadModel

struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(_ input: String, _ digest: String) { #expect(SHA256.hex(input) == digest) }

    @Test func millionA() { #expect(SHA256.hex(String(repeating: "a", count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") }
}

struct HexAndSplitTests {
    /// `SHA256.hex(_: [UInt8])` is the name of every cache entry on disk: two lower-case digits
    /// a byte, as the per-byte `String(radix: 16)` it replaced wrote them.
    @Test func hexOfEveryByte() {
        let all = (0...255).map { UInt8($0) }
        let expected = all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(SHA256.hex(all) == expected)
        #expect(SHA256.hex([]) == "")
        #expect(SHA256.hex([0x00, 0x0f, 0xf0, 0xff]) == "000ff0ff")
    }

    /// `asciiSplit` gives what the byte-wise split it replaced gave (and, on ASCII text, what
    /// `split(separator:)` gives) for every maxSplits and both omitting modes, on generated text.
    @Test func asciiSplitMatchesSplit() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [String] = [" ", " ", ":", "a", "b", "é", "\u{301}", "\n", "-"]
        var cases = ["", " ", "  ", "a", " a", "a ", " a ", "a  b", "  a  b  ", "é b", "a\u{301} b"]
        for _ in 0..<400 {
            let n = Int.random(in: 0...12, using: &rng)
            cases.append((0..<n).map { _ in alphabet.randomElement(using: &rng)! }.joined())
        }
        for text in cases {
            for maxSplits in [0, 1, 2, 3, Int.max] {
                for omitting in [true, false] {
                    // The reference is the form this replaced (a split of the UTF-8 bytes), and
                    // for ASCII text `split(separator:)` too; they differ only where a space begins
                    // a grapheme cluster (a combining mark after it), as asciiSplit's comment says.
                    let want = Substring(text).utf8.split(separator: UInt8(ascii: " "), maxSplits: maxSplits,
                                                          omittingEmptySubsequences: omitting).map { Substring($0) }
                    if !text.unicodeScalars.contains("\u{301}") {
                        #expect(want == text.split(separator: " ", maxSplits: maxSplits, omittingEmptySubsequences: omitting))
                    }
                    let got = text.asciiSplit(" ", maxSplits: maxSplits, omittingEmptySubsequences: omitting)
                    #expect(got == want, "\(Array(text.unicodeScalars)) \(maxSplits) \(omitting)")
                    // On a Substring too (the parsers split lines of a split).
                    let sub = text.dropFirst(0)
                    #expect(sub.asciiSplit(" ", maxSplits: maxSplits, omittingEmptySubsequences: omitting) == want)
                }
            }
        }
    }
}
