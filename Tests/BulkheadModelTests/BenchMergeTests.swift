import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// `bench merge`'s pure part: reports decoded as typed `BenchMatrixReport`s, checked, merged
/// into a column group per node, the differences found, and the three renderings.
struct BenchMergeTests {
    static func host(_ node: String?, kernel: String = "6.1.0", cpuModel: String? = "Xeon") -> BenchHostFacts {
        BenchHostFacts(kernel: kernel, cgroupMode: "hybrid", cpuCount: 2, memoryBytes: 1 << 33, bulkheadVersion: "0.1.0",
                       node: node, cpuModel: cpuModel)
    }

    static func ratio(_ rs: [Double]) -> BenchRatioSummary {
        BenchRatioSummary(metric: "victim work rate", phase: .contained, ratios: rs, band: 0.7, side: .atLeast)!
    }

    static func cpu(_ rs: [Double]) -> BenchResult {
        let q = ratio(rs)
        return BenchResult(cell: BenchCellID(.cpu, .container), claim: "c", expected: .can,
                           verdict: BenchVerdict.judgeCan(summary: q, contained: true, containment: "throttled"),
                           keyFigure: "victim \(q.text)", method: "m", ratio: q, seconds: 3)
    }

    static func ipc(_ kind: BenchVerdictKind) -> BenchResult {
        BenchResult(cell: BenchCellID(.ipc, .pod), claim: "c", expected: .can, verdict: BenchVerdict(kind, "peer sees 0"),
                    keyFigure: "peer sees 0 segment(s)", method: "m")
    }

    static func report(_ node: String?, kernel: String = "6.1.0", _ results: [BenchResult]) -> BenchMatrixReport {
        BenchMatrixReport(host: host(node, kernel: kernel), startedAt: "2026-12-06T09:00:00Z", phaseSeconds: 1, rounds: 3,
                          totalSeconds: 10, results: results)
    }

    static func bytes(_ r: BenchMatrixReport) -> [UInt8] { Array(BenchRender.json(r).utf8) }

