import Foundation
import Testing

/// CShims is built with -fstack-clash-protection (Package.swift): the C that runs between clone3
/// and execve, and on the pooled workload's own 256 KiB stack with its one guard page, probes a
/// frame larger than a page page by page, so that it faults on a guard page instead of stepping
/// over it. Read in the objects this build made: every function whose frame is over a page
/// moves the stack pointer a page at a time and touches each page (`sub $0x1000,%rsp` and a
/// store to `(%rsp)`); without the flag it subtracts the whole frame at once.
struct StackClashTests {
    /// The CShims objects of the build these tests run from (debug in CI).
    static let objects: [String] = {
        let dir = Bulkhead.packageRoot + "/.build/debug/CShims.build"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".c.o") }.sorted().map { dir + "/" + $0 }
    }()

    /// Each function's instructions, from `objdump -d`.
    static func functions(_ object: String) throws -> [String: [String]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/objdump")
        p.arguments = ["-d", "--no-show-raw-insn", object]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var f: [String: [String]] = [:], current: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if line.hasSuffix(">:"), let a = line.firstIndex(of: "<") {
                current = String(line[line.index(after: a)..<line.index(line.endIndex, offsetBy: -2)])
                f[current!] = []
            } else if let c = current {
                f[c, default: []].append(String(line))
            }
        }
        return f
    }

    /// The largest immediate subtracted from %rsp in `instructions`, in bytes.
    static func largestSub(_ instructions: [String]) -> Int {
        instructions.compactMap { l -> Int? in
            guard let r = l.range(of: "sub    $0x"), l.hasSuffix(",%rsp") else { return nil }
            return Int(l[r.upperBound...].prefix { $0.isHexDigit }, radix: 16)
        }.max() ?? 0
    }

    @Test func everyFrameOverAPageIsProbed() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/objdump"), "objdump (binutils) reads the objects")
        try #require(Self.objects.contains { $0.hasSuffix("/spawn.c.o") }, "no CShims objects in .build/debug: \(Self.objects)")
        var probed: [String] = [], unprobed: [String] = []
        for object in Self.objects {
            for (name, body) in try Self.functions(object) {
                let big = Self.largestSub(body)
                let pages = body.contains { $0.contains("sub    $0x1000,%rsp") } && body.contains { $0.contains("$0x0,(%rsp)") }
                if big > 4096 { unprobed.append("\(name) (\(big) bytes at once)") }
                if pages { probed.append(name) }
            }
        }
        #expect(unprobed.isEmpty, "frames over a page taken in one step: \(unprobed)")
        // A frame over a page that runs between clone3 and execve is among the probed (in this
        // unoptimised build; the release build inlines more into run_steps, 4584 bytes).
        #expect(probed.contains("overlay_directory"), "overlay_directory is not probed page by page: \(probed.sorted())")
    }
}
