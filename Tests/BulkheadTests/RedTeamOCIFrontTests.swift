import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team (session 12) against oci-front: `create` reads config.json's `linux.seccomp` with
/// `StrictJSON`, which refuses bytes that are not UTF-8, but `create` gave it (and Yams) the file
/// through `TrustedFile.Contents.text`, `String(decoding:)`, which repairs every such byte into
/// U+FFFD: the reader's check never ran on the file, and a policy the file does not hold (its
/// bytes replaced) was loaded. A config.json that is not UTF-8 is not JSON (RFC 8259 section 8.1)
/// and is refused, before either reader sees it.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCIFrontTests {
    @Test(arguments: [[UInt8]([0xFF]), [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]])
    func configThatIsNotUTF8IsRefused(_ bad: [UInt8]) throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"]) { config in
            var l = config["linux"] as! [String: Any]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "comment": "aPLACEHOLDERb"]]]
            config["linux"] = l
        }
        let path = b.dir + "/config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let parts = text.components(separatedBy: "PLACEHOLDER")
        try #require(parts.count == 2)
        try Data(Array(parts[0].utf8) + bad + Array(parts[1].utf8)).write(to: URL(fileURLWithPath: path))
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status != 0, "a config.json that is not UTF-8 was created")
        #expect(r.stderr.contains("UTF-8"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + b.id), "a refused create leaves its state directory")
    }

    /// The same for `exec --process`: a process.json that is not UTF-8 runs nothing (it ran, its
    /// bytes repaired: an argument or variable the file does not hold).
    @Test func execProcessThatIsNotUTF8IsRefused() throws {
        let id = "rtof-" + token()
        let (b, pid) = try OCIExecTests.running(id, userNamespace: false)
        defer { _ = try? OCIRuntimeTests.rt(["delete", "--force", id], root: b.stateRoot); _ = pid }
        let process = b.dir + "/process.json"
        let bytes = Array(#"{"args": ["/bin/sh", "-c", "exit 3", "a"#.utf8) + [0xFF] + Array(#""], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#.utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: process))
        let r = try OCIRuntimeTests.rt(["exec", "--process", process, id], root: b.stateRoot)
        #expect(r.status == 1 && r.stderr.contains("UTF-8"), "exit \(r.status): \(r.stderr)")
    }

    /// create refuses seccomp user notification (`listenerPath`): OCIConfig checks it on its own
    /// reading of config.json (Yams), but the policy loaded is StrictJSON's reading. A raw
    /// U+FEFF in a JSON string is dropped by libyaml's reader and kept by StrictJSON (and
    /// written as "\ufeff" for the loader): Yams saw an empty listenerPath, the loaded policy
    /// had one, and SCMP_ACT_NOTIFY rules were loaded with no listener (a workload that
    /// installs a filter with a listener of its own answers them: the newest filter wins a
    /// tie). The refusal holds for the policy that is loaded.
    @Test(arguments: ["\u{FEFF}", "/run/agent.sock"])
    func listenerPathIsRefusedAsTheLoaderReadsIt(_ listener: String) throws {
        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"]) { config in
            var l = config["linux"] as! [String: Any]
            l["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "LISTENER",
                            "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]]]
            config["linux"] = l
        }
        let path = b.dir + "/config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "LISTENER", with: listener)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(r.status != 0 && r.stderr.contains("listenerPath"), "exit \(r.status): \(r.stderr)")
    }
}
