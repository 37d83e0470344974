import Bulkhead
import BulkheadConfig
import BulkheadModel
@testable import bulkhead_cli
import Foundation
import Glibc
import Testing

/// Red team of issue 15's container-user features on the launch path (named sandboxes, `ps`,
/// `stop`, supplementary groups, `--env-file`, `--device`, `--mount`, `--ulimit`,
/// `--cpuset-cpus`, `--dry-run`): what whoever passes flags, a local user who plants files,
/// and a root-run `ps` reader can be made to do.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamFlagsTests {
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]

    /// A directory only root can write, removed by the caller.
    static func rootDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "bh-rtflags-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o700)
        return dir
    }

    // MARK: ps, stop, --name

    /// The command column of `ps` is the caller's command line, and root's `ps` lists every
    /// root-run sandbox: escape sequences in an argument drove the reader's terminal (a title,
    /// a cleared screen) and a newline forged a whole row of `ps`. Every control character,
    /// format character (bidi overrides) and line separator of a cell is now shown escaped;
    /// `--json` keeps the command as it was.
    @Test func psShowsNoControlCharacters() throws {
        let name = token()
        let evil = ["\u{1B}]0;PWNED\u{07}\u{1B}[2J", "x\nfake-row  1  container  1s  /sbin/init", "\u{202E}fdp.exe", "a\rb\u{9B}c\u{2028}d"]
        let p = try SandboxNamesTests().startNamed(name, ["/bin/sh", "-c", "sleep 60"] + evil)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        let table = try Bulkhead.run(["ps"])
        #expect(table.status == 0, "\(table.stderr)")
        let row = table.stdout.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        #expect(row != nil, "\(table.stdout)")
        for scalar: Unicode.Scalar in ["\u{1B}", "\u{07}", "\r", "\u{9B}", "\u{202E}", "\u{2028}"] {
            #expect(!table.stdout.unicodeScalars.contains(scalar), "ps printed U+\(String(scalar.value, radix: 16)): \(table.stdout.debugDescription)")
        }
        #expect(!table.stdout.split(separator: "\n").contains { $0.hasPrefix("fake-row") }, "a forged row: \(table.stdout)")
        #expect(table.stdout.split(separator: "\n").filter { $0.contains(name) }.count == 1, "\(table.stdout)")
        #expect(row?.contains("\\u{1B}]0;PWNED") == true && row?.contains("x\\nfake-row") == true, "\(String(describing: row))")
        // The JSON is the data, not a display: unchanged.
        let json = try JSONDecoder().decode([SandboxEntry].self, from: Data(try Bulkhead.run(["ps", "--json"]).stdout.utf8))
        #expect(json.first { $0.name == name }?.command == ["/bin/sh", "-c", "sleep 60"] + evil)
        #expect(try Bulkhead.run(["stop", name, "--grace", "5s"]).status == 0)
    }

    /// Root ignores the caller's XDG_RUNTIME_DIR (`sudo -E`): a named sandbox's entry goes to
    /// /run/bulkhead/sandboxes and nothing is made in a directory another user prepared.
    @Test func rootIgnoresTheCallersRuntimeDirectory() throws {
        let dir = NSTemporaryDirectory() + "bh-xdg-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chown(dir, 65534, 65534)
        chmod(dir, 0o777)
        let name = token()
        let p = try SandboxNamesTests.spawn(["run", "--name", name, "--", "sleep", "60"], env: ["XDG_RUNTIME_DIR": dir])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        var tries = 0
        while tries < 500 && p.isRunning && !FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json") {
            usleep(10_000); tries += 1
        }
        #expect(FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"), "root's entry is in root's directory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "root wrote into the caller's XDG_RUNTIME_DIR")
        #expect(try Bulkhead.run(["stop", name, "--grace", "5s"]).status == 0)
    }

    /// A launch that fails after `--name` registered (a step fault) leaves no entry, and the
    /// name is free again; so is the name of a launcher that was SIGKILLed.
    @Test func failedOrKilledLaunchFreesTheName() throws {
        let name = token()
        let failed = try Bulkhead.run(["run", "--name", name, "--inject-fault", "step:3", "--", "/bin/echo", "RAN"])
        #expect(failed.status == 125 && !failed.stdout.contains("RAN"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))
        let p = try SandboxNamesTests().startNamed(name)
        #expect(FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let again = try Bulkhead.run(["run", "--name", name, "--", "/bin/echo", "AGAIN"])
        #expect(again.status == 0 && again.stdout.contains("AGAIN"), "a dead launcher's entry keeps the name: \(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))
    }

    /// `--dry-run` runs nothing and registers nothing: no entry for `--name`, no state
    /// directory in a non-root caller's XDG_RUNTIME_DIR, no report file, no workload.
    @Test func dryRunCreatesNothing() throws {
        let name = token()
        let report = NSTemporaryDirectory() + "bh-dry-\(name).json"
        let r = try Bulkhead.run(["run", "--dry-run", "--name", name, "--report", report, "--", "/bin/sh", "-c", "echo $((6*7))RAN"])
        #expect(r.status == 0 && !r.stdout.contains("42RAN"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(SandboxRegistry.rootDirectory)/\(name).json"))
        #expect(!FileManager.default.fileExists(atPath: report))
        let xdg = NSTemporaryDirectory() + "bh-xdg-\(name)"
        try FileManager.default.createDirectory(atPath: xdg, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: xdg) }
        chown(xdg, 65534, 65534)
        chmod(xdg, 0o700)
        let nr = try Bulkhead.run(["run", "--dry-run", "--limits", "best-effort", "--name", name, "--", "/bin/sh", "-c", "echo $((6*7))RAN"],
                                  prefix: Self.nobody + ["/usr/bin/env", "-u", "XDG_CACHE_HOME", "-u", "BULKHEAD_SECCOMP_CACHE",
                                                         "-u", "BULKHEAD_PROFILE_CACHE", "HOME=/nonexistent", "XDG_RUNTIME_DIR=\(xdg)"])
        #expect(nr.status == 0 && !nr.stdout.contains("42RAN"), "\(nr.stderr)")
        // Neither the sandbox list ($XDG_RUNTIME_DIR/bulkhead-sandboxes) nor a cache
        // ($XDG_RUNTIME_DIR/bulkhead, CacheLocation's choice for a user without a home) is made.
        #expect(try FileManager.default.contentsOfDirectory(atPath: xdg).isEmpty, "a dry run wrote into XDG_RUNTIME_DIR")
        // Root's: the caches named by their variables are neither made nor filled.
        let caches = NSTemporaryDirectory() + "bh-drycache-\(name)"
        try FileManager.default.createDirectory(atPath: caches, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: caches) }
        let rr = try Bulkhead.run(["run", "--dry-run", "--", "/bin/true"],
                                  env: ["BULKHEAD_SECCOMP_CACHE": caches + "/seccomp", "BULKHEAD_PROFILE_CACHE": caches + "/profiles"])
        #expect(rr.status == 0, "\(rr.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: caches).isEmpty, "a dry run made or filled a cache")
    }

    /// Launches racing for one name: exactly one runs, the others are refused naming it.
    @Test func racingLaunchesOfOneNameRunOnce() throws {
        let name = token()
        let ps = try (0..<4).map { _ in try SandboxNamesTests.spawn(["run", "--name", name, "--", "sleep", "60"]) }
        defer { for p in ps where p.isRunning { kill(p.processIdentifier, SIGKILL) }; for p in ps { p.waitUntilExit() } }
        var tries = 0
        while tries < 3000 && ps.filter({ !$0.isRunning }).count < 3 { usleep(10_000); tries += 1 }
        let ended = ps.filter { !$0.isRunning }, running = ps.filter(\.isRunning)
        #expect(ended.count == 3 && ended.allSatisfy { $0.terminationStatus == 125 }, "\(ended.map(\.terminationStatus))")
        #expect(running.count == 1)
        let listed = try JSONDecoder().decode([SandboxEntry].self, from: Data(try Bulkhead.run(["ps", "--json"]).stdout.utf8))
        #expect(listed.filter { $0.name == name }.map(\.launcherPID) == running.map(\.processIdentifier))
        #expect(try Bulkhead.run(["stop", name, "--grace", "5s"]).status == 0)
    }

    /// A non-root user cannot stop root's named sandbox: its own state directory is its own
    /// (XDG_RUNTIME_DIR=/run/bulkhead finds nothing of root's), and an entry it plants there
    /// naming root's launcher (pid and start time right) is refused by the kernel's signal
    /// check, reported at once (EPERM) instead of a wait and a false "stopped".
    @Test func nonRootCannotStopRootsSandbox() throws {
        let name = token()
        let p = try SandboxNamesTests().startNamed(name)
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        let entry = try #require(JSONDecoder().decode([SandboxEntry].self, from: Data(try Bulkhead.run(["ps", "--json"]).stdout.utf8)).first { $0.name == name })
        let asNobody = Self.nobody + ["/usr/bin/env"]
        let runDir = try Bulkhead.run(["stop", name, "--grace", "1s"], prefix: asNobody + ["XDG_RUNTIME_DIR=/run/bulkhead"])
        #expect(runDir.status == 1 && p.isRunning, "\(runDir.stderr)")
        let listed = try Bulkhead.run(["ps", "--json"], prefix: asNobody + ["XDG_RUNTIME_DIR=/run/bulkhead"])
        #expect(!listed.stdout.contains(name), "\(listed.stdout)")

        let xdg = NSTemporaryDirectory() + "bh-xdg-\(name)"
        try FileManager.default.createDirectory(atPath: xdg + "/bulkhead-sandboxes", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: xdg) }
        var forged = entry
        forged.owner = 65534
        let file = xdg + "/bulkhead-sandboxes/\(name).json"
        try JSONEncoder().encode(forged).write(to: URL(fileURLWithPath: file))
        for (path, mode) in [(xdg, 0o700), (xdg + "/bulkhead-sandboxes", 0o700), (file, 0o600)] {
            chown(path, 65534, 65534)
            chmod(path, mode_t(mode))
        }
        let stop = try Bulkhead.run(["stop", name, "--grace", "1s"], prefix: asNobody + ["XDG_RUNTIME_DIR=\(xdg)"], timeout: 30)
        #expect(stop.status == 1 && stop.stderr.contains("EPERM") && !stop.stdout.contains("stopped"), "\(stop.stdout) \(stop.stderr)")
        usleep(100_000)
        #expect(p.isRunning, "root's sandbox was stopped by a forged entry")
        #expect(try Bulkhead.run(["stop", name, "--grace", "5s"]).status == 0)
    }

    /// A non-root caller's state directory is its own, so anything may be in it: a FIFO, a
    /// file of 8 MiB, a symlink to a FIFO, a directory, an entry whose JSON is deep or whose
    /// numbers are out of range. `ps` and `stop` finish (no hang, no trap), refuse each by
    /// name and show none of its content.
    @Test func plantedStateEntriesNeitherHangNorCrash() throws {
        let t = token()
        let xdg = NSTemporaryDirectory() + "bh-xdg-\(t)", dir = xdg + "/bulkhead-sandboxes"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: xdg) }
        let secret = "S3CR3T\(t)"
        #expect(mkfifo(dir + "/fifo.json", 0o600) == 0)
        #expect(symlink(dir + "/fifo.json", dir + "/link.json") == 0)
        try FileManager.default.createDirectory(atPath: dir + "/dir.json", withIntermediateDirectories: true)
        try Data((secret + String(repeating: " ", count: 8 << 20)).utf8).write(to: URL(fileURLWithPath: dir + "/huge.json"))
        try Data((String(repeating: "[", count: 50_000) + secret).utf8).write(to: URL(fileURLWithPath: dir + "/deep.json"))
        let numbers = #"{"name":"nums","launcherPID":-1,"launcherStartTime":18446744073709551615,"owner":4294967295,"profile":"\#(secret)","command":[],"started":1e308,"initPID":2147483647,"initStartTime":0}"#
        try Data(numbers.utf8).write(to: URL(fileURLWithPath: dir + "/nums.json"))
        for f in ["", "/bulkhead-sandboxes"] { chown(xdg + f, 65534, 65534); chmod(xdg + f, 0o700) }
        for f in ["fifo.json", "huge.json", "deep.json", "nums.json", "dir.json"] { chown(dir + "/" + f, 65534, 65534); chmod(dir + "/" + f, 0o600) }
        lchown(dir + "/link.json", 65534, 65534)
        let asNobody = Self.nobody + ["/usr/bin/env", "XDG_RUNTIME_DIR=\(xdg)"]
        let ps = try Bulkhead.run(["ps"], prefix: asNobody, timeout: 30)
        #expect(ps.status == 0 && !ps.stdout.contains(secret) && !ps.stderr.contains(secret), "\(ps.stdout) \(ps.stderr.prefix(600))")
        for name in ["fifo", "link", "huge", "deep", "dir"] {
            #expect(ps.stderr.contains("\(name).json"), "\(name) not refused: \(ps.stderr.prefix(600))")
            let stop = try Bulkhead.run(["stop", name, "--grace", "1s"], prefix: asNobody, timeout: 30)
            #expect(stop.status == 1 && !stop.stderr.contains(secret), "\(name): \(stop.stderr.prefix(300))")
        }
        let json = try Bulkhead.run(["ps", "--json"], prefix: asNobody, timeout: 30)
        #expect(json.status == 0 && (try? JSONDecoder().decode([SandboxEntry].self, from: Data(json.stdout.utf8)))?.isEmpty == true, "\(json.stdout)")
    }

    // MARK: supplementary groups

    static func groups(_ out: String) -> [String] {
        out.split(separator: "\n").first { $0.hasPrefix("Groups:") }.map { $0.dropFirst(7).split(whereSeparator: \.isWhitespace).map(String.init) } ?? ["?"]
    }

    /// The launcher's own supplementary groups (a root shell in disk, adm, sudo) never reach
    /// the workload, with or without `--group-add`; a repeated gid is one group, and gid 0 is
    /// the sandbox's own root group (a mapped id), not the host's.
    @Test func launchersGroupsDoNotReachTheWorkload() throws {
        let inGroups = ["/usr/bin/setpriv", "--groups", "4,6,27"]
        let plain = try Bulkhead.sh("grep ^Groups: /proc/self/status", prefix: inGroups)
        #expect(plain.status == 0 && Self.groups(plain.stdout) == [], "\(plain.stdout) \(plain.stderr)")
        let added = try Bulkhead.sh("grep ^Groups: /proc/self/status", (0..<40).flatMap { _ in ["--group-add", "10"] } + ["--group-add", "0"],
                                    prefix: inGroups)
        #expect(added.status == 0 && Self.groups(added.stdout) == ["0", "10"], "\(added.stdout) \(added.stderr)")
    }

    /// Names are resolved before the count is checked again: a profile's 32 groups plus one
    /// more by name is refused (exit 125, never a trap of the launcher); a name that resolves
    /// to a gid already given is one group. (A name counts as a group of its own until it is
    /// resolved: 32 groups and a name for one of them is refused, failing closed.)
    @Test func resolvedNamesStayBounded() throws {
        let root = try RootfsTests.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "root:x:0:\nstaff:x:3456:\nfive:x:5:\n".write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        let profile = try GroupAddTests.profile("[\((1...32).map(String.init).joined(separator: ", "))]")
        defer { unlink(profile) }
        let flags = ["--profile", profile, "--rootfs", root, "--env", "PATH=/bin"]
        let over = try Bulkhead.run(["run"] + flags + ["--group-add", "staff", "--", "/bin/echo", "RAN"])
        #expect(over.status == 125 && over.stderr.contains("at most 32") && !over.stdout.contains("RAN"), "\(over.stderr)")
        let fewer = try GroupAddTests.profile("[\((1...31).map(String.init).joined(separator: ", "))]")
        defer { unlink(fewer) }
        let same = try Bulkhead.run(["run", "--profile", fewer, "--rootfs", root, "--env", "PATH=/bin", "--group-add", "five", "--group-add", "5",
                                     "--", "/bin/sh", "-c", "grep ^Groups: /proc/self/status"])
        #expect(same.status == 0 && Self.groups(same.stdout) == (1...31).map(String.init), "\(same.stdout) \(same.stderr)")
    }

    /// The root's /etc/group as a FIFO (no hang), over 1 MiB, or reached through a symlinked
    /// /etc is refused without a byte of it shown; one line of 900 KB is only a long line.
    @Test func groupFileThatIsNotASmallRegularFileIsRefused() throws {
        let root = try RootfsTests.makeRootfs()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let flags = ["--rootfs", root, "--env", "PATH=/bin", "--group-add", "staff", "--"]
        let secret = "s3cr3t\(token())"
        #expect(mkfifo(root + "/etc/group", 0o644) == 0)
        let fifo = try Bulkhead.run(["run"] + flags + ["/bin/echo", "RAN"])
        #expect(fifo.status == 125 && fifo.stderr.contains("cannot be read") && !fifo.stdout.contains("RAN"), "\(fifo.stderr)")
        unlink(root + "/etc/group")
        try (String(repeating: secret, count: (1 << 20) / secret.count + 1) + "\nstaff:x:3456:\n").write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        let huge = try Bulkhead.run(["run"] + flags + ["/bin/echo", "RAN"])
        #expect(huge.status == 125 && huge.stderr.contains("cannot be read") && !huge.stderr.contains(secret) && !huge.stdout.contains("RAN"), "\(huge.stderr.prefix(400))")
        try (String(repeating: "x", count: 900_000) + "\nstaff:x:3456:\n").write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        let long = try Bulkhead.run(["run"] + flags + ["/bin/sh", "-c", "grep ^Groups: /proc/self/status"])
        #expect(long.status == 0 && Self.groups(long.stdout) == ["3456"], "\(long.stdout) \(long.stderr.prefix(400))")
        // /etc itself a link to a directory of root's: not followed.
        let elsewhere = try Self.rootDirectory()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        try "staff:x:4444:\n".write(toFile: elsewhere + "/group", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: root + "/etc")
        #expect(symlink(elsewhere, root + "/etc") == 0)
        let linked = try Bulkhead.run(["run"] + flags + ["/bin/echo", "RAN"])
        #expect(linked.status == 125 && linked.stderr.contains("cannot be read") && !linked.stdout.contains("RAN"), "\(linked.stderr)")
    }

    // MARK: --env-file

    /// `--env-file` that is a FIFO (no hang), a device (/dev/zero), a symlink another user
    /// planted, or another user's file is refused before anything runs; a NUL byte is named by
    /// its line, the line not shown.
    @Test func envFileThatIsNotTheCallersRegularFileIsRefused() throws {
        let dir = try Self.rootDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/fifo.env", 0o600) == 0)
        let fifo = try Bulkhead.sh("echo RAN", ["--env-file", dir + "/fifo.env"])
        #expect(fifo.status == 125 && fifo.stderr.contains("fifo.env") && !fifo.stdout.contains("RAN"), "\(fifo.stderr)")
        let zero = try Bulkhead.sh("echo RAN", ["--env-file", "/dev/zero"])
        #expect(zero.status == 125 && zero.stderr.contains("/dev/zero") && !zero.stdout.contains("RAN"), "\(zero.stderr)")
        // Another user's file and another user's link (in the sticky /tmp) to root's file.
        let t = token()
        let theirs = "/tmp/bh-theirs-\(t).env", link = "/tmp/bh-link-\(t).env"
        let secret = "S3CR3T\(t)"
        try "A=\(secret)\n".write(toFile: theirs, atomically: false, encoding: .utf8)
        chown(theirs, 65534, 65534)
        chmod(theirs, 0o600)
        defer { unlink(theirs) }
        try "B=\(secret)\n".write(toFile: dir + "/root.env", atomically: false, encoding: .utf8)
        chmod(dir + "/root.env", 0o600)
        #expect(symlink(dir + "/root.env", link) == 0)
        lchown(link, 65534, 65534)
        defer { unlink(link) }
        for f in [theirs, link] {
            let r = try Bulkhead.sh("env", ["--env-file", f])
            #expect(r.status == 125 && !r.stdout.contains(secret) && !r.stderr.contains(secret), "\(f): \(r.stderr)")
        }
        try Data("OK=1\nX=\(secret)\0tail\n".utf8).write(to: URL(fileURLWithPath: dir + "/nul.env"))
        chmod(dir + "/nul.env", 0o600)
        let nul = try Bulkhead.sh("echo RAN", ["--env-file", dir + "/nul.env"])
        #expect(nul.status == 125 && nul.stderr.contains("line 2") && !nul.stderr.contains(secret) && !nul.stdout.contains("RAN"), "\(nul.stderr)")
    }

    // MARK: --device, --mount, --ulimit, --cpuset-cpus

    /// `--device` reaches only a node of the host's /dev, without `..` or a link on the way, and
    /// the node's host mode stays in charge: /dev/loop0 (root's, 0600) bound into the sandbox
    /// does not open, even for the sandbox's root.
    @Test func deviceKeepsTheHostsMode() throws {
        for (d, words) in [("/dev/../etc/shadow", ".."), ("/dev/fd/0", "not a device node"), ("/dev/./shm/x", "sandbox's own"),
                           ("/dev", "below /dev"), ("/dev/", "below /dev")] {
            let bad = try Bulkhead.sh("echo RAN", ["--device", d])
            #expect(bad.status == 125 && bad.stderr.contains("--device") && bad.stderr.contains(words) && !bad.stdout.contains("RAN"), "\(d): \(bad.stderr)")
        }
        var st = stat()
        try #require(stat("/dev/loop0", &st) == 0 && st.st_uid == 0 && st.st_mode & 0o077 == 0, "no root-only /dev/loop0 on this host")
        let mem = try Bulkhead.sh("head -c 1 /dev/loop0 >/dev/null 2>&1 && echo OPENED || echo DENIED; id -u", ["--device", "/dev/loop0"])
        #expect(mem.status == 0 && mem.stdout.hasPrefix("DENIED\n0\n"), "\(mem.stdout) \(mem.stderr)")
    }

    /// `--mount` takes its keys only: no mount option, propagation or mode slips in through a
    /// comma, and no target reaches /proc, / or a relative or `..` path.
    @Test func mountOptionsCannotBeInjected() throws {
        let cases: [(String, String)] = [
            ("type=bind,source=/tmp,target=/mnt,bind-propagation=shared", "unknown --mount key"),
            ("type=bind,source=/tmp,target=/mnt,readonly=no", "true or false"),
            ("type=tmpfs,target=/mnt,tmpfs-mode=4777", "unknown --mount key"),
            ("type=tmpfs,target=/mnt,tmpfs-size=1M,suid", "unknown --mount key"),
            ("type=bind,source=/tmp,target=/mnt/../proc/sys", ".."),
            ("type=bind,source=/tmp,target=proc", "absolute"),
            ("type=bind,source=/tmp,target=/proc/sys", "/proc"),
            ("type=tmpfs,target=/proc/sys", "/proc"),
            ("type=tmpfs,target=/", "over /"),
            ("type=tmpfs,target=/mnt,tmpfs-size=99999999999999999999", "--mount"),
            ("type=volume,source=x,target=/mnt", "type=bind or type=tmpfs"),
            ("type=tmpfs,target=/mnt,tmpfs-size=0", "minimum"),
        ]
        for (spec, words) in cases {
            let r = try Bulkhead.sh("echo RAN", ["--mount", spec])
            #expect(r.status == 125 && r.stderr.contains(words) && !r.stdout.contains("RAN"), "\(spec): \(r.stderr)")
        }
        // size=0 would be a tmpfs without a limit: the smallest size taken is one page.
        let small = try Bulkhead.sh(#"awk '$5 == "/mnt" || $5 == "/dev/shm" { print $5, $NF }' /proc/self/mountinfo"#,
                                    ["--mount", "type=tmpfs,target=/mnt,tmpfs-size=1", "--shm-size", "1"])
        let lines = small.stdout.split(separator: "\n")
        #expect(small.status == 0 && lines.last { $0.hasPrefix("/mnt ") }?.contains("size=4k") == true
                && lines.last { $0.hasPrefix("/dev/shm ") }?.contains("size=4k") == true, "\(small.stdout) \(small.stderr)")
        for v in ["/tmp:/proc", "/tmp:/dev", "/tmp:/", "/tmp:/mnt:rw,suid", "/tmp:/mnt:ro:extra"] {
            let r = try Bulkhead.sh("echo RAN", ["-v", v])
            #expect(r.status == 125 && !r.stdout.contains("RAN"), "\(v): \(r.stderr)")
        }
    }

    /// A flag's bind or tmpfs on a masked path (or on the path the launch steps use for the
    /// host's root, /oldroot) does not uncover it: the masks go on top of the flags' mounts
    /// and take their sources from descriptors, not from a path the flags could shadow.
    @Test func flagMountsDoNotUncoverMaskedPaths() throws {
        let dir = try RunFlagsTests.hostDirectory(token())
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let marker = "MARKER\(token())"
        try FileManager.default.createDirectory(atPath: dir + "/dev", withIntermediateDirectories: true)
        try marker.write(toFile: dir + "/dev/null", atomically: false, encoding: .utf8)
        try marker.write(toFile: dir + "/marker", atomically: false, encoding: .utf8)
        chmod(dir + "/dev", 0o755)
        chmod(dir + "/dev/null", 0o644)
        chmod(dir + "/marker", 0o644)
        let r = try Bulkhead.sh("cat /sys/firmware/marker 2>&1; ls -A /sys/kernel/security; cat /proc/keys /proc/timer_list 2>&1 | head -c 200; echo END",
                                ["-v", "\(dir):/sys/firmware", "--tmpfs", "/sys/kernel/security", "--mount", "type=bind,src=\(dir),dst=/oldroot"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains(marker) && r.stdout.hasSuffix("END\n"), "\(r.stdout)")
    }

    /// `--chdir` (bwrap's spelling) is `--workdir`'s rule: nothing under /proc or /dev/fd (a
    /// way to a descriptor of the launcher, CVE-2024-21626), nothing relative or with `..`,
    /// and not both flags; each refused before anything runs.
    @Test func chdirKeepsTheWorkdirRules() throws {
        for (dir, words) in [("/proc/self/fd", "/proc"), ("/proc/1/cwd", "/proc"), ("/dev/fd/3", "/dev/fd"), ("../etc", "absolute"),
                             ("/sys/../proc", ".."), ("", "absolute")] {
            let r = try Bulkhead.run(["run", "--chdir", dir, "--", "/bin/echo", "RAN"])
            #expect(r.status == 125 && r.stderr.contains("--chdir") && r.stderr.contains(words) && !r.stdout.contains("RAN"), "\(dir): \(r.stderr)")
        }
        let both = try Bulkhead.run(["run", "--chdir", "/usr", "--workdir", "/etc", "--", "/bin/pwd"])
        #expect(both.status == 125 && both.stderr.contains("not both") && both.stdout.isEmpty, "\(both.stderr)")
    }

    /// `--uts host` with `--hostname`: refused before anything runs (the name would be dropped
    /// without a word), as root or not; the host's name is never changed, and `--uts host` alone
    /// shows the workload the host's name.
    @Test func utsHostNeverRenamesTheHost() throws {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        let host = String(cString: buf)
        for prefix in [[], Self.nobody] {
            // A hostname with the host's UTS namespace is refused before anything runs (it
            // would be dropped without a word); the host's namespace alone shows the host's name.
            let r = try Bulkhead.sh("echo RAN; hostname", ["--limits", "best-effort", "--uts", "host", "--hostname", "evil\(token().prefix(6))"], prefix: prefix)
            #expect(r.status == 125 && r.stderr.contains("--hostname") && r.stderr.contains("--uts private") && !r.stdout.contains("RAN"), "\(r.stdout) \(r.stderr)")
            let shared = try Bulkhead.sh("hostname", ["--limits", "best-effort", "--uts", "host"], prefix: prefix)
            #expect(shared.status == 0 && shared.stdout == host + "\n", "\(shared.stdout) \(shared.stderr)")
            gethostname(&buf, buf.count)
            #expect(String(cString: buf) == host, "the host was renamed")
        }
    }

    /// A non-root caller cannot raise a hard rlimit above its own (`--ulimit`), and a soft
    /// limit above the hard one is refused, each before anything runs.
    @Test func ulimitCannotRaiseTheCallersHardLimit() throws {
        let capped = ["/usr/bin/prlimit", "--nofile=512:512"] + Self.nobody
        let raise = try Bulkhead.sh("echo RAN", ["--limits", "best-effort", "--ulimit", "nofile=1024:1024"], prefix: capped)
        #expect(raise.status == 125 && raise.stderr.contains("rlimits.nofile") && raise.stderr.contains("512") && !raise.stdout.contains("RAN"), "\(raise.stderr)")
        let inverted = try Bulkhead.sh("echo RAN", ["--ulimit", "nofile=200:100"])
        #expect(inverted.status == 125 && inverted.stderr.contains("--ulimit") && !inverted.stdout.contains("RAN"), "\(inverted.stderr)")
        let lower = try Bulkhead.sh("ulimit -Hn", ["--limits", "best-effort", "--ulimit", "nofile=100:256"], prefix: capped)
        #expect(lower.status == 0 && lower.stdout == "256\n", "\(lower.stdout) \(lower.stderr)")
    }
}

