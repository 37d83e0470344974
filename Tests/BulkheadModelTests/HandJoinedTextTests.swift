import BulkheadModel
import PropertyBased
import Testing

/// The texts the launch path joins by hand instead of with `joined(separator:)` (which runs
/// unspecialised there and looks its types up by name at every launch; BENCHMARKS.md, session
/// 18) are what the standard library's join gives, for any input.
@Suite struct HandJoinedTextTests {
    static let entry = Gen.uint32().array(of: 3).map { IDMapEntry(inside: $0[0], outside: $0[1], count: $0[2]) }

    @Test func idMapTextsAreTheJoinedLines() async {
        await propertyCheck(count: 500, input: Self.entry.array(of: 0...6)) { map in
            #expect(IDMapEntry.fileText(map) == map.map(\.line).joined())
            let report = map.isEmpty ? nil : map.map { $0.line.dropLast() }.joined(separator: "; ")
            #expect(IDMapEntry.reportText(map) == report)
        }
        #expect(IDMapEntry.reportText([IDMapEntry(inside: 0, outside: 2_000_000_000, count: 65536), IDMapEntry(inside: 65536, outside: 7, count: 1)])
                == "0 2000000000 65536; 65536 7 1")
        #expect(IDMapEntry.fileText([IDMapEntry(inside: 0, outside: 1000, count: 1)]) == "0 1000 1\n")
    }

    /// `normalize` of any mix of `/`, `.`, `..`-free names and empty components: `/` and the
    /// components that are not `.`, each after one `/`.
    @Test func normalizeIsTheJoinedComponents() async {
        let part = Gen.int(in: 0...5).map { ["", ".", "a", "bc", ".x", "é"][$0] }
        await propertyCheck(count: 1000, input: part.array(of: 0...8), Gen.bool()) { parts, lead in
            let path = (lead ? "/" : "") + parts.joined(separator: "/")
            let kept = ExactName.pathComponents(path).filter { !ExactName.same($0, ".") }
            #expect(FieldRules.normalize(path) == "/" + kept.joined(separator: "/"), "\(path)")
        }
        #expect(FieldRules.normalize("/") == "/")
        #expect(FieldRules.normalize("//a/./b//") == "/a/b")
    }
}
