import BulkheadModel
import Foundation

/// `bulkhead bench merge`: the reports of several nodes (`bench --json` on each) as one matrix
/// with a column group per node, and what differs between them.
///
/// Reports are files a user passes: hostile until checked. Each is decoded as a
/// `BenchMatrixReport` from at most `fileLimit` bytes, then every number a renderer reads is
/// checked (finite and in range: `BenchFormat` converts to `Int`), one report may hold each
/// cell once, two reports may not claim the same node, and a cell must expect the same verdict
/// on every node (reports of different matrices are not merged). Errors are `ConfigError`s
/// naming the file and the field or cell, never the file's text.
public enum BenchMerge {
    /// Bytes one report may have (a full matrix with 20 rounds is well under 2 MiB).
    public static let fileLimit = 16 << 20
    /// Reports one merge takes.
    public static let nodeLimit = 64
    /// Any number a report holds is at most this, in magnitude (a value in Int's range).
    static let magnitudeLimit = 1e15
    /// A ratio (median, interval, band): at most this (a percent in Int's range).
    static let ratioLimit = 1e9
    /// Rounds, and a measurement's round index.
    static let roundLimit = 10_000

    /// A node's name, as Kubernetes spells one (a DNS subdomain, RFC 1123) or a host name:
    /// 1–253 of letters, digits, `.`, `-` and `_`, starting with a letter or digit.
    public static func isNodeName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 253 else { return false }
        func ok(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        return ok(first) && s.unicodeScalars.allSatisfy { ok($0) || $0 == "." || $0 == "-" || $0 == "_" }
    }

    // MARK: decoding one report

    /// One report from its bytes: JSON of `BenchMatrixReport`, every number checked.
    public static func decode(_ bytes: [UInt8], file: String) throws(ConfigError) -> BenchMatrixReport {
        guard bytes.count <= fileLimit else {
            throw ConfigError(file: file, field: "", message: "larger than \(fileLimit >> 20) MiB: not a bench report (bulkhead bench --json)")
        }
        let d = JSONDecoder()
        // What BenchRender.json writes for a value that is not a number.
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let report: BenchMatrixReport
        do {
            report = try d.decode(BenchMatrixReport.self, from: Data(bytes))
        } catch let e as DecodingError {
            throw ConfigError(file: file, field: fieldPath(e), message: "not a bench report (bulkhead bench --json): \(reason(e))")
        } catch {
            throw ConfigError(file: file, field: "", message: "not a bench report (bulkhead bench --json)")
        }
        try check(report, file: file)
        return report
    }

