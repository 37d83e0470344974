@testable import Bulkhead
import BulkheadConfig
import BulkheadModel
import Testing

/// Red team (session 11) against `OCISeccompSection`, the writer of the container's seccomp.json.
/// The engine reads that document back with its own reader (`ConfigNode`: libyaml, YAML 1.1),
/// not with a JSON parser: a character JSON takes raw but YAML does not must be written as an
/// escape, or the policy read back is not the config's (a raw U+0085 is a line break to YAML and
/// was folded into a space; a raw DEL, C1 control, U+FFFE or U+FFFF is refused by libyaml's
/// reader, and `create` failed for a config podman and runc accept). U+2028 and U+2029 are YAML
/// 1.1 line breaks too; this libyaml reads them back raw, and they are checked all the same.
struct RedTeamOCISeccompSectionTests {
    /// The config's `linux.seccomp`, one rule whose comment and second name carry `s` (written
    /// as a JSON escape in the config, as an engine writes it).
    static func config(_ escaped: String) -> String {
        """
        {"ociVersion":"1.0.2","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[\
        {"names":["getpid","x\(escaped)y"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"comment":"a\(escaped)b"}]}}}
        """
    }

    /// Every string of the config's section reads back from the written document as the same
    /// scalars, through the engine's reader.
    @Test(arguments: [
        ("\\u2028", "\u{2028}"), ("\\u2029", "\u{2029}"), ("\\u0085", "\u{85}"),
        ("\\u007f", "\u{7F}"), ("\\u0080", "\u{80}"), ("\\u009f", "\u{9F}"),
        ("\\ufffe", "\u{FFFE}"), ("\\uffff", "\u{FFFF}"), ("\\u001f", "\u{1F}"), ("/", "/"), ("\\u00e9", "\u{E9}"),
    ])
    func everyStringReadsBackAsWritten(escaped: String, scalar: String) throws {
        let doc = try #require(OCISeccompSection.document(ofConfig: Self.config(escaped)))
        let text = String(decoding: doc, as: UTF8.self)
        let root = try ConfigNode.parse(text, file: "seccomp.json")
        let rule = try #require(try root.mapping()["syscalls"]?.sequence().first).mapping()
        #expect(try rule["comment"]?.string().unicodeScalars.map(\.value) == Array("a\(scalar)b".unicodeScalars.map(\.value)))
        #expect(try rule["names"]?.stringList().map { Array($0.unicodeScalars.map(\.value)) }
            == [Array("getpid".unicodeScalars.map(\.value)), Array("x\(scalar)y".unicodeScalars.map(\.value))])
    }

    /// The same document through the engine's seccomp loader (as `create` loads it as a
    /// Localhost policy): a comment with a DEL in it is no reason to refuse the container.
    @Test func aControlCharacterInACommentDoesNotFailTheLoad() throws {
        let config = #"{"ociVersion":"1.0.2","linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":["#
            + #"{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"comment":"a\u007fb"}]}}}"#
        let doc = try #require(OCISeccompSection.document(ofConfig: config))
        let load = try SeccompPolicyParser.load(text: String(decoding: doc, as: UTF8.self), file: "seccomp.json",
                                                context: SeccompContext())
        #expect(load.policy.defaultAction == .allow)
    }
}
