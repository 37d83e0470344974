@testable import BulkheadBench
import BulkheadConfig
import BulkheadModel
import Testing

/// The bench's re-measure rules (issue 18's adaptive rounds) as `BenchCatalogue.run` applies
/// them, on synthetic experiments: scripted runs of a cell and of its control, judged by the
/// verdict functions the experiments use. MatrixTests meets these paths only when a real cell
/// happens to be undecided; here each is reached on purpose.
struct BenchCellMeasureTests {
    static let network = BenchCellID(.networkBandwidth, .namespace)
    static let fds = BenchCellID(.fileDescriptors, .pod)
    static let cpu = BenchCellID(.cpu, .pod)

    /// A ratio cell's run of `rounds` rounds: per round a baseline window of 100 and a loaded
    /// (a "cannot") or contained (a "can") window of `victim(round)`, every window kept with its
    /// round, judged against `band` as the experiments judge (judgeSlowdown, judgeCan), with the
    /// judgement a second run's rounds may be pooled with (`contained`: what this run showed of
    /// its aggressor; `judged: false`, a cell decided otherwise, which a second run replaces).
    static func cell(_ id: BenchCellID, _ expected: BenchVerdictKind, rounds: Int, band: Double, seconds: Double = 10,
                     contained: Bool = true, judged: Bool = true, _ victim: (Int) -> Double) -> BenchJudged<BenchResult> {
        let phase: BenchPhase = expected == .can ? .contained : .loaded
        var windows: [BenchMeasurement] = []
        for r in 0..<rounds {
            windows.append(BenchMeasurement("victim rate", .baseline, 100, "ops/s", round: r))
            windows.append(BenchMeasurement("victim rate", phase, victim(r), "ops/s", round: r))
        }
        let q = BenchRatioSummary(metric: "victim rate", phase: phase, ratios: (0..<rounds).map { victim($0) / 100 }, band: band,
                                  side: expected == .can ? .atLeast : .atMost)
        let judge: BenchJudge = { q in
            let verdict = expected == .can
                ? BenchVerdict.judgeCan(summary: q, contained: contained,
                                        containment: contained ? "the synthetic hog was contained" : "the synthetic hog ran past its limit")
                : BenchVerdict.judgeSlowdown(summary: q, what: "synthetic victim next to its aggressor")
            return BenchJudgement(verdict: verdict, keyFigure: "victim \(q?.text ?? "?")", shown: q)
        }
        let j = judge(q)
        return BenchJudged(result: BenchResult(cell: id, claim: "synthetic", expected: expected, verdict: j.verdict, keyFigure: j.keyFigure,
                                               method: "synthetic windows", measurements: windows, chartMetric: "victim rate", ratio: q, seconds: seconds),
                           judged: judged ? (q, judge) : nil)
    }

    /// A control's run of `rounds` rounds: the victim's contained windows over `baseline`'s
    /// baseline windows (the cell's own, for a control measured in its run), holding at `band`
    /// or above (judgeCan, as Mitigations.roundsOutcome), with its judgement.
    static func control(rounds: Int, band: Double = 0.8, sharing baseline: BenchResult? = nil, _ victim: (Int) -> Double) -> BenchJudged<BenchMitigation> {
        let base = baseline.map { $0.measurements.filter { $0.phase == .baseline } }
            ?? (0..<rounds).map { BenchMeasurement("victim rate", .baseline, 100, "ops/s", round: $0) }
        let windows = base + (0..<rounds).map { BenchMeasurement("victim rate", .contained, victim($0), "ops/s", round: $0) }
        let q = BenchRatioSummary(metric: "victim rate", phase: .contained, ratios: (0..<rounds).map { victim($0) / 100 }, band: band, side: .atLeast)
        let judge: BenchJudge = { q in
            BenchJudgement(verdict: BenchVerdict.judgeCan(summary: q, contained: true, containment: "the control was in place"),
                           keyFigure: "victim \(q?.text ?? "?")", shown: q)
        }
        let j = judge(q)
        return BenchJudged(result: BenchMitigation(control: "synthetic control", verdict: j.verdict, keyFigure: j.keyFigure, method: "synthetic",
                                                   measurements: windows, evidence: ["measured in the cell's run: its baseline windows are the cell's"],
                                                   ratio: q, seconds: 3),
                           judged: (q, judge))
    }

