import Foundation
import Testing
@testable import BulkheadSystem

/// cgroup v2 accepts in `cpuset.cpus` any CPU the host has and grants only what the parent
/// grants (all of the parent's when nothing is left): `SandboxCgroup.checkEffectiveCPUs` stops
/// the launch when the CPUs granted are not the ones asked for. Here on files laid out as the
/// kernel shows them (the real v2 run is the VM lane's bh-cpuset scenario).
@Suite("cpuset.cpus.effective check")
struct CpusetEffectiveTests {
    func tree(parent: String, leaf: String) throws -> (dir: String, leaf: String) {
        let dir = NSTemporaryDirectory() + "bh-cpuset-\(UInt32.random(in: 0...UInt32.max))"
        let leafDir = dir + "/c-1-2-0"
        try FileManager.default.createDirectory(atPath: leafDir, withIntermediateDirectories: true)
        try (parent + "\n").write(toFile: dir + "/cpuset.cpus.effective", atomically: true, encoding: .utf8)
        try (leaf + "\n").write(toFile: leafDir + "/cpuset.cpus.effective", atomically: true, encoding: .utf8)
        return (dir, leafDir)
    }

    @Test(arguments: [("0", "0"), ("0-1", "0,1"), ("0-3,6", "6,0,1-3")])
    func grantedAsAsked(_ granted: String, _ asked: String) throws {
        let t = try tree(parent: "0-7", leaf: granted)
        defer { try? FileManager.default.removeItem(atPath: t.dir) }
        #expect(throws: Never.self) { try SandboxCgroup.checkEffectiveCPUs(t.leaf, file: "cpuset.cpus.effective", asked: asked) }
    }

    /// The parent grants CPU 0 only: "1" asked, "0" granted (v2's fallback), or "0-1" asked, "0" granted.
    @Test(arguments: [("1", "0"), ("0-1", "0")])
    func grantedOtherwiseStops(_ asked: String, _ granted: String) throws {
        let t = try tree(parent: "0", leaf: granted)
        defer { try? FileManager.default.removeItem(atPath: t.dir) }
        let error = try #require(throws: CgroupError.self) {
            try SandboxCgroup.checkEffectiveCPUs(t.leaf, file: "cpuset.cpus.effective", asked: asked)
        }
        #expect(error.code == .writeFailed)
        #expect(error.path == t.leaf + "/cpuset.cpus.effective")
        #expect(error.description.contains("pin the sandbox to CPUs \(asked): cpuset.cpus.effective grants 0"), "\(error)")
        #expect(error.fix.contains("the parent cgroup \(t.dir) grants only CPUs 0"), "\(error)")
    }

    @Test func unreadableEffectiveSetStops() throws {
        let t = try tree(parent: "0-1", leaf: "0")
        defer { try? FileManager.default.removeItem(atPath: t.dir) }
        try FileManager.default.removeItem(atPath: t.leaf + "/cpuset.cpus.effective")
        #expect(throws: CgroupError.self) { try SandboxCgroup.checkEffectiveCPUs(t.leaf, file: "cpuset.cpus.effective", asked: "0") }
    }
}
