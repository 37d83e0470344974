import Foundation
import Glibc
import Testing
@testable import Bulkhead
import BulkheadModel
@testable import BulkheadSystem
@testable import bulkhead_cli

/// Issue 12, item 8, on the command line and the kernel: every numeric flag of `bulkhead run`
/// is refused by name and range or taken within range, and what the launcher derives from it
/// (cgroup quota, weight) never traps. A trap kills the test process: this suite then fails
/// by crashing, as the root launcher crashed.
@Suite struct NumberCommandLineTests {
    static let seed: UInt64 = 0x5EED_C11

    /// Hostile flag values (the model suite's generator, kept small here).
    static let values: [String] = {
        var out = [
            "18446744073709551.999", "1000000000000000000m", "18446744073709551615", "18446744073709551616", "4294967295",
            "4294967294", "1e400", "1e18", "16Ei", "8Ei", "4Ei", "0.0001", "0.999999999999999999", "NaN", "nan", "inf", "Infinity",
            "0x10", "+1", "", ".", "1.", "10m", "9m", "4Mi", "1", "2", "0", "4194304", "4194305", "1000000", "1000001",
            "1e308h", "1e308", "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000h",
            "4294967295s", "4294967296s", "71582789m", "71582789.0m", "1193047h", "0.0001ms", "0.5ms", "1ms", "500ms", "2s",
        ]
        var s = seed
        for _ in 0..<200 {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let digits = String(s >> (s % 64))
            let suffix = ["", "m", "k", "Mi", "Gi", "Ei", "E", "e19", "s", "ms", "h", ".5", ".999"][Int(s % 13)]
            out.append(digits + suffix)
        }
        return out
    }()

    /// `bulkhead run FLAG VALUE -- true` as RunCommand parses it, then what the launcher derives.
    static func parse(_ flag: String, _ value: String) -> (layer: ProfileLayer?, error: ConfigError?) {
        guard let c = try? RunCommand.parseAsRoot([flag, value, "--", "true"]) as? RunCommand else { return (nil, nil) }
        do throws(ConfigError) {
            let layer = try c.commandLineLayer()
            let e = try EffectiveProfile.resolve([layer])
            let limits = CgroupLimits(profile: e, boundSwap: true)
            try? limits.validate()
            _ = e.yaml
            return (layer, nil)
        } catch {
            return (nil, error)
        }
    }

    @Test("Every numeric flag of run is refused by name and range, or taken within range; nothing traps")
    func flags() {
        let flags: [(String, (String) -> String)] = [
            ("--cpus", { $0 }), ("--memory", { $0 }), ("--pids", { $0 }), ("--ephemeral-storage", { $0 }),
            ("--tmpfs", { "/scratch:\($0)" }), ("--io-max", { "8:0 rbps=\($0)" }), ("--io-max", { "8:0 wiops=\($0)" }),
            ("--user", { $0 }), ("--user", { "0:\($0)" }), ("--rlimit", { "nofile=\($0)" }),
        ]
        for (flag, make) in flags {
            var parsed = 0, refused = 0
            for v in Self.values {
                let (layer, error) = Self.parse(flag, make(v))
                if let error {
                    refused += 1
                    #expect(error.field == flag, "\(flag) \(v): \(error)")
                    #expect(error.message.contains("accepted"), "\(flag) \(v): no range in \(error)")
                } else if let layer {
                    parsed += 1
                    #expect((layer.limits.cpuMilli ?? 0) <= 1_000_000_000, "\(flag) \(v)")
                    #expect((layer.limits.memoryBytes ?? 0) <= 1 << 62 && (layer.limits.ephemeralStorageBytes ?? 0) <= 1 << 62, "\(flag) \(v)")
                    #expect((layer.limits.pids ?? 0) <= 4_194_304, "\(flag) \(v)")
                    #expect(layer.runAsUser != UInt32.max && layer.runAsGroup != UInt32.max, "\(flag) \(v): (uid_t)-1 taken")
                }
            }
            #expect(parsed > 0 && refused > 0, "\(flag): parsed \(parsed), refused \(refused)")
        }
    }

    @Test("--timeout: durations are refused by range (no NaN, infinity or overflow), or taken within 1ms to 4294967295s")
    func timeouts() {
        var parsed = 0, refused = 0
        for v in Self.values + ["-1s", "-0", "0", "0s", "1e3s", "0x10s", "nans", "infh"] {
            do throws(ConfigError) {
                let s = try parseDuration(v)
                parsed += 1
                #expect(s.isFinite && s >= 0.001 && s <= 4_294_967_295, "--timeout \(v) took \(s)")
            } catch {
                refused += 1
                #expect(error.field == "--timeout" && error.message.contains("accepted"), "\(v): \(error)")
            }
        }
        #expect(parsed > 0 && refused > 0)
    }

