import Testing
@testable import BulkheadConfig
@testable import BulkheadModel

@Test func configErrorNamesFileFieldAndLine() throws {
    do {
        _ = try ConfigNode.parse("a: 1\nb: [x\n", file: "t.yaml")
        Issue.record("expected a parse error")
    } catch {
        #expect(error.file == "t.yaml")
        #expect(error.line != nil)
    }
    let n = try ConfigNode.parse("securityContext:\n  capabilitiez: {}\n", file: "p.yaml")
    let top = try n.mapping(allowed: ["securityContext"])
    do {
        _ = try top.require("securityContext").mapping(allowed: ["capabilities", "runAsUser"])
        Issue.record("expected unknown field")
    } catch {
        #expect(error.field == "securityContext.capabilitiez")
        #expect(error.message.contains("did you mean \"capabilities\""))
        #expect(error.line == 2)
    }
}

@Test func integersAcceptHexAndCheckRange() throws {
    let n = try ConfigNode.parse("[0x10, -1, 18446744073709551615]", file: "x")
    let s = try n.sequence()
    #expect(try s[0].int64() == 16)
    #expect(try s[1].int64() == -1)
    #expect(try s[2].uint64() == UInt64.max)
    #expect(throws: ConfigError.self) { try s[1].uint64() }
    #expect(throws: ConfigError.self) { try s[0].int(in: 0...15) }
}
