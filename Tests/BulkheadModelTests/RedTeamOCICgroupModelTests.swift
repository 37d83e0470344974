import BulkheadConfig
import BulkheadModel
import Testing

/// Red team (session 7), pure: how the config's cgroup mount options are read.
struct RedTeamOCICgroupModelTests {
    /// runc applies a mount's options in order (the last of ro/rw wins): an engine that appends
    /// "ro" after a user's "rw" gets a read-only cgroup mount from runc, and must from bulkhead.
    @Test func theLastOfRoAndRwWins() throws {
        func readOnly(_ options: String) throws -> Bool? {
            try OCIConfig.decode(OCICgroupConfigTests.config(mounts: #"{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": \#(options)}"#), bundle: "/b").cgroupMountReadOnly
        }
        #expect(try readOnly(#"["rw", "ro"]"#) == true, "rw then ro: read-only, as runc")
        #expect(try readOnly(#"["nosuid", "rw", "nodev", "ro", "noexec"]"#) == true)
        #expect(try readOnly(#"["ro", "rw"]"#) == false, "ro then rw: read-write, as runc")
        #expect(try readOnly(#"["nosuid"]"#) == true, "neither: read-only")
    }
}
