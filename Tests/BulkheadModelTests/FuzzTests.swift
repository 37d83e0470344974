import Dispatch
import Foundation
import Testing
import Yams
@testable import BulkheadConfig
@testable import BulkheadModel

/// Fuzzing of the configuration parsers: every input must either parse or throw a `ConfigError`
/// (the typed `throws(ConfigError)` rules out any other error at compile time), and must never
/// crash or hang. Inputs are structured mutations of the shipped profiles and seccomp policies
/// and of Tests/Fixtures/seccomp/*.json, from a fixed seed, so that a failure reproduces.
///
/// The normal suite runs 2,000 inputs per parser. A long run:
///
///     BULKHEAD_FUZZ_ITERATIONS=1000000 swift test --scratch-path .build-probes --filter FuzzTests
///
/// `BULKHEAD_FUZZ_SEED=N` changes the seed; a failure message names seed and iteration.
/// The pod manifest parser does not exist yet; add it to `targets` when it does.
struct FuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_ITERATIONS"] ?? "") ?? 2_000
    static let seed = UInt64(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_SEED"] ?? "") ?? 0xB01C_EAD5
    /// One input may take this long in a debug build (`BULKHEAD_FUZZ_LIMIT_S` overrides it).
    /// Typical inputs take 1-20 ms; the slowest seen, ~1.8 s, was a mutated seccomp policy
    /// (see docs/security-probes.md).
    static let perInputLimit = Double(ProcessInfo.processInfo.environment["BULKHEAD_FUZZ_LIMIT_S"] ?? "") ?? 5.0

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var profileSeeds: [String] {
        EmbeddedProfiles.files.filter { $0.path.hasSuffix(".yaml") }.map(\.text)
    }

    static var seccompSeeds: [String] {
        var seeds = EmbeddedProfiles.files.filter { $0.path.hasSuffix(".json") }.map(\.text)
        let data = seccompFixtures
        for f in (try? FileManager.default.contentsOfDirectory(atPath: data))?.sorted() ?? [] where f.hasSuffix(".json") {
            if let t = try? String(contentsOfFile: "\(data)/\(f)", encoding: .utf8) { seeds.append(t) }
        }
        return seeds
    }

    static let containerLayer: ProfileLayer? = {
        guard let t = EmbeddedProfiles.files.first(where: { $0.path.hasSuffix("container.yaml") })?.text else { return nil }
        return try? ProfileParser.parse(t, file: "container.yaml")
    }()

    enum Outcome: Equatable { case parsed, configError }

    /// Runs `body` on its own thread with a deadline, so a hang is reported, not waited out.
    static func bounded(_ body: @escaping @Sendable () -> Outcome) -> (Outcome?, Double) {
        let box = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        let start = DispatchTime.now()
        let t = Thread { box.value = body(); done.signal() }
        t.stackSize = 8 << 20
        t.start()
        let timedOut = done.wait(timeout: .now() + perInputLimit) == .timedOut
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return (timedOut ? nil : box.value, secs)
    }

    static func fuzz(name: String, seeds: [String], _ parse: @escaping @Sendable (String) -> Outcome) {
        #expect(!seeds.isEmpty, "\(name): no seeds")
        var rng = SplitMix64(seed: seed ^ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        let trees = seeds.map { Tree.from(text: $0) }
        var parsed = 0, refused = 0, slowest = 0.0
        for i in 0..<iterations {
            let k = Int(rng.next() % UInt64(seeds.count))
            let input = Mutator.mutate(text: seeds[k], tree: trees[k], rng: &rng)
            let (outcome, secs) = bounded { parse(input) }
            slowest = max(slowest, secs)
            guard let outcome else {
                let dump = "/var/tmp/bh-fuzz-\(name)-\(seed)-\(i).txt"
                try? input.write(toFile: dump, atomically: true, encoding: .utf8)
                Issue.record("\(name): input \(i) (seed \(seed)) did not finish within \(perInputLimit) s (whole input in \(dump)):\n\(input.prefix(2000))")
                return
            }
            if outcome == .parsed { parsed += 1 } else { refused += 1 }
        }
        // Both outcomes must occur, or the mutator is not exercising the parser.
        #expect(parsed > 0 && refused > 0, "\(name): parsed \(parsed), refused \(refused)")
        print("fuzz \(name): \(iterations) inputs, \(parsed) parsed, \(refused) ConfigError, slowest \(Int(slowest * 1000)) ms")
    }

    @Test("Profile parser + resolve: every mutated profile parses or throws a ConfigError")
    func profiles() {
        let base = Self.containerLayer
        Self.fuzz(name: "profile", seeds: Self.profileSeeds) { text in
            do throws(ConfigError) {
                let layer = try ProfileParser.parse(text, file: "fuzz.yaml")
                _ = try EffectiveProfile.resolve([layer])
                if let base { _ = try EffectiveProfile.resolve([base, layer]) }
                return .parsed
            } catch {
                _ = error.description
                return .configError
            }
        }
    }

    @Test("Seccomp parser: every mutated policy parses or throws a ConfigError")
    func seccompPolicies() {
        Self.fuzz(name: "seccomp", seeds: Self.seccompSeeds) { text in
            do throws(ConfigError) {
                _ = try SeccompPolicyParser.parse(text: text, file: "fuzz.json", context: SeccompContext())
                _ = try SeccompPolicyParser.parse(text: text, file: "fuzz.json",
                                                  context: SeccompContext(capabilities: ["CAP_SYS_ADMIN"], architecture: .x86, kernelVersion: (5, 4)))
                return .parsed
            } catch {
                _ = error.description
                return .configError
            }
        }
    }

    @Test("The generator is deterministic for a seed")
    func deterministic() {
        let seedText = Self.profileSeeds.first ?? "a: 1"
        let tree = Tree.from(text: seedText)
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        for _ in 0..<50 { #expect(Mutator.mutate(text: seedText, tree: tree, rng: &a) == Mutator.mutate(text: seedText, tree: tree, rng: &b)) }
    }
}

final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: FuzzTests.Outcome?
    var value: FuzzTests.Outcome? {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// A document as a plain tree, so that mutations keep (or deliberately break) its structure.
indirect enum Tree: Equatable {
    case map([(String, Tree)])
    case list([Tree])
    case scalar(String, quoted: Bool)

    static func == (a: Tree, b: Tree) -> Bool { a.emit(block: false) == b.emit(block: false) }

    static func from(text: String) -> Tree {
        guard let node = try? Yams.compose(yaml: text) else { return .scalar(text, quoted: true) }
        return from(node)
    }

    static func from(_ node: Node) -> Tree {
        switch node {
        case .mapping(let m): return .map(m.map { (k, v) in (k.scalar?.string ?? "?", from(v)) })
        case .sequence(let s): return .list(s.map(from))
        case .scalar(let s): return .scalar(s.string, quoted: s.style != .plain)
        case .alias: return .scalar("*alias", quoted: true)
        }
    }

    /// JSON-style flow text (`block: false`, which YAML also reads) or block YAML.
    func emit(block: Bool, indent: Int = 0) -> String {
        if !block {
            switch self {
            case .map(let m): return "{" + m.map { "\(Tree.quote($0.0)): \($0.1.emit(block: false))" }.joined(separator: ", ") + "}"
            case .list(let l): return "[" + l.map { $0.emit(block: false) }.joined(separator: ", ") + "]"
            case .scalar(let s, let q): return q ? Tree.quote(s) : (s.isEmpty ? "\"\"" : s)
            }
        }
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .map(let m) where !m.isEmpty:
            return m.map { k, v in
                switch v {
                case .map(let mm) where !mm.isEmpty: return "\(pad)\(Tree.quote(k)):\n" + v.emit(block: true, indent: indent + 1)
                case .list(let ll) where !ll.isEmpty: return "\(pad)\(Tree.quote(k)):\n" + v.emit(block: true, indent: indent + 1)
                default: return "\(pad)\(Tree.quote(k)): \(v.emit(block: false))\n"
                }
            }.joined()
        case .list(let l) where !l.isEmpty:
            return l.map { "\(pad)- \($0.emit(block: false))\n" }.joined()
        default:
            return pad + emit(block: false) + "\n"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { let h = String(u.value, radix: 16); out += "\\u" + String(repeating: "0", count: 4 - h.count) + h } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// Structured and textual mutations.
enum Mutator {
    static let scalars = [
        "", "0", "-1", "1", "true", "false", "null", "~", "yes", "off", "1e400", "NaN", ".inf", "-.inf",
        "18446744073709551615", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
        "99999999999999999999999999999999999999", "0x7fffffff", "0o777", "1.5", "500m", "256Mi", "1Gi", "99999Ei",
        "ALL", "SYS_ADMIN", "CAP_SYS_ADMIN", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ARCH_X86_64",
        "SCMP_CMP_MASKED_EQ", "Localhost", "RuntimeDefault", "Unconfined", "container", "restricted", "/proc", "../../etc/passwd",
        "a:b:c", "8:0 wbps=10Mi", "2000000000:65536", "0:0", "ioctl", "clone", "clone3", "nosuchcall",
        "é", "日本語", "🙂", "\u{202E}rtl", "\u{0}", "\u{FEFF}", "a\nb", "- x", "{", "[", "&anchor", "*anchor", "!!binary AAAA", "%YAML",
    ]

    static let specials = Array("{}[]:-,\"'#&*!|>%@` \n\t\\".utf8)

    static func randomScalar(_ rng: inout SplitMix64) -> Tree {
        if rng.chance(20) {
            let n = rng.below(4)
            return .scalar(n == 0 ? String(rng.next()) : n == 1 ? "-\(rng.next())" : n == 2 ? String(repeating: "9", count: 1 + rng.below(400)) : String(repeating: "x", count: rng.below(5000)), quoted: rng.chance(30))
        }
        return .scalar(scalars[rng.below(scalars.count)], quoted: rng.chance(30))
    }

    static func deep(_ depth: Int, _ rng: inout SplitMix64) -> Tree {
        depth == 0 ? randomScalar(&rng) : (rng.chance(50) ? .list([deep(depth - 1, &rng)]) : .map([("k", deep(depth - 1, &rng))]))
    }

    /// Applies one structural edit at a random node.
    static func edit(_ t: Tree, _ rng: inout SplitMix64, depth: Int = 0) -> Tree {
        // Descend into a child with some probability, else edit here.
        switch t {
        case .map(var m) where !m.isEmpty && rng.chance(65):
            let i = rng.below(m.count)
            m[i].1 = edit(m[i].1, &rng, depth: depth + 1)
            return .map(m)
        case .list(var l) where !l.isEmpty && rng.chance(65):
            let i = rng.below(l.count)
            l[i] = edit(l[i], &rng, depth: depth + 1)
            return .list(l)
        default: break
        }
        switch (t, rng.below(9)) {
        case (.map(var m), 0) where !m.isEmpty: m.remove(at: rng.below(m.count)); return .map(m)             // delete a field
        case (.map(var m), 1) where !m.isEmpty: m.append(m[rng.below(m.count)]); return .map(m)              // duplicate a field
        case (.map(var m), 2): m.append((["extends", "securityContext", "syscalls", "names", "action", "args", "x", "🙂", ""][rng.below(9)], randomScalar(&rng))); return .map(m)
        case (.list(var l), 0) where !l.isEmpty: l.remove(at: rng.below(l.count)); return .list(l)
        case (.list(var l), 1) where !l.isEmpty: l.append(l[rng.below(l.count)]); return .list(l)
        case (.list(var l), 2): l.insert(randomScalar(&rng), at: rng.below(l.count + 1)); return .list(l)
        case (_, 3): return randomScalar(&rng)                                                              // retype to scalar
        case (.scalar, 4): return .list([t])                                                                 // retype to list
        case (.scalar(let s, _), 5): return .map([(s, t)])                                                   // retype to map
        case (_, 6): return deep(1 + rng.below(64), &rng)                                                    // deep nesting
        case (.map(let m), 7): return .list(m.map(\.1))                                                      // map -> list
        case (.list(let l), 7): return .map(l.enumerated().map { ("\($0.offset)", $0.element) })            // list -> map
        default: return randomScalar(&rng)
        }
    }

    static func mutate(text: String, tree: Tree, rng: inout SplitMix64) -> String {
        switch rng.below(10) {
        case 0...5:
            var t = tree
            for _ in 0...rng.below(4) { t = edit(t, &rng) }
            var out = t.emit(block: rng.chance(50))
            if rng.chance(10) { out = truncate(out, &rng) }
            return out
        case 6: return truncate(text, &rng)
        case 7:  // byte-level: flip, insert or delete a few bytes (may produce invalid UTF-8 -> U+FFFD)
            var b = Array(text.utf8)
            for _ in 0...rng.below(8) where !b.isEmpty {
                let i = rng.below(b.count)
                switch rng.below(3) {
                case 0: b[i] ^= UInt8(1 << rng.below(8))
                case 1: b.insert(specials[rng.below(specials.count)], at: i)
                default: b.remove(at: i)
                }
            }
            return String(decoding: b, as: UTF8.self)
        case 8:  // line-level: duplicate, delete or re-indent lines
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for _ in 0...rng.below(4) where !lines.isEmpty {
                let i = rng.below(lines.count)
                switch rng.below(3) {
                case 0: lines.insert(lines[i], at: i)
                case 1: lines.remove(at: i)
                default: lines[i] = String(repeating: " ", count: rng.below(9)) + lines[i].drop(while: { $0 == " " })
                }
            }
            return lines.joined(separator: "\n")
        default:  // a random scalar or an empty document
            return rng.chance(50) ? "" : randomScalar(&rng).emit(block: false)
        }
    }

    static func truncate(_ s: String, _ rng: inout SplitMix64) -> String {
        let b = Array(s.utf8)
        return String(decoding: b.prefix(rng.below(b.count + 1)), as: UTF8.self)
    }
}
