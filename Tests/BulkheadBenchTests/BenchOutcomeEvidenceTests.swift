@testable import BulkheadBench
import BulkheadConfig
import BulkheadModel
import Testing

/// What a cell's result keeps of its run when its verdict is rewritten on the way out
/// (`BenchOutcome.concluded`, applied by `BenchExperiment.run` and `Mitigations.run`).
struct BenchOutcomeEvidenceTests {
    /// A synthetic cell that launches nothing: its body records a launch failure, as
    /// `BenchContext.launch` does for a process that exits non-zero, and returns `verdict` over
    /// a ratio of the given rounds.
    static func experiment(_ kind: BenchVerdictKind, ratios: [Double]) -> BenchExperiment {
        var e = BenchExperiment(.cpu, .pod, expect: .can, claim: "synthetic", method: "synthetic") { ctx in
            ctx.failures.append("victim pod exited 1: synthetic launch failure")
            let q = BenchRatioSummary(metric: "victim rate", phase: .contained, ratios: ratios, band: 0.7, side: .atLeast)
            return BenchOutcome(verdict: BenchVerdict(kind, "synthetic: \(kind.rawValue)"), keyFigure: "victim ?", ratio: q)
        }
        e.runsWorkloads = false
        return e
    }

    @Test("A not-observed resting on one round of three becomes inconclusive and keeps the run's launch failures in its evidence")
    func failuresSurviveTheInconclusive() throws {
        let ctx = try BenchContext(binary: "/bin/false", phaseSeconds: 1, rounds: 3)
        defer { ctx.close() }
        let r = Self.experiment(.notObserved, ratios: [1.0]).run(ctx)
        #expect(r.verdict.kind == .inconclusive, "\(r.verdict.reason)")
        #expect(r.verdict.reason.hasPrefix("only 1 of 3 rounds gave a ratio"), "\(r.verdict.reason)")
        #expect(r.evidence.contains("victim pod exited 1: synthetic launch failure"), "\(r.evidence)")
        // Its rounds all there, a not-observed stands and keeps them too; a can keeps none (it
        // observed what it claims, and a failure of another process is not its evidence).
        let all = Self.experiment(.notObserved, ratios: [1.0, 1.1, 0.95]).run(ctx)
        #expect(all.verdict.kind == .notObserved && all.evidence.contains("victim pod exited 1: synthetic launch failure"), "\(all.evidence)")
        let can = Self.experiment(.can, ratios: [1.0, 1.1, 0.95]).run(ctx)
        #expect(can.verdict.kind == .can && !can.evidence.contains { $0.contains("synthetic launch failure") }, "\(can.evidence)")
    }
}
