import BulkheadModel
import Testing

/// The runtime table (ContainerRuntime.callsAfterFilter) as `seccomp record` applies it.
struct RuntimeCallsTests {
    static let seen = SyscallRecording(calls: [SyscallRecording.Call(arch: .x86_64, name: "read", number: 0, count: 1)])

    static func allows(_ p: SeccompPolicy, _ name: String) -> Bool {
        p.rules.contains { $0.action == .allow && $0.names.contains(name) }
    }

    @Test func defaultsAreRuncAndCrun() {
        #expect(ContainerRuntime.defaults == [.runc, .crun])
        #expect(ContainerRuntime.parseList("runc,crun") == [.runc, .crun])
        #expect(ContainerRuntime.parseList("none") == [])
        #expect(ContainerRuntime.parseList("crun,crun") == [.crun])
        #expect(ContainerRuntime.parseList("docker") == nil)
        #expect(ContainerRuntime.parseList("") == nil)
        #expect(ContainerRuntime.parseList("runc,") == nil)
    }

    @Test func unionNamesWhoNeedsEachCall() {
        let b = RecordedPolicy.build([Self.seen], runtimes: ContainerRuntime.defaults)
        for n in ContainerRuntime.runc.callsAfterFilter + ContainerRuntime.crun.callsAfterFilter { #expect(Self.allows(b.policy, n), "\(n)") }
        #expect(b.safetySet.first { $0.name == "close" }?.runtimes == "runc and crun")
        #expect(b.safetySet.first { $0.name == "futex" }?.runtimes == "runc")
        // Every name in the table is one bulkhead knows (a typo would be silently dropped).
        for r in ContainerRuntime.allCases { for n in r.callsAfterFilter { #expect(SyscallTable.isKnown(n), "\(n)") } }
    }

    @Test func noneIsBare() {
        let b = RecordedPolicy.build([Self.seen], runtimes: [])
        #expect(!Self.allows(b.policy, "futex"))
        #expect(!Self.allows(b.policy, "close"))
        #expect(b.safetySet.allSatisfy { $0.runtimes == nil })
    }
}
