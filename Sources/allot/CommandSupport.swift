import AllotConfig
import AllotCore
import AllotEngine
import AllotGraph
import ArgumentParser
import Foundation
import Logging

/// Loads the configuration and policies, or prints every problem and exits 1.
func loadConfiguration(_ option: ConfigurationOption) throws -> LoadedConfiguration {
    try loadConfiguration(at: option.path)
}

/// Loads the configuration file at `path` and its policies, or prints every problem and exits 1.
func loadConfiguration(at path: String) throws -> LoadedConfiguration {
    do {
        let loaded = try ConfigurationLoader().load(configurationAt: path)
        for warning in loaded.policies.warnings { printError("warning: \(warning)") }
        return loaded
    } catch {
        printError(error.diagnostics.map(\.description).joined(separator: "\n"))
        throw ExitCode.failure
    }
}

/// Writes a line to standard error (a failure to write it is ignored: there is nowhere left to say so).
func printError(_ text: String) {
    _ = Array((text.hasSuffix("\n") ? text : text + "\n").utf8).withUnsafeBytes { writeAll(2, $0) }
}

/// Writes a command's result to standard output. A full disk or a closed pipe is an error
/// message and exit status 1, never a crash (Foundation's `FileHandle.write` traps when a write
/// fails; `main` ignores SIGPIPE so that a closed pipe is the error `EPIPE`).
func writeResult(_ text: String) throws {
    guard let failure = Array(text.utf8).withUnsafeBytes({ writeAll(1, $0) }) else { return }
    printError("error: cannot write to standard output: \(String(cString: strerror(failure)))")
    throw ExitCode.failure
}

/// Whether a file descriptor is a terminal (colours, progress lines, text logs).
func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }

/// Sends swift-log to Allot's structured handler, once per process.
///
/// - Parameter toStandardError: for commands whose standard output is their result.
func bootstrapLogging(_ settings: AllotConfiguration.LoggingSettings, toStandardError: Bool = false) -> Logger {
    let descriptor: Int32 = toStandardError ? 2 : 1
    let format = settings.format ?? (isTerminal(descriptor) ? .text : .json)
    let level = Logger.Level(rawValue: settings.level.rawValue) ?? .info
    let sink: LogSink = toStandardError ? .standardError : .standardOutput
    LoggingSystem.bootstrap { _ in StructuredLogHandler(format: format, level: level, sink: sink) }
    return Logger(label: "allot")
}

/// Runs `body` with a Graph client for this configuration, reporting configuration errors
/// (a bad endpoint, an unreadable CA file) as a clear message and exit status 1. Without
/// systemd's `$CREDENTIALS_DIRECTORY`, the client secret's default is `credentials/client-secret`
/// beside the configuration file (``hostEnvironment(_:)``).
func withGraph<Result: Sendable>(
    _ loaded: LoadedConfiguration,
    logger: Logger,
    _ body: (GraphClient) async throws -> Result
) async throws -> Result {
    let graphConfiguration: GraphClient.Configuration
    do {
        graphConfiguration = try GraphClient.Configuration(loaded.configuration, environment: hostEnvironment(loaded))
    } catch {
        printError("error: \(error)")
        throw ExitCode.failure
    }
    return try await GraphClient.withGraphClient(configuration: graphConfiguration, logger: logger, body)
}

/// Reads a snapshot document, with errors that say which file and what is wrong.
func readSnapshot(_ path: String) throws -> Snapshot {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        printError("error: cannot read the snapshot \(path): \(error.localizedDescription)")
        throw ExitCode.failure
    }
    do {
        return try JSONDecoder().decode(Snapshot.self, from: data)
    } catch let DecodingError.dataCorrupted(context) {
        printError(
            "error: \(path) is not a snapshot document: \(context.debugDescription) at \(codingPath(context.codingPath))"
        )
    } catch let DecodingError.keyNotFound(key, context) {
        printError("error: \(path): \(codingPath(context.codingPath + [key])) is missing")
    } catch let DecodingError.typeMismatch(_, context) {
        printError("error: \(path): \(codingPath(context.codingPath)) has the wrong type: \(context.debugDescription)")
    } catch {
        printError("error: \(path) is not a snapshot document: \(error)")
    }
    throw ExitCode.failure
}

