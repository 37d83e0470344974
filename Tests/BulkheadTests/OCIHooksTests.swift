import BulkheadConfig
import BulkheadModel
@testable import Bulkhead
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// `bulkhead-runc` hooks and failure reports on the real kernel (issue 13, section 1): real
/// hooks (shell scripts) that write the state JSON they read on stdin and the namespace they ran
/// in; a failure of create/start/run on stderr and in the --log JSON lines containerd reads.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIHooksTests {
    typealias B = OCIRuntimeTests.Bundle

    static func rt(_ args: [String], _ b: B) throws -> Bulkhead.Result { try OCIRuntimeTests.rt(args, root: b.stateRoot) }

    /// The `--log` file's lines, decoded (each must be a JSON object).
    static func logLines(_ path: String) -> [[String: String]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: String]) ?? ["unparsed": String(line)]
        }
    }

    static func readJSON(_ path: String) -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }

    static func waitStopped(_ b: B) throws {
        for _ in 0..<300 where try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
    }

    /// A hook script at `path` (mode 0755): appends its kind to OUT/order, writes the state it
    /// reads on stdin to OUT/KIND.json, its mount namespace to OUT/KIND.ns, its $1 and $HOOKVAR
    /// to OUT/KIND.args, then runs `tail`.
    static func hook(_ path: String, kind: String, out: String, tail: String = "exit 0") throws {
        let text = """
        #!/bin/sh
        echo \(kind) >> \(out)/order
        cat > \(out)/\(kind).json
        if command -v readlink >/dev/null; then readlink /proc/self/ns/mnt; else busybox readlink /proc/self/ns/mnt; fi > \(out)/\(kind).ns
        echo "$1 $HOOKVAR" > \(out)/\(kind).args
        \(tail)

        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    static func entry(_ path: String, kind: String, timeout: Int? = nil) -> [String: Any] {
        var h: [String: Any] = ["path": path, "args": [path, "arg-" + kind], "env": ["HOOKVAR=env-" + kind, "PATH=/bin:/usr/bin"]]
        if let timeout { h["timeout"] = timeout }
        return h
    }

    static func hookDirectory() throws -> String {
        let d = NSTemporaryDirectory() + "bh-hooks-\(token())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    // MARK: failures reach the caller

    /// A step that fails after `start` released the init (the working directory is a file):
    /// `start` exits non-zero naming the step and the errno, on stderr and as the one JSON
    /// error line in --log; the workload did not run and the container is stopped.
    @Test func startFailureNamesTheStepOnStderrAndInTheLog() throws {
        let b = try B(args: ["/bin/sh", "-c", "touch /out/ran"]) { config in
            var process = config["process"] as! [String: Any]
            process["cwd"] = "/w"
            config["process"] = process
        }
        FileManager.default.createFile(atPath: b.dir + "/rootfs/w", contents: Data())
        let log = b.out + "/runc.log"
        let c = try Self.rt(["--log", log, "--log-format", "json", "create", "--bundle", b.dir, b.id], b)
        #expect(c.status == 0, "create: \(c.stderr)")
        let s = try Self.rt(["--log", log, "--log-format", "json", "start", b.id], b)
        #expect(s.status != 0)
        #expect(s.stderr.contains("chdir /w") && s.stderr.contains("ENOTDIR"), "stderr: \(s.stderr)")
        let errors = Self.logLines(log).filter { $0["level"] == "error" }
        #expect(errors.count == 1 && errors.first?["msg"]?.contains("chdir /w") == true && errors.first?["msg"]?.contains("ENOTDIR") == true
                && errors.first?["time"] != nil, "log: \(Self.logLines(log))")
        #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"))
        try Self.waitStopped(b)
        #expect(try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String == "stopped")
        #expect(try Self.rt(["delete", b.id], b).status == 0)
    }

    /// `run` of a command the image lacks: the execve step, ENOENT and where it was searched,
    /// on stderr and in the text log; nothing is left under --root.
    @Test func runFailureNamesTheCommandAndLeavesNothing() throws {
        let b = try B(args: ["/bin/nope"])
        let log = b.out + "/runc.log"
        let r = try Self.rt(["--log", log, "run", "--bundle", b.dir, b.id], b)
        #expect(r.status != 0)
        #expect(r.stderr.contains("execve /bin/nope (command not found)") && r.stderr.contains("ENOENT"), "stderr: \(r.stderr)")
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("execve /bin/nope"), "log: \(text)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.stateRoot)) ?? ["?"]).isEmpty)
    }

    // MARK: hooks

    /// Every kind runs once, in the spec's order, with the state on stdin (id, bundle, the
    /// init's pid, the status of its point in the lifecycle), its args and env; prestart,
    /// createRuntime, poststart and poststop in the runtime's mount namespace, createContainer
    /// and startContainer in the container's.
    @Test func everyHookRunsWithTheStateOnStdin() throws {
        let hostHooks = try Self.hookDirectory()
        defer { try? FileManager.default.removeItem(atPath: hostHooks) }
        let onHost = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
        let b = try B(args: ["/bin/sleep", "1000"]) { config in
            var hooks: [String: Any] = [:]
            for kind in onHost { hooks[kind] = [Self.entry(hostHooks + "/" + kind, kind: kind, timeout: 30)] }
            hooks["startContainer"] = [Self.entry("/hook-start", kind: "startContainer")]
            config["hooks"] = hooks
        }
        for kind in onHost { try Self.hook(hostHooks + "/" + kind, kind: kind, out: b.out) }
        // startContainer resolves inside the container: the image's /hook-start writes to /out.
        try Self.hook(b.dir + "/rootfs/hook-start", kind: "startContainer", out: "/out")
        let c = try Self.rt(["create", "--bundle", b.dir, "--pid-file", b.dir + "/pid", b.id], b)
        #expect(c.status == 0, "create: \(c.stderr)")
        let pid = Int32((try? String(contentsOfFile: b.dir + "/pid", encoding: .utf8)) ?? "") ?? -1
        let containerNS = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt")) ?? "?"
        let hostNS = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        let s = try Self.rt(["start", b.id], b)
        #expect(s.status == 0, "start: \(s.stderr)")
        #expect(try Self.rt(["kill", b.id, "KILL"], b).status == 0)
        try Self.waitStopped(b)
        let d = try Self.rt(["delete", b.id], b)
        #expect(d.status == 0, "delete: \(d.stderr)")

        let order = ((try? String(contentsOfFile: b.out + "/order", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        #expect(order == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"], "order: \(order)")
        let expected = ["prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
                        "startContainer": "created", "poststart": "running", "poststop": "stopped"]
        for (kind, status) in expected {
            let st = Self.readJSON(b.out + "/\(kind).json")
            #expect(st?["id"] as? String == b.id && st?["status"] as? String == status && st?["bundle"] as? String == b.dir
                    && st?["ociVersion"] as? String != nil, "\(kind): \(String(describing: st))")
            if kind != "poststop" { #expect((st?["pid"] as? Int).map(Int32.init) == pid, "\(kind) pid") }
            let args = (try? String(contentsOfFile: b.out + "/\(kind).args", encoding: .utf8)) ?? ""
            #expect(args == "arg-\(kind) env-\(kind)\n", "\(kind) args/env: \(args)")
            let ns = ((try? String(contentsOfFile: b.out + "/\(kind).ns", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let inContainer = kind == "createContainer" || kind == "startContainer"
            #expect(ns == (inContainer ? containerNS : hostNS), "\(kind) runs in the \(inContainer ? "container's" : "runtime's") mount namespace: \(ns)")
        }
    }

    /// A failing prestart/createRuntime/createContainer hook fails create (its kind, index and
    /// status on stderr), leaves nothing, and poststop still runs; a failing startContainer hook
    /// fails start and the workload never runs; a failing poststart hook is a warning and the
    /// container runs.
    @Test(arguments: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart"])
    func failingHook(kind: String) throws {
        let hostHooks = try Self.hookDirectory()
        defer { try? FileManager.default.removeItem(atPath: hostHooks) }
        let inside = kind == "startContainer"
        let path = inside ? "/hook-fail" : hostHooks + "/fail"
        let b = try B(args: ["/bin/sh", "-c", "touch /out/ran; exec sleep 1000"]) { config in
            config["hooks"] = [kind: [Self.entry(path, kind: kind)], "poststop": [Self.entry(hostHooks + "/poststop", kind: "poststop")]]
        }
        try Self.hook(inside ? b.dir + "/rootfs/hook-fail" : path, kind: kind, out: inside ? "/out" : b.out, tail: "exit 3")
        try Self.hook(hostHooks + "/poststop", kind: "poststop", out: b.out)
        let c = try Self.rt(["create", "--bundle", b.dir, b.id], b)
        if kind == "startContainer" || kind == "poststart" {
            #expect(c.status == 0, "create: \(c.stderr)")
            let s = try Self.rt(["start", b.id], b)
            if kind == "poststart" {
                #expect(s.status == 0, "a poststart failure is a warning: \(s.stderr)")
                #expect(s.stderr.contains("warning: the poststart hook 0 (\(path)) exited with status 3"), "stderr: \(s.stderr)")
                for _ in 0..<200 where !FileManager.default.fileExists(atPath: b.out + "/ran") { usleep(10_000) }
                #expect(FileManager.default.fileExists(atPath: b.out + "/ran"))
            } else {
                #expect(s.status != 0)
                #expect(s.stderr.contains("run the startContainer hook 0 (/hook-fail)") && s.stderr.contains("ECHILD"), "stderr: \(s.stderr)")
                usleep(200_000)
                #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"), "the workload never ran")
            }
            let d = try Self.rt(["delete", "--force", b.id], b)
            #expect(d.status == 0, "delete: \(d.stderr)")
        } else {
            #expect(c.status != 0)
            let named = kind == "createContainer" ? "run the createContainer hook 0 (\(path))" : "the \(kind) hook 0 (\(path)) exited with status 3"
            #expect(c.stderr.contains(named), "stderr: \(c.stderr)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.stateRoot)) ?? ["?"]).isEmpty, "create leaves nothing")
            #expect(!FileManager.default.fileExists(atPath: b.out + "/ran"))
        }
        #expect(FileManager.default.fileExists(atPath: b.out + "/\(kind).json"), "the hook ran")
        #expect(FileManager.default.fileExists(atPath: b.out + "/poststop.json"), "poststop runs after a failed create or the delete")
    }

    /// A hook past its timeout is killed (it never writes its marker) and create fails naming
    /// the timeout; nothing is left.
    @Test func hookTimeoutKillsIt() throws {
        let hostHooks = try Self.hookDirectory()
        defer { try? FileManager.default.removeItem(atPath: hostHooks) }
        let b = try B(args: ["/bin/true"]) { config in
            config["hooks"] = ["createRuntime": [Self.entry(hostHooks + "/slow", kind: "createRuntime", timeout: 1)]]
        }
        try Self.hook(hostHooks + "/slow", kind: "createRuntime", out: b.out, tail: "sleep 4; echo late > \(b.out)/late")
        let c = try Self.rt(["create", "--bundle", b.dir, b.id], b)
        #expect(c.status != 0)
        #expect(c.stderr.contains("the createRuntime hook 0") && c.stderr.contains("timeout of 1 s") && c.stderr.contains("ETIMEDOUT"), "stderr: \(c.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: b.stateRoot)) ?? ["?"]).isEmpty)
        sleep(5)
        #expect(!FileManager.default.fileExists(atPath: b.out + "/late"), "the hook was killed")
    }
}

/// config.json `hooks`: what runc and the runtime-spec check, by field.
@Suite struct OCIHookConfigTests {
    static func config(_ hooks: String) -> String {
        #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}, "hooks": "# + hooks + "}"
    }

    @Test func hooksAreDecodedInOrder() throws {
        let c = try OCIConfig.decode(Self.config(#"{"prestart": [{"path": "/a"}, {"path": "/b", "args": ["b", "1"], "env": ["X=1"], "timeout": 5}], "poststop": [{"path": "/c"}]}"#), bundle: "/b")
        #expect(c.hooks(.prestart) == [OCIHook(kind: .prestart, path: "/a"), OCIHook(kind: .prestart, path: "/b", args: ["b", "1"], env: ["X=1"], timeout: 5)])
        #expect(c.hooks(.poststop).map(\.argv) == [["/c"]])
    }

    @Test(arguments: [
        #"{"createRuntime": [{"path": "SECRET"}]}"#,
        #"{"createRuntime": [{"path": "/x", "timeout": 0}]}"#,
        #"{"createRuntime": [{"path": "/x", "env": ["SECRET"]}]}"#,
        #"{"createRuntime": [{"path": "/x", "frob": 1}]}"#,
        #"{"onBoot": [{"path": "/x"}]}"#,
    ])
    func refused(_ hooks: String) {
        do {
            _ = try OCIConfig.decode(Self.config(hooks), bundle: "/b")
            Issue.record("accepted: \(hooks)")
        } catch {
            #expect(error.field.hasPrefix("hooks"), "\(error)")
            #expect(!error.message.contains("SECRET"), "\(error.message)")
        }
    }
}

/// Annotations are bounded, and the refusal names them and the limit, never the value.
@Suite struct OCIAnnotationLimitTests {
    @Test func overTheLimitIsRefusedNamingAnnotations() throws {
        let big = "SECRET" + String(repeating: "x", count: 3 << 20)
        let text = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}, "annotations": {"a": ""# + big + #""}}"#
        do {
            _ = try OCIConfig.decode(text, bundle: "/b")
            Issue.record("a 3 MiB annotation was accepted")
        } catch {
            #expect(error.field == "annotations" && error.message.contains("256 KiB"), "\(error)")
            #expect(!error.message.contains("SECRET"))
        }
        let fits = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "linux": {"namespaces": [{"type": "mount"}]}, "annotations": {"a": ""# + String(repeating: "x", count: 200 << 10) + #""}}"#
        #expect(try OCIConfig.decode(fits, bundle: "/b").annotations.first?.1.count == 200 << 10)
    }
}

/// `kill --all`: a pid is signalled only when, held by a pidfd, it is in the container's cgroup.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIKillAllTests {
    /// The membership check `kill --all` makes after opening each pidfd: this test process is
    /// not in the container's cgroup (a pid reused by it would be skipped); the container's
    /// init and its child are; `kill --all KILL` ends both.
    @Test func onlyTheContainersProcessesAreSignalled() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/sh", "-c", "sleep 1000 & echo $! > /out/child; wait"])
        #expect(try OCIRuntimeTests.rt(["run", "-d", "--bundle", b.dir, "--pid-file", b.dir + "/pid", b.id], root: b.stateRoot).status == 0)
        let pid = Int32((try? String(contentsOfFile: b.dir + "/pid", encoding: .utf8)) ?? "") ?? -1
        let dirs = OCIRuntimeTests.cgroupDirs(of: pid)
        #expect(!dirs.isEmpty)
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: b.out + "/child") { usleep(10_000) }
        #expect(OCIRuntime.isMember(pid, of: dirs), "the container's init is a member")
        #expect(!OCIRuntime.isMember(getpid(), of: dirs), "a process outside the container is not")
        #expect(!OCIRuntime.isMember(1, of: dirs))
        let procs = try OCIRuntimeTests.rt(["ps", "--format", "json", b.id], root: b.stateRoot)
        let pids = ((try? JSONSerialization.jsonObject(with: Data(procs.stdout.utf8))) as? [Int]) ?? []
        #expect(pids.count == 2, "init and its sleep: \(procs.stdout)")
        #expect(try OCIRuntimeTests.rt(["kill", "--all", b.id, "KILL"], root: b.stateRoot).status == 0)
        for _ in 0..<300 where try OCIRuntimeTests.state(b.id, root: b.stateRoot)?["status"] as? String != "stopped" { usleep(10_000) }
        for p in pids { #expect(!OCIRuntime.isMember(Int32(p), of: dirs), "\(p) was killed") }
        #expect(try OCIRuntimeTests.rt(["delete", b.id], root: b.stateRoot).status == 0)
    }
}

/// The lock file of a container is removed by `delete` while it holds it; a `create` of the
/// same id that was waiting must not run on the removed file beside a holder of the new one.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCILockFileTests {
    @Test func aWaiterOnARemovedLockFileLocksTheNewOne() throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"])
        try FileManager.default.createDirectory(atPath: b.stateRoot, withIntermediateDirectories: true)
        chmod(b.stateRoot, 0o700)
        let path = b.stateRoot + "/\(b.id):lock"
        var old: FileLock? = try FileLock(path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: OCIRuntimeTests.runtime)
        p.arguments = ["--root", b.stateRoot, "create", "--bundle", b.dir, b.id]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(500_000)   // create now waits on the old file's lock
        unlink(path)      // as delete does, while holding it
        var new: FileLock? = try FileLock(path, removedByHolders: true)
        old = nil
        // Ordering, not timing: create cannot finish while the new lock is held; it would have
        // finished at once on the removed file's lock before the fix.
        usleep(1_000_000)
        #expect(p.isRunning, "create went on holding the removed lock file while another held the new one")
        new = nil
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        _ = old; _ = new
        #expect(try OCIRuntimeTests.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "delete removes the lock file")
    }
}
