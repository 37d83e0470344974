import Testing
@testable import BulkheadSystem
#if canImport(Glibc)
import Glibc
#endif

/// The pure half of the host probe: kernel release strings, /proc/PID/status fields, and the
/// verdicts `HostReport.evaluate` draws from given facts. The probe of the running kernel is
/// HostProbeKernelTests (BulkheadTests).
@Suite("host probe")
struct HostProbeTests {
    @Test(arguments: [
        ("6.18.44-fc-v669", KernelVersion(6, 18, 44)),
        ("6.1.0-37-cloud-amd64", KernelVersion(6, 1, 0)),
        ("5.4", KernelVersion(5, 4, 0)),
        ("4.19.0+", KernelVersion(4, 19, 0)),
    ])
    func kernelVersions(release: String, expected: KernelVersion) {
        #expect(KernelVersion(release: release) == expected)
    }

    @Test func kernelVersionRejectsGarbage() {
        #expect(KernelVersion(release: "linux") == nil)
        #expect(KernelVersion(release: "6") == nil)
        #expect(KernelVersion(5, 12) < KernelVersion(5, 12, 1))
        #expect(KernelVersion(6, 1) > KernelVersion(5, 19, 9))
    }

    @Test func statusField() {
        let status = "Name:\tcat\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n"
        #expect(HostFacts.statusField("Seccomp", in: status) == "2")
        #expect(HostFacts.statusField("NoNewPrivs", in: status) == "0")
        #expect(HostFacts.statusField("Missing", in: status) == nil)
    }

    static func facts(release: String = "6.18.44", landlock: Result<Int, HostProbeErrno> = .success(6),
                      clone3: HostFacts.SyscallProbe = .available, userns: Int? = 96365,
                      apparmor: Int? = nil) -> HostFacts {
        HostFacts(kernelRelease: release,
                  cgroup: .failure(CgroupError(code: .hostDetection, operation: "find a cgroup file system",
                                               path: "/proc/self/mountinfo", fix: "mount cgroup2")),
                  maxUserNamespaces: userns, unprivilegedUsernsClone: nil, apparmorRestrictUnprivilegedUserns: apparmor,
                  seccompStatusField: 0, prctlSeccompMode: 0, seccompActions: ["kill_process", "errno"], noNewPrivs: 0,
                  landlockABI: landlock, clone3: clone3, pidfdOpen: .available, mountSetattr: .available, effectiveUID: 1000)
    }

    @Test func evaluateVerdicts() {
        let good = HostReport.evaluate(Self.facts())
        #expect(good["kernel"]?.ok == true)
        #expect(good["landlock"]?.detail == "Landlock ABI 6")
        #expect(good["clone3"]?.ok == true)
        #expect(good["seccomp"]?.ok == true)
        #expect(good["userns.apparmor_restrict"] == nil)
        #expect(good["cgroup.mode"]?.ok == false)
        #expect(good["cgroup.mode"]?.fix == "mount cgroup2")

        let old = HostReport.evaluate(Self.facts(release: "5.4.0", landlock: .failure(HostProbeErrno(ENOSYS)),
                                                 clone3: .missing, userns: 0, apparmor: 1))
        #expect(old["kernel"]?.ok == false)
        #expect(old["landlock"]?.ok == false)
        #expect(old["landlock"]?.detail.contains("not built") == true)
        #expect(old["clone3"]?.ok == false)
        #expect(old["userns.max_user_namespaces"]?.ok == false)
        #expect(old["userns.apparmor_restrict"]?.ok == false)
        #expect(old["userns.apparmor_restrict"]?.fix != nil)
        #expect(!old.allOK)
    }
}