    /// The coding path of a decoding error as `results[3].verdict.kind`: the schema's field
    /// names and indices only (a report has no keys of its author's).
    static func fieldPath(_ e: DecodingError) -> String {
        let (path, key): ([any CodingKey], (any CodingKey)?)
        switch e {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): (path, key) = (c.codingPath, nil)
        case .keyNotFound(let k, let c): (path, key) = (c.codingPath, k)
        @unknown default: (path, key) = ([], nil)
        }
        var out = ""
        for k in path + (key.map { [$0] } ?? []) {
            if let i = k.intValue { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + k.stringValue }
        }
        // Only field names survive: anything else would be the file's text.
        return ConfigError.schemaPart(of: out, message: "")
    }

    /// What kind of error, in words of our own (a DecodingError's description may quote the file).
    static func reason(_ e: DecodingError) -> String {
        switch e {
        case .typeMismatch: "a value of the wrong type"
        case .valueNotFound: "a value is missing"
        case .keyNotFound: "a field is missing"
        case .dataCorrupted(let c): c.codingPath.isEmpty ? "not JSON, or not an object" : "a value that is not allowed here"
        @unknown default: "not readable"
        }
    }

    /// The checks after decoding: each cell once, and every number within what the renderers
    /// and the merge compute with.
    static func check(_ r: BenchMatrixReport, file: String) throws(ConfigError) {
        func refuse(_ field: String, _ message: String) -> ConfigError { ConfigError(file: file, field: field, message: message) }
        func finite(_ v: Double, _ field: String, _ range: ClosedRange<Double>) throws(ConfigError) {
            guard v.isFinite, range.contains(v) else { throw refuse(field, "must be a number from \(range.lowerBound) to \(range.upperBound)") }
        }
        /// A measured value may be "nan"/"inf" (a window that measured nothing): the renderers
        /// print those as "—". A finite one must fit an Int.
        func measured(_ v: Double, _ field: String) throws(ConfigError) {
            guard !v.isFinite || abs(v) <= magnitudeLimit else { throw refuse(field, "a value beyond ±\(magnitudeLimit)") }
        }
        func measurements(_ ms: [BenchMeasurement], _ field: String) throws(ConfigError) {
            for (i, m) in ms.enumerated() {
                try measured(m.value, "\(field)[\(i)].value")
                if let round = m.round, !(0..<roundLimit).contains(round) { throw refuse("\(field)[\(i)].round", "must be from 0 to \(roundLimit - 1)") }
            }
        }
        func ratio(_ q: BenchRatioSummary?, _ field: String) throws(ConfigError) {
            guard let q else { return }
            for (name, v) in [("median", q.median), ("low", q.low), ("high", q.high), ("band", q.band), ("confidence", q.confidence)] {
                try finite(v, "\(field).\(name)", -ratioLimit...ratioLimit)
            }
            for (i, v) in q.ratios.enumerated() { try measured(v, "\(field).ratios[\(i)]") }
            guard q.low <= q.high else { throw refuse("\(field).low", "the interval's low end is above its high end") }
            guard (0...roundLimit).contains(q.rounds) else { throw refuse("\(field).rounds", "must be from 0 to \(roundLimit)") }
        }
        try finite(r.phaseSeconds, "phaseSeconds", 0...magnitudeLimit)
        try finite(r.totalSeconds, "totalSeconds", 0...magnitudeLimit)
        guard (1...roundLimit).contains(r.rounds) else { throw refuse("rounds", "must be from 1 to \(roundLimit)") }
        guard (0...(1 << 24)).contains(r.host.cpuCount) else { throw refuse("host.cpuCount", "must be from 0 to \(1 << 24)") }
        if let node = r.host.node, !isNodeName(node) {
            throw refuse("host.node", "not a node name (1 to 253 letters, digits, '.', '-' or '_')")
        }
        var seen: [BenchCellID: Int] = [:]
        for (i, res) in r.results.enumerated() {
            let at = "results[\(i)]"
            if let first = seen[res.cell] {
                throw refuse(at, "cell \(res.cell) appears twice (first at results[\(first)]): a report holds each cell once")
            }
            seen[res.cell] = i
            try finite(res.seconds, "\(at).seconds", 0...magnitudeLimit)
            try measurements(res.measurements, "\(at).measurements")
            try ratio(res.ratio, "\(at).ratio")
            if let m = res.mitigation {
                try measurements(m.measurements, "\(at).mitigation.measurements")
                try ratio(m.ratio, "\(at).mitigation.ratio")
            }
        }
    }

    // MARK: merging

    /// Merges decoded reports, in the order given: one column group per report's node. The
    /// node is the report's `host.node`, else the file's name (a report from before node names).
    public static func merge(_ inputs: [(file: String, report: BenchMatrixReport)]) throws(ConfigError) -> BenchMergedReport {
        guard inputs.count >= 1 else { throw ConfigError(file: "", field: "", message: "no reports to merge") }
        guard inputs.count <= nodeLimit else {
            throw ConfigError(file: inputs[nodeLimit].file, field: "", message: "more than \(nodeLimit) reports: merge at most \(nodeLimit) nodes at once")
        }
        var nodes: [BenchNodeReport] = []
        var byName: [String: String] = [:]
        for (file, report) in inputs {
            let name = report.host.node ?? fileLabel(file)
            guard isNodeName(name) else {
                throw ConfigError(file: file, field: "host.node", message: "the report names no node and its file name is not one: run bench with --node-name, or rename the file")
            }
            if let other = byName[name] {
                throw ConfigError(file: file, field: "host.node", message: "the same node as \(other): one report per node (run bench with --node-name to tell two runs apart)")
            }
            byName[name] = file
            nodes.append(BenchNodeReport(name: name, source: file, report: report))
        }
        // One matrix: a cell expects the same verdict on every node.
        var expected: [BenchCellID: (BenchVerdictKind, String)] = [:]
        for n in nodes {
            for (i, res) in n.report.results.enumerated() {
                if let (kind, file) = expected[res.cell], kind != res.expected {
                    throw ConfigError(file: n.source, field: "results[\(i)]",
                                      message: "cell \(res.cell) expects \(res.expected.rawValue) here and \(kind.rawValue) in \(file): reports of different matrices (bulkhead versions) are not merged")
                }
                expected[res.cell] = expected[res.cell] ?? (res.expected, n.source)
            }
        }
        return BenchMergedReport(nodes: nodes)
    }

    /// Decodes and merges files read by the caller: (the path as given, its bytes).
    public static func merge(files: [(file: String, bytes: [UInt8])]) throws(ConfigError) -> BenchMergedReport {
        var reports: [(file: String, report: BenchMatrixReport)] = []
        for f in files.prefix(nodeLimit + 1) { reports.append((f.file, try decode(f.bytes, file: f.file))) }
        return try merge(reports)
    }

    /// `nodes/a.json` → `a`.
    static func fileLabel(_ file: String) -> String {
        var base = Substring(file.split(separator: "/").last ?? Substring(file))
        if base.hasSuffix(".json") { base = base.dropLast(5) }
        return String(base)
    }
}

/// One node's report in a merged matrix.
public struct BenchNodeReport: Codable, Sendable, Equatable {
    /// The column group's name: the report's node, else its file's name.
    public var name: String
    /// The file it was read from, as given.
    public var source: String
    public var report: BenchMatrixReport

    public init(name: String, source: String, report: BenchMatrixReport) {
        self.name = name; self.source = source; self.report = report
    }
}

