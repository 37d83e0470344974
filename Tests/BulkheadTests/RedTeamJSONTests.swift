import BulkheadConfig
import BulkheadModel
import Foundation
import Testing
@testable import Bulkhead
@testable import BulkheadConfig
#if canImport(Glibc)
import Glibc
#endif

/// Red team of commit 89177e4 (issue 13, session 14): config.json read once by `StrictJSON`,
/// state.json read by `StrictJSON.decode` and written by `JSONText.encodeCompact`.
@Suite struct RedTeamJSONTests {
    /// CPU seconds this thread spent in `body` (not wall-clock: the machine is shared).
    static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    /// The annotations of a config.json are the engine user's (`podman run --annotation`, a
    /// pod's annotations through CRI-O) and are kept in state.json, which every `state`, `kill`,
    /// `delete`, `start`, `exec` and `list` reads. `StrictJSON.decode` looked each key of an
    /// object up by a linear search, so the `[String: String]` of n annotations cost n²/2 key
    /// comparisons: 12,000 annotations (72 KB of keys; config.json may hold 256 KiB) took
    /// ~18 s of CPU per read in a debug build (32,000: 125 s), where `JSONDecoder` took 20 ms.
    @Test func stateWithManyAnnotationsReadsInLinearTime() throws {
        let n = 12_000
        let annotations = (0..<n).map { "\"a\($0)\": \"\"" }.joined(separator: ", ")
        let text = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "#
            + #""linux": {"namespaces": [{"type": "mount"}]}, "annotations": {"# + annotations + "}}"
        let config = try OCIConfig.decode(text, bundle: "/b")
        #expect(config.annotations.count == n, "create accepts the config")

        let root = "/tmp/bh-rtjson-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: root) }
        let rt = OCIRuntime(root: root)
        let dir = try rt.containerDirectory("c1")
        #expect(mkdir(dir, 0o700) == 0)
        let r = OCIContainerRecord(ociVersion: "1.0.2", id: "c1", pid: 0, startTime: 1, bundle: "/b", rootfs: "/b/rootfs",
                                   created: "2026-12-07T00:00:00.000Z", annotations: Dictionary(config.annotations, uniquingKeysWith: { _, b in b }),
                                   cgroupDirectories: [], cgroupsPath: nil)
        try rt.save(r, in: dir)
        var read: OCIContainerRecord?
        let cpu = try Self.cpuSeconds { read = try rt.load("c1") }
        #expect(read == r)
        #expect(cpu < 3, "reading the state of \(n) annotations took \(cpu) s of CPU")
    }

    /// The lookup the fix above added (an index for objects of more than 32 members) keeps the
    /// rule of the search it replaces: a key is found by its exact scalars, never a canonically
    /// equivalent one (KELVIN SIGN is not "K"), and the first of two equal keys wins (a `Value`
    /// built in code may hold two; `parse` refuses them). Passes before the fix too: it guards it.
    @Test func indexedLookupKeepsExactKeys() throws {
        struct K: Decodable, Equatable { var K: String? }
        func object(_ extra: [StrictJSON.Member]) -> StrictJSON.Value {
            .object(extra + (0..<40).map { StrictJSON.Member(key: "f\($0)", value: .string("\($0)")) })
        }
        let kelvin = StrictJSON.Member(key: "\u{212A}", value: .string("kelvin"))
        let plain = StrictJSON.Member(key: "K", value: .string("plain"))
        #expect(try StrictJSON.decode(K.self, from: object([kelvin])) == K(K: nil))
        #expect(try StrictJSON.decode(K.self, from: object([kelvin, plain])) == K(K: "plain"))
        #expect(try StrictJSON.decode(K.self, from: object([plain, kelvin])) == K(K: "plain"))
        #expect(try StrictJSON.decode(K.self, from: object([plain, StrictJSON.Member(key: "K", value: .string("second"))])) == K(K: "plain"))
        let map = try StrictJSON.decode([String: String].self, from: object([kelvin]))
        #expect(map.count == 41 && map["\u{212A}"] == "kelvin" && map["f39"] == "39")
    }

