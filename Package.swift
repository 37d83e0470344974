// swift-tools-version: 6.0
// bulkhead: a container-hardening sandbox launcher for Linux.
// Module layering (dependencies point one way):
//   bulkhead-cli (CLI) -> Bulkhead -> BulkheadLaunch -> BulkheadSystem -> CShims -> libc, libseccomp, libcap
//                            |              \-> BulkheadModel <-/   (pure: no system calls, no Foundation, no Yams)
//                            \-> BulkheadConfig -> BulkheadModel, Yams (pure: YAML/JSON readers, the
//                                                 bench's reports and renderings; Foundation)
//   bulkhead-cli (CLI) -> BulkheadBench -> Bulkhead, BulkheadSystem, BulkheadModel, BulkheadConfig
//                                          (never CShims)
//   bulkhead (the launch executable) -> BulkheadLaunch only
// Two executables (issue 17): `bulkhead` is the small one a user runs. It handles the run fast
// path (RunFastPath's flags, `run --pool`) with the profile's layers and the seccomp program from
// their caches, and execs `bulkhead-cli`, the full command line, from its own directory for
// anything else (any other command or flag, a cache miss), with the same argv (LaunchExec).
// The launch path's layers (BulkheadModel, BulkheadSystem, BulkheadLaunch, bulkhead) import
// neither Foundation nor Yams nor ArgumentParser: they do not depend on them, so the build
// refuses an import of Yams or ArgumentParser (LaunchImportTests checks what the compiler
// loaded, and that the linked `bulkhead` has none of their symbols).
// Only BulkheadSystem imports CShims: BulkheadLaunch and Bulkhead (orchestration) reach the
// kernel through its types (SandboxInit, SignalFD, PseudoTerminal, HostFacts.landlockABI, ...),
// never the C.
// Test-only code ships in no product: CShimsTesting (C, Tests/CShimsTesting) is linked by
// BulkheadTests only; bh-probe is built for SecurityProbeTests.
import PackageDescription

