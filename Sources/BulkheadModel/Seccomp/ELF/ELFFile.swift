/// A 64-bit little-endian ELF file (an executable or shared library), parsed from untrusted
/// bytes: every offset, size and count is checked against the file before it is used, with
/// checked arithmetic; a string is read only inside its table and cut at `maxNameLength`. An
/// error says which structure is malformed, never what the file contains.
///
/// Only what the system-call scanner needs is read: the machine, the executable sections, the
/// dynamic symbols (imports and exports), DT_NEEDED and DT_RUNPATH/DT_RPATH.
public struct ELFFile: Sendable {
    public enum Machine: Sendable, Equatable {
        case x86_64, aarch64, other(UInt16)
    }

    public struct Section: Sendable {
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var address: UInt64
        public var offset: Int
        public var size: Int
        public var link: UInt32
        public var entrySize: Int
        public var isExecutable: Bool { flags & 0x4 != 0 && type != 8 }  // SHF_EXECINSTR, not NOBITS
    }

    public struct Symbol: Sendable, Equatable {
        public var name: String
        public var value: UInt64
        public var size: UInt64
        /// STT_* (2 = FUNC, 10 = GNU_IFUNC).
        public var type: UInt8
        /// STB_* (1 = GLOBAL, 2 = WEAK).
        public var binding: UInt8
        public var isDefined: Bool
    }

    public var machine: Machine
    /// ET_EXEC 2, ET_DYN 3.
    public var fileType: UInt16
    public var sections: [Section]
    public var dynamicSymbols: [Symbol]
    public var needed: [String]
    public var runPath: [String]

    /// Function names this file takes from its libraries (undefined dynamic symbols).
    public var imports: [String] {
        dynamicSymbols.filter { !$0.isDefined && !$0.name.isEmpty && ($0.type == 2 || $0.type == 0 || $0.type == 10) && $0.binding != 0 }
            .map(\.name)
    }

    /// The largest file the parser reads (a larger one is refused, not cut).
    public static let maxFileSize = 512 << 20
    public static let maxNameLength = 1024
    /// At most this many sections and dynamic entries are read.
    public static let maxSections = 4096
    public static let maxDynamicEntries = 65536
    public static let maxSymbols = 1 << 20

    /// Parses `bytes` as an ELF file.
    public static func parse(_ bytes: [UInt8]) throws(ELFError) -> ELFFile {
        try ELFParser(bytes).parse()
    }

    /// The bytes of `section` (in range: checked when parsed).
    public func contents(of section: Section, in bytes: [UInt8]) -> ArraySlice<UInt8> {
        bytes[section.offset..<(section.offset + section.size)]
    }
}

/// What is wrong with an ELF file: the structure, not its content.
public struct ELFError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

struct ELFParser {
    let b: [UInt8]
    init(_ bytes: [UInt8]) { b = bytes }

    func u8(_ o: Int) throws(ELFError) -> UInt8 {
        guard o >= 0, o < b.count else { throw ELFError("truncated file") }
        return b[o]
    }

    func u16(_ o: Int) throws(ELFError) -> UInt16 {
        guard o >= 0, o <= b.count - 2 else { throw ELFError("truncated file") }
        return UInt16(b[o]) | UInt16(b[o + 1]) << 8
    }

