import AllotTestSupport
import Foundation
import Testing

/// Checks `systemd/allot.service` and the multi-tenant template `systemd/allot@.service` with
/// systemd's own analyzer, so a hardening regression or a typo in a directive fails the build
/// rather than a production start.
@Suite("systemd/allot.service and allot@.service")
struct SystemdUnitTests {
    /// The highest `systemd-analyze security` exposure the product brief allows.
    static let exposureBudget = 1.5

    static let unitPath = TestPaths.repository.appendingPathComponent("systemd/allot.service").path
    static let templatePath = TestPaths.repository.appendingPathComponent("systemd/allot@.service").path

    /// The one finding `verify` may report: the binary is installed only on the target host.
    static func acceptedVerifyFinding(_ unit: String) -> String {
        "\(unit): Command /usr/bin/allot is not executable: No such file or directory"
    }

    @Test(
        "systemd-analyze verify finds nothing but the missing binary",
        arguments: ["allot.service", "allot@contoso.service"]
    )
    func verifyIsClean(unit: String) throws {
        try Self.withUnit(unit) { path in
            let result = try Self.runAnalyzer(["verify", "--man=no", path])
            let findings = result.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            let unexpected = findings.filter { $0 != Self.acceptedVerifyFinding(unit) }

            #expect(unexpected.isEmpty, "systemd-analyze verify reported:\n\(unexpected.joined(separator: "\n"))")
            #expect(
                result.status == 0 || findings.contains(Self.acceptedVerifyFinding(unit)),
                "systemd-analyze verify exited \(result.status) with no finding to explain it"
            )
        }
    }

    @Test("systemd-analyze security rates the unit 1.5 or lower")
    func securityExposureIsWithinBudget() throws {
        let (exposure, findings) = try Self.exposure(of: "allot.service")
        #expect(
            exposure <= Self.exposureBudget,
            "exposure \(exposure) is above \(Self.exposureBudget); open findings:\n\(findings)"
        )
    }

    @Test("a tenant instance of allot@.service scores exactly as allot.service")
    func templateScoresAsTheMainUnit() throws {
        let (main, mainFindings) = try Self.exposure(of: "allot.service")
        let (instance, instanceFindings) = try Self.exposure(of: "allot@contoso.service")
        #expect(instance == main, "allot@contoso.service: \(instance), allot.service: \(main)")
        #expect(instanceFindings == mainFindings)
    }

    @Test("allot@.service has allot.service's sandbox line for line, and its own files per tenant")
    func templateIsHardenedAsTheMainUnit() throws {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        let template = try String(contentsOfFile: Self.templatePath, encoding: .utf8)
        func sandbox(_ text: String) -> Substring? {
            text.range(of: "# --- Sandbox ---").map { text[$0.lowerBound...] }
        }
        let unitSandbox = try #require(sandbox(unit))
        #expect(sandbox(template) == unitSandbox, "the [Service] sandbox sections differ")

        let directives = template.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        for expected in [
            "ExecStart=/usr/bin/allot run --config /etc/allot/%i/allot.yaml", "DynamicUser=yes", "User=allot-%i",
            "StateDirectory=allot-%i", "ConfigurationDirectory=allot/%i",
            "LoadCredential=client-secret:/etc/allot/%i/credentials/client-secret",
        ] {
            #expect(directives.contains(expected), "allot@.service lacks \(expected)")
        }
    }

    /// The overall exposure `systemd-analyze security --offline=true` gives `unit`, and its open
    /// findings without the unit's name.
    static func exposure(of unit: String) throws -> (Double, [String]) {
        try withUnit(unit) { path in
            let result = try runAnalyzer(["security", "--offline=true", "--no-pager", path])
            #expect(result.status == 0, "systemd-analyze security exited \(result.status):\n\(result.output)")
            let match = try #require(
                result.output.firstMatch(of: /Overall exposure level for \S+: (\d+\.\d+)/),
                "no overall exposure level in:\n\(result.output)"
            )
            let findings = result.output.split(separator: "\n").filter { $0.hasPrefix("✗") }.map(String.init)
            return (try #require(Double(match.output.1)), findings)
        }
    }

    /// Runs `body` with the path of `unit` in a scratch directory: `allot.service`, or an
    /// instance of the template (`allot@NAME.service`, a link to `allot@.service`, which is how
    /// systemd-analyze instantiates a template offline).
    static func withUnit<Result>(_ unit: String, _ body: (String) throws -> Result) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-units-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            atPath: unitPath,
            toPath: directory.appendingPathComponent("allot.service").path
        )
        try FileManager.default.copyItem(
            atPath: templatePath,
            toPath: directory.appendingPathComponent("allot@.service").path
        )
        if unit != "allot.service" {
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent(unit).path,
                withDestinationPath: "allot@.service"
            )
        }
        return try body(directory.appendingPathComponent(unit).path)
    }

    static func runAnalyzer(_ arguments: [String]) throws -> ProcessRunner.Result {
        let executable = try #require(
            ProcessRunner.findInPath("systemd-analyze"),
            "systemd-analyze is not installed; on Debian and Ubuntu it comes with the `systemd` package: apt-get install systemd"
        )
        return try ProcessRunner.run(executable, arguments, environment: ["SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""])
    }
}
