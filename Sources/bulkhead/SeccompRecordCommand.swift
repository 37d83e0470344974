import ArgumentParser

extension SeccompCommand {
    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the system calls of a command (not yet).")
        func run() throws { throw ExitCode(1) }
    }
}
