import BulkheadSystem
import Foundation
import Glibc
import Testing

/// The running kernel's Landlock ABI (0 without Landlock).
let landlockABI: Int = {
    let detail = HostReport.probe()["landlock"]?.detail ?? ""
    return Int(detail.split(separator: " ").last ?? "") ?? 0
}()

/// Landlock rules from the profile, enforced by the kernel in the workload.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct LandlockTests {
    static func profile(_ body: String) throws -> String {
        let path = NSTemporaryDirectory() + "bh-landlock-\(token()).yaml"
        try ("extends: container\nfilesystem:\n  landlock:\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let fsRules = "    readOnly: [/usr, /etc, /proc, /lib, /lib64, /bin, /sbin]\n    readWrite: [/tmp, /dev/null]\n"

    @Test("Paths outside the rules are refused with EACCES; the same commands work without the rules")
    func filesystemRules() throws {
        let p = try Self.profile(Self.fsRules)
        defer { unlink(p) }
        let script = "ls /var >/dev/null 2>&1 && echo var-read; echo x > /dev/shm/f 2>/dev/null && echo shm-write; echo y > /tmp/f && echo tmp-write; cat /etc/hostname >/dev/null && echo etc-read"
        let r = try Bulkhead.sh(script, ["--profile", p], report: true)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("tmp-write") && r.stdout.contains("etc-read"), r.stdout.isEmpty ? "(none)" : "\(r.stdout)")
        #expect(!r.stdout.contains("var-read"), "read beneath no rule")
        #expect(!r.stdout.contains("shm-write"), "write beneath no read-write rule")
        let landlock = try #require(r.controls?.landlock, "the report names the Landlock rules: \(r.stderr)")
        #expect(landlock.abi >= 1, "the report names the ABI")
        #expect(!landlock.readOnly.isEmpty && !landlock.readWrite.isEmpty, "\(landlock)")
        // The control: without Landlock the same two accesses succeed.
        let c = try Bulkhead.sh(script)
        #expect(c.stdout.contains("var-read") && c.stdout.contains("shm-write"), "\(c.stdout)")
    }

    @Test("TCP port rules (Landlock ABI 4+): only the listed port may be bound", .enabled(if: landlockABI >= 4 || Gate.inCI, "the kernel's Landlock ABI has no TCP rules (needs 4, Linux 6.7)"))
    func tcpRules() throws {
        let p = try Self.profile(Self.fsRules + "    bindTCP: [8080]\n    connectTCP: [8080]\n")
        defer { unlink(p) }
        let probe = """
            import socket
            for port in (8080, 8081):
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", port)); print("bound", port)
                except OSError as e:
                    print("refused", port, e.errno)
            """
        let r = try Bulkhead.run(["run", "--profile", p, "--", "python3", "-c", probe])
        #expect(r.stdout.contains("bound 8080"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("refused 8081 13"), "EACCES on an unlisted port: \(r.stdout)")
        let c = try Bulkhead.run(["run", "--", "python3", "-c", probe])
        #expect(c.stdout.contains("bound 8081"), "the control binds both: \(c.stdout)")
    }

    @Test("Landlock without no_new_privs is refused before anything runs")
    func needsNoNewPrivs() throws {
        let p = try Self.profile(Self.fsRules)
        defer { unlink(p) }
        let path = p + ".nnp.yaml"
        try (try String(contentsOfFile: p, encoding: .utf8) + "securityContext:\n  allowPrivilegeEscalation: true\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let r = try Bulkhead.run(["run", "--profile", path, "--", "/bin/echo", "RAN"])
        #expect(r.status == 125)
        #expect(r.stderr.contains("Landlock needs no_new_privs"), "\(r.stderr)")
        #expect(!r.stdout.contains("RAN"))
    }

    @Test("Each Landlock step fails closed: exit 125, the step named, the workload not run")
    func landlockStepsFailClosed() throws {
        let p = try Self.profile(Self.fsRules)
        defer { unlink(p) }
        let plan = try Bulkhead.run(["profile", "show", p, "--plan"])
        let steps = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let landlock = steps.enumerated().filter { $0.element.contains("Landlock") }
        #expect(landlock.count == 11, "create, 7 read-only paths, 2 read-write paths, enforce: \(landlock.count)")
        for (i, line) in landlock {
            let r = try Bulkhead.run(["run", "--profile", p, "--inject-fault", String(i), "--", "/bin/echo", "RAN"])
            #expect(r.status == 125, "\(line)")
            #expect(!r.stdout.contains("RAN"))
            #expect(r.stderr.contains("step \(i) ("), "\(r.stderr)")
        }
    }
}
