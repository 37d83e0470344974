import BulkheadConfig
import BulkheadModel
import Foundation
import Testing

/// `seccomp record --within`: SeccompPolicy.bounded(by:native:) never lets a call run that the
/// bound refuses, and names what it took away.
struct WithinBoundTests {
    static func eq(_ i: UInt32, _ v: UInt64) -> SeccompArgCondition { SeccompArgCondition(index: i, value: v, op: .equal) }

    static let recorded = SeccompPolicy(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64, .x32], rules: [
        SeccompRule(names: ["read", "write", "mount", "unshare", "personality"], action: .allow),
        SeccompRule(names: ["socket"], action: .allow, args: [eq(0, 1)]),
        SeccompRule(names: ["socket"], action: .allow, args: [eq(0, 16)]),
        SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38),
    ])

    static let bound = SeccompPolicy(defaultAction: .errno, architectures: [.x86_64, .x86], rules: [
        SeccompRule(names: ["read", "write", "clone3"], action: .allow),
        SeccompRule(names: ["mount"], action: .errno, errnoRet: 1),
        SeccompRule(names: ["personality"], action: .allow, args: [eq(0, 0)]),
        SeccompRule(names: ["personality"], action: .allow, args: [eq(0, 8)]),
        SeccompRule(names: ["socket"], action: .allow, args: [eq(0, 1)]),
        SeccompRule(names: ["socket"], action: .allow, args: [eq(0, 2)]),
    ])

    static func allowed(_ p: SeccompPolicy) -> Set<String> { Set(p.rules.filter { $0.action.letsCallRun }.flatMap(\.names)) }

    @Test func dropsAndNarrowsByName() throws {
        let r = Self.recorded.bounded(by: Self.bound, native: .x86_64)
        #expect(r.dropped == ["mount", "unshare"])
        #expect(r.narrowed == ["personality"])
        #expect(r.droppedArchitectures == [.x32])
        #expect(r.policy.architectures == [.x86_64])
        #expect(Self.allowed(r.policy) == ["read", "write", "personality", "socket"])
        // socket: only the family both allow (AF_UNIX); AF_NETLINK (recorded) and AF_INET (bound) are gone.
        #expect(r.policy.rules.filter { $0.names == ["socket"] }.map(\.args) == [[Self.eq(0, 1)]])
        #expect(Set(r.policy.rules.filter { $0.names == ["personality"] }.map(\.args)) == [[Self.eq(0, 0)], [Self.eq(0, 8)]])
        // A refusal of the recorded policy stays, although the bound allows clone3.
        #expect(r.policy.rules.contains(SeccompRule(names: ["clone3"], action: .errno, errnoRet: 38)))
        try r.policy.validate()
    }

    /// Within itself nothing is taken away; a deny-list bound drops exactly what it refuses.
    @Test func selfAndDenyListBounds() throws {
        let same = Self.recorded.bounded(by: Self.recorded, native: .x86_64)
        #expect(same.dropped.isEmpty && same.narrowed.isEmpty && same.droppedArchitectures.isEmpty)
        #expect(same.policy == Self.recorded.normalized())
        let deny = SeccompPolicy(defaultAction: .allow, architectures: [.x86_64, .x32], rules: [
            SeccompRule(names: ["unshare"], action: .errno),
            SeccompRule(names: ["write"], action: .errno, args: [Self.eq(0, 2)]),  // a conditional refusal: cannot be expressed, dropped
        ])
        let d = Self.recorded.bounded(by: deny, native: .x86_64)
        #expect(d.dropped == ["unshare", "write"])
        #expect(Self.allowed(d.policy).isSuperset(of: ["read", "mount", "personality", "socket"]))
    }

    /// Bounded by the built-in RuntimeDefault (Profiles/seccomp/container.json), a policy that
    /// allows everything the container layer knows keeps exactly the container layer's calls.
    @Test func runtimeDefaultBound() throws {
        let e = try #require(EmbeddedProfiles.files.first { $0.path == "seccomp/container.json" })
        let rd = try SeccompPolicyParser.parse(text: e.text, file: "container.json", context: SeccompContext())
        let everything = SeccompPolicy(defaultAction: .errno, architectures: rd.architectures,
                                       rules: [SeccompRule(names: SyscallTable.allNames.sorted(), action: .allow)])
        let r = everything.bounded(by: rd, native: .x86_64)
        #expect(r.dropped.contains("unshare") && r.dropped.contains("mount") && r.dropped.contains("kexec_load"))
        #expect(Self.allowed(r.policy) == Self.allowed(rd))
        #expect(r.narrowed.contains("socket") && r.narrowed.contains("ioctl"))
        try r.policy.validate()
    }
}