    @Test("Two nodes merge into a column group each; a differing verdict and disjoint ratio intervals are found and marked")
    func twoNodes() throws {
        let a = Self.report("node-a", [Self.cpu([0.95, 0.97, 0.99]), Self.ipc(.can)])
        let b = Self.report("node-b", kernel: "6.12.0", [Self.cpu([0.80, 0.82, 0.84]), Self.ipc(.notObserved),
                                                         BenchResult(cell: BenchCellID(.identity, .pod), claim: "c", expected: .can,
                                                                     verdict: BenchVerdict(.can, "r"), keyFigure: "different tokens", method: "m")])
        let m = try BenchMerge.merge(files: [("a.json", Self.bytes(a)), ("b.json", Self.bytes(b))])
        #expect(m.nodes.map(\.name) == ["node-a", "node-b"])
        #expect(m.cells == [BenchCellID(.cpu, .container), BenchCellID(.ipc, .pod), BenchCellID(.identity, .pod)])
        #expect(m.differingHostFacts == [.kernel])
        #expect(m.differences.map(\.kind) == [.verdict, .ratio])
        #expect(m.differences(BenchCellID(.ipc, .pod)) == [.verdict])
        #expect(m.differences(BenchCellID(.cpu, .container)) == [.ratio], "both can, but 95–99% and 80–84% do not overlap")
        #expect(m.differences(BenchCellID(.identity, .pod)).isEmpty, "a cell one node did not run is not a difference")
        #expect(m.differences[0].detail == "node-a can, node-b not-observed")

        let t = BenchRender.mergedTable(m)
        let lines = t.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("node-a: ") && $0.contains("*kernel 6.1.0") && $0.contains("CPU Xeon") })
        #expect(lines.contains { $0.contains("| node-a") && $0.contains("| node-b") })
        #expect(lines.contains { $0.hasPrefix("IPC") && $0.contains("*can") && $0.contains("*!not-observed") })
        #expect(lines.contains { $0.hasPrefix("CPU time") && $0.contains("~can") })
        #expect(lines.contains { $0.hasPrefix("identity") && $0.contains("(not run)") && $0.contains("can: different tokens") })
        #expect(t.contains("* ipc/pod: verdicts differ: node-a can, node-b not-observed"))
        #expect(t.contains("~ cpu/container: the victim's ratio intervals do not overlap: node-a 97% [95–99%], node-b 82% [80–84%]"))

        let md = BenchRender.mergedMarkdown(m)
        #expect(md.contains("| resource | node-a · container | node-a · pod | node-b · container | node-b · pod |"))
        #expect(md.contains("**\\*!not-observed: peer sees 0 segment(s)**"))
        #expect(md.contains("**6.12.0** *"))

        let html = BenchRender.mergedHTML(m)
        #expect(html.contains("<th class=\"node\" colspan=\"2\">node-a</th><th class=\"node\" colspan=\"2\">node-b</th>"))
        #expect(html.contains("class=\"differs\" style=\"background:") && html.contains("class=\"first apart\""))
        #expect(html.contains("class=\"fact-differs\">6.12.0"))

        let back = try JSONDecoder().decode(BenchMergedReport.self, from: Data(BenchRender.mergedJSON(m).utf8))
        #expect(back == m, "the merged JSON decodes to the same report")
    }

    @Test("Identical nodes merge with no difference, and the text says so")
    func noDifference() throws {
        let m = try BenchMerge.merge([("a.json", Self.report("a", [Self.ipc(.can)])), ("b.json", Self.report("b", [Self.ipc(.can)]))])
        #expect(m.differences.isEmpty && m.differingHostFacts.isEmpty)
        #expect(BenchRender.mergedTable(m).contains("No cell differs between the nodes"))
    }

    @Test("A report from before node names decodes; its file names its column group")
    func oldReport() throws {
        var r = Self.report(nil, [Self.ipc(.can)])
        r.host.cpuModel = nil
        let text = BenchRender.json(r)
        #expect(!text.contains("\"node\"") && !text.contains("cpuModel"), "nil facts are not written")
        let m = try BenchMerge.merge(files: [("runs/old-node.json", Array(text.utf8)), ("new.json", Self.bytes(Self.report("n1", [Self.ipc(.can)])))])
        #expect(m.nodes.map(\.name) == ["old-node", "n1"])
        #expect(m.differingHostFacts == [.cpuModel])
    }

    /// The error names the file and the field or cell, and never a byte of the file's text.
    static func refusal(_ files: [(String, String)], planted: String = "SECRET-TEXT") throws -> ConfigError {
        do {
            _ = try BenchMerge.merge(files: files.map { ($0.0, Array($0.1.utf8)) })
        } catch {
            #expect(!error.description.contains(planted), "the error shows none of the file: \(error)")
            return error
        }
        Issue.record("merged: \(files.map(\.0))")
        return ConfigError(file: "", field: "", message: "")
    }

    @Test("A cell twice in one report, one node twice, and one cell expecting two verdicts are refused, naming file and cell")
    func conflicts() throws {
        let twice = BenchRender.json(Self.report("a", [Self.ipc(.can), Self.ipc(.notObserved)]))
        let e1 = try Self.refusal([("a.json", twice), ("b.json", BenchRender.json(Self.report("b", [])))])
        #expect(e1.file == "a.json" && e1.field == "results[1]" && e1.message.contains("cell ipc/pod appears twice (first at results[0])"))

        let same = BenchRender.json(Self.report("n", [Self.ipc(.can)]))
        let e2 = try Self.refusal([("x.json", same), ("y.json", same)])
        #expect(e2.file == "y.json" && e2.field == "host.node" && e2.message.contains("the same node as x.json"))

        var other = Self.ipc(.cannot)
        other.expected = .cannot
        let e3 = try Self.refusal([("a.json", BenchRender.json(Self.report("a", [Self.ipc(.can)]))),
                                   ("b.json", BenchRender.json(Self.report("b", [Self.cpu([1]), other])))])
        #expect(e3.file == "b.json" && e3.field == "results[1]")
        #expect(e3.message.contains("cell ipc/pod expects cannot here and can in a.json"))
    }

    @Test("Malformed reports are refused with the file and the field, never their text",
          arguments: [
            ("not JSON", "SECRET-TEXT {", ""),
            ("an array", "[\"SECRET-TEXT\"]", ""),
            ("a missing field", "{\"SECRET-TEXT\": 1}", "host"),
            ("a cell that is not one", #"{"host":{"kernel":"k","cgroupMode":"v2","cpuCount":1,"bulkheadVersion":"v"},"startedAt":"s","phaseSeconds":1,"totalSeconds":1,"results":[{"cell":"SECRET-TEXT/pod"}]}"#, "results[0].cell"),
            ("a number beyond Int", #"{"host":{"kernel":"k","cgroupMode":"v2","cpuCount":1,"bulkheadVersion":"v"},"startedAt":"s","phaseSeconds":1,"totalSeconds":1e300,"results":[]}"#, "totalSeconds"),
            ("a negative CPU count", #"{"host":{"kernel":"k","cgroupMode":"v2","cpuCount":-1,"bulkheadVersion":"v"},"startedAt":"s","phaseSeconds":1,"totalSeconds":1,"results":[]}"#, "host.cpuCount"),
            ("zero rounds", #"{"host":{"kernel":"k","cgroupMode":"v2","cpuCount":1,"bulkheadVersion":"v"},"startedAt":"s","phaseSeconds":1,"rounds":0,"totalSeconds":1,"results":[]}"#, "rounds"),
            ("a node name with an escape", #"{"host":{"kernel":"k","cgroupMode":"v2","cpuCount":1,"bulkheadVersion":"v","node":"\u001b]0;SECRET-TEXT"},"startedAt":"s","phaseSeconds":1,"totalSeconds":1,"results":[]}"#, "host.node"),
          ])
    func malformed(_ what: String, _ text: String, _ field: String) throws {
        let e = try Self.refusal([("bad.json", text), ("b.json", BenchRender.json(Self.report("b", [])))])
        #expect(e.file == "bad.json", "\(what): \(e)")
        #expect(e.field == field, "\(what): \(e)")
        #expect(e.description.hasPrefix("bad.json"), "\(what): \(e)")
    }

    @Test("Measured numbers a renderer would trap on are refused: a huge value, an inverted or infinite interval")
    func hostileNumbers() throws {
        var huge = Self.cpu([1])
        huge.measurements = [BenchMeasurement("victim", .baseline, 1e300, "u"), BenchMeasurement("victim", .loaded, .nan, "u")]
        let e1 = try Self.refusal([("a.json", BenchRender.json(Self.report("a", [huge])))])
        #expect(e1.field == "results[0].measurements[0].value", "\(e1)")
        var inverted = Self.cpu([0.9, 1])
        inverted.ratio?.low = 2
        let e2 = try Self.refusal([("a.json", BenchRender.json(Self.report("a", [inverted])))])
        #expect(e2.field == "results[0].ratio.low", "\(e2)")
        var infinite = Self.cpu([0.9, 1])
        infinite.ratio?.high = .infinity
        let e3 = try Self.refusal([("a.json", BenchRender.json(Self.report("a", [infinite])))])
        #expect(e3.field == "results[0].ratio.high", "\(e3)")
        var nanOK = Self.cpu([1])
        nanOK.measurements = [BenchMeasurement("victim", .loaded, .nan, "u")]
        #expect(throws: Never.self) { try BenchMerge.merge(files: [("a.json", Self.bytes(Self.report("a", [nanOK])))]) }
    }

    @Test("A file over the size bound is refused before it is parsed; more reports than the limit are refused")
    func bounds() throws {
        let big = [UInt8](repeating: 0x20, count: BenchMerge.fileLimit + 1)
        #expect(throws: ConfigError.self) { try BenchMerge.decode(big, file: "big.json") }
        let many = (0...BenchMerge.nodeLimit).map { ("n\($0).json", Self.report("n\($0)", [])) }
        let e = try #require(throws: ConfigError.self) { try BenchMerge.merge(many) }
        #expect(e.message.contains("more than \(BenchMerge.nodeLimit) reports"))
    }

    @Test("A report's strings cannot drive the terminal: control characters and bidi overrides are replaced")
    func cleanText() throws {
        var r = Self.ipc(.can)
        r.keyFigure = "x\u{1B}[2Jy\u{202E}z"
        let m = try BenchMerge.merge([("a.json", Self.report("a", [r])), ("b.json", Self.report("b", [Self.ipc(.notObserved)]))])
        for text in [BenchRender.mergedTable(m, width: 60), BenchRender.mergedMarkdown(m)] {
            #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E })
            #expect(text.contains("x?[2Jy?z"))
        }
        var tag = Self.ipc(.notObserved)
        tag.verdict.reason = "<script>alert(1)</script>"
        tag.keyFigure = "<img src=x>"
        let h = BenchRender.mergedHTML(try BenchMerge.merge([("a.json", Self.report("a", [Self.ipc(.can)])), ("b.json", Self.report("b", [tag]))]))
        #expect(!h.contains("<script>") && !h.contains("<img") && h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "HTML escapes a report's text")
        let md = BenchRender.mergedMarkdown(try BenchMerge.merge([("a.json", Self.report("a", [Self.ipc(.can)])), ("b.json", Self.report("b", [tag]))]))
        #expect(!md.contains("<img") && md.contains("&lt;img src=x>"), "Markdown escapes a tag and keeps its table cells")
    }

    @Test("Node names are DNS-like: letters, digits, '.', '-', '_', at most 253")
    func nodeNames() {
        #expect(BenchMerge.isNodeName("ip-10-0-1-12.eu-west-1.compute.internal"))
        #expect(BenchMerge.isNodeName("node_1"))
        #expect(!BenchMerge.isNodeName(""))
        #expect(!BenchMerge.isNodeName("-a"))
        #expect(!BenchMerge.isNodeName("a b"))
        #expect(!BenchMerge.isNodeName("a|b"))
        #expect(!BenchMerge.isNodeName("nöde"))
        #expect(!BenchMerge.isNodeName(String(repeating: "a", count: 254)))
    }
}
