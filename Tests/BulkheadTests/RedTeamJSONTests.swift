import BulkheadConfig
import BulkheadModel
import Foundation
import Testing
@testable import Bulkhead
#if canImport(Glibc)
import Glibc
#endif

/// Red team of commit 89177e4 (issue 13, session 14): config.json read once by `StrictJSON`,
/// state.json read by `StrictJSON.decode` and written by `JSONText.encodeCompact`.
@Suite struct RedTeamJSONTests {
    /// CPU seconds this thread spent in `body` (not wall-clock: the machine is shared).
    static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a)
        try body()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    /// The annotations of a config.json are the engine user's (`podman run --annotation`, a
    /// pod's annotations through CRI-O) and are kept in state.json, which every `state`, `kill`,
    /// `delete`, `start`, `exec` and `list` reads. `StrictJSON.decode` looked each key of an
    /// object up by a linear search, so the `[String: String]` of n annotations cost n²/2 key
    /// comparisons: 12,000 annotations (72 KB of keys; config.json may hold 256 KiB) took
    /// ~18 s of CPU per read in a debug build (32,000: 125 s), where `JSONDecoder` took 20 ms.
    @Test func stateWithManyAnnotationsReadsInLinearTime() throws {
        let n = 12_000
        let annotations = (0..<n).map { "\"a\($0)\": \"\"" }.joined(separator: ", ")
        let text = #"{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["/bin/true"], "cwd": "/"}, "#
            + #""linux": {"namespaces": [{"type": "mount"}]}, "annotations": {"# + annotations + "}}"
        let config = try OCIConfig.decode(text, bundle: "/b")
        #expect(config.annotations.count == n, "create accepts the config")

        let root = "/tmp/bh-rtjson-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: root) }
        let rt = OCIRuntime(root: root)
        let dir = try rt.containerDirectory("c1")
        #expect(mkdir(dir, 0o700) == 0)
        let r = OCIContainerRecord(ociVersion: "1.0.2", id: "c1", pid: 0, startTime: 1, bundle: "/b", rootfs: "/b/rootfs",
                                   created: "2026-12-07T00:00:00.000Z", annotations: Dictionary(config.annotations, uniquingKeysWith: { _, b in b }),
                                   cgroupDirectories: [], cgroupsPath: nil)
        try rt.save(r, in: dir)
        var read: OCIContainerRecord?
        let cpu = try Self.cpuSeconds { read = try rt.load("c1") }
        #expect(read == r)
        #expect(cpu < 3, "reading the state of \(n) annotations took \(cpu) s of CPU")
    }

    /// The lookup the fix above added (an index for objects of more than 32 members) keeps the
    /// rule of the search it replaces: a key is found by its exact scalars, never a canonically
    /// equivalent one (KELVIN SIGN is not "K"), and the first of two equal keys wins (a `Value`
    /// built in code may hold two; `parse` refuses them). Passes before the fix too: it guards it.
    @Test func indexedLookupKeepsExactKeys() throws {
        struct K: Decodable, Equatable { var K: String? }
        func object(_ extra: [StrictJSON.Member]) -> StrictJSON.Value {
            .object(extra + (0..<40).map { StrictJSON.Member(key: "f\($0)", value: .string("\($0)")) })
        }
        let kelvin = StrictJSON.Member(key: "\u{212A}", value: .string("kelvin"))
        let plain = StrictJSON.Member(key: "K", value: .string("plain"))
        #expect(try StrictJSON.decode(K.self, from: object([kelvin])) == K(K: nil))
        #expect(try StrictJSON.decode(K.self, from: object([kelvin, plain])) == K(K: "plain"))
        #expect(try StrictJSON.decode(K.self, from: object([plain, kelvin])) == K(K: "plain"))
        #expect(try StrictJSON.decode(K.self, from: object([plain, StrictJSON.Member(key: "K", value: .string("second"))])) == K(K: "plain"))
        let map = try StrictJSON.decode([String: String].self, from: object([kelvin]))
        #expect(map.count == 41 && map["\u{212A}"] == "kelvin" && map["f39"] == "39")
    }
}
