import ArgumentParser
import Bulkhead
import BulkheadBench
import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Prove the isolation matrix: one victim/aggressor experiment per cell, with a verdict and its evidence.",
        discussion: """
        Each experiment runs pods and sandboxes of this bulkhead binary inside an outer cgroup \
        (768 MiB, 1024 tasks) that is removed afterwards. Needs root (cgroups, uid ranges).
        Cells: RESOURCE/LAYER, e.g. memory/pod; a RESOURCE alone selects its row. See docs/bench.md.
        Rounds: ratio cells (a victim's rate alone against next to the aggressor) run --rounds interleaved \
        rounds of windows and are judged on the 95% bootstrap interval of the median ratio: an \
        interval across the cell's band is "inconclusive", which never counts as a pass.
        Exit status: 0 when every cell that ran confirms the matrix's claim, 1 otherwise \
        (an inconclusive cell does not confirm it).
        """,
        subcommands: [BenchMergeCommand.self]
    )

    @Option(help: ArgumentHelp("Only this layer's column.", valueName: "container|pod|namespace|node|cluster"))
    var layer: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these cells (RESOURCE/LAYER or RESOURCE).", valueName: "CELL"))
    var only: [String] = []

    @Option(help: ArgumentHelp("Seconds of each measured window (0.5-30).", valueName: "S"))
    var duration: Double = BenchDefaults.windowSeconds

    @Option(help: ArgumentHelp("Interleaved rounds of baseline and loaded windows per ratio cell (1-20).", valueName: "N"))
    var rounds: Int = BenchDefaults.rounds

    @Flag(help: "One round per cell (--rounds 1): a single sample, no interval.")
    var quick = false

    @Option(help: ArgumentHelp("Write every cell with its measurements and the host's facts as JSON.", valueName: "FILE"))
    var json: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML report with a chart per experiment.", valueName: "FILE"))
    var html: String?

    @Option(help: ArgumentHelp("The node's name in the report (default: the host name); `bench merge` makes a column group per node.", valueName: "NAME"))
    var nodeName: String?

    @Flag(help: "List the cells and exit.")
    var list = false

    @Flag(help: "Boot the VM lane (Tests/vm, QEMU) for the node cells that need a kernel of their own.")
    var vm = false

    @Option(help: ArgumentHelp("The statically linked bulkhead the VM runs (default: BULKHEAD_VM_BULKHEAD, else this binary).", valueName: "PATH"))
    var vmBulkhead: String?

    func validate() throws {
        if let layer, BenchLayer(rawValue: layer) == nil { throw ValidationError("--layer: one of container, pod, namespace, node, cluster") }
        if !(0.5...30).contains(duration) { throw ValidationError("--duration: between 0.5 and 30 seconds") }
        if !(1...20).contains(rounds) { throw ValidationError("--rounds: between 1 and 20") }
        if vmBulkhead != nil && !vm { throw ValidationError("--vm-bulkhead: only with --vm") }
        if let nodeName, !BenchMerge.isNodeName(nodeName) { throw ValidationError("--node-name: 1 to 253 letters, digits, '.', '-' or '_', starting with a letter or digit") }
    }

    func run() throws {
        let cells: [BenchCellID]
        let named: Set<BenchCellID>
        do {
            cells = try BenchCatalogue.select(layer: layer.flatMap(BenchLayer.init(rawValue:)), only: only)
            named = try BenchCatalogue.named(only)
        } catch {
            warn(error.description); throw ExitCode(2)
        }
        if list {
            // The cluster column's cells are plans: with --layer cluster, each comes with it.
            let plans = layer == BenchLayer.cluster.rawValue
            out(cells.map { c in plans ? "\(c)\n  " + (BenchCatalogue.method(of: c) ?? "") : c.description }.joined(separator: "\n") + "\n")
            return
        }
        if geteuid() != 0 { warn("bench needs root: it creates cgroups and maps uid ranges"); throw ExitCode(2) }
        let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var vmOptions: BenchVM.Options?
        if vm {
            do { vmOptions = try BenchVM.preflight(bulkhead: vmBulkhead, running: binary) } catch { warn(error.description); throw ExitCode(2) }
        }
        let context: BenchContext
        do { context = try BenchContext(binary: binary, phaseSeconds: duration, rounds: quick ? 1 : rounds, vm: vmOptions) } catch { warn(error.description); throw ExitCode(2) }
        defer { context.close() }
        let terminal = isatty(2) == 1
        if vm, !BenchCatalogue.vmScenarios(cells).isEmpty {
            warn("booting the VM lane for \(BenchCatalogue.vmScenarios(cells).joined(separator: ", ")) (about a minute, at most \(vmOptions?.timeoutSeconds ?? 0) s)")
        }
        var index = 0
        var report = BenchCatalogue.run(cells, named: named, context: context) { cell, result in
            guard let result else {
                index += 1
                if terminal { warnRaw("bulkhead: [\(index)/\(cells.count)] \(cell) …") }
                return
            }
            let line = "[\(index)/\(cells.count)] \(cell): \(BenchRender.cellText(result)) (\(BenchFormat.value(result.seconds, "s"))\(result.launches.map { $0 > 0 ? ", \($0) launched" : "" } ?? ""))"
            if terminal { warnRaw("\r\u{1B}[K" + "bulkhead: " + line + "\n") } else { warn(line) }
        }
        if let nodeName { report.host.node = nodeName }
        out(BenchRender.table(report))
        if let json { try writeFile(json, BenchRender.json(report) + "\n") }
        if let html { try writeFile(html, BenchRender.html(report)) }
        let ran = report.results.filter { $0.verdict.kind != .skipped && $0.verdict.kind != .blocked && $0.verdict.kind != .planned }
        if !ran.allSatisfy(\.confirmsClaim) { throw ExitCode(1) }
    }

    func writeFile(_ path: String, _ text: String) throws {
        guard OutputFile.write(text, to: path) else {
            warn("cannot write \(path)"); throw ExitCode(2)
        }
    }
}

