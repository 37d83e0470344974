import BulkheadConfig
import BulkheadModel
import Testing

/// Red team (session 12) against `StrictJSON`: a key twice in one object. The config's own
/// reader (`ConfigNode`: Yams) compares keys as Swift compares strings, by canonical
/// equivalence, and refuses a mapping whose keys are equal so; `StrictJSON` compared their
/// scalars and read the same text as two members. The two readers of one config.json must not
/// disagree on what a document holds (`create` runs both on it), so `StrictJSON` refuses what
/// either would take for one key.
struct RedTeamStrictJSONTests {
    @Test(arguments: [
        #"{"K":1,"\u212a":2}"#, // KELVIN SIGN, canonically "K"
        #"{"\u00c5":1,"\u212b":2}"#, // ANGSTROM SIGN, canonically U+00C5
        #"{"e\u0301":1,"\u00e9":2}"#, // decomposed and precomposed
        #"{";":1,"\u037e":2}"#, // GREEK QUESTION MARK, canonically ";"
        #"{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","comme\u0301nt":"a","comm\u00e9nt":"b"}]}}}"#,
    ])
    func keysTheConfigReaderTakesForOneAreRefused(_ text: String) {
        #expect(throws: (any Error).self, "the YAML reader refuses it") { try ConfigNode.parse(text, file: "t.json") }
        #expect(throws: StrictJSON.Failure.self, "StrictJSON refuses it too") { try StrictJSON.parse(text) }
    }

    /// Keys that differ are still two members, whatever their scalars.
    @Test func differentKeysAreRead() throws {
        let v = try StrictJSON.parse(#"{"k":1,"\u212a":2,"e":3,"\u00e9":4}"#)
        guard case .object(let members) = v else { Issue.record("not an object"); return }
        #expect(members.count == 4)
        #expect((try? ConfigNode.parse(#"{"k":1,"\u212a":2,"e":3,"\u00e9":4}"#, file: "t.json")) != nil)
    }
}
