import Foundation
import Testing
@testable import Bulkhead
@testable import BulkheadSystem
import BulkheadConfig
import BulkheadModel
#if canImport(Glibc)
import Glibc
#endif

/// What `create` no longer spends (issue 13, BENCHMARKS.md "Where bulkhead-runc's share of a
/// podman run goes"): ICU's collation data for the seccomp section's keys, ICU's time zone and
/// locale data for the `created` time, and the walk of bulkhead's tree for dead launchers'
/// leaves. Each replacement says the same thing as what it replaced.
@Suite struct OCICreateCostTests {
    /// The section written for the seccomp loader is the config's value (the same JSON once
    /// parsed), and the same bytes whatever the order of its keys: the compiled-filter cache
    /// is keyed by those bytes. Without the sort the two orders below give two texts.
    @Test func seccompSectionIsTheSameValueInOneOrder() throws {
        let rule = #"{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":18446744073709551615,"valueTwo":0,"op":"SCMP_CMP_EQ"}],"comment":"a \"quoted\"\tnote / é","includes":{},"excludes":{"caps":["CAP_SYS_ADMIN"]},"errnoRet":1,"ratio":0.5,"flag":true,"none":null}"#
        let reordered = #"{"none":null,"flag":true,"ratio":0.5,"errnoRet":1,"excludes":{"caps":["CAP_SYS_ADMIN"]},"includes":{},"comment":"a \"quoted\"\tnote / é","args":[{"op":"SCMP_CMP_EQ","valueTwo":0,"value":18446744073709551615,"index":0}],"action":"SCMP_ACT_ALLOW","names":["personality"]}"#
        func config(_ r: String) -> String {
            #"{"ociVersion":"1.0.2","process":{"args":["/bin/true"]},"linux":{"namespaces":[],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64"],"syscalls":["#
                + r + "]}}}"
        }
        let a = try #require(OCISeccompSection.document(ofConfig: config(rule)))
        let b = try #require(OCISeccompSection.document(ofConfig: config(reordered)))
        #expect(a == b, "\(String(decoding: a, as: UTF8.self))\n\(String(decoding: b, as: UTF8.self))")
        let written = try JSONSerialization.jsonObject(with: Data(a)) as? NSDictionary
        let whole = try JSONSerialization.jsonObject(with: Data(config(rule).utf8)) as? [String: Any]
        let original = (whole?["linux"] as? [String: Any])?["seccomp"] as? NSDictionary
        #expect(written != nil && original != nil && written == original)
        #expect(String(decoding: a, as: UTF8.self).contains("18446744073709551615"), "a 64-bit argument kept exact")
        #expect(OCISeccompSection.document(ofConfig: #"{"linux":{}}"#) == nil)
        #expect(OCISeccompSection.document(ofConfig: "linux:\n  seccomp: {}\n") == nil, "not JSON")
    }

    /// `created` (and a json log line's time) as ISO8601DateFormatter wrote it with fractional
    /// seconds: RFC 3339 in UTC, milliseconds, "Z".
    @Test(arguments: [
        (0, 0, "1970-01-01T00:00:00.000Z"),
        (951_782_400, 5, "2000-02-29T00:00:00.005Z"),
        (1_796_603_207, 353, "2026-12-07T00:26:47.353Z"),
        (4_102_444_799, 999, "2099-12-31T23:59:59.999Z"),
    ])
    func createdTimeIsRFC3339(_ seconds: Int, _ ms: Int, _ expected: String) {
        #expect(OCIRuntime.rfc3339(seconds: seconds, milliseconds: ms) == expected)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(f.string(from: Date(timeIntervalSince1970: Double(seconds) + Double(ms) / 1000 + 0.0004)) == expected)
    }

    /// state.json without Foundation (session 14): `save` writes `JSONText.encodeCompact`,
    /// `load` reads with `StrictJSON.decode`. A record written by the Foundation `JSONEncoder`
    /// an older bulkhead-runc used (`/` escaped, the seccomp program as Base64 `Data`) reads as
    /// the same record, so `state`, `kill` and `delete` of a container created before an upgrade
    /// still work; and what is written now reads with `JSONDecoder` as the same record.
    @Test func stateRecordReadsAcrossTheChangeOfWriter() throws {
        struct Old: Codable { var id: String; var seccompProgram: Data?; var bundle: String }
        let program: [UInt8] = (0..<203).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        var r = OCIContainerRecord(ociVersion: "1.0.2", id: "c1", pid: 42, startTime: 9_000_000_001, bundle: "/srv/b/é \"q\"", rootfs: "/srv/b/rootfs",
                                   created: "2026-12-07T00:00:00.000Z", annotations: ["io.podman/a": "1", "k": "v\n"],
                                   cgroupDirectories: ["/sys/fs/cgroup/memory/x"], cgroupsPath: "/x")
        r.seccompProgram = Base64Bytes(program)
        r.hooks = [OCIHook(kind: .poststop, path: "/bin/h", args: ["h", "1"], env: ["A=b"], timeout: 3)]
        r.updatedLimits = [EnforcedLimit(limit: .memoryMax, value: "1048576", driver: .v1, file: "memory.limit_in_bytes")]
        let old = JSONEncoder()
        old.outputFormatting = [.sortedKeys]
        let oldText = String(decoding: try old.encode(r), as: UTF8.self)
        #expect(oldText.contains(#"\/srv\/b"#), "Foundation escaped the slashes")
        #expect(try StrictJSON.decode(OCIContainerRecord.self, from: oldText) == r)
        // The field was a Foundation `Data`: the same Base64 text either way.
        let asData = try JSONDecoder().decode(Old.self, from: Data(try JSONText.encodeCompact(r).utf8))
        #expect(asData.seccompProgram.map { [UInt8]($0) } == program)
        #expect(try JSONDecoder().decode(OCIContainerRecord.self, from: Data(try JSONText.encodeCompact(r).utf8)) == r)
    }

