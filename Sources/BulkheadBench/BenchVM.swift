import BulkheadConfig
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// `bulkhead bench --vm`: the node cells that need a kernel of their own run in the VM lane's
/// virtual machine (Tests/vm/run-lane.sh: Debian's cloud kernel under QEMU, KVM or TCG, an initramfs
/// with busybox and a statically linked bulkhead), booted once for every cell that asks, while
/// the host's own figures (fs.file-nr, boot id) are read around the run.
///
/// Bounded and clean: the lane's qemu runs under `timeout`, the bench kills the lane's process
/// group and any process still naming the run's work directory past its own deadline, and the
/// work directory is inside the bench's scratch directory, removed with it.
public enum BenchVM {
    /// What the VM is booted with; checked by `preflight` before any cell runs.
    public struct Options: Sendable {
        /// Tests/vm of a bulkhead source tree (run-lane.sh, init, scenarios).
        public var laneDirectory: String
        /// A statically linked bulkhead (the VM has no shared libraries).
        public var bulkhead: String
        /// The hard limit of the VM, in seconds (the lane's `timeout`).
        public var timeoutSeconds: Int
    }

    /// One scenario's result line and its `BHLANE VALUE` figures.
    struct Scenario {
        var passed: Bool
        var detail: String
        var values: [String: String]
    }

    /// What one boot found, and the host around it.
    struct Run {
        var scenarios: [String: Scenario] = [:]
        /// The host's fs.file-nr (allocated) when the VM was started, and its lowest and highest
        /// reading while it ran (sampled every 100 ms).
        var hostFileNrFirst: Double?
        var hostFileNrMin: Double?
        var hostFileNrMax: Double?
        var hostBootID: String = ""
        var hostRelease: String = ""
        var seconds: Double = 0
        /// Why the run gave no result for a scenario (the lane failed, timed out).
        var problem: String?
        /// The lane's output lines that are not BHLANE lines (its phases), for evidence.
        var laneLines: [String] = []

        /// The accelerator the lane chose and why (`lane: accel tcg (…)`, run-lane.sh): under
        /// TCG every guest figure is emulated CPU time, which the host's other work sets.
        var accel: String? {
            laneLines.last { $0.hasPrefix("lane: accel ") }.map { String($0.dropFirst("lane: accel ".count)) }
        }

        /// The VM disk's cap (`lane: disk capped at B B/s and N reads/s`, run-lane.sh: qemu's
        /// block throttling, a provisioned volume): bytes (reads and writes) and read requests
        /// per second, 0 for none.
        var diskCap: (bytesPerSecond: Int, iops: Int)? {
            guard let l = laneLines.last(where: { $0.hasPrefix("lane: disk capped at ") }) else { return nil }
            let f = l.split(separator: " ")
            guard f.count >= 8, let bps = Int(f[4]), let iops = Int(f[7]) else { return nil }
            return (bps, iops)
        }
    }

    /// The command `--vm` would run for `cells`, for the cells that say it was not asked for.
    static func command(for cell: BenchCellID) -> String { "bulkhead bench --vm --only \(cell)" }

