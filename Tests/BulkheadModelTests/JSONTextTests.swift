import BulkheadModel
import Foundation
import PropertyBased
import Testing

/// The report writer without Foundation (`JSONText`, what `ReportJSON` writes): on every report
/// it writes the bytes Foundation's `JSONEncoder` writes with the options reports used, and the
/// `RunReport` decoder reads back the same report.
@Suite struct JSONTextTests {
    static let fixture: RunReport = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/run-report-limits.json")
        return try! JSONDecoder().decode(RunReport.self, from: Data(contentsOf: url))
    }()

    static func foundation<T: Encodable>(_ value: T) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try enc.encode(value), as: UTF8.self)
    }

    /// The same bytes, and decoded: the same report (compared as Foundation writes each).
    static func check(_ report: RunReport) throws {
        let ours = try JSONText.encode(report)
        let theirs = try foundation(report)
        #expect(ours == theirs)
        let back = try JSONDecoder().decode(RunReport.self, from: Data(ours.utf8))
        #expect(try foundation(back) == theirs)
    }

    @Test func fixtureReport() throws {
        try Self.check(Self.fixture)
    }

    /// Keys in the order Foundation writes them: by their UTF-8 bytes, not by String's `<`
    /// (canonical equivalence): U+1FEB (Ύ, which String compares as U+038E) after U+038F; and
    /// U+E000 < U+FFFD < U+10000 (scalar order, not UTF-16's). Found by `generatedReports` in CI.
    @Test func keysInFoundationsOrder() throws {
        var r = Self.fixture
        r.controls.rlimits = ["\u{1FEB}": "a", "\u{038F}": "b", "\u{10000}": "c", "\u{FFFD}": "d", "\u{E000}": "e", "B": "f", "a": "g"]
        try Self.check(r)
    }

    /// Reports with generated strings (quotes, backslashes, slashes, control characters,
    /// any scalar), numbers (any finite double, any integer) and maps.
    @Test func generatedReports() async {
        // Scalars below 0x40 are often the characters JSON escapes or that trip writers.
        let tricky = Array("\"\\/\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F} aé✓{}[]:,".unicodeScalars)
        let text = Gen.uint32(in: 0...0xD7FF).array(of: 0...10).map { codes in
            String(String.UnicodeScalarView(codes.map { $0 < 0x40 ? tricky[Int($0) % tricky.count] : Unicode.Scalar($0)! }))
        }
        let double = Gen.uint64().map { Double(bitPattern: $0) }.filter { $0.isFinite }
        await propertyCheck(count: 400, input: text.array(of: 0...4), double.array(of: 3), Gen.uint64().array(of: 3), Gen.int32()) { strings, doubles, numbers, code in
            var r = Self.fixture
            r.command = strings
            r.profile = strings.first ?? ""
            r.exitCode = code
            r.wallTimeMs = doubles[0]
            r.launchTimeMs = doubles[1]
            r.cpuUserMs = doubles[2]
            r.phasesMs = zip(strings, doubles).map { PhaseTiming(phase: $0, ms: $1) }
            r.cgroup?.stats?.memoryPeakBytes = numbers[0]
            r.cgroup?.stats?.cpuUsageMicros = numbers[1]
            r.maxRssKiB = Int(truncatingIfNeeded: numbers[2])
            r.controls.rlimits = Dictionary(strings.map { ($0, $0) }, uniquingKeysWith: { a, _ in a })
            r.controls.hostname = strings.last
            r.signal = nil
            try! Self.check(r)
        }
    }

    @Test func numbersAsFoundationSpellsThem() throws {
        for d in [0.0, -0.0, 1, 0.1, 1e20, 1e16, 1e15, 1e-5, 123456789.123, 5e-324, Double.greatestFiniteMagnitude, -2.5] {
            #expect(try JSONText.encode([d]) == Self.foundation([d]), "\(d)")
        }
        #expect(try JSONText.encode([UInt64.max]) == Self.foundation([UInt64.max]))
        #expect(try JSONText.encode([Int64.min]) == Self.foundation([Int64.min]))
        #expect(try JSONText.encode([String: [Int]]()) == Self.foundation([String: [Int]]()))
        #expect(try JSONText.encode(["a": [[Int]()], "b": []]) == Self.foundation(["a": [[Int]()], "b": []]))
        #expect(throws: CompactCoder.Invalid.self) { try JSONText.encode([Double.nan]) }
    }
}
