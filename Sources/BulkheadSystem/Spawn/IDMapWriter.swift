import BulkheadModel
import Glibc

/// Writes a child's user-namespace id maps (user_namespaces(7)).
public enum IDMapWriter {
    /// Writes setgroups (when asked), gid_map and uid_map of `pid`. The order matters: an
    /// unprivileged writer must deny setgroups before it may write gid_map.
    /// Each map is one write (the kernel takes no other): up to 340 lines, less than a page.
    public static func write(pid: Int32, uidMap: [IDMapEntry], gidMap: [IDMapEntry], denySetgroups: Bool) throws(SystemError) {
        let base = "/proc/\(pid)"
        let hint = "the launcher needs CAP_SETUID/CAP_SETGID over the host range (run as root), or map only your own uid (rootless)"
        if denySetgroups {
            do { try FileIO.write("deny", to: "\(base)/setgroups") } catch { throw SystemError("write \(base)/setgroups", errno: error.errno, hint: hint) }
        }
        do { try FileIO.write(IDMapEntry.fileText(gidMap), to: "\(base)/gid_map") } catch {
            throw SystemError("write gid_map \"\(shown(gidMap))\"", errno: error.errno, hint: hint)
        }
        do { try FileIO.write(IDMapEntry.fileText(uidMap), to: "\(base)/uid_map") } catch {
            throw SystemError("write uid_map \"\(shown(uidMap))\"", errno: error.errno, hint: hint)
        }
    }

    /// A map as an error shows it: its first lines, and how many there are.
    static func shown(_ map: [IDMapEntry]) -> String {
        let head = IDMapEntry.reportText(Array(map.prefix(3))) ?? ""
        return map.count > 3 ? head + "; … (\(map.count) lines)" : head
    }
}
