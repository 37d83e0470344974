import BulkheadLaunch
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc

/// The runc command line (`bulkhead-runc ARGS`, `bulkhead oci ARGS`): global flags, then a
/// subcommand and its flags, exactly the set podman 4.3/conmon 2.1, containerd's runc v2 shim
/// (go-runc) and CRI-O pass. A flag it does not know is an error naming it (exit 1, as runc).
public enum OCICommandLine {
    struct Globals {
        var root = OCIRuntime.defaultRoot
        var log: String?
        var logFormat = "text"
        var debug = false
    }

    /// Runs one command; returns the process exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        var g = Globals()
        var args = arguments[...]
        do throws(OCIError) {
            // Global flags come before the subcommand (runc's urfave/cli takes them there).
            while let a = args.first, a.hasPrefix("-") {
                args = args.dropFirst()
                let (name, inline) = split(a)
                func value() throws(OCIError) -> String {
                    if let inline { return inline }
                    guard let v = args.first else { throw OCIError("flag \(name) needs a value") }
                    args = args.dropFirst()
                    return v
                }
                switch name {
                case "--root": g.root = try value()
                case "--log": g.log = try value()
                case "--log-format":
                    g.logFormat = try value()
                    guard ["text", "json"].contains(g.logFormat) else { throw OCIError("--log-format: text or json, not \"\(g.logFormat)\"") }
                case "--debug": g.debug = true
                case "--systemd-cgroup":
                    throw OCIError("--systemd-cgroup is not supported by bulkhead: it manages cgroupfs cgroups itself (bulkhead/oci/<id>); configure the engine with cgroup_manager = \"cgroupfs\" (podman) or SystemdCgroup = false (containerd)")
                case "--rootless":
                    let v = try value()
                    guard v == "false" || v == "auto" else { throw OCIError("--rootless \(v): rootless mode is not supported by this runtime yet") }
                case "--criu": _ = try value()
                case "-v", "--version":
                    write(1, "bulkhead-runc version 0.1.0\nspec: \(OCIRuntime.version)\n")
                    return 0
                case "-h", "--help":
                    write(1, usage)
                    return 0
                default: throw OCIError("unknown global flag \(name)")
                }
            }
            guard let command = args.first else { write(2, usage); return 1 }
            args = args.dropFirst()
            // uid 0 of a user namespace that is not the host's (how rootless podman calls its
            // runtime) is not root: refused by name rather than by root's checks of what that
            // namespace shows (the host's /run/bulkhead-oci, a bundle owned by the overflow uid).
            // Fail closed: without /proc/self/uid_map uid 0 cannot be told from the host's root.
            if getuid() == 0, !["features", "spec", OCIRecordKeeper.command].contains(command) {
                switch UserNamespaceProbe.currentIsInitial() {
                case true?: break
                case nil:
                    throw OCIError("\(command): read /proc/self/uid_map (uid 0 is the host's root only in the host's user namespace): not readable (ENOENT or EACCES) — mount /proc")
                case false?:
                    throw OCIError("\(command): bulkhead-runc runs as uid 0 of a user namespace that is not the host's (rootless podman calls its runtime so), and that rootless mode is not supported yet: what is missing is checking the state root, the bundle, cgroups and id maps against the caller's ids as the host sees them, which bulkhead-runc does only in the host's user namespace. Run the engine as root (sudo podman --runtime ...), or run bulkhead-runc as an ordinary user in the host's user namespace (setpriv --reuid USER), or keep runc or crun for rootless podman (docs/oci.md, \"Rootless\")")
                }
            }
            // The container's init is a clone of this process: it must not be the host's binary.
            if command == "create" || command == "run" || command == "exec" {
                do { try SealedSelf.reexecIfNeeded() } catch { throw OCIError("\(command): \(error)") }
            }
            if command == OCIRecordKeeper.command { return OCIRecordKeeper.main(Array(args)) { report($0, g) } }
            var runtime = OCIRuntime(root: g.root, injectFault: faultFromEnvironment())
            runtime.log = g.log
            return try run(command, Array(args), runtime, g)
        } catch {
            report(error.message, g)
            return 1
        }
    }

    /// Test-only fault injection (`BULKHEAD_OCI_INJECT_FAULT=step:N|id-maps|cgroup-create`), honoured
    /// only when the caller is root and the variable names a known point.
    static func faultFromEnvironment() -> FaultPoint? {
        guard let v = getenv("BULKHEAD_OCI_INJECT_FAULT") else { return nil }
        return getuid() == 0 ? FaultPoint(argument: String(cString: v)) : nil
    }

    /// An error (or, `level` "warning", a failed poststart/poststop hook) as runc writes it: to
    /// --log (`{"level","msg","time"}` lines with --log-format json, which containerd's shim and
    /// conmon read back for the error they show) and to stderr.
    static func report(_ message: String, _ g: Globals, level: String = "error") {
        let line: String
        if g.logFormat == "json" {
            line = json(["level": level, "msg": message, "time": OCIRuntime.now()], pretty: false)
        } else {
            line = "bulkhead-runc: " + (level == "error" ? "" : level + ": ") + message
        }
        if let log = g.log {
            let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
            if fd >= 0 { write(fd, line + "\n"); close(fd) }
        }
        // Conmon and go-runc read the error from the log; a human from stderr.
        write(2, (g.logFormat == "json" ? "bulkhead-runc: " + (level == "error" ? "" : level + ": ") + message : line) + "\n")
    }

    static func split(_ a: String) -> (String, String?) {
        guard a.hasPrefix("--"), let eq = a.firstIndex(of: "=") else { return (a, nil) }
        return (String(a[..<eq]), String(a[a.index(after: eq)...]))
    }

    /// A subcommand's flags: `spec` lists each (name, takes a value); anything else starting
    /// with - is an error naming it. Returns the values and the positional arguments.
    static func parse(_ args: [String], _ command: String, _ spec: [String: Bool]) throws(OCIError) -> (flags: [String: String], positional: [String]) {
        let (list, positional) = try parseList(args, command, spec)
        var flags: [String: String] = [:]
        for (k, v) in list { flags[k] = v }
        return (flags, positional)
    }

    /// `parse`, keeping every occurrence of a flag in order (`exec --env A --env B`).
    static func parseList(_ args: [String], _ command: String, _ spec: [String: Bool]) throws(OCIError) -> (flags: [(String, String)], positional: [String]) {
        var flags: [(String, String)] = [], positional: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--" { positional += args[i...]; break }
            guard a.hasPrefix("-"), a != "-" , positional.isEmpty || command == "kill" else { positional.append(a); continue }
            if command == "kill", !positional.isEmpty { positional.append(a); continue }
            var (name, inline) = split(a)
            if !name.hasPrefix("--") && name.count > 2 { name = "-" + name.dropFirst() }
            guard let takesValue = spec[name] ?? spec["-" + name] else { throw OCIError("\(command): unknown flag \(name)") }
            // The spelling the spec lists ("-d", "--detach"): "-d" was stored as "--d" before.
            let key = spec[name] != nil ? name : "-" + name
            if takesValue {
                if let inline { flags.append((key, inline)) } else {
                    guard i < args.count else { throw OCIError("\(command): flag \(name) needs a value") }
                    flags.append((key, args[i]))
                    i += 1
                }
            } else {
                flags.append((key, inline ?? "true"))
            }
        }
        return (flags, positional)
    }

    static func one(_ p: [String], _ command: String) throws(OCIError) -> String {
        guard p.count == 1 else { throw OCIError("\(command): exactly one container id expected, got \(p.count) arguments") }
        return p[0]
    }

    static func run(_ command: String, _ args: [String], _ runtime: OCIRuntime, _ g: Globals) throws(OCIError) -> Int32 {
        switch command {
        case "create", "run":
            var spec: [String: Bool] = ["--bundle": true, "-b": true, "--pid-file": true, "--console-socket": true, "--preserve-fds": true,
                                        "--no-pivot": false, "--no-new-keyring": false]
            if command == "run" { spec["--detach"] = false; spec["-d"] = false; spec["--keep"] = false }
            let (f, p) = try parse(args, command, spec)
            let id = try one(p, command)
            var o = OCIRuntime.CreateOptions(bundle: f["--bundle"] ?? f["-b"] ?? ".")
            o.pidFile = f["--pid-file"]
            o.consoleSocket = f["--console-socket"]
            if let n = f["--preserve-fds"] {
                guard let v = Int32(n), v >= 0, v <= 100 else { throw OCIError("\(command): --preserve-fds needs 0...100") }
                o.preserveFDs = v
            }
            let detach = f["--detach"] != nil || f["-d"] != nil
            // run in the foreground without a console socket relays process.terminal's pty
            // itself, as runc does (create, and run --detach, refuse a terminal without one).
            if command == "run" && !detach && o.consoleSocket == nil {
                do { o.terminal = try TerminalRelay() } catch { throw OCIError("run \(id): \(error)") }
            }
            let pid = try runtime.create(id: id, options: o)
            if command == "create" { return 0 }
            do { for w in try runtime.start(id: id) { report(w, g, level: "warning") } } catch {
                // As runc's run: a container that failed to start is destroyed (its init, our
                // child, is killed if still there, and reaped here).
                try? runtime.delete(id: id, force: true)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                throw error
            }
            if detach { return 0 }
            // Foreground: wait for the init (our child), forwarding signals and relaying its
            // terminal, and exit with its status, as runc.
            let status = OCIRuntime.foreground(initPid: pid, terminal: o.terminal?.handedOut == true ? o.terminal : nil)
            if f["--keep"] == nil, let warnings = try? runtime.delete(id: id, force: true) {
                for w in warnings { report(w, g, level: "warning") }
            }
            return status
        case "start":
            let (_, p) = try parse(args, command, [:])
            for w in try runtime.start(id: try one(p, command)) { report(w, g, level: "warning") }
            return 0
        case "state":
            let (_, p) = try parse(args, command, [:])
            let s = try runtime.state(id: try one(p, command))
            write(1, json(s, pretty: true) + "\n")
            return 0
        case "kill":
            let (f, p) = try parse(args, command, ["--all": false, "-a": false])
            guard p.count == 1 || p.count == 2 else { throw OCIError("kill: usage: kill [--all] ID [SIGNAL]") }
            let sig = try OCIRuntime.signal(p.count == 2 ? p[1] : "SIGTERM")
            try runtime.kill(id: p[0], signal: sig, all: f["--all"] != nil || f["-a"] != nil)
            return 0
        case "delete":
            let (f, p) = try parse(args, command, ["--force": false, "-f": false])
            for w in try runtime.delete(id: try one(p, command), force: f["--force"] != nil || f["-f"] != nil) { report(w, g, level: "warning") }
            return 0
        case "list":
            let (f, p) = try parse(args, command, ["--format": true, "-f": true, "--quiet": false, "-q": false])
            guard p.isEmpty else { throw OCIError("list: no arguments expected") }
            let all = try runtime.list()
            let format = f["--format"] ?? f["-f"] ?? "table"
            if f["--quiet"] != nil || f["-q"] != nil {
                write(1, all.map { $0.id + "\n" }.joined())
            } else if format == "json" {
                write(1, json(all, pretty: false) + "\n")
            } else if format == "table" {
                var out = "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n"
                for s in all { out += "\(s.id)\t\(s.pid)\t\(s.status)\t\(s.bundle)\t\(s.created)\troot\n" }
                write(1, out)
            } else {
                throw OCIError("list: --format table or json, not \"\(format)\"")
            }
            return 0
        case "spec":
            let (f, p) = try parse(args, command, ["--bundle": true, "-b": true, "--rootless": false])
            guard p.isEmpty else { throw OCIError("spec: no arguments expected") }
            guard f["--rootless"] == nil else { throw OCIError("spec: --rootless is not supported by bulkhead yet") }
            let dir = f["--bundle"] ?? f["-b"] ?? "."
            let path = dir + "/config.json"
            guard access(path, F_OK) != 0 else { throw OCIError("spec: \(path) exists already (EEXIST); remove it first") }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard fd >= 0 else { throw OCIError(SystemError("spec: create \(path)", errno: .current)) }
            write(fd, OCISpecTemplates.defaultConfig)
            close(fd)
            return 0
        case "features":
            let (_, p) = try parse(args, command, [:])
            guard p.isEmpty else { throw OCIError("features: no arguments expected") }
            write(1, OCISpecTemplates.features + "\n")
            return 0
        case "ps":
            let (f, p) = try parse(args, command, ["--format": true, "-f": true])
            guard p.count == 1 else { throw OCIError("ps: usage: ps --format json ID (ps options are not supported)") }
            let format = f["--format"] ?? f["-f"] ?? "table"
            guard format == "json" else { throw OCIError("ps: only --format json is supported by bulkhead-runc, not \"\(format)\"") }
            write(1, json(try runtime.processes(id: p[0]), pretty: false) + "\n")
            return 0
        case "pause", "resume":
            let (_, p) = try parse(args, command, [:])
            let id = try one(p, command)
            if command == "pause" { try runtime.pause(id: id) } else { try runtime.resume(id: id) }
            return 0
        case "update":
            let spec: [String: Bool] = ["--resources": true, "-r": true, "--memory": true, "--memory-swap": true, "--memory-reservation": true,
                                        "--cpu-shares": true, "--cpu-quota": true, "--cpu-period": true, "--cpuset-cpus": true,
                                        "--cpuset-mems": true, "--pids-limit": true, "--blkio-weight": true]
            let (f, p) = try parse(args, command, spec)
            let id = try one(p, command)
            let text = try updateDocument(f)
            _ = try runtime.update(id: id, resources: text)
            return 0
        case "exec":
            let spec: [String: Bool] = ["--process": true, "-p": true, "--tty": false, "-t": false, "--detach": false, "-d": false,
                                        "--pid-file": true, "--console-socket": true, "--env": true, "-e": true, "--cwd": true,
                                        "--user": true, "-u": true, "--additional-gids": true, "-g": true, "--cap": true, "-c": true,
                                        "--no-new-privs": false, "--preserve-fds": true, "--process-label": true, "--apparmor": true,
                                        "--ignore-paused": false, "--no-subreaper": false]
            let (all, p) = try parseList(args, command, spec)
            // `parseList` keys a flag by the spelling the spec lists ("-d", "--detach"): one name per flag here.
            let long = ["-p": "--process", "-t": "--tty", "-d": "--detach", "-e": "--env", "-u": "--user",
                        "-g": "--additional-gids", "-c": "--cap"]
            let named = all.map { (long[$0.0] ?? $0.0, $0.1) }
            var f: [String: String] = [:]
            for (k, v) in named { f[k] = v }
            func values(_ name: String) -> [String] { named.filter { $0.0 == name }.map(\.1) }
            guard let id = p.first else { throw OCIError("exec: usage: exec [flags] ID COMMAND [ARGS...] (or --process FILE)") }
            var o = OCIRuntime.ExecOptions()
            o.args = Array(p.dropFirst())
            o.processFile = f["--process"]
            o.tty = f["--tty"] != nil
            o.detach = f["--detach"] != nil
            o.pidFile = f["--pid-file"]
            o.consoleSocket = f["--console-socket"]
            o.env = values("--env")
            o.cwd = f["--cwd"]
            o.user = f["--user"]
            o.additionalGids = values("--additional-gids")
            o.caps = values("--cap")
            o.noNewPrivs = f["--no-new-privs"] != nil
            o.ignorePaused = f["--ignore-paused"] != nil
            if let n = f["--preserve-fds"] {
                guard let v = Int32(n), v >= 0, v <= 100 else { throw OCIError("exec: --preserve-fds needs 0...100") }
                o.preserveFDs = v
            }
            // Accepted, as create accepts process.apparmorProfile/selinuxLabel: not enforced here.
            if f["--apparmor"].map({ !$0.isEmpty }) == true { report("warning: exec --apparmor: AppArmor is not enforced by bulkhead", g, level: "warning") }
            if f["--process-label"].map({ !$0.isEmpty }) == true { report("warning: exec --process-label: SELinux is not enforced by bulkhead", g, level: "warning") }
            return try runtime.exec(id: id, options: o)
        case "checkpoint", "restore", "events", "port":
            throw OCIError("\(command) is not implemented by bulkhead-runc yet")
        default:
            throw OCIError("unknown command \(command)")
        }
    }

    /// `update`'s resources: the `--resources` document (a file, or "-" for stdin, read
    /// through TrustedFile; at most 1 MiB), with runc's flags set over it. Flag values are read
    /// by the profile's own rules (memory sizes: `NumberField.memory`, `FieldRules.memorySwap`;
    /// counts: integers); the document is then decoded by the config's rules.
    static func updateDocument(_ f: [String: String]) throws(OCIError) -> String {
        var doc: [String: Any] = [:]
        if let source = f["--resources"] ?? f["-r"] {
            var bytes: [UInt8]
            if source == "-" {
                bytes = []
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buf.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    bytes += buf[0..<n]
                    guard bytes.count <= 1 << 20 else { throw OCIError("update: --resources: more than 1 MiB (EFBIG)") }
                }
            } else {
                do { bytes = try TrustedFile.read(source, what: "update resources", limit: 1 << 20).bytes } catch { throw OCIError("update: --resources: \(error)") }
            }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw OCIError("update: --resources: not a JSON object (EINVAL)")
            }
            doc = obj
        }
        func set(_ section: String, _ key: String, _ value: Any) {
            var s = doc[section] as? [String: Any] ?? [:]
            s[key] = value
            doc[section] = s
        }
        func integer(_ flag: String) throws(OCIError) -> Int64? {
            guard let t = f[flag] else { return nil }
            guard let v = Int64(t) else { throw OCIError("update: \(flag): an integer expected") }
            return v
        }
        func bytes(_ flag: String, swap: Bool = false) throws(OCIError) -> Int64? {
            guard let t = f[flag] else { return nil }
            let r = swap ? FieldRules.memorySwap(t) : NumberField.memory.parse(t)
            switch r {
            case .success(let v): return v == .max ? -1 : Int64(exactly: v) ?? -1
            case .failure(let refusal): throw OCIError("update: \(flag): \(refusal.message)")
            }
        }
        if let v = try bytes("--memory") { set("memory", "limit", v) }
        if let v = try bytes("--memory-swap", swap: true) { set("memory", "swap", v) }
        if let v = try bytes("--memory-reservation") { set("memory", "reservation", v) }
        if let v = try integer("--cpu-shares") { set("cpu", "shares", v) }
        if let v = try integer("--cpu-quota") { set("cpu", "quota", v) }
        if let v = try integer("--cpu-period") { set("cpu", "period", v) }
        if let v = f["--cpuset-cpus"] { set("cpu", "cpus", v) }
        if let v = f["--cpuset-mems"] { set("cpu", "mems", v) }
        if let v = try integer("--pids-limit") { set("pids", "limit", v) }
        if let v = try integer("--blkio-weight") { set("blockIO", "weight", v) }
        guard let data = try? JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]) else { throw OCIError("update: encode the resources") }
        return String(decoding: data, as: UTF8.self)
    }

    /// What runc prints (state, list, ps) and the state a hook reads: `JSONText`, the text
    /// `JSONEncoder` wrote with sorted keys and unescaped slashes, without Foundation.
    static func json<T: Encodable>(_ v: T, pretty: Bool) -> String {
        (try? pretty ? JSONText.encode(v) : JSONText.encodeCompact(v)) ?? "{}"
    }

    static func write(_ fd: Int32, _ text: String) {
        var t = text
        t.withUTF8 { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    static let usage = """
    usage: bulkhead-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS]
    commands: create, start, run, exec, state, kill, delete, list, ps, pause, resume, update, spec, features

    """
}
