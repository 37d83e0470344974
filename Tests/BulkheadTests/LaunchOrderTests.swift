import Foundation
import Testing

/// Issue 17: scripts/launch-order.txt (the release link's symbol order) cannot go stale unseen:
/// scripts/check-launch-order.sh fails when it names functions of the package the binary no
/// longer has, or misses the launch's hot functions. Checked against the shipped binary, the
/// release build (`.build/release/bulkhead`, scripts/build-release.sh; scripts/test.sh builds it
/// before the suite): a release build inlines and drops functions the debug build keeps, and a
/// list checked only against the debug build passed while the release one was stale.
@Suite(.serialized) struct LaunchOrderTests {
    static let script = Bulkhead.packageRoot + "/scripts/check-launch-order.sh"
    static let release = Bulkhead.packageRoot + "/.build/release/bulkhead"

    static func check(_ arguments: [String], list: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script] + arguments
        if let list { p.environment = ProcessInfo.processInfo.environment.merging(["LAUNCH_ORDER": list]) { $1 } }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The binary the list is for: the release build when it is as new as the sources (status 3
    /// otherwise: absent or older), which CI must have.
    static func shipped() throws -> (status: Int32, output: String) { try check([]) }

    @Test("The checked-in list names only functions the shipped binary has, and the launch's hot ones")
    func listIsCurrent() throws {
        let r = try Self.shipped()
        if r.status == 3 {
            // No current release build here: CI builds one (scripts/test.sh), so there this fails.
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "\(r.output)")
            // Elsewhere the debug build is the next best check (it catches renamed functions, not
            // inlined ones).
            let debug = try Self.check([Bulkhead.binary])
            #expect(debug.status == 0, "\(debug.output)")
            return
        }
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("A list naming a function that is gone, or missing a hot one, fails the check")
    func staleListFails() throws {
        let text = try String(contentsOfFile: Bulkhead.packageRoot + "/scripts/launch-order.txt", encoding: .utf8)
        let dir = NSTemporaryDirectory() + "bh-order-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (text + "$s8Bulkhead7SandboxO4goneyyFZ\n").write(toFile: dir + "/gone.txt", atomically: true, encoding: .utf8)
        // The shipped binary when there is a current one, else the debug build: the script's rules
        // are the same for both.
        let bin = try Self.shipped().status == 3 ? Bulkhead.binary : Self.release
        let gone = try Self.check([bin], list: dir + "/gone.txt")
        #expect(gone.status == 1 && gone.output.contains("$s8Bulkhead7SandboxO4goneyyFZ"), "\(gone.output)")
        let withoutHot = text.split(separator: "\n").filter { $0 != "bh_spawn" }.joined(separator: "\n") + "\n"
        try withoutHot.write(toFile: dir + "/cold.txt", atomically: true, encoding: .utf8)
        let cold = try Self.check([bin], list: dir + "/cold.txt")
        #expect(cold.status == 1 && cold.output.contains("hot function bh_spawn"), "\(cold.output)")
    }
}
