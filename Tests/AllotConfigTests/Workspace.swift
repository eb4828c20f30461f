import AllotConfig
import AllotCore
import Foundation
import Testing

/// A temporary directory holding an `allot.yaml` and a `policies/` directory, removed
/// when the test is done with it.
final class Workspace {
    let directory: String

    /// The smallest valid configuration: what the tests' policies are checked against.
    static let minimalConfiguration = """
        tenant: contoso.onmicrosoft.com
        auth:
          clientId: 00000000-0000-0000-0000-000000000000
        reconcile:
          managedSkus: [SPE_E3, SPE_E5, POWER_BI_PRO]

        """

    init(configuration: String? = Workspace.minimalConfiguration, policies: [String: String] = [:]) throws {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-config-tests-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: template + "/policies", withIntermediateDirectories: true)
        directory = template
        if let configuration { try write("allot.yaml", configuration) }
        for (name, contents) in policies { try write("policies/" + name, contents) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    var configurationPath: String { path("allot.yaml") }

    func path(_ relative: String) -> String { directory + "/" + relative }

    func write(_ relative: String, _ contents: String) throws {
        try write(relative, bytes: Array(contents.utf8))
    }

    func write(_ relative: String, bytes: [UInt8]) throws {
        let target = path(relative)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try Data(bytes).write(to: URL(fileURLWithPath: target))
    }

    /// Loads the configuration and its policies; the diagnostics as `FILE:LINE:COLUMN: message`
    /// with the workspace's directory cut off, or `[]` when everything is valid.
    func problems(environment: [String: String] = [:]) -> [String] {
        do {
            _ = try ConfigurationLoader(environment: environment).load(configurationAt: configurationPath)
            return []
        } catch {
            return error.diagnostics.map { $0.description.replacingOccurrences(of: directory + "/", with: "") }
        }
    }

    func load(environment: [String: String] = [:]) throws -> LoadedConfiguration {
        try ConfigurationLoader(environment: environment).load(configurationAt: configurationPath)
    }
}

/// The problems of one policy file, `policies/test.yaml`, under the minimal configuration.
func policyProblems(_ yaml: String) throws -> [String] {
    try Workspace(policies: ["test.yaml": yaml]).problems()
}

/// The problems of an `allot.yaml` with one valid policy beside it.
func configurationProblems(_ yaml: String, environment: [String: String] = [:]) throws -> [String] {
    try Workspace(configuration: yaml, policies: ["valid.yaml": validPolicy]).problems(environment: environment)
}

/// A policy valid under the minimal configuration.
let validPolicy = """
    name: everyone-e3
    match: { all: true }
    licenses:
      - sku: SPE_E3

    """

/// The repository's root, for the samples and schemas.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