    /// The network cell undecided in its first run (40%, 60%, 90% against 80%) and a cannot
    /// at 40% in every round of its second.
    static func networkCellUndecidedOnce(run: Int, rounds: Int) -> BenchJudged<BenchResult> {
        run == 1 ? cell(network, .cannot, rounds: 3, band: 0.8) { [40, 60, 90][$0] }
                 : cell(network, .cannot, rounds: rounds, band: 0.8) { _ in 40 }
    }

    /// Rounds of 60%, 80%, 100%, repeated: their interval straddles an 80% band at any count.
    static func undecided(_ round: Int) -> Double { [60, 80, 100][round % 3] }

    /// A control whose run did not decide (one round cannot: its interval is a point).
    static func inconclusiveControl() -> BenchJudged<BenchMitigation> {
        BenchJudged(result: BenchMitigation(control: "synthetic control", verdict: BenchVerdict(.inconclusive, "synthetic: the interval straddles its band"),
                                            keyFigure: "victim ?", method: "synthetic"), judged: nil)
    }

    /// The baseline windows, "round:value".
    static func baseline(_ ms: [BenchMeasurement]) -> [String] {
        ms.filter { $0.phase == .baseline }.map { "\($0.round ?? -1):\($0.value)" }
    }

    // MARK: the cell

