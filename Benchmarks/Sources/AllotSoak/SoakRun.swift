import AllotCore
import AllotTools
import AllotTestSupport
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One soak: starts the simulator and the daemon, follows the daemon's cycles, drifts the
/// tenant and arms faults between them, and samples the daemon.
struct SoakRun {
    let settings: SoakSettings
    let directory: URL

    init(_ settings: SoakSettings) {
        self.settings = settings
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("allot-soak-\(getpid())")
    }

    func run() async throws -> SoakResult {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: Self.clientConfiguration(maximumUsesPerConnection: nil)
        )
        // A new connection for every probe, as a load balancer's or a kubelet's health check makes.
        let probeClient = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: Self.clientConfiguration(maximumUsesPerConnection: 1)
        )
        let outcome: Result<SoakResult, any Error>
        do {
            outcome = .success(try await soak(http: http, probeClient: probeClient))
        } catch {
            outcome = .failure(error)
        }
        try await http.shutdown()
        try await probeClient.shutdown()
        return try outcome.get()
    }

    private func soak(http: HTTPClient, probeClient: HTTPClient) async throws -> SoakResult {
        log("starting the simulator (\(settings.users) users, seed \(settings.seed))")
        let allot = URL(fileURLWithPath: settings.allot)
        // The joiners and leavers are membership writes, as an administrator's tool with
        // GroupMember.ReadWrite.All makes them; the simulator gives every token the same roles, so
        // the daemon's carries it too (it never writes memberships).
        let roles =
            settings.fastInterval == nil
            ? []
            : [
                "--app-roles",
                (SimulatedApplication.allotRoles.sorted() + ["GroupMember.ReadWrite.All"]).joined(separator: ","),
            ]
        let simulator = try ChildProcess(
            "simulator",
            executable: allot,
            arguments: [
                "simulate", "--users", "\(settings.users)", "--seed", "\(settings.seed)", "--listen", "127.0.0.1:0",
                "--token-lifetime", "5m",
            ] + roles,
            directory: directory
        )
        defer { simulator.stop() }
        let simulatorURL = try await simulatorBaseURL(simulator, timeout: .seconds(300))
        let statusPort = try freeLoopbackPort()
        try writeWorkspace(simulatorURL: simulatorURL, statusPort: statusPort)

        log("starting allot run (interval \(settings.interval), status on 127.0.0.1:\(statusPort))")
        let daemon = try ChildProcess(
            "daemon",
            executable: allot,
            arguments: ["run", "--config", directory.appendingPathComponent("allot.yaml").path],
            environment: ["STATE_DIRECTORY": directory.appendingPathComponent("state").path, "NOTIFY_SOCKET": ""],
            directory: directory
        )
        defer { daemon.stop() }
        let cycles = DaemonCycles(log: daemon.standardOutputPath)

        let admin = TenantAdmin(http: http, baseURL: simulatorURL)
        try await admin.prepare()
        var membership: MembershipChanges?
        let prober = HealthProber(
            client: probeClient,
            url: "http://127.0.0.1:\(statusPort)/healthz",
            interval: settings.probeInterval
        )
        let probing = Task { await prober.run() }

        var result = SoakResult(command: CommandLine.arguments.joined(separator: " "), started: Date())
        var random = SplitMix64(seed: settings.seed)
        let started = ContinuousClock.now
        // The soak's own reads would meet the armed fault (and use it up): joiners are polled
        // only while none is armed, and checked once the faults are cleared.
        var faultArmed = false
        for index in 0..<settings.cycles {
            let cycle = try await cycles.next(timeout: .seconds(600)) {
                if !faultArmed { try await membership?.pollJoiners(admin: admin) }
            }
            prober.cycle.store(index + 1, ordering: .relaxed)
            let memory = try ProcessSample.read(pid: daemon.processIdentifier)
            result.cycles.append(
                SoakResult.Cycle(
                    index: index + 1,
                    result: cycle.result,
                    durationSeconds: cycle.durationSeconds,
                    residentKiB: memory.residentKiB,
                    descriptors: memory.descriptors,
                    drifted: cycle.drifted
                )
            )
            if (index + 1) % 10 == 0 || index == 0 {
                log(
                    "cycle \(index + 1)/\(settings.cycles): \(cycle.result), \(memory.residentKiB / 1024) MiB resident, \(memory.descriptors) descriptors"
                )
            }
            try await admin.clearFaults()
            faultArmed = false
            if index == 0, settings.fastInterval != nil {
                // Set up once the first cycle has converged the generated tenant (which takes seats).
                membership = try await startMembershipChanges(admin: admin)
            }
            try await membership?.check(after: index + 1, result: cycle.result, admin: admin)
            guard index + 1 < settings.cycles else { break }
            let drift = try await admin.drift(users: random.below(settings.maxDriftUsers + 1), random: &random)
            result.driftActions += drift.accepted
            membership?.drifted(drift.users)
            try await membership?.make(admin: admin, random: &random)
            if random.chance(settings.faultChance) {
                let fault = admin.randomFault(random: &random)
                try await admin.arm(fault)
                faultArmed = true
                result.faults[fault.kind.rawValue, default: 0] += 1
            }
        }
        result.elapsed = ContinuousClock.now - started
        result.membership = membership
        probing.cancel()
        await probing.value
        result.probes = prober.samples()

        daemon.signal(SIGTERM)
        result.exitStatus = try await daemon.exitStatus(within: .seconds(60))
        log("done: allot run exited \(result.exitStatus); logs in \(directory.path)")
        return result
    }

    /// The joiners and leavers, once the seats of the joiners' SKU are known to suffice.
    private func startMembershipChanges(admin: TenantAdmin) async throws -> MembershipChanges {
        let groups = try await admin.membershipGroups()
        // Every joiner takes a seat for good, and a cycle's hand-made drift may hold some until the
        // daemon removes them: a joiner short of a seat would count as not licensed.
        let needed = settings.joiners * (settings.cycles - 1) + settings.maxDriftUsers
        guard groups.spareSeats >= needed else {
            throw SoakError(
                "SPE_E5 has \(groups.spareSeats) spare seats for \(needed) (joiners and drift): lower --joiners or --cycles"
            )
        }
        log(
            "joiners and leavers: \(settings.joiners) and \(settings.leavers) a cycle; SPE_E5 has \(groups.spareSeats) spare seats"
        )
        return MembershipChanges(joinersPerCycle: settings.joiners, leaversPerCycle: settings.leavers, groups: groups)
    }

    private static func clientConfiguration(maximumUsesPerConnection: Int?) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(30))
        )
        configuration.maximumUsesPerConnection = maximumUsesPerConnection
        return configuration
    }

    /// `allot.yaml`, the policies and the client secret, in the soak's directory.
    private func writeWorkspace(simulatorURL: String, statusPort: Int) throws {
        let policies = directory.appendingPathComponent("policies")
        try? FileManager.default.removeItem(at: policies)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: settings.policies), to: policies)
        try "soak-secret\n".write(
            to: directory.appendingPathComponent("client-secret"),
            atomically: true,
            encoding: .utf8
        )
        let yaml = """
            tenant: 8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21
            graph:
              endpoint: \(simulatorURL)/v1.0
              authority: \(simulatorURL)
            auth:
              clientId: 00000000-0000-0000-0000-000000000000
              clientSecretFile: ./client-secret
            policies: ./policies
            reconcile:
              interval: \(settings.interval)\(settings.fastInterval.map { "\n  fastInterval: \($0)" } ?? "")
              managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO, PROJECTPROFESSIONAL, VISIOCLIENT]
              usageLocation: { default: US }
              guard: { maxRemovals: 100000, maxRemovalPercent: 100 }
            status:
              listen: 127.0.0.1:\(statusPort)
            logging:
              format: json
              level: info

            """
        try yaml.write(to: directory.appendingPathComponent("allot.yaml"), atomically: true, encoding: .utf8)
    }
}