private func codingPath(_ path: [any CodingKey]) -> String {
    path.isEmpty
        ? "the top level"
        : path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
}

/// The tenant of a snapshot, holding the attributes the snapshot lists.
func tenantModel(snapshot path: String) throws -> TenantModel {
    do {
        return try TenantModel(snapshot: readSnapshot(path))
    } catch let error as DiagnosticsError {
        printError("error: \(path): \(error)")
        throw ExitCode.failure
    }
}

/// `--snapshot FILE`: plan against a saved tenant instead of reading the live one
/// (`allot plan`, `allot explain`).
struct TenantSourceOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Use this tenant snapshot file instead of reading the live tenant.", valueName: "file"),
        completion: .file(extensions: ["json"])
    )
    var snapshot: String?
}

/// `--at DATE-TIME`: the moment the policies' date conditions are evaluated as of.
struct EvaluationTimeOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Evaluate the policies' date conditions as of this moment: 2026-12-07 (midnight UTC) or 2026-12-07T09:00:00Z.",
            discussion: "Default: when the snapshot was taken (--snapshot), else now.",
            valueName: "date-time"
        )
    )
    var at: EvaluationTime?

    /// The evaluation time for planning against `tenant`: `--at`, else when a snapshot was
    /// taken (`takenAt`), else now.
    func instant(for tenant: TenantModel) -> Int64 {
        if let at { return at.instant }
        if let takenAt = tenant.takenAt {
            if let instant = PolicyDates.instant(takenAt) { return instant }
            printError(
                "warning: the snapshot's takenAt '\(takenAt)' is not a date-time: date conditions are evaluated as of now (give --at)"
            )
        }
        return Int64(Date().timeIntervalSince1970)
    }

    /// ``instant(for:)`` as a `Date`, for the planning entry point.
    func date(for tenant: TenantModel) -> Date { Date(timeIntervalSince1970: TimeInterval(instant(for: tenant))) }
}

/// A date or RFC 3339 date-time given on the command line.
struct EvaluationTime: ExpressibleByArgument {
    let instant: Int64

    init?(argument: String) {
        guard let instant = PolicyDates.instant(argument) else { return nil }
        self.instant = instant
    }

    /// The moment as a `Date`, for the engine.
    var date: Date { Date(timeIntervalSince1970: TimeInterval(instant)) }
}

/// Prepares a plan for a command that writes nothing, through the one planning entry point
/// (``ReconcileEngine/plan(policies:tenant:settings:state:options:now:)``): the state file is
/// read, never moved or written, with the clock, so that `removalDelay` and the group shrink
/// hold hold as they would in a cycle. Date conditions are evaluated as of `evaluatedAt`
/// (``EvaluationTimeOption``), else now. Policies that do not fit the tenant are printed, exit 1.
///
/// - Parameter role: which policies these are, named in the error (for `--compare-to`).
func preparePlan(
    _ loaded: LoadedConfiguration,
    tenant: TenantSource,
    state: StateStore?,
    evaluatedAt: Date? = nil,
    role: String? = nil
) async throws -> PreparedPlan {
    let prepared: PreparedPlan
    do {
        prepared = try await ReconcileEngine.plan(
            policies: loaded.policies.policies,
            tenant: tenant,
            settings: loaded.configuration.reconcile,
            state: state,
            options: ReconcileEngine.Options(honourBackoff: false, planOnly: true, evaluateAt: evaluatedAt),
            now: Date.init
        )
    } catch let error as DiagnosticsError {
        if let role { printError("error: \(role) do not fit the tenant:") }
        printError(error.diagnostics.map(\.description).joined(separator: "\n"))
        throw ExitCode.failure
    }
    if let recovery = prepared.state.recovery { printError("warning: \(recovery)") }
    return prepared
}

/// `--output text|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Encodes a value as the documented, stable JSON (sorted keys, pretty-printed).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    try writeResult(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
}
