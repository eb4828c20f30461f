import AllotTestSupport
import AllotCore
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One process test's world: a temporary directory with an `allot.yaml` and a copy of the
/// sample policies, `allot simulate` serving a generated tenant, and `allot run` against it.
///
/// The policies are the sample ones without `analytics.yaml` and the managed SKUs leave out
/// `POWER_BI_PRO`, the SKU the generator makes short of seats, so a tenant can converge.
final class Testbed {
    /// The sample policy files copied into every testbed.
    static let policyFiles = ["baseline.yaml", "engineering.yaml", "frontline.yaml", "specialists.yaml"]

    let directory: URL
    let simulator: ChildProcess
    /// The loopback port `allot run` serves its status endpoints on.
    let statusPort: Int
    /// `http://127.0.0.1:PORT` of the simulator.
    let simulatorURL: String
    var policiesDirectory: URL { directory.appendingPathComponent("policies") }
    var configurationPath: String { directory.appendingPathComponent("allot.yaml").path }

    /// Starts the simulator with a generated tenant (`--users`, `--seed`, `--drift`) and writes
    /// the workspace; the configuration is written by ``configure(interval:statusPort:)``.
    init(_ label: String, users: Int, seed: Int, drift: Double = 5) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-daemon-\(label)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("policies"),
            withIntermediateDirectories: true
        )
        for file in Self.policyFiles {
            try FileManager.default.copyItem(
                at: TestPaths.repository.appendingPathComponent("policies/\(file)"),
                to: directory.appendingPathComponent("policies/\(file)")
            )
        }
        try "daemon-test-secret\n".write(
            to: directory.appendingPathComponent("client-secret"),
            atomically: true,
            encoding: .utf8
        )
        let simulator = try ChildProcess(
            "simulator",
            arguments: [
                "simulate", "--users", "\(users)", "--seed", "\(seed)", "--drift", "\(drift)", "--listen",
                "127.0.0.1:0",
            ],
            directory: directory
        )
        self.simulator = simulator
        simulatorURL = try await simulatorBaseURL(simulator, timeout: .seconds(180))
        statusPort = try freeLoopbackPort()
    }

    /// Stops the simulator and removes the directory, unless `ALLOT_KEEP_TEST_FILES` is set
    /// (to read the logs of a failed test).
    deinit {
        simulator.stop()
        if ProcessInfo.processInfo.environment["ALLOT_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Writes `allot.yaml`: the simulator's endpoints, the copied policies, `interval`, the
    /// status server on ``statusPort``, JSON logs, and a guard that lets a drifted test tenant converge.
    func configure(interval: String) throws {
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
              interval: \(interval)
              managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, PROJECTPROFESSIONAL, VISIOCLIENT]
              usageLocation: { default: US }
              guard: { maxRemovals: 100000, maxRemovalPercent: 100 }
            prices:
              SPE_E5: { monthly: 57.00, currency: EUR }
              SPE_E3: { monthly: 36.00, currency: EUR }
            status:
              listen: 127.0.0.1:\(statusPort)
            logging:
              format: json
              level: info

            """
        try yaml.write(toFile: configurationPath, atomically: true, encoding: .utf8)
    }

    /// Writes (or replaces) a file in the policy directory.
    func writePolicy(_ name: String, _ contents: String) throws {
        try contents.write(to: policiesDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Starts `allot run` with `STATE_DIRECTORY` in the testbed and the given systemd variables;
    /// returns once the status port answers.
    ///
    /// - Parameter watchdogPID: set `WATCHDOG_PID` to the daemon's own pid, as systemd does (a
    ///   shell sets it to its `$$` and `exec`s the daemon, which keeps the pid).
    func startDaemon(
        name: String = "daemon",
        systemd: [String: String] = [:],
        watchdogPID: Bool = false
    ) async throws -> DaemonProcess {
        var environment = ["STATE_DIRECTORY": directory.appendingPathComponent("state").path]
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment[key] = systemd[key] ?? "" }
        let child =
            watchdogPID
            ? try ChildProcess(
                name,
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [
                    "-c", #"WATCHDOG_PID=$$ exec "$0" run --config "$1""#, TestPaths.allot.path, configurationPath,
                ],
                environment: environment,
                directory: directory
            )
            : try ChildProcess(
                name,
                arguments: ["run", "--config", configurationPath],
                environment: environment,
                directory: directory
            )
        let daemon = DaemonProcess(child: child, statusPort: statusPort)
        let statusPort = statusPort
        try await waitUntil("\(name) to serve 127.0.0.1:\(statusPort)", timeout: .seconds(60)) {
            guard child.isRunning else {
                throw HarnessError(
                    "\(name) exited: \(child.standardOutput.suffix(2000)) \(child.standardError.suffix(2000))"
                )
            }
            return acceptsConnections(port: statusPort)
        }
        return daemon
    }

    /// Runs `allot validate` on the testbed's configuration: its exit status and its problem lines.
    func validate() throws -> (status: Int32, problems: [String]) {
        let result = try ProcessRunner.run(TestPaths.allot.path, ["validate", "--config", configurationPath])
        let problems = result.output.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix(directory.path) || $0.hasPrefix("/")
        }
        return (result.status, problems)
    }

    // MARK: The simulator's control API

    func addFault(_ fault: SimulatedFault) async throws {
        let response = try await HTTP.request(
            .POST,
            simulatorURL + "/_simulator/faults",
            body: try JSONEncoder().encode(fault)
        )
        guard response.status == 201 else {
            throw HarnessError("adding a fault answered \(response.status): \(response.body)")
        }
    }

    func clearFaults() async throws {
        _ = try await HTTP.request(.DELETE, simulatorURL + "/_simulator/faults")
    }

    func requestLog() async throws -> [LoggedRequest] {
        try JSONDecoder().decode(
            [LoggedRequest].self,
            from: Data(try await HTTP.request(.GET, simulatorURL + "/_simulator/requests").body.utf8)
        )
    }
}

/// `allot run` as a child process: its log, its status endpoints, its signals.
struct DaemonProcess {
    let child: ChildProcess
    let statusPort: Int
    let log: DaemonLog

    init(child: ChildProcess, statusPort: Int) {
        self.child = child
        self.statusPort = statusPort
        log = DaemonLog(path: child.standardOutputPath)
    }

    /// `GET` a status endpoint (`/healthz`, `/readyz`, `/status`, `/metrics`).
    func get(_ path: String, timeout: Duration = .seconds(10)) async throws -> HTTP.Response {
        try await HTTP.request(.GET, "http://127.0.0.1:\(statusPort)\(path)", timeout: timeout)
    }

    /// `/status`, decoded.
    func status() async throws -> [String: JSONValue] {
        let response = try await get("/status")
        guard response.status == 200 else {
            throw HarnessError("/status answered \(response.status): \(response.body)")
        }
        return try JSONDecoder().decode([String: JSONValue].self, from: Data(response.body.utf8))
    }

    /// The revision of the policy set `/status` says is in use.
    func policyRevision() async throws -> String? {
        guard case .object(let policies) = try await status()["policies"],
            case .string(let revision) = policies["revision"]
        else { return nil }
        return revision
    }
}

/// Loopback HTTP for the tests, through AsyncHTTPClient's shared client.
enum HTTP {
    struct Response: Sendable {
        let status: Int
        let body: String
    }

    static func request(
        _ method: HTTPMethod,
        _ url: String,
        body: Data? = nil,
        timeout: Duration = .seconds(10)
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(
            request,
            timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
        )
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Response(status: Int(response.status.code), body: String(buffer: bytes))
    }
}
