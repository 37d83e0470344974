import Foundation
import Testing
@testable import BulkheadSystem

/// The real probe of the running kernel (harmless system calls, no root). The pure half, the
/// verdicts from given facts, is HostProbeTests in BulkheadSystemTests.
@Suite("host probe (this kernel)")
struct HostProbeKernelTests {
    /// The real probe of this host. It needs no privilege; the expectations that follow
    /// are the documented facts of the development machines (MACHINE.md), checked only
    /// when the kernel is one of them (6.x).
    @Test func probeThisHost() throws {
        let report = HostReport.probe()
        for name in ["kernel", "cgroup.mode", "userns.max_user_namespaces", "seccomp", "no_new_privs",
                     "landlock", "clone3", "pidfd_open", "mount_setattr"] {
            #expect(report[name] != nil, "missing check \(name)")
        }
        let version = try #require(KernelVersion(release: report.kernelRelease))
        if version >= KernelVersion(6, 0) {
            #expect(report["clone3"]?.ok == true)
            #expect(report["pidfd_open"]?.ok == true)
            #expect(report["mount_setattr"]?.ok == true)
        }
        // Landlock: either an ABI or the reason it is unavailable, never an empty verdict. It is
        // active on the development machines (MACHINE.md: LSMs lockdown, capability, landlock,
        // bpf), where LandlockTests run, so CI requires it.
        let landlock = try #require(report["landlock"])
        if landlock.ok {
            #expect(landlock.detail.hasPrefix("Landlock ABI ") && (Int(landlock.detail.dropFirst(13)) ?? 0) >= 1, "\(landlock.detail)")
        } else {
            #expect(landlock.detail.hasPrefix("Landlock unavailable: ") && landlock.fix != nil, "\(landlock.detail)")
            #expect(!Gate.inCI, "Landlock is unavailable on a CI host: \(landlock.detail)")
        }
    }

    /// The probe agrees with what the test reads itself from /proc: the release, the seccomp
    /// field, the cgroup file systems mounted.
    @Test func probeAgreesWithProc() throws {
        let report = HostReport.probe()
        let release = try #require(FileIO.read("/proc/sys/kernel/osrelease")).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(report.kernelRelease == release)
        #expect(report["kernel"]?.detail == "Linux \(release)")
        let status = try #require(FileIO.read("/proc/self/status"))
        #expect(report["seccomp"]?.ok == status.split(separator: "\n").contains { $0.hasPrefix("Seccomp:") })
        let mountinfo = try #require(FileIO.read("/proc/self/mountinfo"))
        // (file-system type, super options) of every mount.
        let mounts = mountinfo.split(separator: "\n").compactMap { line -> (String, [Substring])? in
            let f = line.split(separator: " ")
            guard let dash = f.firstIndex(of: "-"), dash + 3 < f.count else { return nil }
            return (String(f[dash + 1]), f[dash + 3].split(separator: ","))
        }
        let v2 = mounts.contains { $0.0 == "cgroup2" }
        // A v1 hierarchy with a controller (not only a named one such as name=systemd).
        let v1 = mounts.contains { $0.0 == "cgroup" && $0.1.contains { ["cpu", "memory", "pids", "cpuacct", "blkio", "devices", "freezer", "cpuset"].contains($0) } }
        let mode = try #require(report["cgroup.mode"])
        switch (v2, v1) {
        case (true, true): #expect(mode.ok && mode.detail.hasPrefix("hybrid"), "\(mode.detail)")
        case (true, false): #expect(mode.ok && mode.detail.hasPrefix("unified"), "\(mode.detail)")
        case (false, true): #expect(mode.ok && mode.detail.hasPrefix("legacy"), "\(mode.detail)")
        case (false, false): #expect(!mode.ok, "\(mode.detail)")
        }
    }
}