    @Test("The launcher's cgroup arithmetic on the largest accepted CPU limit stays within the kernel's bounds")
    func cgroupQuotaAtTheBound() throws {
        var e = try EffectiveProfile.resolve([ProfileLayer()])
        e.limits.cpuMilli = 1_000_000_000
        e.requests.cpuMilli = 1_000_000_000
        let l = CgroupLimits(profile: e, boundSwap: true)
        #expect(l.cpuQuotaMicros == 100_000_000_000)
        #expect(l.cpuWeight == 10_000)
        #expect(throws: Never.self) { try l.validate() }
        // What no parser lets through is still refused by name, not trapped on.
        e.limits.cpuMilli = UInt64.max
        e.requests.cpuMilli = UInt64.max
        let over = CgroupLimits(profile: e, boundSwap: true)
        #expect(throws: CgroupError.self) { try over.validate() }
    }

    @Test("The largest bandwidth a manifest may ask for is one the node can shape; read-back figures saturate, never trap")
    func bandwidthBound() throws {
        #expect(NumberField.bandwidth.range.upperBound == NumberField.maxBandwidth)
        let b = try NodeNetwork.bucket(NumberField.maxBandwidth)
        #expect(b.rateBitsPerSecond == NumberField.maxBandwidth)
        // What the kernel reports back is 64-bit: no product of it may trap.
        let r = TokenBucketReading(rateBytesPerSecond: UInt64.max, limitBytes: UInt32.max, bufferTicks: UInt32.max)
        #expect(r.rateBitsPerSecond == UInt64.max && r.burstBytes == UInt64.max)
        let small = TokenBucketReading(rateBytesPerSecond: 125_000, limitBytes: 1, bufferTicks: 15_625)
        #expect(small.burstBytes == 125 && small.rateBitsPerSecond == 1_000_000)
    }

    @Test("pod stop --grace refuses nan, inf and negatives (usage error 125) before looking for the pod", arguments: ["nan", "inf", "-1", "1e300"])
    func graceIsADuration(_ grace: String) throws {
        let r = try Bulkhead.run(["pod", "stop", "no-such-pod-\(token())", "--grace=\(grace)"])
        #expect(r.status == 125, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("--grace"), "\(r.stderr)")
    }

    // MARK: the kernel: the two commands of the report

    @Test("run --cpus 18446744073709551.999 exits 125 with a message naming the flag and range, not a signal")
    func reportedCPUsFlag() throws {
        let r = try Bulkhead.run(["run", "--cpus", "18446744073709551.999", "--", "true"])
        #expect(r.status == ExitStatus.launchFailed, "status \(r.status) (4 is SIGILL, the trap): \(r.stderr)")
        #expect(r.stderr.contains("--cpus") && r.stderr.contains("accepted"), "\(r.stderr)")
    }

    @Test("pod run with limits.cpu 1000000000000000000m exits 125 with a message, and leaves no pod directory",
          .enabled(if: Gate.root, Gate.rootReason))
    func reportedPodQuantity() throws {
        let name = "bh-num-\(UInt32.random(in: 0...UInt32.max))"
        let file = NSTemporaryDirectory() + "\(name).yaml"
        try """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(name)}
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: busybox
            command: [/bin/true]
            resources: {limits: {cpu: "1000000000000000000m"}}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try Bulkhead.run(["pod", "run", file])
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: PodRunner.stateRoot)) ?? []).filter { $0.contains("_\(name)_") }
        // A crashed launcher leaves its directory (and perhaps mounts) behind: clean up after asserting.
        defer {
            for d in left {
                let path = PodRunner.stateRoot + "/" + d
                for m in ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n")
                    .map({ String($0.split(separator: " ")[4]) }).filter({ $0.hasPrefix(path) }).sorted().reversed() {
                    umount2(m, Int32(MNT_DETACH))
                }
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        #expect(r.status == ExitStatus.launchFailed, "status \(r.status) (4 is SIGILL, the trap): \(r.stderr)")
        #expect(r.stderr.contains("limits.cpu") && r.stderr.contains("accepted"), "\(r.stderr)")
        #expect(left.isEmpty, "stale pod directories: \(left)")
    }
}