    @Test func nowIsNow() throws {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(f.date(from: OCIRuntime.now()))
        #expect(abs(parsed.timeIntervalSinceNow) < 5)
    }

    /// `create` makes no launcher's leaf and does not walk bulkhead's tree for dead launchers'
    /// leaves (about 200 system calls per create on a host of ten hierarchies); a dead
    /// launcher's leaf stays for the next `run` (or `bulkhead gc`), which removes it. main's
    /// `create` removed it.
    @Test(.enabled(if: CgroupKernelGate.enabled && Gate.root, Gate.rootReason))
    func createLeavesTheStaleWalkToRun() throws {
        try CgroupKernelGate.require()
        let host = try CgroupHost.detect()
        let target = try #require(host.targets.first { $0.writable && CgroupFS.isTrustedDirectory($0.baseDirectory) }, "no writable base")
        let dir = target.baseDirectory + "/bhtest-oci-\(getpid())"
        try #require(mkdir(dir, 0o755) == 0, "mkdir \(dir): errno \(errno)")
        defer { removeCgroupTree(dir) }
        let leaf = dir + "/" + (try goneLauncher()).description
        try #require(mkdir(leaf, 0o755) == 0, "mkdir \(leaf): errno \(errno)")

        let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"])
        let c = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot)
        #expect(c.status == 0, "\(c.stderr)")
        #expect(access(leaf, F_OK) == 0, "create walked bulkhead's tree and removed \(leaf)")
        #expect(try OCIRuntimeTests.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
        // The leaf is a dead launcher's: the walk that `run` does removes it.
        _ = SandboxCgroup.collectStale(host: host, writableOnly: true)
        #expect(access(leaf, F_OK) != 0, "the planted leaf is not one the walk collects: the check above proves nothing")
    }

    /// Two `create`s of one seccomp policy, each re-executed from an overlayfs view of the
    /// runtime made for it (`SealedSelf`; a new device each time, and a tmpfs mounted between
    /// them holds the device number the first view freed): one compiled filter in the cache.
    /// main keyed the cache by the view's device (`ProfileLayerCache.binaryIdentity`), so each
    /// such `create` compiled the policy with libseccomp again and stored one more entry.
    @Test(.enabled(if: Gate.root, Gate.rootReason))
    func seccompFilterIsCompiledOncePerPolicy() throws {
        let cache = NSTemporaryDirectory() + "bh-oci-cache-\(token())"
        try #require(mkdir(cache, 0o700) == 0)
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let spacer = NSTemporaryDirectory() + "bh-oci-spacer-\(token())"
        try #require(mkdir(spacer, 0o700) == 0)
        var mounted = false
        defer { if mounted { umount2(spacer, Int32(MNT_DETACH)) }; rmdir(spacer) }
        let policy: [String: Any] = ["defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [["names": ["personality"], "action": "SCMP_ACT_ERRNO"]]]
        for i in 0..<2 {
            let b = try OCIRuntimeTests.Bundle(args: ["/bin/true"]) { config in
                var l = config["linux"] as! [String: Any]
                l["seccomp"] = policy
                config["linux"] = l
            }
            let r = try OCIRuntimeTests.rt(["create", "--bundle", b.dir, b.id], root: b.stateRoot, env: ["BULKHEAD_SECCOMP_CACHE": cache])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try OCIRuntimeTests.rt(["delete", "--force", b.id], root: b.stateRoot).status == 0)
            if i == 0 {
                mounted = mount("bh-oci-spacer", spacer, "tmpfs", 0, "size=64k") == 0
                #expect(mounted, "mount a tmpfs: errno \(errno)")
            }
        }
        let entries = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(entries.count == 1, "one policy, \(entries.count) compiled filters: \(entries)")
    }
}
