import AllotCore
import AllotSimulator
import Foundation
import Testing

/// A temporary directory holding what one `allot` run needs: `allot.yaml` pointing at a
/// simulator, a copy of the sample policies, the client secret and a state directory.
public final class Workspace {
    /// What `allot.yaml` says besides the endpoints.
    public struct Settings: Sendable {
        public var mode = "enforce"
        public var removalDelay = "0h"
        public var maxRemovals = 100_000
        public var maxRemovalPercent = 100.0
        public var usageLocationDefault: String? = "US"
        /// Tests run the simulator without its write quota; pacing at Graph's real quota would
        /// make every run last minutes.
        public var writeQuota = (writes: 1_000_000, window: "1s")
        public var logLevel = "info"
        /// `graph.timeout`: how long an unreachable simulator is retried.
        public var graphTimeout = "30s"

        public init() {}
    }

    public let directory: String
    public var configPath: String { "\(directory)/allot.yaml" }
    public var policiesPath: String { "\(directory)/policies" }
    /// `$STATE_DIRECTORY` for every run (a test may point it somewhere unusable).
    public lazy var stateDirectory = "\(directory)/state"
    public var statePath: String { "\(stateDirectory)/state.json" }
    public var tenantPath: String { "\(directory)/tenant.json" }
    private var runs = 0

