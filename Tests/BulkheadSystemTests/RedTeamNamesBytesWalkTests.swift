import Testing
@testable import BulkheadSystem
import BulkheadModel
#if canImport(Glibc)
import Glibc
#endif

/// Red team of names-bytes (session 12): `TrustedFile.walk` opens one component at a time,
/// `O_NOFOLLOW`, checking each directory's and link's owner. It split the path into Characters:
/// a Prepend scalar (U+0600) joins the `/` after it into one Character, so `l\u{600}/secret`
/// was one "component", handed whole to openat(2), which walks `l\u{600}` (following it if a
/// link, whoever owns it) without any check. On the real kernel, as root.
@Suite("red team: names-bytes path walk")
struct RedTeamNamesBytesWalkTests {
    static let nobody: uid_t = 65534
    static let prepend = "\u{600}"

    /// A scratch directory (root's, 0755) with `real/secret` (root-only), `NAME` a link to
    /// `real` owned by nobody, and `WNAME` a directory of nobody's, mode 0777, holding root's `f`.
    func scratch(link: String, writable: String) throws -> String {
        var template = Array("/tmp/bh-rt-names-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw SystemError("mkdtemp", errno: .current) }
        let dir = String(cString: p)
        chmod(dir, 0o755)
        mkdir(dir + "/real", 0o700)
        let fd = open(dir + "/real/secret", O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        _ = "secret\n".withCString { write(fd, $0, 7) }
        close(fd)
        symlink("real", dir + "/" + link)
        lchown(dir + "/" + link, Self.nobody, Self.nobody)
        mkdir(dir + "/" + writable, 0o777)
        chmod(dir + "/" + writable, 0o777)
        chown(dir + "/" + writable, Self.nobody, Self.nobody)
        let f = open(dir + "/" + writable + "/f", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        close(f)
        return dir
    }

    func remove(_ dir: String, link: String, writable: String) {
        unlink(dir + "/real/secret"); rmdir(dir + "/real")
        unlink(dir + "/" + link)
        unlink(dir + "/" + writable + "/f"); rmdir(dir + "/" + writable)
        rmdir(dir)
    }

    /// The ASCII names are refused (the rule); the same names with a U+0600 before the `/` must
    /// be too: nobody's link and nobody's writable directory are on the way either way.
    @Test(arguments: ["", "\u{600}"])
    func anotherUsersLinkOrDirectoryIsRefused(suffix: String) throws {
        try #require(getuid() == 0, "lchown to another uid needs root")
        let link = "l" + suffix, writable = "w" + suffix
        let dir = try scratch(link: link, writable: writable)
        defer { remove(dir, link: link, writable: writable) }
        #expect(throws: SystemError.self, "read through nobody's link \(link)") {
            _ = try TrustedFile.read(dir + "/" + link + "/secret", what: "profile")
        }
        #expect(throws: SystemError.self, "read under nobody's writable directory \(writable)") {
            _ = try TrustedFile.read(dir + "/" + writable + "/f", what: "profile")
        }
        #expect(throws: SystemError.self, "opened a directory through nobody's link \(link)") {
            let d = try TrustedFile.openDirectory(dir + "/" + link + "/", what: "profile directory")
            close(d.fd)
        }
    }
}