    @Test("An inconclusive cell is measured again with as many rounds and one more, judged on the rounds of both runs: every window kept, both runs' seconds, the first verdict in its evidence")
    func inconclusiveCellIsMeasuredAgain() throws {
        var asked: [Int] = []
        // 3 rounds of 70%, 95%, 100% straddle an 80% band; four more of 95-98% decide it.
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            asked.append(n)
            return asked.count == 1 ? Self.cell(Self.cpu, .can, rounds: 3, band: 0.8, seconds: 8) { [70, 95, 100][$0] }
                                    : Self.cell(Self.cpu, .can, rounds: n, band: 0.8, seconds: 7) { 95 + Double($0) }
        }, control: { _ in Issue.record("a can has no control"); return nil })
        #expect(asked == [3, 4], "one run of 3 rounds, then 4 more: \(asked)")
        #expect(r.verdict.kind == .can && r.confirmsClaim, "\(r.verdict.reason)")
        let q = try #require(r.ratio)
        #expect(q.rounds == 7 && q.ratios == [0.7, 0.95, 1.0, 0.95, 0.96, 0.97, 0.98], "the interval is both runs' rounds: \(q.ratios)")
        #expect(r.verdict.reason.contains("median of 7 rounds") && r.keyFigure == "victim \(q.text)", "\(r.verdict.reason); \(r.keyFigure)")
        // Every window of both runs, the second run's rounds after the first's.
        #expect(Set(r.measurements.compactMap(\.round)) == Set(0..<7), "\(r.measurements.compactMap(\.round))")
        #expect(r.measurements.first { $0.round == 3 && $0.phase == .contained }?.value == 95, "round 0 of the second run is round 3")
        #expect(r.seconds == 15, "both runs' seconds: \(r.seconds)")
        let note = try #require(r.evidence.first)
        #expect(note.hasPrefix("measured again with 4 more rounds, judged on the 7 rounds of both runs that gave a ratio") && note.contains("straddles the 80% band"), "\(note)")
        #expect(r.mitigation == nil)
    }

    @Test("One wild round: the first look of 3 straddles, 6 pooled rounds still do, 7 decide (why the second run has one more round)")
    func oneWildRound() throws {
        let rounds: [Double] = [0.72, 0.85, 0.86, 0.84, 0.85, 0.87, 0.86]
        let six = try #require(BenchRatioSummary(metric: "v", phase: .contained, ratios: Array(rounds.prefix(6)), band: 0.8, side: .atLeast))
        let seven = try #require(BenchRatioSummary(metric: "v", phase: .contained, ratios: rounds, band: 0.8, side: .atLeast))
        #expect(six.position == .straddles && seven.position == .confirms, "6: \(six.text), 7: \(seven.text)")
        #expect(BenchRemeasure.extraRounds(after: 3, pooling: true) == 4)
    }

    @Test("Pooled rounds are a finding only where both runs showed their condition: a hog contained in the first run and not in the second gives no can")
    func pooledNeedsBothRunsConditions() throws {
        for secondContained in [true, false] {
            var runs = 0
            let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
                runs += 1
                return runs == 1 ? Self.cell(Self.cpu, .can, rounds: 3, band: 0.8) { [70, 95, 100][$0] }
                                 : Self.cell(Self.cpu, .can, rounds: n, band: 0.8, contained: secondContained) { 95 + Double($0) }
            }, control: { _ in nil })
            #expect(runs == 2 && r.ratio?.rounds == 7, "the pooled interval is shown either way: \(String(describing: r.ratio))")
            if secondContained {
                #expect(r.verdict.kind == .can, "both runs contained: \(r.verdict.reason)")
            } else {
                #expect(r.verdict.kind == .notObserved && !r.confirmsClaim && r.verdict.reason.contains("ran past its limit"), "\(r.verdict.reason)")
            }
        }
    }

    @Test("A pooled result keeps the first run's evidence and its figures of the run as a whole, marked as the first run's")
    func firstRunsEvidenceIsKept() throws {
        var runs = 0
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            runs += 1
            var run = runs == 1 ? Self.cell(Self.cpu, .can, rounds: 3, band: 0.8) { [70, 95, 100][$0] }
                                : Self.cell(Self.cpu, .can, rounds: n, band: 0.8) { 95 + Double($0) }
            run.result.evidence = ["window v_r1_contained began 0.3 s late (run \(runs))"]
            run.result.measurements.append(BenchMeasurement("hog CPU share", .evidence, runs == 1 ? 0.41 : 0.5, "CPU"))
            return run
        }, control: { _ in nil })
        #expect(r.evidence.count == 3 && r.evidence[1] == "window v_r1_contained began 0.3 s late (run 2)"
                && r.evidence[2] == "first run: window v_r1_contained began 0.3 s late (run 1)", "\(r.evidence)")
        #expect(r.value("hog CPU share", .evidence) == 0.5 && r.value("hog CPU share (first run)", .evidence) == 0.41,
                "a run's own figure is never a median of two runs': \(r.measurements.filter { $0.round == nil })")
    }

    @Test("A second run that gives no ratio leaves the first run's rounds and verdict standing, its failure in the evidence")
    func secondRunWithoutARatio() throws {
        var runs = 0
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            runs += 1
            if runs == 1 { return Self.cell(Self.cpu, .can, rounds: 3, band: 0.8, seconds: 8, Self.undecided) }
            let judge: BenchJudge = { q in BenchJudgement(verdict: BenchVerdict.judgeCan(summary: q, contained: true, containment: "x"), keyFigure: "victim ?", shown: q) }
            return BenchJudged(result: BenchResult(cell: Self.cpu, claim: "synthetic", expected: .can,
                                                   verdict: BenchVerdict(.notObserved, "the victim reported no measurement"), keyFigure: "victim ?",
                                                   method: "synthetic",
                                                   measurements: [BenchMeasurement("victim rate", .baseline, 100, "ops/s", round: 0),
                                                                  BenchMeasurement("hog CPU share", .evidence, 0.1, "CPU")],
                                                   evidence: ["pod victim exited 1"], seconds: 5),
                               judged: (nil, judge))
        }, control: { _ in nil })
        #expect(runs == 2 && r.verdict.kind == .inconclusive && r.ratio?.rounds == 3 && r.seconds == 13, "\(r.verdict.reason)")
        #expect(r.measurements.contains { $0.round == 3 && $0.phase == .baseline } && !r.measurements.contains { $0.name.hasPrefix("hog CPU share") },
                "the second run's window after the first's; its figure of the run as a whole is not the result's: \(r.measurements.filter { $0.round == nil || $0.round == 3 })")
        #expect(r.evidence.first?.hasPrefix("measured again with 4 more rounds, which gave no ratio (victim ?: not-observed: the victim reported no measurement)") == true
                && r.evidence.contains("second run: pod victim exited 1"), "\(r.evidence)")
    }

    @Test("A first run whose hog was not contained is named even when the pooled interval straddles")
    func firstRunsFailedConditionIsNamed() throws {
        var runs = 0
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            runs += 1
            guard runs > 1 else {
                // One round of three gave a ratio (as BenchExperiment.run concludes it: inconclusive).
                var one = Self.cell(Self.cpu, .can, rounds: 1, band: 0.7, contained: false) { _ in 75 }
                one.result.verdict = one.result.verdict.requiringInterval(one.result.ratio, asked: 3)
                return one
            }
            return Self.cell(Self.cpu, .can, rounds: n, band: 0.7) { [60, 80, 95][$0 % 3] }
        }, control: { _ in nil })
        #expect(r.verdict.kind == .notObserved && r.verdict.reason.contains("ran past its limit"), "\(r.verdict.kind): \(r.verdict.reason)")
    }

    @Test("A cell whose judgement cannot take a second run's rounds is measured again with twice the rounds, that run replacing the first")
    func unjudgedCellIsReplaced() throws {
        var asked: [Int] = []
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            asked.append(n)
            return n == 3 ? Self.cell(Self.cpu, .can, rounds: 3, band: 0.8, seconds: 8, judged: false, Self.undecided)
                          : Self.cell(Self.cpu, .can, rounds: n, band: 0.8, seconds: 15, judged: false) { _ in 95 }
        }, control: { _ in nil })
        #expect(asked == [3, 6], "\(asked)")
        #expect(r.verdict.kind == .can && r.ratio?.rounds == 6 && r.seconds == 23, "\(r.verdict.reason)")
        #expect(Set(r.measurements.compactMap(\.round)) == Set(0..<6) && r.measurements.filter { $0.round == 0 && $0.phase == .contained }.count == 1,
                "the second run's windows only")
        let note = try #require(r.evidence.first)
        #expect(note.hasPrefix("measured again with 6 rounds: with 3 the verdict was inconclusive"), "\(note)")
    }

    @Test("A cell inconclusive twice stays inconclusive: no third run, never a pass")
    func inconclusiveTwiceStaysInconclusive() throws {
        var asked: [Int] = []
        let can = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            asked.append(n)
            return Self.cell(Self.cpu, .can, rounds: n, band: 0.8, Self.undecided)
        }, control: { _ in nil })
        #expect(asked == [3, 4] && can.verdict.kind == .inconclusive && !can.confirmsClaim, "\(asked): \(can.verdict.kind)")
        #expect(can.ratio?.rounds == 7)
    }

    // MARK: the control

    @Test("A control that alone was inconclusive is not measured again, of its own run or of the cell's: its inconclusive stands, never a pass, and the decided cell is not run again")
    func undecidedControlStands() throws {
        for placed in [BenchCellMeasure.Control.ownRun, .inCellRun] {
            var cellAsked: [Int] = [], controlAsked: [Int] = []
            var left: BenchJudged<BenchMitigation>?
            let r = BenchCellMeasure(rounds: 3, control: placed).result(cell: { n in
                cellAsked.append(n)
                let run = Self.cell(Self.network, .cannot, rounds: n, band: 0.8, seconds: 19) { [70, 68, 72][$0] }
                left = Self.control(rounds: n, sharing: run.result) { [82, 79, 95][$0] }
                return run
            }, control: { n in
                controlAsked.append(n)
                return left
            })
            #expect(cellAsked == [3] && controlAsked == [3], "\(placed): cell \(cellAsked), control \(controlAsked)")
            #expect(r.verdict.kind == .cannot && r.ratio?.rounds == 3 && r.seconds == 19 && r.evidence.isEmpty, "the cell's one run stands")
            let m = try #require(r.mitigation)
            #expect(m.verdict.kind == .inconclusive && !m.holds && m.ratio?.rounds == 3, "\(m.verdict.reason)")
            #expect(!m.evidence.contains { $0.hasPrefix("measured again") }, "\(m.evidence)")
        }
    }

    @Test("A control measured in the cell's run is read again after its cell's re-measure, once, pooled as the cell")
    func inCellControlAfterTheCellsOwnRemeasure() throws {
        var cellAsked: [Int] = []
        var left: BenchJudged<BenchMitigation>?
        let r = BenchCellMeasure(rounds: 3, control: .inCellRun).result(cell: { n in
            cellAsked.append(n)
            let run = cellAsked.count == 1 ? Self.cell(Self.network, .cannot, rounds: 3, band: 0.8) { [40, 60, 90][$0] }
                                           : Self.cell(Self.network, .cannot, rounds: n, band: 0.8) { _ in 40 }
            left = Self.control(rounds: n, sharing: run.result, Self.undecided)
            return run
        }, control: { _ in left })
        #expect(cellAsked == [3, 4], "\(cellAsked)")
        #expect(r.verdict.kind == .cannot && r.ratio?.rounds == 7, "\(r.verdict.reason)")
        let m = try #require(r.mitigation)
        #expect(m.verdict.kind == .inconclusive && m.ratio?.rounds == 7 && !m.holds, "\(m.verdict.reason)")
        #expect(m.evidence.filter { $0.hasPrefix("measured again") }.count == 1, "one second run, the cell's: \(m.evidence)")
    }

    @Test("A control decided in the cell's first run, read again after the cell's re-measure, says what it was and why it ran again")
    func inCellControlDecidedFirstKeepsItsKind() throws {
        var runs = 0
        var left: BenchJudged<BenchMitigation>?
        let r = BenchCellMeasure(rounds: 3, control: .inCellRun).result(cell: { n in
            runs += 1
            let run = Self.networkCellUndecidedOnce(run: runs, rounds: n)
            left = Self.control(rounds: n, sharing: run.result) { _ in 95 }
            return run
        }, control: { _ in left })
        let m = try #require(r.mitigation)
        let note = try #require(m.evidence.first)
        #expect(m.verdict.kind == .can && m.ratio?.rounds == 7)
        #expect(!note.contains("the verdict was inconclusive") && note.contains("the cell's verdict was inconclusive") && note.contains("own was can"), "\(note)")
    }

    @Test("An in-cell control whose first run gave no ratio keeps the cell's round numbers: its windows are the second run's, after the first's")
    func inCellControlWindowsFollowTheCellsRounds() throws {
        var runs = 0
        var left: BenchJudged<BenchMitigation>?
        let r = BenchCellMeasure(rounds: 3, control: .inCellRun).result(cell: { n in
            runs += 1
            let run = Self.networkCellUndecidedOnce(run: runs, rounds: n)
            let c = Self.control(rounds: n, sharing: run.result) { _ in 95 }
            left = runs > 1 ? c : BenchJudged(result: BenchMitigation(control: c.result.control, verdict: BenchVerdict(.notMeasurable, "no judged round"),
                                                                      keyFigure: "victim ?", method: "synthetic",
                                                                      measurements: c.result.measurements.filter { $0.phase == .baseline }, seconds: 3),
                                              judged: (nil, c.judged!.judge))
            return run
        }, control: { _ in left })
        let m = try #require(r.mitigation)
        #expect(r.ratio?.rounds == 7)
        #expect(Set(m.measurements.filter { $0.phase == .contained }.compactMap(\.round)) == [3, 4, 5, 6], "\(m.measurements.compactMap(\.round))")
        #expect(Self.baseline(m.measurements) == Self.baseline(r.measurements), "the control's baseline windows are the cell's")
    }

    // MARK: decided the other way, or not to be measured again

    @Test("Not-observed is decided: neither a cell nor its control is measured again, and neither is shown as a pass")
    func notObservedStands() throws {
        var cellAsked: [Int] = [], controlAsked: [Int] = []
        // The victim did not slow (its interval wholly above the band): the shared effect not observed.
        let r = BenchCellMeasure(rounds: 3, control: .ownRun).result(cell: { n in
            cellAsked.append(n)
            return Self.cell(Self.fds, .cannot, rounds: n, band: 0.8) { _ in 97 }
        }, control: { n in
            controlAsked.append(n)
            return Self.control(rounds: n) { _ in 40 }
        })
        #expect(cellAsked == [3] && controlAsked == [3], "cell \(cellAsked), control \(controlAsked)")
        #expect(r.verdict.kind == .notObserved && !r.confirmsClaim, "\(r.verdict.reason)")
        #expect(r.mitigation?.verdict.kind == .notObserved && r.mitigation?.holds == false)
        // A control measured in the cell's run that the run did not measure is not observed, and stands.
        cellAsked = []
        let missing = BenchCellMeasure(rounds: 3, control: .inCellRun).result(cell: { n in
            cellAsked.append(n)
            return Self.cell(Self.network, .cannot, rounds: n, band: 0.8) { _ in 50 }
        }, control: { _ in
            BenchJudged(result: BenchMitigation(control: "synthetic control", verdict: Mitigations.notMeasuredInCell.verdict, method: "synthetic"), judged: nil)
        })
        #expect(cellAsked == [3] && missing.verdict.kind == .cannot && missing.mitigation?.verdict.kind == .notObserved)
    }

    @Test("Decided cells and controls cost nothing more; one round (--quick) is not measured again")
    func decidedAndBounded() throws {
        var cellAsked: [Int] = [], controlAsked: [Int] = []
        let decided = BenchCellMeasure(rounds: 3, control: .inCellRun).result(cell: { n in
            cellAsked.append(n)
            return Self.cell(Self.network, .cannot, rounds: n, band: 0.8) { _ in 50 }
        }, control: { n in
            controlAsked.append(n)
            return Self.control(rounds: n) { _ in 95 }
        })
        #expect(cellAsked == [3] && controlAsked == [3] && decided.evidence.isEmpty && decided.mitigation?.holds == true)
        // A cell decided by errnos and counts (no ratio, no judgement) is not measured again.
        cellAsked = []
        let counted = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            cellAsked.append(n)
            return BenchJudged(result: BenchResult(cell: BenchCellID(.pids, .pod), claim: "synthetic", expected: .can,
                                                   verdict: BenchVerdict(.can, "EAGAIN after 29 forks"), keyFigure: "EAGAIN", method: "synthetic"),
                               judged: nil)
        }, control: { _ in nil })
        #expect(cellAsked == [3] && counted.verdict.kind == .can && counted.evidence.isEmpty)
        for (measure, why) in [(BenchCellMeasure(rounds: 1, control: .ownRun), "one round")] {
            cellAsked = []; controlAsked = []
            let r = measure.result(cell: { n in
                cellAsked.append(n)
                return Self.cell(Self.fds, .cannot, rounds: n, band: 0.8) { _ in 40 }
            }, control: { n in
                controlAsked.append(n)
                return Self.inconclusiveControl()
            })
            #expect(cellAsked.count == 1 && controlAsked.count == 1 && r.mitigation?.verdict.kind == .inconclusive,
                    "\(why): cell \(cellAsked), control \(controlAsked)")
        }
    }

    @Test("The catalogue's cells: a control is measured for a cannot that runs workloads and has one, in the cell's run where Mitigations measures it there")
    func catalogueControls() {
        var inCell: [String] = [], ownRun: [String] = []
        for exp in BenchCatalogue.experiments {
            let m = BenchCellMeasure(exp, rounds: 3)
            switch m.control {
            case .inCellRun?: inCell.append(exp.cell.description)
            case .ownRun?: ownRun.append(exp.cell.description)
            case nil: break
            }
            if exp.expected != .cannot || !exp.runsWorkloads { #expect(m.control == nil, "\(exp.cell): \(String(describing: m.control))") }
        }
        #expect(Set(inCell) == ["cache-bandwidth/container", "cache-bandwidth/pod", "cache-bandwidth/namespace",
                                "network-bandwidth/container", "network-bandwidth/namespace"], "\(inCell)")
        #expect(Set(ownRun) == ["fds/container", "fds/pod", "fds/namespace", "pids/node", "inotify/container",
                                "disk-bandwidth/container", "disk-bandwidth/pod", "disk-bandwidth/namespace"], "\(ownRun)")
    }

    // MARK: a ratio on one round of several

    /// A "can" ratio cell whose victim reported one round's windows of `asked` when three rounds
    /// are asked (the others began late), every round with more.
    static func missingRounds() -> BenchExperiment {
        var e = BenchExperiment(.cpu, .pod, expect: .can, claim: "synthetic", method: "synthetic windows") { ctx in
            let n = ctx.rounds == 3 ? 1 : ctx.rounds
            let q = BenchRatioSummary(metric: "victim rate", phase: .contained, ratios: Array(repeating: 0.95, count: n), band: 0.7, side: .atLeast)
            return BenchOutcome(verdict: BenchVerdict.judgeCan(summary: q, contained: true, containment: "the synthetic hog was contained"),
                                keyFigure: "victim \(q?.text ?? "?")", ratio: q)
        }
        e.runsWorkloads = false
        return e
    }

    @Test("A ratio judged on one round where three were asked is inconclusive and measured again; with one round asked (--quick) it stands")
    func oneRoundOfSeveral() throws {
        let ctx = try BenchContext(binary: "/bin/false", phaseSeconds: 1, rounds: 3)
        defer { ctx.close() }
        let exp = Self.missingRounds()
        var asked: [Int] = []
        let r = BenchCellMeasure(rounds: 3, control: nil).result(cell: { n in
            asked.append(n)
            return ctx.withRounds(n) { exp.runJudged(ctx) }
        }, control: { _ in nil })
        #expect(asked == [3, 6], "an outcome without a judgement is measured again with twice the rounds: \(asked)")
        #expect(r.verdict.kind == .can && r.ratio?.rounds == 6, "\(r.verdict.reason)")
        let note = try #require(r.evidence.first)
        #expect(note.contains("the verdict was inconclusive") && note.contains("only 1 of 3 rounds gave a ratio") && note.contains("it alone gave can"), "\(note)")
        let quick = ctx.withRounds(1) { exp.run(ctx) }
        #expect(quick.verdict.kind == .can && quick.ratio?.rounds == 1, "one round asked: \(quick.verdict.reason)")
        // A control measured in the cell's run on one round of three: inconclusive as well.
        let q = BenchRatioSummary(metric: "victim throughput", phase: .contained, ratios: [0.95], band: 0.8, side: .atLeast)
        ctx.cellMitigation = (BenchOutcome(verdict: BenchVerdict.judgeCan(summary: q, contained: true, containment: "shaped"), keyFigure: "victim 95%", ratio: q), 3)
        let m = try #require(Mitigations.run(Self.network, ctx))
        #expect(m.verdict.kind == .inconclusive && m.verdict.reason.contains("only 1 of 3 rounds gave a ratio"), "\(m.verdict.reason)")
    }
}