    func u32(_ o: Int) throws(ELFError) -> UInt32 {
        guard o >= 0, o <= b.count - 4 else { throw ELFError("truncated file") }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[o + i]) << (8 * UInt32(i)) }
        return v
    }

    func u64(_ o: Int) throws(ELFError) -> UInt64 {
        guard o >= 0, o <= b.count - 8 else { throw ELFError("truncated file") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[o + i]) << (8 * UInt64(i)) }
        return v
    }

    /// `value` as an offset or size inside the file.
    func fileInt(_ value: UInt64, _ what: String) throws(ELFError) -> Int {
        guard value <= UInt64(b.count) else { throw ELFError("\(what) lies outside the file") }
        return Int(value)
    }

    /// A range [offset, offset + count * size) that must lie inside the file.
    func range(_ offset: UInt64, count: UInt64, size: UInt64, _ what: String) throws(ELFError) -> (Int, Int) {
        let (total, o1) = count.multipliedReportingOverflow(by: size)
        let (end, o2) = offset.addingReportingOverflow(total)
        guard !o1, !o2, end <= UInt64(b.count) else { throw ELFError("\(what) lies outside the file") }
        return (Int(offset), Int(total))
    }

    /// The NUL-terminated string at `index` of the string table at [start, start + size).
    func string(_ start: Int, _ size: Int, _ index: UInt32, _ what: String) throws(ELFError) -> String {
        let i = Int(index)
        guard i < size else { throw ELFError("\(what) name lies outside its string table") }
        let from = start + i, limit = min(start + size, from + ELFFile.maxNameLength)
        var end = from
        while end < limit, b[end] != 0 { end += 1 }
        guard end < start + size, end - from < ELFFile.maxNameLength else {
            throw ELFError("\(what) name is not terminated within \(ELFFile.maxNameLength) bytes")
        }
        return String(decoding: b[from..<end], as: UTF8.self)
    }

    func parse() throws(ELFError) -> ELFFile {
        guard b.count <= ELFFile.maxFileSize else { throw ELFError("larger than \(ELFFile.maxFileSize >> 20) MiB") }
        guard b.count >= 64, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46 else { throw ELFError("not an ELF file") }
        guard b[4] == 2 else { throw ELFError("not a 64-bit ELF file (only ELFCLASS64 is scanned)") }
        guard b[5] == 1 else { throw ELFError("not a little-endian ELF file") }
        let type = try u16(16)
        let machineCode = try u16(18)
        let machine: ELFFile.Machine = machineCode == 62 ? .x86_64 : machineCode == 183 ? .aarch64 : .other(machineCode)
        let shoff = try u64(0x28)
        let shentsize = try u16(0x3A)
        let shnum = try u16(0x3C)
        let shstrndx = try u16(0x3E)

        var sections: [ELFFile.Section] = []
        if shoff != 0, shnum != 0 {
            guard shentsize == 64 else { throw ELFError("section header size is not 64") }
            guard Int(shnum) <= ELFFile.maxSections else { throw ELFError("more than \(ELFFile.maxSections) sections") }
            let (base, _) = try range(shoff, count: UInt64(shnum), size: 64, "the section header table")
            var raw: [(name: UInt32, type: UInt32, flags: UInt64, addr: UInt64, off: Int, size: Int, link: UInt32, entsize: Int)] = []
            for i in 0..<Int(shnum) {
                let h = base + i * 64
                let stype = try u32(h + 4)
                let off = try u64(h + 0x18), size = try u64(h + 0x20)
                var o = 0, s = 0
                if stype != 8 && stype != 0 {  // NOBITS and NULL occupy no file bytes
                    (o, s) = try range(off, count: 1, size: size, "section \(i)")
                }
                let entsize = try u64(h + 0x38)
                raw.append((try u32(h), stype, try u64(h + 8), try u64(h + 0x10), o, s, try u32(h + 0x28),
                            entsize > 4096 ? 0 : Int(entsize)))
            }
            var names: (Int, Int)? = nil
            if Int(shstrndx) < raw.count, raw[Int(shstrndx)].type == 3 {
                names = (raw[Int(shstrndx)].off, raw[Int(shstrndx)].size)
            }
            for (i, r) in raw.enumerated() {
                let name = try names.map { (t) throws(ELFError) in try string(t.0, t.1, r.name, "section \(i)") } ?? ""
                sections.append(ELFFile.Section(name: name, type: r.type, flags: r.flags, address: r.addr, offset: r.off,
                                                size: r.size, link: r.link, entrySize: r.entsize))
            }
        }

        // Dynamic symbols: SHT_DYNSYM with its string table (sh_link).
        var symbols: [ELFFile.Symbol] = []
        if let dynsym = sections.first(where: { $0.type == 11 }) {
            guard Int(dynsym.link) < sections.count, sections[Int(dynsym.link)].type == 3 else {
                throw ELFError("the dynamic symbol table has no string table")
            }
            let strtab = sections[Int(dynsym.link)]
            let count = dynsym.size / 24
            guard count <= ELFFile.maxSymbols else { throw ELFError("more than \(ELFFile.maxSymbols) dynamic symbols") }
            symbols.reserveCapacity(count)
            for i in 0..<count {
                let e = dynsym.offset + i * 24
                let info = try u8(e + 4)
                let shndx = try u16(e + 6)
                symbols.append(ELFFile.Symbol(
                    name: try string(strtab.offset, strtab.size, try u32(e), "dynamic symbol \(i)"),
                    value: try u64(e + 8), size: try u64(e + 16), type: info & 0xF, binding: info >> 4, isDefined: shndx != 0))
            }
        }

        // DT_NEEDED, DT_RUNPATH, DT_RPATH: SHT_DYNAMIC with its string table.
        var needed: [String] = [], runPath: [String] = []
        if let dynamic = sections.first(where: { $0.type == 6 }) {
            guard Int(dynamic.link) < sections.count, sections[Int(dynamic.link)].type == 3 else {
                throw ELFError("the dynamic section has no string table")
            }
            let strtab = sections[Int(dynamic.link)]
            let count = min(dynamic.size / 16, ELFFile.maxDynamicEntries)
            for i in 0..<count {
                let e = dynamic.offset + i * 16
                let tag = try u64(e)
                if tag == 0 { break }  // DT_NULL
                guard tag == 1 || tag == 15 || tag == 29 else { continue }
                let value = try u64(e + 8)
                guard value <= UInt64(UInt32.max) else { throw ELFError("dynamic entry \(i) names a string outside its table") }
                let s = try string(strtab.offset, strtab.size, UInt32(value), "dynamic entry \(i)")
                if tag == 1 { needed.append(s) } else { runPath += s.split(separator: ":").map(String.init) }
            }
        }
        return ELFFile(machine: machine, fileType: type, sections: sections, dynamicSymbols: symbols, needed: needed, runPath: runPath)
    }
}
