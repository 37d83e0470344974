import ArgumentParser
import BulkheadModel

/// `--arch aarch64,x86_64`: the architectures a written profile is for (one profile for a
/// mixed-architecture cluster), with the equivalent calls each one needs.
struct ArchitectureOption: ParsableArguments {
    @Option(name: .customLong("arch"), help: ArgumentHelp(
        "Write the profile for these architectures (comma-separated: x86_64, x86, x32, aarch64, arm; also amd64, arm64 and SCMP_ARCH_* names), adding the calls each needs for what the policy allows on the others (open → openat on aarch64, ...).",
        valueName: "ARCH,..."))
    var arch: String?

    /// The architectures, or nil without --arch; a ValidationError names an unknown one.
    func architectures() throws -> [SeccompArch]? {
        guard let arch else { return nil }
        var out: [SeccompArch] = []
        for part in arch.split(separator: ",", omittingEmptySubsequences: false) {
            let text = part.trimmingCharacters(in: " ")
            guard let a = SeccompArch.named(text) else {
                throw ValidationError("--arch: unknown architecture \"\(text.prefix(40))\"; use x86_64, x86, x32, aarch64 or arm")
            }
            guard SyscallTable.architecturesWithNumbers.contains(a) else {
                throw ValidationError("--arch: bulkhead has no system-call table for \(a.rawValue); use x86_64, x86, x32, aarch64 or arm")
            }
            if !out.contains(a) { out.append(a) }
        }
        return out
    }

    func validate() throws { _ = try architectures() }

    /// `policy` for the architectures given (unchanged without --arch), saying on standard
    /// error what was added and what could not be carried over.
    func apply(_ policy: SeccompPolicy) throws -> SeccompPolicy {
        guard let arches = try architectures() else { return policy }
        let (p, added, notCarried) = policy.forArchitectures(arches)
        var msg = "# architectures: \(arches.map(\.rawValue).joined(separator: ", "))\n"
        if !added.isEmpty {
            msg += "# added for the other architectures: \(added.map(\.description).joined(separator: ", "))\n"
        }
        if !notCarried.isEmpty {
            msg += "# not carried over (rules with argument conditions): \(notCarried.joined(separator: ", "))\n"
        }
        note(msg)
        return p
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
