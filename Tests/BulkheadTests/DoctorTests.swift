import BulkheadModel
import Foundation
import Glibc
import Testing
@testable import BulkheadSystem

/// `bulkhead doctor` (issue 15): every check says its status, what it found and the fix; the
/// text shows all the advice `--json` gives; the new checks agree with /proc and /sys as this
/// test reads them itself.
@Suite("Doctor")
struct DoctorTests {
    func doctor() throws -> (report: HostReport, text: String) {
        let json = try Bulkhead.run(["doctor", "--json"])
        let text = try Bulkhead.run(["doctor"])
        #expect(json.status == text.status)
        let report = try JSONDecoder().decode(HostReport.self, from: Data(json.stdout.utf8))
        return (report, text.stdout)
    }

    func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("The text shows every check's finding and every fix or note that --json gives")
    func textShowsTheAdvice() throws {
        let (report, text) = try doctor()
        let lines = text.split(separator: "\n").map(String.init)
        for c in report.checks {
            let status = !c.ok ? "FAIL" : c.fix == nil ? "ok  " : "warn"
            #expect(lines.contains { $0.hasPrefix(status + " " + c.name + " ") && $0.hasSuffix(c.detail) }, "\(c.name)")
            if let fix = c.fix {
                #expect(lines.contains { $0.hasSuffix((c.ok ? "note: " : "fix: ") + fix) }, "\(c.name): its advice is not shown")
            }
        }
        // This host gives advice on some ok check (cgroup v1, no BFQ, no subuid line ...).
        #expect(report.checks.contains { $0.ok && $0.fix != nil })
    }

    @Test("io.weight: BFQ devices and iocost as /sys shows them")
    func ioWeight() throws {
        let (report, _) = try doctor()
        let c = try #require(report["io.weight"])
        let devices = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        let bfq = devices.filter { read("/sys/block/\($0)/queue/scheduler")?.contains("[bfq]") == true }.sorted()
        let iocost = read("/sys/fs/cgroup/io.cost.qos")?.contains("enable=1") == true
        #expect(c.detail.hasPrefix(bfq.isEmpty ? "no block device uses BFQ" : "BFQ on \(bfq.joined(separator: ", "))"), "\(c.detail)")
        #expect(c.detail.hasSuffix(iocost ? "iocost enabled" : "iocost not enabled"), "\(c.detail)")
        #expect((c.fix == nil) == (!bfq.isEmpty || iocost))
    }

    @Test("nftables: the check says what running /usr/sbin/nft in a new network namespace says")
    func nftables() throws {
        let (report, _) = try doctor()
        let c = try #require(report["nftables"])
        #expect(report["libnftables"] == nil, "bulkhead loads no library: no libnftables check")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--net", "/usr/sbin/nft", "list", "ruleset"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        var runs = false
        if FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") {
            try p.run()
            p.waitUntilExit()
            runs = p.terminationStatus == 0
        }
        #expect(c.detail == (runs ? "/usr/sbin/nft runs (nft -f - in a new network namespace)" : c.detail), "\(c.detail)")
        #expect(runs || c.detail.hasPrefix("/usr/sbin/nft does not run: "), "\(c.detail)")
        #expect((c.fix == nil) == runs)
    }

    @Test("/etc/subuid and /etc/subgid: bulkhead's line, or the built-in range")
    func subordinateIDs() throws {
        let (report, _) = try doctor()
        let c = try #require(report["subordinate_ids"])
        func line(_ path: String) -> String? {
            read(path)?.split(separator: "\n").first { $0.hasPrefix("bulkhead:") }.map { String($0.dropFirst("bulkhead:".count)) }
        }
        switch (line("/etc/subuid"), line("/etc/subgid")) {
        case (nil, nil):
            #expect(c.ok && c.detail.hasSuffix("the built-in range \(EffectiveProfile.defaultHostIDRange)"), "\(c.detail)")
        case let (u?, g?):
            #expect(c.detail == "bulkhead's range: uids \(u) in /etc/subuid, gids \(g) in /etc/subgid", "\(c.detail)")
        default:
            #expect(!c.ok && c.fix != nil, "\(c.detail)")
        }
    }

    @Test("User namespaces, AppArmor's restriction, Landlock, seccomp user notification: as /proc and /sys say")
    func kernelFacts() throws {
        let (report, _) = try doctor()
        if let max = read("/proc/sys/user/max_user_namespaces") {
            #expect(report["userns.max_user_namespaces"]?.detail == "user.max_user_namespaces = \(max)")
        }
        let clone = read("/proc/sys/kernel/unprivileged_userns_clone")
        #expect((report["userns.unprivileged_userns_clone"] != nil) == (clone != nil))
        let apparmor = read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        let aa = report["userns.apparmor_restrict"]
        #expect((aa != nil) == (apparmor != nil))
        if let apparmor, apparmor != "0" {
            #expect(aa?.detail.contains("Ubuntu 23.10") == true && aa?.fix?.contains("userns,") == true)
        }
        // Landlock is in the active LSM list exactly when the probe finds an ABI.
        if let lsm = read("/sys/kernel/security/lsm") {
            #expect(report["landlock"]?.ok == lsm.split(separator: ",").contains("landlock"), "\(lsm)")
        }
        let actions = read("/proc/sys/kernel/seccomp/actions_avail")?.split(separator: " ") ?? []
        let notif = try #require(report["seccomp.user_notif"])
        #expect(notif.detail.hasPrefix(actions.contains("user_notif") ? "user_notif in" : "no user_notif in"))
    }

    @Test("The verdicts from given facts: a refused subuid file fails, AppArmor's restriction warns root and fails a user")
    func verdicts() {
        var facts = HostFacts.gather()
        facts.subordinateIDs = .refused("/etc/subuid: owned by uid 1000")
        facts.apparmorRestrictUnprivilegedUserns = 1
        facts.ioWeight = .init(bfqDevices: ["sda"], iocostEnabled: false)
        facts.effectiveUID = 0
        var r = HostReport.evaluate(facts)
        #expect(r["subordinate_ids"]?.ok == false && r["subordinate_ids"]?.detail == "/etc/subuid: owned by uid 1000")
        #expect(r["userns.apparmor_restrict"]?.ok == true && r["userns.apparmor_restrict"]?.fix != nil)
        #expect(r["io.weight"]?.fix == nil && r["io.weight"]?.detail.hasPrefix("BFQ on sda") == true)
        facts.effectiveUID = 1000
        r = HostReport.evaluate(facts)
        #expect(r["userns.apparmor_restrict"]?.ok == false)
        #expect(!r.allOK)
        // Landlock: an ABI without TCP port rules works, with a note saying what it lacks.
        facts.landlockABI = .success(LandlockRights.networkABI - 1)
        #expect(HostReport.evaluate(facts)["landlock"]?.ok == true && HostReport.evaluate(facts)["landlock"]?.fix?.contains("TCP port rules") == true)
        facts.landlockABI = .success(LandlockRights.networkABI)
        #expect(HostReport.evaluate(facts)["landlock"]?.fix == nil)
    }
}