    /// The string reader copies runs of bytes between escapes (89177e4): strings of random
    /// pieces (escapes of every kind, 2-4 byte UTF-8, U+0085, U+2028, U+FEFF, and bytes that are
    /// not UTF-8 or a lone surrogate escape) at every run boundary read as the pieces say, or
    /// are refused when one piece is invalid; `JSONText.quote` (its fast path copies a string
    /// without escapes whole) writes what `JSONEncoder` writes, and reads back. Held before and
    /// after this suite's fix: what was tried, kept as a guard.
    @Test func stringRunsAndEscapesReadAsWritten() throws {
        // (bytes in the document, the scalars they mean; nil: the string must be refused)
        let pieces: [([UInt8], String?)] = [
            (Array("a".utf8), "a"), (Array("é".utf8), "é"), (Array("€".utf8), "€"), (Array("😀".utf8), "😀"),
            (Array(#"\n"#.utf8), "\n"), (Array(#"\""#.utf8), "\""), (Array(#"\\"#.utf8), "\\"), (Array(#"\/"#.utf8), "/"),
            (Array(#"\u00e9"#.utf8), "é"), (Array(#"\u0000"#.utf8), "\u{0}"), (Array(#"\ud83d\ude00"#.utf8), "😀"),
            (Array("\u{85}\u{2028}\u{FEFF}\u{7F}".utf8), "\u{85}\u{2028}\u{FEFF}\u{7F}"), (Array(#"\u2028"#.utf8), "\u{2028}"),
            ([0xFF], nil), ([0xC0, 0x80], nil), ([0xED, 0xA0, 0x80], nil), ([0xE2, 0x82], nil), ([0xF4, 0x90, 0x80, 0x80], nil),
            ([0x01], nil), ([0x09], nil), (Array(#"\ud800"#.utf8), nil), (Array(#"\x"#.utf8), nil),
        ]
        var state: UInt64 = 0x5EED_0089_177E
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for _ in 0..<3000 {
            var bytes: [UInt8] = [0x22]
            var want: String? = ""
            for _ in 0..<(next() % 7) {
                let (b, meaning) = next() % 4 == 0 ? pieces[next() % pieces.count] : pieces[next() % 13]
                bytes += b
                if let m = meaning { want? += m } else { want = nil }
            }
            bytes.append(0x22)
            let got = bytes.withUnsafeBufferPointer { try? StrictJSON.parse($0) }
            if let want {
                #expect(got == .string(want), "\(bytes)")
                #expect(got.map { [UInt8]("\($0)".utf8) } != nil)
                var quoted = ""
                JSONText.quote(want, into: &quoted)
                let e = JSONEncoder()
                e.outputFormatting = [.withoutEscapingSlashes]
                #expect(quoted == String(decoding: try e.encode(want), as: UTF8.self), "\(Array(want.unicodeScalars))")
                #expect(try StrictJSON.parse(quoted) == .string(want))
            } else {
                #expect(got == nil, "\(bytes) read as \(String(describing: got))")
            }
        }
    }

    /// The commit's promise (OCIConfigTests.oneStrictJSONReadingDecidesAsTheYAMLReadingDid):
    /// whatever the JSON reading accepts, the YAML reading it replaced accepted as the same
    /// OCIConfig. It did not hold for a number where a string is expected: the number was
    /// written back from its value (`1e2` as "100.0", `1.10` "1.1", `-0` "0"), where libyaml
    /// kept its text. Now refused, as runc refuses it (Go's `[]string`), naming the field and
    /// the type, not the value; a boolean and null too.
    @Test func aNumberWhereAStringIsExpectedIsRefusedAsRuncRefusesIt() throws {
        for n in ["1e2", "1.10", "-0", "0.5E1", "7", "true", "null"] {
            let text = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/echo", "#
                + n + #"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}}"#
            let yaml = try? OCIConfig.decode(try ConfigNode.parse(text, file: OCIConfig.file), bundle: "/b")
            #expect(n == "null" || yaml?.args == ["/bin/echo", n], "the YAML reading kept the scalar's text")
            do {
                let json = try OCIConfig.decode(text, bundle: "/b")
                Issue.record("\(n) read as \(json.args)")
            } catch {
                #expect(error.field == "process.args[1]", "\(error)")
                #expect(error.message.hasPrefix("expected a string, found"), "\(error)")
                #expect(n == "null" || !error.description.contains(n), "the value is not echoed: \(error)")
            }
        }
        // A string stays a string, whatever it spells.
        let text = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/echo", "1e2", "true", "null"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}}"#
        #expect(try OCIConfig.decode(text, bundle: "/b").args == ["/bin/echo", "1e2", "true", "null"])
    }
}
