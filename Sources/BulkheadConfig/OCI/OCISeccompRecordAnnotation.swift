import BulkheadModel
/// `bulkhead.dev/seccomp-record: FILE`: record the container's system calls (the eBPF recorder
/// of `bulkhead seccomp record`) and write a Kubernetes seccomp profile when it exits, as
/// oci-seccomp-bpf-hook's `io.containers.trace-syscall` does. Pure: where FILE may be.
///
/// FILE is hostile (whoever wrote the bundle): it is a file name in the recordings directory
/// (`/var/lib/bulkhead/recordings`, or the absolute directory the engine's environment names
/// in `BULKHEAD_OCI_RECORDINGS`), given bare or as an absolute path directly in that directory.
/// No other directory, no `..`, no subdirectory, no name starting with `.`.
public enum OCISeccompRecordAnnotation {
    public static let key = "bulkhead.dev/seccomp-record"
    public static let defaultDirectory = "/var/lib/bulkhead/recordings"
    public static let environment = "BULKHEAD_OCI_RECORDINGS"

    /// The file name FILE names in `directory`.
    public static func fileName(_ value: String, directory: String) throws(ConfigError) -> String {
        var name = value
        if value.hasPrefix("/") {
            let dir = "/" + directory.split(separator: "/").joined(separator: "/")
            guard let slash = value.lastIndex(of: "/"), "/" + value[..<slash].split(separator: "/").joined(separator: "/") == dir else {
                throw ConfigError(file: OCIConfig.file, field: "annotations.\"\(key)\"",
                                  message: "the profile is written only in the recordings directory \(directory): give a file name, or a path directly in it")
            }
            name = String(value[value.index(after: slash)...])
        }
        let ok = !name.isEmpty && name.utf8.count <= 200 && name.first != "."
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e }
        guard ok else {
            throw ConfigError(file: OCIConfig.file, field: "annotations.\"\(key)\"",
                              message: "a file name of letters, digits, '-', '_' and '.' (not starting with '.', at most 200 bytes, no directory) is needed")
        }
        return name
    }
}
