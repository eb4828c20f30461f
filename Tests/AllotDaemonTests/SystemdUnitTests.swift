import AllotProcessTesting
import Foundation
import Testing

/// Checks `systemd/allot.service` with systemd's own analyzer, so a hardening regression or a
/// typo in a directive fails the build rather than a production start.
@Suite("systemd/allot.service")
struct SystemdUnitTests {
    /// The highest `systemd-analyze security` exposure the product brief allows.
    static let exposureBudget = 1.5

    /// The one finding `verify` may report: the binary is installed only on the target host.
    static let acceptedVerifyFinding = "allot.service: Command /usr/local/bin/allot is not executable: No such file or directory"

    static let unitPath = TestPaths.repository.appendingPathComponent("systemd/allot.service").path

    @Test("systemd-analyze verify finds nothing but the missing binary")
    func verifyIsClean() throws {
        let result = try Self.runAnalyzer(["verify", "--man=no", Self.unitPath])
        let findings = result.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let unexpected = findings.filter { $0 != Self.acceptedVerifyFinding }

        #expect(unexpected.isEmpty, "systemd-analyze verify reported:\n\(unexpected.joined(separator: "\n"))")
        #expect(result.status == 0 || findings.contains(Self.acceptedVerifyFinding),
                "systemd-analyze verify exited \(result.status) with no finding to explain it")
    }

    @Test("systemd-analyze security rates the unit 1.5 or lower")
    func securityExposureIsWithinBudget() throws {
        let result = try Self.runAnalyzer(["security", "--offline=true", "--no-pager", Self.unitPath])
        #expect(result.status == 0, "systemd-analyze security exited \(result.status):\n\(result.output)")

        let match = try #require(
            result.output.firstMatch(of: /Overall exposure level for allot\.service: (\d+\.\d+)/),
            "no overall exposure level in:\n\(result.output)"
        )
        let exposure = try #require(Double(match.output.1))
        let findings = result.output.split(separator: "\n").filter { $0.hasPrefix("✗") }.joined(separator: "\n")
        #expect(exposure <= Self.exposureBudget, "exposure \(exposure) is above \(Self.exposureBudget); open findings:\n\(findings)")
    }

    static func runAnalyzer(_ arguments: [String]) throws -> ProcessRunner.Result {
        let executable = try #require(
            ProcessRunner.findInPath("systemd-analyze"),
            "systemd-analyze is not installed; on Debian and Ubuntu it comes with the `systemd` package: apt-get install systemd"
        )
        return try ProcessRunner.run(executable, arguments, environment: ["SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""])
    }
}