let package = Package(
    name: "bulkhead",
    products: [
        // The launch executable (Sources/bulkhead-launch) and the full command line
        // (Sources/bulkhead), installed side by side: bulkhead execs ./bulkhead-cli.
        .executable(name: "bulkhead", targets: ["bulkhead"]),
        .executable(name: "bulkhead-cli", targets: ["bulkhead-cli"]),
        .executable(name: "bulkhead-runc", targets: ["bulkhead-runc"]),
        .library(name: "Bulkhead", targets: ["Bulkhead"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Tests only: property checks of the ELF parser (SyscallScanPropertyTests).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // All C lives here: clone3 and the child-side step executor, the PID-1 init loop,
        // the libseccomp and libcap bridges. Public headers include only libc/kernel headers.
        .target(
            name: "CShims",
            path: "CShims",
            publicHeadersPath: "include",
            // Stack-clash protection: a frame larger than a page (run_steps, overlay_directory,
            // open_mount_target between clone3 and execve; the pooled workload's 256 KiB stack
            // has one guard page) is probed page by page, so it faults on a guard page instead
            // of stepping over it. StackClashTests reads the probes in the built objects.
            cSettings: [.define("_GNU_SOURCE"), .unsafeFlags(["-fstack-clash-protection"])],
            linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]
        ),
        // Pure model: profiles, validation, Kubernetes quantities, capability and syscall
        // tables, the seccomp policy model, the launch plan, report types. No system calls, and
        // no Foundation or Yams: it is part of the launch path (LaunchImportTests).
        .target(name: "BulkheadModel"),
        // The readers of configuration text (YAML and JSON through Yams: profiles, manifests,
        // seccomp policies, OCI configs) and the bench's reports and renderings (Foundation).
        // Pure too; above the model so that a launch with cached layers links neither.
        .target(
            name: "BulkheadConfig",
            dependencies: ["BulkheadModel", .product(name: "Yams", package: "Yams")]
        ),
        // Typed Linux primitives: id maps, seccomp compilation, cgroups, host probing.
        .target(
            name: "BulkheadSystem",
            dependencies: ["CShims", "BulkheadModel"]
        ),
        // The launch: the sandbox (prepare, launch, supervise, report), the profile store and the
        // seccomp setup with their caches, the warm pool's client, `run`'s fast reader and its
        // report. No Foundation, Yams or ArgumentParser (LaunchImportTests): the readers of YAML
        // and JSON reach it as a value (`ConfigReaders`) that the full CLI supplies and the
        // launch executable does not (a cache miss there goes to the full CLI).
        .target(
            name: "BulkheadLaunch",
            dependencies: ["BulkheadModel", "BulkheadSystem"]
        ),
        // Orchestration above the launch: pods, the OCI runtime, the warm pool, the recorder
        // (re-exports BulkheadLaunch).
        .target(
            name: "Bulkhead",
            dependencies: [
                "BulkheadLaunch", "BulkheadModel", "BulkheadConfig", "BulkheadSystem",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: []
        ),
        // The isolation bench (`bulkhead bench`): victim/aggressor experiments per matrix cell.
        // Built on the public and `package` API of the layers below; no C of its own.
        .target(
            name: "BulkheadBench",
            dependencies: ["Bulkhead", "BulkheadModel", "BulkheadConfig", "BulkheadSystem"]
        ),
        // The full command line (swift-argument-parser), module `bulkhead_cli`.
        .executableTarget(
            name: "bulkhead-cli",
            dependencies: [
                "Bulkhead", "BulkheadBench", "BulkheadModel", "BulkheadConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/bulkhead"
        ),
        // The launch executable: `bulkhead run`'s fast path, else an exec of bulkhead-cli.
        .executableTarget(
            name: "bulkhead",
            dependencies: ["BulkheadLaunch", "BulkheadModel", "BulkheadSystem"],
            path: "Sources/bulkhead-launch"
        ),
        // The runc-compatible front end (docs/oci.md): the same Bulkhead code as `bulkhead oci`.
        .executableTarget(name: "bulkhead-runc", dependencies: ["Bulkhead", "BulkheadConfig"]),
        // The security probe program (C): run inside sandboxes by SecurityProbeTests, built next
        // to `bulkhead`. Not part of any product.
        .executableTarget(
            name: "bh-probe",
            path: "Tests/Probes",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // Test-only C (a seccomp probe child, a clone3-into-cgroup exec): used by BulkheadTests
        // only, so the shipped binary does not link it. Depends on libc, kernel headers and
        // libseccomp (linked through CShims; seccomp_arch_testing.c reads its name table).
        .target(
            name: "CShimsTesting",
            path: "Tests/CShimsTesting",
            publicHeadersPath: "include",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .testTarget(name: "BulkheadModelTests", dependencies: [
            "BulkheadModel", "BulkheadConfig", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        // The system layer's pure parsers and values (mountinfo, /proc/PID/cgroup and stat, cgroup
        // stat files, kernel versions, /proc/PID/status, the errno table, netlink dump records,
        // network names and addresses, TrustedFile's owner/mode rule): no root, no launch.
        .testTarget(name: "BulkheadSystemTests", dependencies: ["BulkheadSystem", "BulkheadModel", "BulkheadConfig"]),
        // The bench's own decisions on synthetic experiments (when a cell and its control are
        // measured again, what the result keeps): no root, no launch. MatrixTests runs the cells.
        .testTarget(name: "BulkheadBenchTests", dependencies: ["BulkheadBench", "BulkheadModel", "BulkheadConfig"]),
        .testTarget(
            name: "BulkheadTests",
            dependencies: ["Bulkhead", "BulkheadLaunch", "BulkheadModel", "BulkheadConfig", "BulkheadSystem", "CShimsTesting", "bulkhead", "bulkhead-cli", "bulkhead-runc",
                           .product(name: "PropertyBased", package: "swift-property-based")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