    /// Checks everything the VM needs and returns what it will boot, or the fix.
    /// - Parameter bulkhead: `--vm-bulkhead`, else BULKHEAD_VM_BULKHEAD, else the running binary.
    public static func preflight(bulkhead: String?, running: String) throws(BenchError) -> Options {
        let env = ProcessInfo.processInfo.environment
        let path = env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        func onPath(_ tool: String) -> Bool { path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 } }
        var missing: [String] = []
        for (tool, package) in [("qemu-system-x86_64", "qemu-system-x86"), ("cpio", "cpio"), ("mke2fs", "e2fsprogs"),
                                ("gcc", "gcc libc6-dev"), ("strip", "binutils"), ("bc", "bc"), ("file", "file"), ("timeout", "coreutils"), ("setsid", "util-linux")] where !onPath(tool) {
            missing.append(package)
        }
        if !isStaticELF("/bin/busybox") { missing.append("busybox-static") }
        if !missing.isEmpty {
            throw BenchError("--vm: the VM lane needs \(missing.joined(separator: ", ")): apt-get install \(missing.joined(separator: " "))")
        }
        let cache = env["BULKHEAD_VM_CACHE"] ?? "/var/cache/bulkhead-vm"
        let kernels = FileIO.listDirectory(cache).filter { $0.hasPrefix("linux-image-") && $0.hasSuffix("-cloud-amd64") }
        let hasKernel = kernels.contains { k in FileIO.listDirectory("\(cache)/\(k)/boot").contains { $0.hasPrefix("vmlinuz-") } }
        guard hasKernel else {
            throw BenchError("--vm: no kernel image in \(cache) (linux-image-*-cloud-amd64/boot/vmlinuz-*): run Tests/vm/run-lane.sh once, which downloads Debian's cloud kernel there")
        }
        guard let lane = laneDirectory(running: running) else {
            throw BenchError("--vm: the VM lane's scripts (Tests/vm/run-lane.sh) are not beside this bulkhead: run it from a bulkhead source tree's build, or set BULKHEAD_VM_LANE_DIR to that tree's Tests/vm")
        }
        if let why = untrusted(lane) { throw BenchError("--vm: \(why)") }
        let chosen = bulkhead ?? env["BULKHEAD_VM_BULKHEAD"] ?? running
        guard isStaticELF(chosen) else {
            throw BenchError("--vm: the VM needs a statically linked bulkhead and \(chosen) is not one: build it with `swift build -c release --scratch-path .build-vm -Xswiftc -static-executable --product bulkhead-cli` and pass --vm-bulkhead .build-vm/release/bulkhead-cli")
        }
        if let why = untrustedFile(chosen) { throw BenchError("--vm: \(why)") }
        return Options(laneDirectory: lane, bulkhead: chosen, timeoutSeconds: 300)
    }

    /// Tests/vm beside the running binary (`<tree>/.build/<triple>/debug/bulkhead`), or
    /// BULKHEAD_VM_LANE_DIR.
    static func laneDirectory(running: String) -> String? {
        if let d = ProcessInfo.processInfo.environment["BULKHEAD_VM_LANE_DIR"] {
            return access(d + "/run-lane.sh", R_OK) == 0 ? d : nil
        }
        var dir = (running as NSString).deletingLastPathComponent
        for _ in 0..<6 {
            if access(dir + "/Tests/vm/run-lane.sh", R_OK) == 0 { return dir + "/Tests/vm" }
            let up = (dir as NSString).deletingLastPathComponent
            if up == dir { break }
            dir = up
        }
        return nil
    }

    /// Root runs the lane's scripts and copies its files into the VM: each must be root's (or
    /// the caller's own) and writable by no one else, and so must every directory above it.
    static func untrusted(_ lane: String) -> String? {
        let tree = ((lane as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        var paths = [lane, lane + "/scenarios", tree + "/Profiles"]
        for d in [lane, lane + "/scenarios"] { paths += FileIO.listDirectory(d).map { d + "/" + $0 } }
        var up = (lane as NSString).deletingLastPathComponent
        while up != "/" && !up.isEmpty { paths.append(up); up = (up as NSString).deletingLastPathComponent }
        for p in paths {
            if let why = untrustedFile(p) { return why }
        }
        return nil
    }

    static func untrustedFile(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return "cannot stat \(path): \(Errno.current)" }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard stat(path, &st) == 0 else { return "cannot stat \(path): \(Errno.current)" }
        }
        if st.st_uid != 0 && st.st_uid != geteuid() {
            return "\(path) is owned by uid \(st.st_uid), not root: root will not run or copy it (chown root)"
        }
        let isDir = (st.st_mode & S_IFMT) == S_IFDIR
        let sticky = st.st_mode & S_ISVTX != 0
        if st.st_mode & 0o022 != 0 && !(isDir && sticky) {
            return "\(path) is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))): root will not run or copy it (chmod go-w)"
        }
        return nil
    }

    /// An ELF executable without a program interpreter (PT_INTERP): it runs without ld.so.
    static func isStaticELF(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &head, 64, 0) == 64, head[0] == 0x7F, head[1] == 0x45, head[2] == 0x4C, head[3] == 0x46, head[4] == 2 else { return false }
        func u(_ b: [UInt8], _ o: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        let phoff = u(head, 0x20, 8), phentsize = Int(u(head, 0x36, 2)), phnum = Int(u(head, 0x38, 2))
        guard phentsize >= 4, phnum > 0, phnum < 256, phoff < 1 << 20 else { return false }
        var table = [UInt8](repeating: 0, count: phentsize * phnum)
        guard pread(fd, &table, table.count, off_t(phoff)) == table.count else { return false }
        return !(0..<phnum).contains { u(table, $0 * phentsize, 4) == 3 }
    }

    /// Boots the VM once with `scenarios` and waits for it, sampling the host meanwhile.
    /// `rounds` and `window` are the bench's, for the scenarios that measure in windows
    /// (34-bench-io-max.sh reads them from the kernel command line).
    static func run(_ o: Options, scenarios: [String], scratch: String, rounds: Int = 3, window: Double = 1) -> Run {
        var r = Run()
        r.hostBootID = hostBootID()
        r.hostRelease = hostRelease()
        let out = scratch + "/vm-lane"
        guard mkdir(out, 0o700) == 0 else {
            r.problem = "create \(out): \(Errno.current)"; return r
        }
        defer { _ = try? FileManager.default.removeItem(atPath: out) }
        let log = out + ".log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        defer { unlink(log) }
        let p = Process()
        // setsid: the lane and its children form a process group the bench can end at once.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        p.arguments = ["/bin/bash", o.laneDirectory + "/run-lane.sh"]
        var env = ProcessInfo.processInfo.environment
        env["BULKHEAD_VM_BULKHEAD"] = o.bulkhead
        env["BULKHEAD_VM_OUT"] = out
        env["BULKHEAD_VM_ONLY"] = scenarios.joined(separator: ",")
        env["BULKHEAD_VM_TIMEOUT"] = String(o.timeoutSeconds)
        env["BULKHEAD_VM_OFFLINE"] = "1"
        // The scenario's windows (5 per round, 0.5 s apart, 34-bench-io-max.sh) must fit the lane's 150 s per
        // scenario with room for its sandboxes to start: at most 100 s of windows.
        let benchWindow = min(4, max(0.25, window))
        let benchRounds = max(1, min(8, rounds, Int(100 / (5 * (benchWindow + 0.5)))))
        env["BULKHEAD_VM_BENCH"] = "\(benchRounds):\(String(format: "%.2f", benchWindow))"
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle(forWritingAtPath: log)
        p.standardError = p.standardOutput
        let start = Monotonic.now()
        do { try p.run() } catch {
            r.problem = "start \(o.laneDirectory)/run-lane.sh: \(error)"; return r
        }
        let deadline = start + Double(o.timeoutSeconds) + 60
        var killedAt: Double?
        while p.isRunning {
            if let nr = hostFileNr() {
                if r.hostFileNrFirst == nil { r.hostFileNrFirst = nr }
                r.hostFileNrMin = min(r.hostFileNrMin ?? nr, nr)
                r.hostFileNrMax = max(r.hostFileNrMax ?? nr, nr)
            }
            let now = Monotonic.now()
            if now > deadline && killedAt == nil {
                killedAt = now
                kill(-p.processIdentifier, SIGTERM)
                killStrays(naming: out, signal: SIGTERM)
                r.problem = "the VM lane did not finish within \(Int(deadline - start)) s: stopped"
            }
            if let k = killedAt, now > k + 2 {
                kill(-p.processIdentifier, SIGKILL)
                killStrays(naming: out, signal: SIGKILL)
            }
            usleep(100_000)
        }
        // qemu runs under `timeout`, in a process group of its own: nothing may outlive the run.
        killStrays(naming: out, signal: SIGKILL)
        r.seconds = Monotonic.now() - start
        let text = FileIO.read(log) ?? ""
        for line in text.split(separator: "\n") {
            guard let at = line.range(of: "BHLANE ") else {
                if line.hasPrefix("lane: ") { r.laneLines.append(String(line)) }
                continue
            }
            let f = line[at.upperBound...].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 2 else { continue }
            switch f[0] {
            case "PASS", "FAIL":
                let old = r.scenarios[f[1]]?.values ?? [:]
                r.scenarios[f[1]] = Scenario(passed: f[0] == "PASS", detail: f.count > 2 ? f[2] : "", values: old)
            case "VALUE":
                var s = r.scenarios[f[1]] ?? Scenario(passed: false, detail: "", values: [:])
                s.values.merge(BenchContext.values("BH " + (f.count > 2 ? f[2] : ""))) { _, b in b }
                r.scenarios[f[1]] = s
            default: break
            }
        }
        if p.terminationStatus != 0 && r.problem == nil {
            r.problem = "the VM lane exited \(p.terminationStatus): " + r.laneLines.suffix(3).joined(separator: " / ")
        }
        return r
    }

    /// Signals every process whose command line names `dir` (only this run's: the directory
    /// carries the bench's pid).
    static func killStrays(naming dir: String, signal: Int32) {
        for entry in FileIO.listDirectory("/proc") {
            guard let pid = Int32(entry), pid != getpid(),
                  let d = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            if String(decoding: d, as: UTF8.self).contains(dir) { kill(pid, signal) }
        }
    }

    static func hostFileNr() -> Double? {
        (FileIO.read("/proc/sys/fs/file-nr") ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Double($0) }
    }

    static func hostBootID() -> String {
        (FileIO.read("/proc/sys/kernel/random/boot_id") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func hostRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