/// `FieldRules.cpuList` (`--cpuset-cpus`, a profile's `resources.cpusetCpus`), in process.
@Suite struct RedTeamFlagsModelTests {
    /// A hostname with the host's UTS namespace is refused at the layer that set it: a profile's
    /// `hostname` at its file and field, `--hostname` at the flag; a later layer's `--uts host`
    /// overrides an earlier layer's hostname.
    @Test func hostnameNeedsItsOwnUTSNamespace() throws {
        func refusal(_ layers: [ProfileLayer]) -> ConfigError? {
            do throws(ConfigError) { _ = try EffectiveProfile.resolve(layers); return nil } catch { return error }
        }
        let profile = try ProfileParser.parse("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nnamespaces:\n  uts: false\nhostname: web\n", file: "p.yaml")
        let e = try #require(refusal([profile]))
        #expect(e.file == "p.yaml" && e.field == "hostname" && e.message.contains("UTS"))
        var flags = CommandLineLayer()
        flags.utsNamespace = "host"
        flags.hostname = "web"
        let f = try #require(refusal([try flags.layer(environment: [:], currentDirectory: "/")]))
        #expect(f.field == "--hostname")
        let named = try ProfileParser.parse("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nhostname: web\n", file: "q.yaml")
        var hostUTS = CommandLineLayer()
        hostUTS.utsNamespace = "host"
        // A later layer that shares the host's UTS namespace overrides a parent's hostname (as
        // `--uts host` over the `container` profile's `hostname: sandbox`), and the defaults'.
        #expect(refusal([named, try hostUTS.layer(environment: [:], currentDirectory: "/")]) == nil)
        #expect(refusal([try hostUTS.layer(environment: [:], currentDirectory: "/")]) == nil)
    }

