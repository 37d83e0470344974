import Foundation
import Glibc

/// A file the command line names for output (`--report FILE`, `--json FILE`, `--html FILE`),
/// opened as a shell's `>` opens it: created if absent, truncated if present, and never
/// replaced. A device (`/dev/null`, `/dev/stdout`), a FIFO or a symlink's target is written
/// to, not swapped for a new regular file (FileManager.createFile replaces the path, which as
/// root once turned /dev/null into a file).
enum OutputFile {
    static func open(_ path: String) -> FileHandle? {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        return fd >= 0 ? FileHandle(fileDescriptor: fd, closeOnDealloc: true) : nil
    }

    /// Writes `text` to `path`; false when it cannot be opened or written.
    static func write(_ text: String, to path: String) -> Bool {
        guard let h = open(path) else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data(text.utf8)) } catch { return false }
        return true
    }
}
