import Foundation
import Testing

/// Issue 17: scripts/launch-order.txt (the release link's symbol order) cannot go stale unseen:
/// scripts/check-launch-order.sh fails when it names functions of the package the binary no
/// longer has, or misses the launch's hot functions. Run here against the debug binary, whose
/// plain functions carry the same names as the release build's.
@Suite(.serialized) struct LaunchOrderTests {
    static let script = Bulkhead.packageRoot + "/scripts/check-launch-order.sh"

    static func check(list: String? = nil) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script, Bulkhead.binary]
        if let list { p.environment = ProcessInfo.processInfo.environment.merging(["LAUNCH_ORDER": list]) { $1 } }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("The checked-in list names only functions the binary has, and the launch's hot ones")
    func listIsCurrent() throws {
        let r = try Self.check()
        #expect(r.status == 0, "\(r.output)")
    }

    @Test("A list naming a function that is gone, or missing a hot one, fails the check")
    func staleListFails() throws {
        let text = try String(contentsOfFile: Bulkhead.packageRoot + "/scripts/launch-order.txt", encoding: .utf8)
        let dir = NSTemporaryDirectory() + "bh-order-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (text + "$s8Bulkhead7SandboxO4goneyyFZ\n").write(toFile: dir + "/gone.txt", atomically: true, encoding: .utf8)
        let gone = try Self.check(list: dir + "/gone.txt")
        #expect(gone.status == 1 && gone.output.contains("$s8Bulkhead7SandboxO4goneyyFZ"), "\(gone.output)")
        let withoutHot = text.split(separator: "\n").filter { $0 != "bh_spawn" }.joined(separator: "\n") + "\n"
        try withoutHot.write(toFile: dir + "/cold.txt", atomically: true, encoding: .utf8)
        let cold = try Self.check(list: dir + "/cold.txt")
        #expect(cold.status == 1 && cold.output.contains("hot function bh_spawn"), "\(cold.output)")
    }
}