    public init(_ label: String) throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "allot-e2e-\(label)-\(UUID().uuidString.prefix(8))"
            ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.samplePolicies.path, toPath: policiesPath)
        try SimulatorProcess.clientSecret.write(toFile: "\(directory)/client-secret", atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes the tenant a simulator will serve.
    public func writeTenant(_ snapshot: Snapshot) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        try encoder.encode(snapshot).write(to: URL(fileURLWithPath: tenantPath))
    }

    /// Writes `allot.yaml` for a simulator at `baseURL`.
    public func configure(simulator baseURL: String, _ settings: Settings = Settings()) throws {
        var yaml = """
            tenant: \(SampleTenantIds.tenantId)
            graph:
              endpoint: \(baseURL)/v1.0
              authority: \(baseURL)
              writeQuota: { writes: \(settings.writeQuota.writes), window: \(settings.writeQuota.window) }
              timeout: \(settings.graphTimeout)
            auth:
              clientId: \(SimulatorProcess.clientId)
              clientSecretFile: ./client-secret
            policies: ./policies
            reconcile:
              interval: 1m
              mode: \(settings.mode)
              managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO, PROJECTPROFESSIONAL, VISIOCLIENT]
              guard: { maxRemovals: \(settings.maxRemovals), maxRemovalPercent: \(settings.maxRemovalPercent) }
              removalDelay: \(settings.removalDelay)

            """
        if let code = settings.usageLocationDefault { yaml += "  usageLocation: { default: \(code) }\n" }
        yaml += """
            logging:
              format: json
              level: \(settings.logLevel)

            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Writes (or replaces) a policy file.
    public func writePolicy(_ file: String, _ text: String) throws {
        try text.write(toFile: "\(policiesPath)/\(file)", atomically: true, encoding: .utf8)
    }

    /// Starts `allot ARGUMENTS --config allot.yaml` with this workspace's state directory.
    public func start(_ arguments: [String]) throws -> ChildProcess {
        runs += 1
        return try ChildProcess(
            "allot-\(runs)-\(arguments[0])",
            executable: TestPaths.allot,
            arguments: arguments + ["--config", configPath],
            environment: ["STATE_DIRECTORY": stateDirectory],
            directory: URL(fileURLWithPath: directory)
        )
    }

    /// Runs `allot ARGUMENTS` to the end (at most `timeout`).
    public func run(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> RunResult {
        let child = try start(arguments)
        let status = try await child.exitStatus(within: timeout)
        return RunResult(status: status, standardOutput: child.standardOutput, standardError: child.standardError)
    }

    /// `allot apply`, checking the log contract on every line it printed.
    public func apply(
        _ extra: [String] = [],
        timeout: Duration = .seconds(120),
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws -> RunResult {
        let result = try await run(["apply"] + extra, timeout: timeout)
        result.expectLogContract(sourceLocation: sourceLocation)
        return result
    }

    /// `allot plan --output json`, decoded.
    public func plan() async throws -> PlanDocument {
        let result = try await run(["plan", "--output", "json"])
        guard result.status == 0 || result.status == 2 else {
            throw HarnessError("allot plan exited \(result.status): \(result.standardError.suffix(3000))")
        }
        return try JSONDecoder().decode(PlanDocument.self, from: Data(result.standardOutput.utf8))
    }

    /// The state file, decoded as JSON.
    public func stateDocument() throws -> [String: JSONValue] {
        let data = try Data(contentsOf: URL(fileURLWithPath: statePath))
        guard case let .object(members) = try JSONParser.parse(data) else {
            throw HarnessError("state.json is not an object")
        }
        return members
    }
}

/// The generated tenant's ids, spelled out so that `allot.yaml` does not depend on the generator.
public enum SampleTenantIds {
    public static let tenantId = "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21"
}

/// What one `allot` run printed and how it exited.
public struct RunResult {
    public var status: Int32
    public var standardOutput: String {
        didSet { parsedLines = Self.parse(standardOutput) }
    }
    public var standardError: String
    /// Each line of standard output (empty lines and the part after the last newline included),
    /// with the JSON object it holds, if it is one: parsed once, as a 10,000-user apply prints
    /// tens of thousands of lines and a test asks for its events many times.
    private var parsedLines: [(text: Substring, object: [String: JSONValue]?)]

    public init(status: Int32, standardOutput: String, standardError: String) {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
        parsedLines = Self.parse(standardOutput)
    }

    /// With `JSONParser`, which throws nothing for valid JSON: `JSONDecoder` throws and catches
    /// errors decoding a `JSONValue`, and the test process records a backtrace for each.
    private static func parse(_ text: String) -> [(text: Substring, object: [String: JSONValue]?)] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard case let .object(members)? = try? JSONParser.parse(line.utf8) else { return (line, nil) }
            return (line, members)
        }
    }

    /// Every line of standard output, as a JSON object.
    public var lines: [[String: JSONValue]] { parsedLines.compactMap(\.object) }

    /// The lines of one event.
    public func events(_ name: String) -> [[String: JSONValue]] {
        parsedLines.compactMap { line in line.object.flatMap { $0["event"] == .string(name) ? $0 : nil } }
    }

    /// `cycle.finished`'s fields.
    public var finished: [String: JSONValue] {
        parsedLines.last { $0.object?["event"] == .string("cycle.finished") }?.object ?? [:]
    }

    /// An integer field of `cycle.finished`.
    public func count(_ field: String) -> Int? {
        guard case let .number(value)? = finished[field] else { return nil }
        return Int(value)
    }

    /// For failure messages.
    public var summary: String {
        "exit \(status); stderr: \(standardError.suffix(1500)); last lines: \(standardOutput.split(separator: "\n").suffix(6).joined(separator: "\n"))"
    }

    /// The log contract alerting relies on: every line of standard output is one JSON object
    /// with `ts`, `level`, `event` and `msg`; no line carries the client secret or a token.
    public func expectLogContract(sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let rawLines = parsedLines.dropLast()
        #expect(!rawLines.isEmpty, "apply printed nothing", sourceLocation: sourceLocation)
        for (line, object) in rawLines {
            guard let members = object else {
                Issue.record("not a JSON object: \(line)", sourceLocation: sourceLocation)
                continue
            }
            for field in ["ts", "level", "event", "msg"] {
                guard case .string(let text)? = members[field], !text.isEmpty else {
                    Issue.record("no `\(field)` string in \(line)", sourceLocation: sourceLocation)
                    continue
                }
            }
        }
        for (stream, text) in [("stdout", standardOutput), ("stderr", standardError)] {
            #expect(
                !text.contains(SimulatorProcess.clientSecret),
                "the client secret appears on \(stream)",
                sourceLocation: sourceLocation
            )
            // Access tokens and client assertions are JWTs: base64url of `{"`.
            #expect(!text.contains("eyJ"), "a token appears on \(stream)", sourceLocation: sourceLocation)
        }
    }
}