    /// A CPU list that repeats `0-8191` was expanded item by item into a set: 126 KB of flag
    /// (18,000 items) took 42 s of the root launcher's CPU, a 4 MiB profile hours, before any
    /// check of the host ran. The ranges are now merged first: linear in the text.
    @Test func repeatedCPURangesCostTheListOnce() {
        let list = Array(repeating: "0-8191", count: 2000).joined(separator: ",")
        var cpus: [UInt32] = []
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        if case .success(let v) = FieldRules.cpuList(list) { cpus = v }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        let cpu = Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
        #expect(cpus == Array(0...8191))
        #expect(cpu < 1, "parsing \(list.utf8.count) bytes of CPU list took \(cpu) s of CPU")
        // Overlaps, repeats and any order: each CPU once, sorted.
        for (text, want) in [("3,1-2,2,0", [0, 1, 2, 3]), ("5-5,4", [4, 5]), ("7,0-3,2-5", [0, 1, 2, 3, 4, 5, 7]), ("8191", [8191])] {
            guard case .success(let v) = FieldRules.cpuList(text) else { Issue.record("\(text) refused"); continue }
            #expect(v == want.map(UInt32.init), "\(text)")
        }
        for bad in ["", "1-", "3-1", "8192", "0-99999", "1,,2", "a"] {
            guard case .failure = FieldRules.cpuList(bad) else { Issue.record("\(bad) accepted"); continue }
        }
    }

