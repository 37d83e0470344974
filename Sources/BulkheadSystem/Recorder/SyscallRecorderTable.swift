import BulkheadModel
import CShims
import Glibc

/// The counter table the sandbox's init fills while it traces a workload (`bh_record_table`,
/// CShims/include/bh_recorder.h): a MAP_SHARED anonymous mapping made before clone3, so the
/// init (a separate process after clone3) writes into memory this process reads once the init
/// has exited. One owner: the mapping is released in `deinit`.
public final class SyscallRecorderTable: @unchecked Sendable {
    /// The table, for `ChildSpawner.spawn(recordTable:)` (the C type stays in this layer).
    package let pointer: UnsafeMutablePointer<bh_record_table>
    private let size = MemoryLayout<bh_record_table>.size

    /// Maps a zeroed table and fills in the numbers of the calls whose arguments are recorded.
    public init() throws(SystemError) {
        guard let raw = mmap(nil, MemoryLayout<bh_record_table>.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else {
            throw SystemError("mmap the system-call recorder's table (\(MemoryLayout<bh_record_table>.size) bytes)", errno: .current)
        }
        pointer = raw.bindMemory(to: bh_record_table.self, capacity: 1)
        pointer.pointee.version = UInt32(BH_RECORD_VERSION)
        func numbers(_ name: String) -> (Int32, Int32, Int32) {
            func nr(_ a: SeccompArch) -> Int32 {
                // The recorder compares x32 numbers without X32_SYSCALL_BIT.
                SyscallTable.number(of: name, on: a).map { $0 & ~SyscallTable.x32SyscallBit } ?? -1
            }
            return (nr(.x86_64), nr(.x86), nr(.x32))
        }
        pointer.pointee.watch = bh_record_watch(
            socket_nr: numbers("socket"), personality_nr: numbers("personality"),
            clone_nr: numbers("clone"), execve_nr: numbers("execve"))
    }

    deinit { munmap(UnsafeMutableRawPointer(pointer), size) }

    /// The architectures in the table's index order.
    static let arches: [SeccompArch] = [.x86_64, .x86, .x32]

    /// What the table holds, as the model's recording (calls with names from SyscallTable).
    public func recording(command: [String], profile: String) -> SyscallRecording {
        let t = pointer
        var r = SyscallRecording(command: command, profile: profile)
        let exeCount = Int(min(t.pointee.exe_count, UInt32(BH_RECORD_EXE_LIMIT)))
        var exes: [String] = []
        withUnsafeBytes(of: &t.pointee.exes) { raw in
            let pathMax = Int(BH_RECORD_PATH_MAX)
            for i in 0..<exeCount {
                let slice = raw[(i * pathMax)..<((i + 1) * pathMax)]
                let bytes = slice.prefix { $0 != 0 }
                exes.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        let limit = Int(BH_RECORD_NR_LIMIT)
        withUnsafeBytes(of: &t.pointee.counts) { countsRaw in
            withUnsafeBytes(of: &t.pointee.first_exe) { firstRaw in
                let counts = countsRaw.bindMemory(to: UInt64.self)
                let first = firstRaw.bindMemory(to: UInt16.self)
                for (ai, arch) in Self.arches.enumerated() {
                    for nr in 0..<limit {
                        let count = counts[ai * limit + nr]
                        guard count > 0 else { continue }
                        let number = Int32(nr) | (arch == .x32 ? SyscallTable.x32SyscallBit : 0)
                        let fe = Int(first[ai * limit + nr])
                        r.calls.append(SyscallRecording.Call(
                            arch: arch, name: SyscallTable.name(of: number, on: arch), number: number, count: count,
                            firstExecutable: fe > 0 && fe <= exes.count ? exes[fe - 1] : nil))
                    }
                }
            }
        }
        r.calls = SyscallRecordingReport.sorted(r.calls)
        r.executables = Array(exes.dropFirst()) // exes[0] stands for bulkhead itself before the execve
        let overflow = t.pointee.overflow
        let families = t.pointee.socket_families
        r.socketFamilies = (0..<64).filter { families & (1 << UInt64($0)) != 0 }.map(UInt64.init)
        r.socketFamiliesComplete = overflow & UInt32(BH_RECORD_SOCKET_WIDE) == 0
        let pc = Int(min(t.pointee.personality_count, UInt32(BH_RECORD_VALUE_LIMIT)))
        withUnsafeBytes(of: &t.pointee.personalities) { raw in
            r.personalities = Array(raw.bindMemory(to: UInt64.self).prefix(pc)).sorted()
        }
        r.personalitiesComplete = overflow & UInt32(BH_RECORD_PERSONALITY_FULL) == 0
        r.cloneFlags = r.calls.contains { $0.name == "clone" } ? t.pointee.clone_flags : nil
        var s = SyscallRecording.Stats()
        s.syscallEntries = t.pointee.entries
        s.ptraceStops = t.pointee.stops
        s.tasks = t.pointee.tasks
        s.execs = t.pointee.execs
        s.unknownArchitecture = t.pointee.unknown_arch
        s.outOfRange = t.pointee.out_of_range.0 + t.pointee.out_of_range.1 + t.pointee.out_of_range.2
        r.stats = s
        return r
    }
}