/// Probes `/healthz` until cancelled, recording each answer's latency and the cycle it fell in.
final class HealthProber: Sendable {
    struct Probe: Sendable {
        let cycle: Int
        let latency: Duration
        let status: Int
    }

    let client: HTTPClient
    let url: String
    let interval: Duration
    /// The cycles finished so far, as the soak loop saw them.
    let cycle = Atomic<Int>(0)
    private let recorded = Mutex<[Probe]>([])

    init(client: HTTPClient, url: String, interval: Duration) {
        self.client = client
        self.url = url
        self.interval = interval
    }

    func run() async {
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var status = 0
            do {
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 4096)
                status = Int(response.status.code)
            } catch {
                if Task.isCancelled { return }
            }
            let probe = Probe(
                cycle: cycle.load(ordering: .relaxed),
                latency: ContinuousClock.now - started,
                status: status
            )
            recorded.withLock { $0.append(probe) }
            try? await Task.sleep(for: interval)
        }
    }

    func samples() -> [Probe] { recorded.withLock { $0 } }
}

/// Resident memory and open descriptors of a process, from `/proc`.
struct ProcessSample {
    var residentKiB: Int
    var descriptors: Int

    static func read(pid: Int32) throws -> ProcessSample {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw SoakError("no VmRSS in /proc/\(pid)/status") }
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        return ProcessSample(residentKiB: kib, descriptors: descriptors)
    }
}

/// A problem running the soak itself.
struct SoakError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Progress on standard error (standard output carries the report).
func log(_ line: String) {
    FileHandle.standardError.write(Data("[soak] \(line)\n".utf8))
}
