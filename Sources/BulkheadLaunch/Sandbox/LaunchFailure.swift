import BulkheadModel

extension RunReport {
    /// The report of a launch that failed before anything was set up (a bad profile, a bad flag
    /// value, a bind source that cannot be used, a seccomp policy refused): reason
    /// `launch-failed`, exit status 125, `error` naming the operation, the file and field (or the
    /// flag) and the errno where a system call gave one. Nothing was applied, so `controls` is
    /// `AppliedControls.nothingApplied` and no time but the wall time is measured.
    public static func failedBeforeLaunch(command: [String], profile: String, error: LaunchError,
                                          wallTimeMs: Double = 0) -> RunReport {
        RunReport(command: command, profile: profile, profileChain: [], exitCode: ExitStatus.launchFailed, signal: nil,
                  reason: .launchFailed, error: error.report, wallTimeMs: wallTimeMs, launchTimeMs: nil,
                  cpuUserMs: nil, cpuSystemMs: nil, maxRssKiB: nil, signalsForwarded: [], controls: .nothingApplied)
    }
}
