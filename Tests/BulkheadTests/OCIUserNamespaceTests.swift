import BulkheadModel
import Foundation
import Glibc
import Testing

/// `linux.uidMappings`/`gidMappings` with a user namespace on the real kernel, as root (a host
/// range, through the id-map code of `bulkhead run`) and as an ordinary user (`nobody`, as
/// rootless podman would call the runtime): what works, and what is refused naming what is
/// missing.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct OCIUserNamespaceTests {
    typealias Bundle = OCIRuntimeTests.Bundle

    static func userNamespace(uid: [[String: Any]], gid: [[String: Any]]) -> (inout [String: Any]) -> Void {
        { config in
            var l = config["linux"] as! [String: Any]
            l["namespaces"] = (l["namespaces"] as! [[String: Any]]) + [["type": "user"]]
            l["uidMappings"] = uid
            l["gidMappings"] = gid
            config["linux"] = l
        }
    }

    static func range(_ host: Int, _ size: Int) -> [[String: Any]] { [["containerID": 0, "hostID": host, "size": size]] }

    @Test func rootMapsTheConfigsRange() throws {
        let b = try Bundle(args: ["/bin/sh", "-c", "cat /proc/self/uid_map > /out/uid_map; cat /proc/self/gid_map > /out/gid_map"],
                           edit: Self.userNamespace(uid: Self.range(3_000_000_000, 65536), gid: Self.range(3_000_000_000, 65536)))
        let id = "c" + token()
        let r = try OCIRuntimeTests.rt(["run", "--bundle", b.dir, id], root: b.stateRoot)
        #expect(r.status == 0, "\(r.stderr)")
        let words = { (f: String) in ((try? String(contentsOfFile: b.out + "/" + f, encoding: .utf8)) ?? "").split(separator: " ").map(String.init) }
        #expect(words("uid_map").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == ["0", "3000000000", "65536"])
        #expect(words("gid_map").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == ["0", "3000000000", "65536"])
    }

    /// What root may not map: the host's own accounts (root included), the owner band, uids
    /// and gids on different ranges. Each fails create naming the field; nothing is left.
    @Test func rootRefusesWhatItMayNotMap() throws {
        for (uid, gid, field) in [(Self.range(0, 65536), Self.range(0, 65536), "linux.uidMappings"),
                                  (Self.range(1000, 1), Self.range(1000, 1), "linux.uidMappings"),
                                  (Self.range(4_200_000_000, 65536), Self.range(4_200_000_000, 65536), "linux.uidMappings"),
                                  (Self.range(3_000_000_000, 65536), Self.range(3_100_000_000, 65536), "linux.gidMappings")] {
            let b = try Bundle(args: ["/bin/true"], edit: Self.userNamespace(uid: uid, gid: gid))
            let id = "c" + token()
            let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, id], root: b.stateRoot)
            #expect(r.status == 1 && r.stderr.contains(field), "\(uid) \(gid): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: b.stateRoot + "/" + id))
        }
    }

    /// As `nobody`: mapping more than its own ids is refused naming newuidmap; its own ids
    /// pass the mapping check and the launch then stops at the first thing this host does not
    /// give an ordinary user (a delegated cgroup), named, with nothing left.
    @Test func rootlessRefusesNamingWhatIsMissing() throws {
        let runtime = NSTemporaryDirectory() + "bh-oci-rl-\(token())"
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        chmod(runtime, 0o755)
        try FileManager.default.copyItem(atPath: OCIRuntimeTests.runtime, toPath: runtime + "/bulkhead-runc")
        let state = runtime + "/state"
        mkdir(state, 0o700)
        chown(state, 65534, 65534)
        func asNobody(_ b: Bundle, _ id: String, _ args: [String]? = nil) throws -> Bulkhead.Result {
            try OCIRuntimeTests.rt(args ?? ["create", "--bundle", b.dir, id], root: state, env: [:], binary: "/usr/bin/setpriv",
                                   prefix: ["--reuid", "65534", "--regid", "65534", "--clear-groups", runtime + "/bulkhead-runc"])
        }
        let wide = try Bundle(args: ["/bin/true"], edit: Self.userNamespace(uid: Self.range(100_000, 65536), gid: Self.range(100_000, 65536)))
        let w = try asNobody(wide, "c" + token())
        #expect(w.status == 1 && w.stderr.contains("linux.uidMappings") && w.stderr.contains("newuidmap"), "\(w.stderr)")
        let own = try Bundle(args: ["/bin/true"], edit: Self.userNamespace(uid: Self.range(65534, 1), gid: Self.range(65534, 1)))
        let id = "c" + token()
        let o = try asNobody(own, id)
        #expect(!o.stderr.contains("uidMappings"), "its own ids may be mapped: \(o.stderr)")
        if o.status == 0 { _ = try asNobody(own, id, ["delete", "--force", id]) }
        if o.status != 0 {
            #expect(o.stderr.contains("cgroup") && o.stderr.contains("delegate"), "a refusal names what is missing: \(o.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: state + "/" + id) || o.status == 0)
    }
}
