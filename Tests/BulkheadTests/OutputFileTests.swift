import Foundation
import Glibc
import Testing

/// `--report FILE` opens FILE as a shell's `>` does: an existing file is truncated in place
/// (same inode), a symlink's target is written, and nothing is replaced by a new file; so a
/// device such as /dev/null stays a device.
@Suite(.enabled(if: Gate.root, Gate.rootReason))
struct OutputFileTests {
    @Test func reportIsWrittenInPlace() throws {
        let dir = NSTemporaryDirectory() + "bh-out-\(token())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/report.json", link = dir + "/link.json"
        try String(repeating: "old ", count: 10_000).write(toFile: file, atomically: false, encoding: .utf8)
        symlink(file, link)
        var before = stat(), after = stat(), linkStat = stat()
        stat(file, &before)
        let r = try Bulkhead.run(["run", "--report", link, "--", "/bin/true"])
        #expect(r.status == 0, "\(r.stderr)")
        stat(file, &after)
        lstat(link, &linkStat)
        #expect(before.st_ino == after.st_ino, "the report replaced the file instead of writing it")
        #expect(linkStat.st_mode & S_IFMT == S_IFLNK, "the symlink was replaced")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("{") && !text.contains("old old"), "truncated and rewritten: \(text.prefix(80))")
    }
}
