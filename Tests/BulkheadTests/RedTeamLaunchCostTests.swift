@testable import Bulkhead
import BulkheadModel
import BulkheadSystem
import Foundation
import Glibc
import Testing

/// Red team of launch-cost (issue 17): the seccomp cache names bulkhead's own policy by the
/// SHA-256 scripts/embed-profiles.sh stored beside the compiled-in text. That name is only
/// right while the compiled-in text is, byte for byte, what the script hashed.
@Suite struct RedTeamLaunchCostTests {
    /// scripts/embed-profiles.sh run in a scratch copy of the tree holding `profiles`
    /// (relative path → contents): its exit status and standard error.
    static func embed(_ profiles: [String: String], check: Bool = false) throws -> (status: Int32, stderr: String, generated: String) {
        let root = NSTemporaryDirectory() + "bh-rtlc-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        for d in ["scripts", "Profiles/seccomp", "Sources/BulkheadModel/Profile"] {
            try fm.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: Bulkhead.packageRoot + "/scripts/embed-profiles.sh", toPath: root + "/scripts/embed-profiles.sh")
        for (path, text) in profiles { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(root)/Profiles/\(path)")) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root + "/scripts/embed-profiles.sh"] + (check ? ["--check"] : [])
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let generated = (try? String(contentsOfFile: root + "/Sources/BulkheadModel/Profile/EmbeddedProfiles.swift", encoding: .utf8)) ?? ""
        return (p.terminationStatus, String(decoding: e, as: UTF8.self), generated)
    }

    /// The script writes each profile into a `#"""` raw string and refuses `"#`, which would end
    /// it. In such a literal `\#` starts an escape: `\#n` is a newline, `\#t` a tab, `\#(x)`
    /// an interpolation, `\#` at the end of a line joins the next line. A profile holding one
    /// compiles to another text than the file's, while the digests beside it are the file's
    /// (the script hashes Profiles/, not the literal): the cache would name a text by a digest
    /// that is not its own, and `--check` (what build-release.sh runs) passes all the same.
    @Test("embed-profiles.sh refuses a profile with a raw-string escape (\\#), as it refuses \"#")
    func refusesRawStringEscape() throws {
        let ok = "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}\n"
        let control = try Self.embed(["seccomp/p.json": ok])
        #expect(control.status == 0, "the control: a plain profile is embedded: \(control.stderr)")
        for bad in [##"{"comment": "a\#nb"}"##, ##"{"comment": "\#(1)"}"##, "{\"comment\": \"joined \\#\n\"}"] {
            let r = try Self.embed(["seccomp/p.json": bad + "\n"])
            #expect(r.status != 0, "embedded a profile the literal does not reproduce: \(bad.debugDescription)")
            #expect(r.stderr.contains("Profiles/seccomp/p.json"), "\(r.stderr)")
        }
    }

    /// EmbeddedProfilesTests.upToDate compares Profiles/ with the compiled-in copies by
    /// `String ==`, which is canonical equivalence: a file edited to a canonically equal text
    /// with other bytes (an NFD editor, a KELVIN SIGN for a K) passes it, and so does the
    /// digest test (the old text and its old digests agree). The installed file is then not
    /// the compiled-in policy byte for byte: it loses the native-only filter silently.
    @Test("Profiles/ holds, byte for byte, each compiled-in file plus its final newline, with the stored digest of those bytes")
    func shippedFilesAreTheCompiledInBytes() throws {
        for f in EmbeddedProfiles.files {
            let disk = try #require(FileManager.default.contents(atPath: Bulkhead.packageRoot + "/Profiles/" + f.path), "\(f.path)")
            #expect(Array(disk) == Array(f.text.utf8) + [0x0a], "Profiles/\(f.path) is not, byte for byte, the compiled-in text and a newline (run scripts/embed-profiles.sh)")
            let d = try #require(EmbeddedProfiles.sha256.first { $0.path == f.path })
            var h = SHA256()
            h.update(Array(disk))
            #expect(SHA256.hex(h.finalize()) == d.shipped, "Profiles/\(f.path): not the bytes the stored shipped digest names")
        }
    }

    /// Copies of the policy that read the same but are other bytes are a user's text: hashed,
    /// never named by the embedded digest (a regression check of the match, beyond the
    /// KELVIN SIGN the branch's own test tries).
    @Test("A copy with a BOM, CR LF line ends, a combining mark, or leading white space is not bulkhead's policy")
    func lookalikeCopiesAreText() throws {
        let e = try #require(EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" }).text
        let lookalikes = ["\u{FEFF}" + e, "\u{FEFF}" + e + "\n", e.replacing("\n", with: "\r\n"), e + "\r\n",
                          " " + e, "\n" + e, e + "\n\n", e + "\0", e.replacing("\"SCMP_ACT_ERRNO\"", with: "\"SCMP_ACT_ERRNO\"\u{0301}")]
        for t in lookalikes {
            #expect(SeccompSetup.bulkheadPolicy(t) == nil, "\(Array(t.utf8.prefix(4))) … \(Array(t.utf8.suffix(4)))")
            let k = SeccompCache.key(policyText: t, embedded: SeccompSetup.bulkheadPolicy(t), capabilities: [], architecture: "x86_64", binary: "b")
            for m in [EmbeddedProfiles.match(e, under: "seccomp/"), EmbeddedProfiles.match(e + "\n", under: "seccomp/")] {
                #expect(k != SeccompCache.key(policyText: e, embedded: m, capabilities: [], architecture: "x86_64", binary: "b"))
            }
        }
    }
}
