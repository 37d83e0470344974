import BulkheadModel
import Foundation
import Glibc
import Testing

/// `bulkhead.dev/seccomp-record: FILE` on the real kernel: the eBPF recorder follows the init
/// from `create`, a keeper process outlives `create`, and when the container exits a Kubernetes
/// seccomp profile listing the workload's calls is written only in the recordings directory.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCISeccompRecordTests {
    typealias Bundle = OCIRuntimeTests.Bundle

    final class RecordingsDir {
        let path: String
        init(mode: mode_t = 0o755) throws {
            path = NSTemporaryDirectory() + "bh-oci-rec-\(token())"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            chmod(path, mode)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var env: [String: String] { ["BULKHEAD_OCI_RECORDINGS": path] }
    }

    static func bundle(_ file: String, script: String = "busybox sync; busybox mkdir /tmp/d; echo done > /out/done") throws -> Bundle {
        try Bundle(args: ["/bin/sh", "-c", script]) { config in
            config["annotations"] = ["bulkhead.dev/seccomp-record": file]
        }
    }

    static func keepers(_ id: String) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.compactMap { p -> Int32? in
            guard let pid = Int32(p), let c = FileManager.default.contents(atPath: "/proc/\(p)/cmdline") else { return nil }
            let args = String(decoding: c, as: UTF8.self).split(separator: "\u{0}").map(String.init)
            return args.contains("__record-keeper") && args.contains(id) ? pid : nil
        }
    }

    static func syscalls(_ path: String) throws -> Set<String> {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rules = doc["syscalls"] as? [[String: Any]] ?? []
        return Set(rules.filter { ($0["action"] as? String) == "SCMP_ACT_ALLOW" }.flatMap { $0["names"] as? [String] ?? [] })
    }

    /// create/start/delete: the keeper exists after create, the profile is written when the
    /// container exits, it lists the calls the workload made (sync, mkdir), and delete leaves
    /// no keeper behind.
    @Test func recordsTheWorkloadsCallsAcrossCreateAndStart() throws {
        let dir = try RecordingsDir()
        let id = "rec\(token())"
        let b = try Self.bundle("web.json")
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: dir.env)
        #expect(c.status == 0, "create: \(c.stderr)")
        #expect(Self.keepers(id).count == 1, "a keeper stays after create")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/web.json"))
        #expect(try OCIRuntimeTests.rt(["start", id], root: b.stateRoot, env: dir.env).status == 0)
        for _ in 0..<1000 where !FileManager.default.fileExists(atPath: dir.path + "/web.json") { usleep(10_000) }
        let d = try OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot, env: dir.env)
        #expect(d.status == 0, "delete: \(d.stderr)")
        let calls = try Self.syscalls(dir.path + "/web.json")
        #expect(calls.contains("sync"), "\(calls.sorted())")
        #expect(calls.contains("mkdir") || calls.contains("mkdirat"), "\(calls.sorted())")
        #expect(!calls.contains("reboot"))
        #expect(Self.keepers(id).isEmpty, "no keeper left")
        var st = stat()
        #expect(lstat(dir.path + "/web.json", &st) == 0 && st.st_uid == 0 && st.st_mode & 0o777 == 0o644)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        #expect(leftovers == ["web.json"], "no temporary file: \(leftovers)")
    }

    /// `run` (create, start, wait, delete): the profile is there when run returns.
    @Test func runWritesTheProfileBeforeItReturns() throws {
        let dir = try RecordingsDir()
        let id = "c" + token()
        let b = try Self.bundle(dir.path + "/run.json")
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, id], root: b.stateRoot, env: dir.env)
        #expect(r.status == 0, "run: \(r.stderr)")
        #expect(try Self.syscalls(dir.path + "/run.json").contains("sync"))
    }

    /// The path is hostile: only a name in the recordings directory; an existing file or a
    /// planted symlink is never replaced or followed; a directory others may write is refused.
    /// Each refusal fails create naming the annotation and leaves nothing.
    @Test func hostileTargetsAreRefused() throws {
        let dir = try RecordingsDir()
        let id = "c" + token()
        for bad in ["/etc/bh-rec.json", "../x.json", "sub/x.json", ".hidden", dir.path + "/../x.json", ""] {
            let b = try Self.bundle(bad)
            let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: dir.env)
            #expect(r.status == 1 && r.stderr.contains("bulkhead.dev/seccomp-record"), "\(bad): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id))
        }
        #expect(!FileManager.default.fileExists(atPath: "/etc/bh-rec.json"))
        symlink("/etc/passwd", dir.path + "/link.json")
        try "keep".write(toFile: dir.path + "/old.json", atomically: false, encoding: .utf8)
        for taken in ["link.json", "old.json"] {
            let b = try Self.bundle(taken)
            let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: dir.env)
            #expect(r.status == 1 && r.stderr.contains("EEXIST"), "\(taken): \(r.stderr)")
        }
        #expect((try? String(contentsOfFile: dir.path + "/old.json", encoding: .utf8)) == "keep")
        let open = try RecordingsDir(mode: 0o777)
        let b = try Self.bundle("x.json")
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot, env: open.env)
        #expect(r.status == 1 && r.stderr.contains("bulkhead.dev/seccomp-record") && r.stderr.contains("recordings directory"), "\(r.stderr)")
        // Without its own PID namespace a task could outlive the recording: refused.
        let shared = try Bundle(args: ["/bin/true"]) { config in
            config["annotations"] = ["bulkhead.dev/seccomp-record": "y.json"]
            var l = config["linux"] as! [String: Any]
            l["namespaces"] = (l["namespaces"] as! [[String: Any]]).filter { ($0["type"] as? String) != "pid" }
            config["linux"] = l
        }
        let s = try OCIRuntimeTests.rt(["create", "--bundle", shared.dir, id], root: shared.stateRoot, env: dir.env)
        #expect(s.status == 1 && s.stderr.contains("PID namespace"), "\(s.stderr)")
    }
}