    /// The numeric flags issue 15 added, over the hostile values of `NumberCommandLineTests`:
    /// each value is refused naming its flag or taken within range; nothing traps (a trap
    /// kills this process, as it would the root launcher).
    @Test func newNumericFlagsNeverTrap() {
        let flags: [(String, (String) -> String)] = [
            ("--shm-size", { $0 }), ("--memory-swap", { $0 }), ("--pids-limit", { $0 }), ("--ulimit", { "nofile=\($0)" }),
            ("--ulimit", { "nofile=1:\($0)" }), ("--group-add", { $0 }), ("--cpuset-cpus", { $0 }), ("--cpuset-cpus", { "0-\($0)" }),
            ("--mount", { "type=tmpfs,target=/m,tmpfs-size=\($0)" }),
        ]
        for (flag, make) in flags {
            for v in NumberCommandLineTests.values.prefix(60) {
                let (layer, error) = NumberCommandLineTests.parse(flag, make(v))
                if let error {
                    #expect(error.field == flag || error.field.hasPrefix("resources") || error.field.hasPrefix("rlimits"), "\(flag) \(v): \(error)")
                } else if let layer {
                    #expect((layer.shmSizeBytes ?? 0) <= 1 << 62, "\(flag) \(v)")
                    #expect((layer.limits.pids ?? 0) <= 4_194_304, "\(flag) \(v)")
                    #expect((layer.cpusetCPUs ?? []).allSatisfy { $0 <= FieldRules.maxCPU }, "\(flag) \(v)")
                    #expect(!(layer.supplementalGroups ?? []).contains(.id(UInt32.max)), "\(flag) \(v): (gid_t)-1 taken")
                    #expect((layer.tmpfs ?? []).allSatisfy { ($0.sizeBytes ?? 0) <= 1 << 62 }, "\(flag) \(v)")
                }
            }
        }
    }

    /// `--group-add` values that look like both or neither: hex, exponents, signs, blanks,
    /// full-width digits, Roman numerals, non-ASCII letters, (gid_t)-1, a colon (which would
    /// cut an /etc/group line) are refused; a plain number is a gid, a plain name a name.
    @Test func groupReferencesThatLookLikeBoth() {
        for bad in ["0x10", "\u{FF15}", "\u{216B}", "\u{01C5}", "1e3", "+5", " 5", "5 ", "10.", "4294967295", "-1", "ro:ot", "root ", "", "a\nb"] {
            guard case .failure = FieldRules.groupReference(bad) else { Issue.record("\(bad.debugDescription) accepted"); continue }
        }
        for (text, want) in [("0", GroupReference.id(0)), ("4294967294", .id(4_294_967_294)), ("staff", .name("staff")), ("_apt", .name("_apt")),
                             ("a1-b.c$", .name("a1-b.c$"))] {
            guard case .success(let v) = FieldRules.groupReference(text) else { Issue.record("\(text) refused"); continue }
            #expect(v == want, "\(text)")
        }
    }
}
