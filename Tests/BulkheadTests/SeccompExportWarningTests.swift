import Foundation
import Testing

/// Exported profiles warn when a runtime with an older libseccomp would lose a rule.
struct SeccompExportWarningTests {
    func export(_ json: String) throws -> Bulkhead.Result {
        let path = NSTemporaryDirectory() + "bh-pol-\(token()).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        defer { for p in [path, path + ".out"] { try? FileManager.default.removeItem(atPath: p) } }
        return try Bulkhead.run(["seccomp", "export", "--seccomp", path, "-o", path + ".out"])
    }

    @Test("A refusing rule for a call newer than libseccomp 2.5 is flagged as lost, with the consequence")
    func refusingRuleOfANewCall() throws {
        let r = try export(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mseal"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#)
        #expect(r.status == 0)
        #expect(r.stderr.contains("drops the refusing rules for mseal — and the default action lets them run"), "\(r.stderr)")
        let allow = try export(#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[{"names":["statmount","getppid"],"action":"SCMP_ACT_ALLOW"}]}"#)
        #expect(allow.stderr.contains("drops the rules for statmount"), "\(allow.stderr)")
        #expect(!allow.stderr.contains("getppid"))
        let old = try export(#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}"#)
        #expect(!old.stderr.contains("libseccomp < 2.6"), "no warning without new names: \(old.stderr)")
    }
}
