import BulkheadLaunch
import BulkheadModel
import Glibc

/// `bulkhead`: the launch executable (issue 17). It links neither Foundation nor Yams nor
/// ArgumentParser (LaunchImportTests), so a launch pays for no more runtime than it uses.
///
/// It runs, itself, exactly what the full command line's own fast paths run, through the same
/// code (`RunLaunch`, `PooledRun`, `RunFastPath` in BulkheadLaunch):
/// - `run [--profile NAME] [--report FILE|-] [--limits strict|best-effort] -- CMD…` with the
///   profile's layers and the seccomp program from their caches;
/// - `run --pool SOCKET [--report FILE|-] -- CMD…` (or BULKHEAD_POOL, not for root).
/// Everything else goes to the full command line, `bulkhead-cli` next to this binary, by exec
/// with the same argv (`FullCLI`): any other command or flag (help and errors included), root
/// with BULKHEAD_POOL set (the full command line warns that it is ignored), a name that is not
/// `bulkhead` (`bulkhead-runc` as a link), and a launch whose profile or seccomp policy is not
/// in the caches (`CacheMiss`): that one is decided before anything was printed, written or
/// started, and the full command line parses, fills the caches and launches as it always did.
@main
enum LaunchMain {
    static func main() {
        // As the full command line: a workload must find 0, 1 and 2 open, and a pipe or file of
        // ours must never land on them.
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) < 0 {
            let n = open("/dev/null", O_RDWR)
            if n >= 0 && n != fd { dup2(n, fd); close(n) }
        }
        if FullCLI.reachedAgain { exit(FullCLI.refuseLoop()) }
        let arguments = CommandLine.arguments
        let args = arguments.dropFirst()
        // No closure here: one made in `main` (the main actor's) and passed to a function gets
        // a check of the actor at its entry, which starts the concurrency runtime's executors
        // and maps two more 64 KiB blocks of the binary at every launch (BENCHMARKS.md, session 15).
        let argv0 = arguments.first ?? ""
        let invokedAs = argv0.split(separator: "/").last.map(String.init) ?? argv0
        guard invokedAs != "bulkhead-runc", args.first == "run",
              !(PooledRun.environmentValue() != nil && PooledRun.callerIsRoot) else {
            exit(FullCLI.exec(arguments))
        }
        if let pooled = PooledRun.parseFast(args.dropFirst()) {
            exit(PooledRun.run(socket: pooled.socket, report: pooled.report, command: pooled.command))
        }
        guard let fast = RunFastPath.parse(args.dropFirst()) else { exit(FullCLI.exec(arguments)) }
        let miss = CacheMiss()
        let store = ProfileStore.standard(readers: .cacheOnly(recordingMissesIn: miss))
        // A miss goes to the full command line; when that cannot run, the launch is refused as
        // any other is: the message, and the report `--report` asked for (status 125).
        let status = RunLaunch.launch(fast.invocation, overrides: fast.overrides, timeoutSeconds: nil, store: store,
                                      beforeFailing: { _ in
                                          guard miss.happened else { return }
                                          let e = FullCLI.execOrError(arguments)
                                          exit(RunLaunch.failBeforeLaunch(fast.invocation, LaunchError(e), message: FullCLI.message(e)))
                                      })
        exit(status)
    }
}
