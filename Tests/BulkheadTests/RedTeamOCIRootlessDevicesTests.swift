import BulkheadModel
import Foundation
import Glibc
import Testing

/// Red team of the rootless device-rule skip (issue 13, session 10): "skipped only where the
/// caller cannot apply the rules". In a v1 devices cgroup the skip was keyed on the uid alone
/// (euid != 0), not on the kernel's answer: a runtime run by an ordinary uid that holds
/// CAP_SYS_ADMIN (file or ambient capabilities: what writing devices.deny/allow needs) could
/// apply podman's device list and did not. The rules must be written where the kernel takes them.
@Suite(.serialized, .enabled(if: Gate.root, Gate.rootReason))
struct RedTeamOCIRootlessDevicesTests {
    @Test func v1RulesAreWrittenWhenTheCallerCan() throws {
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/devices/devices.list") else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "no v1 devices hierarchy on this host")
            return
        }
        let rt = try OCIUserNamespaceTests.NobodyRuntime()
        let cg = try OCIRootlessDeviceRulesTests.Delegated("/sys/fs/cgroup/devices")
        let b = try OCIRootlessDeviceRulesTests.bundle()
        let id = "c" + token()
        // nobody, with CAP_SYS_ADMIN in its permitted, effective and ambient sets.
        let script = "echo $$ > \(cg.dir)/cgroup.procs && exec /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps +sys_admin --ambient-caps +sys_admin \"$0\" \"$@\""
        let run = { (args: [String]) in
            try OCIRuntimeTests.rt(args, root: rt.state, binary: "/bin/sh", prefix: ["-c", script, rt.dir + "/bulkhead-runc"])
        }
        let c = try run(["create", "--bundle", b.dir, id])
        defer { _ = try? run(["delete", "--force", id]) }
        #expect(c.status == 0, "\(c.stderr)")
        guard c.status == 0 else { return }
        let list = (try? String(contentsOfFile: cg.dir + "/bulkhead/oci/" + id + "/devices.list", encoding: .utf8)) ?? "?"
        #expect(!list.contains("a *:* rwm") && list.contains("c 1:3 rwm"), "podman's list is applied, not skipped: \(list)")
    }
}
