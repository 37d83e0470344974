/// OCI `process.capabilities`: the five sets of the process (capabilities(7)), applied as runc
/// applies them: the bounding set dropped to `bounding`, capset of effective, permitted and
/// inheritable, then each ambient capability raised.
public struct OCICapabilitySets: Sendable, Equatable {
    public var bounding, effective, inheritable, permitted, ambient: CapabilitySet
    public init(bounding: CapabilitySet, effective: CapabilitySet, inheritable: CapabilitySet, permitted: CapabilitySet, ambient: CapabilitySet) {
        self.bounding = bounding; self.effective = effective; self.inheritable = inheritable; self.permitted = permitted; self.ambient = ambient
    }

    public var union: CapabilitySet {
        CapabilitySet(mask: bounding.mask | effective.mask | inheritable.mask | permitted.mask | ambient.mask)
    }

    /// The first rule of the kernel's these sets break (the field and why), or nil: effective
    /// within permitted (capset), inheritable within bounding (capset, once the bounding set is
    /// dropped), ambient within permitted and inheritable (PR_CAP_AMBIENT_RAISE).
    public var kernelRuleBroken: (field: String, message: String)? {
        func outside(_ a: CapabilitySet, _ b: CapabilitySet) -> String? {
            let extra = CapabilitySet(mask: a.mask & ~b.mask)
            return extra.isEmpty ? nil : extra.members.map(\.name).joined(separator: ", ")
        }
        if let x = outside(effective, permitted) { return ("effective", "\(x) not in permitted: the kernel refuses an effective capability that is not permitted (capset, EPERM); add it to permitted") }
        if let x = outside(inheritable, bounding) { return ("inheritable", "\(x) not in bounding: the kernel refuses an inheritable capability outside the bounding set (capset, EPERM); add it to bounding") }
        if let x = outside(ambient, CapabilitySet(mask: permitted.mask & inheritable.mask)) {
            return ("ambient", "\(x) not in both permitted and inheritable: the kernel refuses to raise it (PR_CAP_AMBIENT_RAISE, EPERM); add it to both")
        }
        return nil
    }
}
