/// The `bulkhead` entries of /etc/subuid and /etc/subgid (subuid(5), subgid(5)): the host
/// ranges a root launcher maps plain sandboxes onto when the profile names none. Pure: the
/// caller reads the files (and checks that root owns them).
public enum SubordinateIDs {
    public static let subuidPath = "/etc/subuid"
    public static let subgidPath = "/etc/subgid"

    /// The first `user:START:COUNT` line of `text` (subuid(5): one range a line; a user may have
    /// several, the first is used); nil when the user has none. A malformed entry for `user`
    /// is an error naming the line, never its content; other users' lines are not looked at.
    public static func range(in text: String, user: String, file: String) throws(ConfigError) -> IDRange? {
        var lineNumber = 0
        for line in text.asciiSplit("\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let f = line.asciiSplit(":", omittingEmptySubsequences: false)
            guard f.first.map(String.init) == user else { continue }
            guard f.count == 3, let s = UInt32(f[1]), let c = UInt32(f[2]) else {
                throw ConfigError(file: file, field: user, line: lineNumber, message: "expected \(user):START:COUNT with decimal START and COUNT")
            }
            if let problem = IDRange.problem(hostStart: s, count: c) {
                throw ConfigError(file: file, field: user, line: lineNumber, message: "the range is not usable: \(problem)")
            }
            return IDRange(hostStart: s, count: c)
        }
        return nil
    }

    /// The uid and gid ranges for `user`, each from its own file; nil when neither file names
    /// the user (the built-in default is then used for both). One file naming the user and the
    /// other not is refused: mapping gids onto a range the administrator never gave out (or
    /// uids onto one) is the misconfiguration that would go unnoticed. A missing file is empty.
    public static func ranges(subuid: String?, subgid: String?, user: String = "bulkhead") throws(ConfigError) -> (uid: IDRange, gid: IDRange)? {
        let u = try range(in: subuid ?? "", user: user, file: subuidPath)
        let g = try range(in: subgid ?? "", user: user, file: subgidPath)
        switch (u, g) {
        case (nil, nil): return nil
        case let (u?, g?): return (u, g)
        case (_?, nil):
            throw ConfigError(file: subgidPath, field: user,
                              message: "\(subuidPath) gives \(user) host uids but \(subgidPath) gives it no gids: add a \(user):START:COUNT line to \(subgidPath) (usermod --add-subgids), or remove the one in \(subuidPath)")
        case (nil, _?):
            throw ConfigError(file: subuidPath, field: user,
                              message: "\(subgidPath) gives \(user) host gids but \(subuidPath) gives it no uids: add a \(user):START:COUNT line to \(subuidPath) (usermod --add-subuids), or remove the one in \(subgidPath)")
        }
    }

    /// The ranges `text` gives to anyone but `user` (one per `NAME:START:COUNT` line, with the
    /// line number): with newuidmap(1) and newgidmap(1) each such user runs processes under
    /// those host ids, so no sandbox may use them. A line that is not three fields with decimal
    /// START and COUNT is skipped (newuidmap skips it too); a range is cut at 2^32.
    public static func delegated(in text: String, except user: String = "bulkhead") -> [(line: Int, range: IDRange)] {
        var out: [(line: Int, range: IDRange)] = []
        var lineNumber = 0
        for line in text.asciiSplit("\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let f = line.asciiSplit(":", omittingEmptySubsequences: false)
            guard f.count == 3, f[0] != user, let s = UInt32(f[1]), let c = UInt64(f[2]), c > 0 else { continue }
            out.append((lineNumber, IDRange(hostStart: s, count: UInt32(min(c, UInt64(UInt32.max) - UInt64(s) + 1, UInt64(UInt32.max))))))
        }
        return out
    }
}