/// `bulkhead bench merge`: several nodes' `bench --json` reports as one matrix, a column group
/// per node, with what differs between them marked. Reads the files through `TrustedFile`
/// (owner, mode, type, size); the checks of their content are `BenchMerge`'s.
struct BenchMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge the JSON reports of several nodes into one matrix with a column group per node.",
        discussion: """
        Each REPORT is the file `bulkhead bench --json FILE` wrote on one node (see docs/bench-on-nodes.md). \
        The node is the report's own (`bench --node-name`, else the host name); a report without one \
        is named by its file. Marked: * a cell whose verdict differs between nodes, ~ one whose victim \
        ratio intervals do not overlap. Exit status: 0 when merged, 2 when a report cannot be read or merged.
        """
    )

    @Argument(help: ArgumentHelp("The nodes' reports (bench --json), in column order.", valueName: "REPORT"))
    var reports: [String] = []

    // --json and --html take a FILE, as `bench`'s own do. ArgumentParser gives an option that
    // the parent has too to the parent, even after the subcommand's name: `parse` below parses
    // `bench merge …` with this command alone, as `parseRunFast` does for `run`.
    @Option(help: ArgumentHelp("Write the merged report (every node's report whole, and what differs) as JSON.", valueName: "FILE"))
    var json: String?

    @Option(help: ArgumentHelp("Write the merged matrix as a self-contained HTML page.", valueName: "FILE"))
    var html: String?

    @Flag(help: "Print the merged matrix as Markdown instead of the table.")
    var markdown = false

    /// `bulkhead bench merge ARGS` parsed with this command as the root, or nil: anything that
    /// does not parse cleanly (an error, --help) goes through the whole tree, so messages and
    /// usage lines are the tree's.
    static func parse() -> ParsableCommand? {
        let args = Array(CommandLine.arguments.dropFirst())
        guard args.count >= 2, args[0] == BenchCommand.configuration.commandName, args[1] == configuration.commandName else { return nil }
        return (try? parseAsRoot(Array(args.dropFirst(2)))) as? BenchMergeCommand
    }

    func validate() throws {
        if reports.isEmpty { throw ValidationError("give the reports to merge: bulkhead bench merge A.json B.json …") }
        if reports.count > BenchMerge.nodeLimit { throw ValidationError("at most \(BenchMerge.nodeLimit) reports") }
    }

    func run() throws {
        var files: [(file: String, bytes: [UInt8])] = []
        for path in reports {
            do {
                files.append((path, try TrustedFile.read(path, what: "bench report", limit: BenchMerge.fileLimit).bytes))
            } catch {
                warn(String(describing: error)); throw ExitCode(2)
            }
        }
        let merged: BenchMergedReport
        do { merged = try BenchMerge.merge(files: files) } catch { warn(String(describing: error)); throw ExitCode(2) }
        out(markdown ? BenchRender.mergedMarkdown(merged) : BenchRender.mergedTable(merged))
        for (path, text) in [(json, BenchRender.mergedJSON(merged) + "\n"), (html, BenchRender.mergedHTML(merged))] {
            if let path, !OutputFile.write(text, to: path) { warn("cannot write \(path)"); throw ExitCode(2) }
        }
    }
}

/// Writes to standard error as is (progress lines that redraw themselves).
func warnRaw(_ text: String) {
    var t = text
    t.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
}