/// What differs between nodes in one cell.
public enum BenchDifferenceKind: String, Codable, Sendable {
    /// The nodes that ran the cell did not all reach the same verdict.
    case verdict
    /// Two nodes' intervals of the victim's ratio do not overlap: the cell measured
    /// differently, whatever the verdicts.
    case ratio
}

/// A cell that differs between nodes, and how.
public struct BenchNodeDifference: Codable, Sendable, Equatable {
    public var cell: BenchCellID
    public var kind: BenchDifferenceKind
    /// The nodes involved: every node that ran the cell (verdict), or the first pair whose
    /// intervals are apart (ratio).
    public var nodes: [String]
    /// "node-a can, node-b not-observed" / "node-a 96% [91–101%], node-b 70% [65–75%]".
    public var detail: String

    public init(cell: BenchCellID, kind: BenchDifferenceKind, nodes: [String], detail: String) {
        self.cell = cell; self.kind = kind; self.nodes = nodes; self.detail = detail
    }
}

/// A host fact `bench merge` compares between nodes.
public enum BenchHostFact: String, Codable, Sendable, CaseIterable {
    case kernel, cgroupMode, cpuModel, cpuCount, memoryBytes, bulkheadVersion

    /// The fact of one node, as text ("" where the report has none).
    public func value(_ h: BenchHostFacts) -> String {
        switch self {
        case .kernel: h.kernel
        case .cgroupMode: h.cgroupMode
        case .cpuModel: h.cpuModel ?? ""
        case .cpuCount: String(h.cpuCount)
        case .memoryBytes: h.memoryBytes.map { "\($0 >> 20) MiB" } ?? ""
        case .bulkheadVersion: h.bulkheadVersion
        }
    }

    public var title: String {
        switch self {
        case .kernel: "kernel"
        case .cgroupMode: "cgroups"
        case .cpuModel: "CPU"
        case .cpuCount: "CPUs"
        case .memoryBytes: "memory"
        case .bulkheadVersion: "bulkhead"
        }
    }
}

/// The merged matrix: every node's report whole, the cells of any of them in the matrix's
/// order, and what differs. `bench merge --json` writes it; the renderers read it.
public struct BenchMergedReport: Codable, Sendable, Equatable {
    /// One per column group, in the order the files were given.
    public var nodes: [BenchNodeReport]
    /// Every cell some node ran, in the matrix's order.
    public var cells: [BenchCellID]
    /// The cells that differ between nodes: verdicts first, then ratios, in the matrix's order.
    public var differences: [BenchNodeDifference]
    /// The host facts that are not the same on every node.
    public var differingHostFacts: [BenchHostFact]

    /// Computes the matrix and its differences from checked reports (`BenchMerge.merge`).
    public init(nodes: [BenchNodeReport]) {
        self.nodes = nodes
        cells = Set(nodes.flatMap { $0.report.results.map(\.cell) }).sorted()
        differingHostFacts = BenchHostFact.allCases.filter { f in Set(nodes.map { f.value($0.report.host) }).count > 1 }
        var verdicts: [BenchNodeDifference] = [], ratios: [BenchNodeDifference] = []
        for cell in cells {
            let ran = nodes.compactMap { n in n.report.result(cell).map { (n.name, $0) } }
            if Set(ran.map(\.1.verdict.kind)).count > 1 {
                verdicts.append(BenchNodeDifference(cell: cell, kind: .verdict, nodes: ran.map(\.0),
                                                    detail: ran.map { "\($0.0) \($0.1.verdict.kind.rawValue)" }.joined(separator: ", ")))
            }
            if let (a, b) = Self.apart(ran.compactMap { n in n.1.ratio.map { (n.0, $0) } }) {
                ratios.append(BenchNodeDifference(cell: cell, kind: .ratio, nodes: [a.0, b.0],
                                                  detail: "\(a.0) \(a.1.text), \(b.0) \(b.1.text)"))
            }
        }
        differences = verdicts + ratios
    }

    /// The first pair of nodes whose ratio intervals (of the same metric and phase) do not overlap.
    static func apart(_ ratios: [(String, BenchRatioSummary)]) -> ((String, BenchRatioSummary), (String, BenchRatioSummary))? {
        for i in ratios.indices {
            for j in ratios.indices where j > i {
                let a = ratios[i].1, b = ratios[j].1
                guard a.metric == b.metric, a.phase == b.phase else { continue }
                if a.high < b.low || b.high < a.low { return (ratios[i], ratios[j]) }
            }
        }
        return nil
    }

    /// The result of `cell` on node number `node`, if that node ran it.
    public func result(_ cell: BenchCellID, node: Int) -> BenchResult? {
        nodes.indices.contains(node) ? nodes[node].report.result(cell) : nil
    }

    /// How `cell` differs between nodes (empty: it does not).
    public func differences(_ cell: BenchCellID) -> [BenchDifferenceKind] {
        differences.filter { $0.cell == cell }.map(\.kind)
    }
}
