#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Freezing a container's cgroup (OCI `pause`/`resume`): the v1 freezer hierarchy's
/// `freezer.state` where the container has a freezer cgroup, else cgroup2's `cgroup.freeze`
/// (read back from `cgroup.events`). Only the container's own leaves are written.
public enum CgroupFreezer {
    /// The file that freezes a cgroup among `directories` (the container's leaves).
    public enum Control: Sendable, Equatable {
        /// `DIR/freezer.state`: FROZEN / THAWED (FREEZING on the way).
        case v1(String)
        /// `DIR/cgroup.freeze`: 1 / 0, done when `DIR/cgroup.events` says "frozen 1" / "frozen 0".
        case v2(String)
    }

    /// The v1 freezer when one of the leaves has it, else a cgroup2 leaf's cgroup.freeze.
    public static func control(_ directories: [String]) -> Control? {
        if let d = directories.first(where: { CgroupFS.exists($0 + "/freezer.state") }) { return .v1(d) }
        if let d = directories.first(where: { CgroupFS.exists($0 + "/cgroup.freeze") }) { return .v2(d) }
        return nil
    }

    /// Whether the cgroup is frozen (FROZEN on v1; "frozen 1" on v2). FREEZING is not frozen.
    public static func isFrozen(_ directories: [String]) -> Bool {
        switch control(directories) {
        case .v1(let d)?: return (try? CgroupFS.read(d + "/freezer.state").get())?.hasPrefix("FROZEN") == true
        case .v2(let d)?: return events(d).contains("frozen 1")
        case nil: return false
        }
    }

    static func events(_ dir: String) -> [Substring] {
        ((try? CgroupFS.read(dir + "/cgroup.events").get()) ?? "").split(separator: "\n")
    }

    /// Freezes (`frozen` true) or thaws the cgroup and waits until the kernel reports it done,
    /// for at most `seconds`. A freeze that does not complete is undone (thawed) and throws.
    public static func set(_ directories: [String], frozen: Bool, seconds: Double = 10) throws(CgroupError) {
        guard let c = control(directories) else {
            throw CgroupError(code: .controllerUnavailable, operation: frozen ? "freeze the container" : "thaw the container",
                              path: directories.first ?? "", errno: Errno(ENOENT),
                              fix: "the container has no freezer cgroup (v1 freezer hierarchy or cgroup2's cgroup.freeze, Linux 5.2); run `bulkhead doctor`")
        }
        let (file, value, done): (String, String, () -> Bool) = switch c {
        case .v1(let d):
            (d + "/freezer.state", frozen ? "FROZEN" : "THAWED",
             { ((try? CgroupFS.read(d + "/freezer.state").get()) ?? "").hasPrefix(frozen ? "FROZEN" : "THAWED") })
        case .v2(let d):
            (d + "/cgroup.freeze", frozen ? "1" : "0", { events(d).contains(frozen ? "frozen 1" : "frozen 0") })
        }
        var waited = 0.0, step = 0.001
        while true {
            // Written again each round: a v1 freezer can stay FREEZING while tasks fork (runc does the same).
            if case .failure(let e) = CgroupFS.write(file, value) {
                throw CgroupError(code: .writeFailed, operation: "write \(value) to the freezer", path: file, errno: e, fix: "run `bulkhead doctor`")
            }
            if done() { return }
            if waited >= seconds {
                if frozen { _ = CgroupFS.write(file, c.isV1 ? "THAWED" : "0") }
                throw CgroupError(code: .writeFailed, operation: "\(frozen ? "freeze" : "thaw") the container within \(Int(seconds)) s",
                                  path: file, errno: Errno(ETIMEDOUT),
                                  fix: frozen ? "the container was thawed again; retry `pause`" : "retry `resume`")
            }
            usleep(UInt32(step * 1_000_000))
            waited += step
            step = min(step * 2, 0.1)
        }
    }
}

extension CgroupFreezer.Control {
    var isV1: Bool { if case .v1 = self { true } else { false } }
}
