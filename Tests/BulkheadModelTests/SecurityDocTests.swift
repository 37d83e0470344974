import Foundation
import Testing

/// docs/security.md names, for every promise, the test that holds it, as `Suite.test` in
/// backquotes. A promise whose test was renamed or deleted is a promise nobody checks: this
/// suite fails then.
@Suite struct SecurityDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `Suite.test` references in the "promises" part of docs/security.md.
    static func references() throws -> [(suite: String, test: String)] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/security.md"), encoding: .utf8)
        var out: [(String, String)] = []
        for piece in text.split(separator: "`").enumerated() where piece.offset % 2 == 1 {
            let parts = piece.element.split(separator: ".")
            guard parts.count == 2, parts[0].hasSuffix("Tests"),
                  parts.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else { continue }
            out.append((String(parts[0]), String(parts[1])))
        }
        return out
    }

    /// Every Swift test source, by file.
    static func testSources() throws -> [String] {
        let tests = root.appendingPathComponent("Tests")
        let files = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        return try files.map { try String(contentsOf: $0, encoding: .utf8) }
    }

    @Test func everyPromiseNamesATestThatExists() throws {
        let refs = try Self.references()
        #expect(refs.count >= 20, "docs/security.md names \(refs.count) tests; every promise needs one")
        let sources = try Self.testSources()
        for (suite, test) in refs {
            let holder = sources.first { $0.contains("struct \(suite) ") || $0.contains("struct \(suite){") || $0.contains("extension \(suite) ") }
            #expect(holder != nil, "docs/security.md names suite \(suite), which no test file defines")
            guard let holder else { continue }
            // The test function lives in the suite's file (a suite is one file here).
            #expect(holder.contains("func \(test)("), "docs/security.md names \(suite).\(test), which \(suite) does not define")
        }
    }
}
