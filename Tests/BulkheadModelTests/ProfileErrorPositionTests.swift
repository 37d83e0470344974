import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

/// A profile with several errors: the parser reports the first by position (line, then
/// column), not the first of the order it reads sections in, and `problems` lists every error
/// it can reach (it goes on past a field, a list item and an unknown key; issue 15).
struct ProfileErrorPositionTests {
    /// Line 7 is resources (read after securityContext), line 9 securityContext.
    static let text = """
    apiVersion: bulkhead.dev/v1alpha1
    kind: LayerProfile
    metadata:
      name: several
    resources:
      limits:
        memory: 1Ki
    securityContext:
      runAsUser: -5
      capabilities:
        drop: [ALL]
        add: [NET_BIND_SERVICE, CAP_SYS_ADMN]
    filesystem:
      tmpfs:
        - path: relative
      bindz: []
    hostname: "not a hostname!"

    """

    @Test func firstErrorByPosition() {
        do {
            _ = try ProfileParser.parse(Self.text, file: "several.yaml")
            Issue.record("a profile with six errors parsed")
        } catch {
            #expect(error.line == 7 && error.field == "resources.limits.memory", "\(error)")
            #expect(error.message.hasSuffix("(5 more errors in this file; `bulkhead profile lint` lists them all)"), "\(error.message)")
        }
    }

    @Test func everyErrorTheParserReaches() {
        let all = ProfileParser.problems(Self.text, file: "several.yaml")
        #expect(all.map(\.line) == [7, 9, 12, 15, 16, 17], "\(all.map(\.description))")
        #expect(all.map(\.field) == ["resources.limits.memory", "securityContext.runAsUser",
                                     "securityContext.capabilities.add[1]", "filesystem.tmpfs[0].path",
                                     "filesystem.bindz", "hostname"], "\(all.map(\.description))")
    }

    /// One error: the message is the error's own, nothing added.
    @Test func oneErrorIsReportedAlone() {
        let text = "apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\nhostname: \"a b\"\n"
        let all = ProfileParser.problems(text, file: "one.yaml")
        #expect(all.count == 1)
        do {
            _ = try ProfileParser.parse(text, file: "one.yaml")
            Issue.record("a profile with an error parsed")
        } catch {
            #expect(error == all.first, "\(error)")
        }
        #expect(ProfileParser.problems("apiVersion: bulkhead.dev/v1alpha1\nkind: LayerProfile\n", file: "ok.yaml").isEmpty)
    }
}
