import BulkheadLaunch
import BulkheadModel
import BulkheadSystem

/// `bulkhead seccomp verify POLICY [--runs N] -- CMD`: runs CMD under a layer profile with POLICY
/// as its seccomp policy in verify mode (`SeccompNotifyMode.verify`): every call the policy would
/// refuse reaches the launcher, is counted with its architecture and the executable that made
/// it, and then runs. The report sums the runs.
public enum SeccompVerifier {
    public struct Request: Sendable {
        public var layers: [ProfileLayer]
        /// `--seccomp POLICY` as the command line's layer (`CommandLineLayer`).
        public var overrides: ProfileLayer
        public var policyLabel: String
        public var command: [String]
        public var runs: Int
        public var timeoutSeconds: Double?
        public init(layers: [ProfileLayer], overrides: ProfileLayer, policyLabel: String, command: [String],
                    runs: Int, timeoutSeconds: Double?) {
            self.layers = layers; self.overrides = overrides; self.policyLabel = policyLabel
            self.command = command; self.runs = runs; self.timeoutSeconds = timeoutSeconds
        }
    }

    /// The summed report; a launch that fails throws (nothing was verified).
    public static func verify(_ r: Request, store: ProfileStore = .standard()) throws(LaunchError) -> SeccompVerifyReport {
        var totals: [SeccompViolation] = []
        var exitCodes: [Int32] = []
        var unverified: String?
        for _ in 0..<max(1, r.runs) {
            var request = RunRequest(layers: r.layers, overrides: r.overrides, command: r.command, timeoutSeconds: r.timeoutSeconds)
            request.seccompNotify = .verify
            let prepared = try Sandbox.prepare(request, store: store)
            guard prepared.seccomp != nil else {
                throw LaunchError(operation: "verify the seccomp policy", errno: nil,
                                  hint: "the policy is Unconfined: there is nothing to verify; give a policy file")
            }
            let report = Sandbox.run(prepared)
            if let e = report.error {
                throw LaunchError(step: e.step, operation: e.message, errno: e.errno.flatMap { Errno(name: $0) })
            }
            exitCodes.append(report.exitCode)
            if let status = report.controls.seccomp?.violations, status != "reported" { unverified = status }
            for v in report.seccompViolations ?? [] {
                if let i = totals.firstIndex(where: { $0.name == v.name && $0.arch == v.arch && $0.action == v.action && $0.executable == v.executable }) {
                    totals[i].count += v.count
                } else {
                    totals.append(v)
                }
            }
        }
        return SeccompVerifyReport(policy: r.policyLabel, command: r.command, runs: max(1, r.runs), exitCodes: exitCodes,
                                   missing: totals, unverified: unverified)
    }
}
