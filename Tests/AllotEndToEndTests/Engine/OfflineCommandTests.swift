import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation
import Testing

/// `allot validate`, `allot plan --snapshot` and `allot explain --snapshot` as a user runs them:
/// the built executable on the README's example configuration and saved tenant, no network.
@Suite("Offline commands as processes")
struct OfflineCommandTests {
    static let exampleConfig = TestPaths.repository.appendingPathComponent("docs/examples/allot.yaml").path
    static let exampleSnapshot = TestPaths.repository.appendingPathComponent("docs/examples/snapshot.json").path

    @Test("validate: the example configuration and sample policies are valid (exit 0)")
    func validateExample() async throws {
        let result = try await Self.allot(["validate", "--config", Self.exampleConfig])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("valid"))
    }

    @Test("validate: every problem as FILE:LINE:COLUMN, all at once (exit 1)")
    func validateInvalid() async throws {
        let directory = try Self.scratchDirectory(
            policy: """
                name: broken
                match: { groups: [Engineering], atributes: { department: Sales } }
                licenses:
                  - sku: SPE_E7
                """
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.allot(["validate", "--config", directory.appendingPathComponent("allot.yaml").path])
        #expect(result.status == 1)
        let problems = (result.output + result.error).split(separator: "\n").filter { $0.contains("policy.yaml:") }
        #expect(
            problems.contains {
                $0.contains("policy.yaml:2:") && $0.contains("atributes") && $0.contains("attributes")
            },
            "\(problems)"
        )
        #expect(problems.contains { $0.contains("policy.yaml:4:") && $0.contains("SPE_E7") }, "\(problems)")
    }

    @Test("validate --snapshot: policies that fit the tenant exit 0; a group it lacks is FILE:LINE:COLUMN, exit 1")
    func validateAgainstSnapshot() async throws {
        let fits = try await Self.allot([
            "validate", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot,
        ])
        #expect(fits.status == 0, "\(fits.error)")
        #expect(fits.output.contains("(and they fit the tenant in \(Self.exampleSnapshot))"), "\(fits.output)")

        let directory = try Self.scratchDirectory(
            policy: """
                name: nobody-there
                match: { groups: [No Such Team] }
                licenses:
                  - sku: VISIOCLIENT
                """
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let unfit = try await Self.allot([
            "validate", "--config", directory.appendingPathComponent("allot.yaml").path, "--snapshot",
            Self.exampleSnapshot,
        ])
        #expect(unfit.status == 1)
        #expect(unfit.error.contains("policy.yaml:2:") && unfit.error.contains("No Such Team"), "\(unfit.error)")
    }

    @Test("plan --snapshot: changes pending exit 2, in text (+ - ~ @) and in JSON")
    func planWithChanges() async throws {
        let text = try await Self.allot(["plan", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot])
        #expect(text.status == 2, "\(text.error)")
        #expect(text.output.contains("+ megan.smith@contoso.com"))
        #expect(text.output.contains("@ usageLocation"))

        let json = try await Self.allot([
            "plan", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot, "--output", "json",
        ])
        #expect(json.status == 2)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(document["version"] as? Int == 1)
        let changes = try #require(document["changes"] as? [[String: Any]])
        #expect(!changes.isEmpty)
    }

    @Test("plan --snapshot: a tenant that matches the policies exits 0")
    func planWithoutChanges() async throws {
        // VISIOCLIENT is the only managed SKU, nobody is granted it, and the saved tenant is
        // stripped of it: nothing to do.
        let directory = try Self.scratchDirectory(
            policy: """
                name: visio-for-nobody
                match: { groups: [] }
                licenses:
                  - sku: VISIOCLIENT
                """,
            managedSkus: "[VISIOCLIENT]"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let snapshot = directory.appendingPathComponent("tenant.json")
        try Self.snapshot(removingAssignmentsOf: "VISIOCLIENT").write(to: snapshot)
        let result = try await Self.allot([
            "plan", "--config", directory.appendingPathComponent("allot.yaml").path, "--snapshot", snapshot.path,
        ])
        #expect(result.status == 0, "\(result.output)\(result.error)")
    }

    @Test("plan --snapshot: removals the mass-removal guard holds are listed with its reason, and exit 2")
    func planHeldByGuard() async throws {
        // Nobody is granted E3 any more: every E3 holder would lose it, far past the guard.
        let directory = try Self.scratchDirectory(
            policy: """
                name: e3-for-nobody
                match: { groups: [] }
                licenses:
                  - sku: SPE_E3
                """,
            managedSkus: "[SPE_E3]"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = directory.appendingPathComponent("allot.yaml").path
        let text = try await Self.allot(["plan", "--config", configuration, "--snapshot", Self.exampleSnapshot])
        #expect(text.status == 2, "\(text.output)\(text.error)")
        #expect(!text.output.contains("No changes"), "\(text.output)")
        #expect(text.output.contains("Removals held: the mass-removal guard tripped"))

        let json = try await Self.allot([
            "plan", "--config", configuration, "--snapshot", Self.exampleSnapshot, "--output", "json",
        ])
        #expect(json.status == 2)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect((document["changes"] as? [Any])?.isEmpty == true)
        let held = try #require(document["heldRemovals"] as? [[String: Any]])
        #expect(!held.isEmpty && (document["summary"] as? [String: Any])?["heldRemovals"] as? Int == held.count)
        #expect(held.allSatisfy { $0["heldBy"] as? String == "massRemovalGuard" && $0["sku"] as? String == "SPE_E3" })
        #expect((held.first?["reason"] as? String)?.contains("maxRemoval") == true, "\(held.first ?? [:])")
    }

    @Test("plan --snapshot: an unreadable snapshot is an error (exit 1) that names the file")
    func planMissingSnapshot() async throws {
        let result = try await Self.allot([
            "plan", "--config", Self.exampleConfig, "--snapshot", "/nonexistent/tenant.json",
        ])
        #expect(result.status == 1)
        #expect(result.error.contains("/nonexistent/tenant.json"))
    }

    /// The one process test of `allot report`: its wiring (options, outputs, exit status); the
    /// figures are checked in process (LicenseReportTests, ReportTests).
    @Test(
        "report --snapshot: every SKU of the saved tenant with its cost; sign-in activity the snapshot lacks is unknown, not zero"
    )
    func reportFromSnapshot() async throws {
        let json = try await Self.allot([
            "report", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot, "--output", "json", "--at",
            "2026-12-07",
        ])
        #expect(json.status == 0, "\(json.error)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(document["version"] as? Int == 1)
        #expect(document["evaluatedAt"] as? String == "2026-12-07T00:00:00Z")
        #expect(document["signInActivityRead"] as? Bool == false && document["accountEnabledRead"] as? Bool == true)
        let skus = try #require(document["skus"] as? [[String: Any]])
        #expect(skus.count == 9 && skus.contains { $0["sku"] as? String == "EMS" && $0["managed"] as? Bool == false })
        let e5 = try #require(skus.first { $0["sku"] as? String == "SPE_E5" })
        #expect(e5["currency"] as? String == "USD" && e5["monthlyPrice"] as? String == "57.00")
        #expect((e5["monthlyCost"] as? [String: Any])?["prepaid"] as? String == "1938.00")

        let text = try await Self.allot([
            "report", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot, "--no-activity",
        ])
        #expect(text.status == 0, "\(text.error)")
        #expect(
            text.output.contains("License report as of 2026-11-29T06:56:15Z"),
            "the snapshot's time by default: \(text.output.prefix(200))"
        )
        #expect(text.output.contains("the inactive columns are unknown, not zero"))
        let markdown = try await Self.allot([
            "report", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot, "--output", "markdown",
        ])
        #expect(
            markdown.status == 0 && markdown.output.contains("**Allot license report**")
                && markdown.output.contains("| SPE_E5 | yes | 34 | 27 | 7 |")
        )
    }

    @Test("explain: each policy with the clause that decided it; an unknown user exits 1")
    func explain() async throws {
        let known = try await Self.allot([
            "explain", "megan.smith@contoso.com", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot,
        ])
        #expect(known.status == 0, "\(known.error)")
        #expect(known.output.contains("✓ staff-e3"))
        #expect(known.output.contains("✗ finance-power-bi  (decided by attributes.department"))

        let unknown = try await Self.allot([
            "explain", "nobody@contoso.com", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot,
        ])
        #expect(unknown.status == 1)
        #expect(unknown.error.contains("no user 'nobody@contoso.com'"))
    }

    @Test(
        "plan to a full disk (/dev/full) or a closed pipe: an error message and exit 1, never a crash",
        arguments: ["/dev/full", "closed pipe"]
    )
    func planToBrokenOutput(output: String) async throws {
        for format in ["text", "json"] {
            let process = Process()
            process.executableURL = TestPaths.allot
            process.arguments = [
                "plan", "--config", Self.exampleConfig, "--snapshot", Self.exampleSnapshot, "--output", format,
            ]
            let errors = Pipe()
            process.standardError = errors
            process.standardInput = FileHandle.nullDevice
            let pipe = Pipe()
            if output == "/dev/full" {
                process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
            } else {
                // Nobody will ever read: the read end is closed before the child starts.
                try pipe.fileHandleForReading.close()
                process.standardOutput = pipe.fileHandleForWriting
            }
            try process.run()
            try pipe.fileHandleForWriting.close()
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(
                process.terminationReason == .exit && process.terminationStatus == 1,
                "\(output), \(format): \(process.terminationStatus) \(message)"
            )
            let cause = output == "/dev/full" ? "No space left on device" : "Broken pipe"
            #expect(message.contains("error: cannot write to standard output: \(cause)"), "\(message)")
            #expect(!message.contains("Fatal error") && !message.contains("Backtrace"), "\(message)")
        }
    }

    @Test("usage errors exit 64 (EX_USAGE), as the README says")
    func usageError() async throws {
        let result = try await Self.allot(["plan", "--no-such-option"])
        #expect(result.status == 64, "\(result.error)")
        #expect(result.error.contains("--no-such-option"))
    }

    @Test("--log-format overrides allot.yaml's and the default format, even for a configuration that does not load")
    func logFormatOption() async throws {
        let directory = try Self.scratchDirectory(policy: "name: broken\n")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await Self.allot([
            "run", "--config", directory.appendingPathComponent("allot.yaml").path, "--log-format", "logfmt",
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("level=critical event=daemon.failed"), "\(result.output)")
    }

    @Test("colour on a terminal only, and not with NO_COLOR, TERM=dumb or --no-color")
    func colours() async throws {
        // script(1) gives the plan a terminal; -e returns its exit status.
        func plan(_ environment: String, _ extra: String = "") async throws -> String {
            let command =
                "\(environment) '\(TestPaths.allot.path)' plan --config '\(Self.exampleConfig)' --snapshot '\(Self.exampleSnapshot)' \(extra)"
            return try await Self.run("/usr/bin/script", ["-qec", command, "/dev/null"]).output
        }
        let escape = "\u{1B}["
        #expect(try await plan("env -u NO_COLOR TERM=xterm").contains(escape), "a terminal gets colour")
        #expect(try await !plan("NO_COLOR=1 TERM=xterm").contains(escape))
        #expect(try await !plan("env -u NO_COLOR TERM=dumb").contains(escape))
        #expect(try await !plan("env -u NO_COLOR TERM=xterm", "--no-color").contains(escape))
        #expect(try await plan("NO_COLOR= TERM=xterm").contains(escape), "an empty NO_COLOR does not count")
    }

    @Test("shell completion completes file paths for the path options")
    func completion() async throws {
        let bash = try await Self.allot(["--generate-completion-script", "bash"]).output
        let fish = try await Self.allot(["--generate-completion-script", "fish"]).output
        // fish: -F (any file), or a listing of files with the option's extensions; directories for --policies.
        let lines = fish.split(separator: "\n")
        for option in [
            "config", "snapshot", "out", "tls-cert", "tls-key", "tls-cert-out", "client-secret-file",
            "client-certificate", "tenant",
        ] {
            let completions = lines.filter { $0.contains("-l '\(option)'") }
            #expect(
                !completions.isEmpty
                    && completions.allSatisfy { $0.contains("-rF") || $0.contains("__fish_complete_directories") },
                "fish: --\(option)"
            )
        }
        #expect(
            lines.contains { $0.contains("-l 'policies'") && $0.contains("__allot_complete_directories") },
            "fish: --policies"
        )
        #expect(
            bash.contains("_filedir") || bash.contains("compgen -f") || bash.contains("-o filenames"),
            "bash completes files"
        )
    }

    @Test("an unreachable token endpoint fails the plan with the cause first, within graph.timeout")
    func unreachableTokenEndpoint() async throws {
        let directory = try Self.scratchDirectory(
            policy: """
                name: e3-for-everyone
                match: { all: true }
                licenses:
                  - sku: SPE_E3
                """
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        // Nobody listens on `closed`; graph.timeout 2s bounds the retries.
        let closed = try freeLoopbackPort()
        let configuration = directory.appendingPathComponent("allot.yaml")
        let yaml = try String(contentsOf: configuration, encoding: .utf8)
            .replacingOccurrences(of: "http://127.0.0.1:8080", with: "http://127.0.0.1:\(closed)")
            .replacingOccurrences(of: "graph:\n", with: "graph:\n  timeout: 2s\n")
        try yaml.write(to: configuration, atomically: true, encoding: .utf8)
        try "secret\n".write(to: directory.appendingPathComponent("client-secret"), atomically: true, encoding: .utf8)

        let result = try await Self.allot(["plan", "--config", configuration.path])
        #expect(result.status == 1)
        let error = try #require(
            result.error.split(separator: "\n").first { $0.hasPrefix("error: ") },
            "\(result.error)"
        )
        #expect(
            error.hasPrefix(
                "error: token request to http://127.0.0.1:\(closed)/8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21/oauth2/v2.0/token failed: connection refused"
            ),
            "\(error)"
        )
        #expect(error.contains("graph.timeout is 2 s"), "\(error)")
    }

    @Test(
        "plan --at and explain --at evaluate a snapshot's dates as of that moment: a joiner gets nothing before the start date"
    )
    func evaluationTime() async throws {
        let asOf = try #require(PolicyDates.instant("2026-12-07T06:00:00Z"))
        var tenant = TenantGenerator(
            users: 300,
            seed: 61,
            driftPercent: 0,
            lifecycleDatesAsOf: Date(timeIntervalSince1970: TimeInterval(asOf))
        ).generate()
        if !tenant.attributes.contains("employeeHireDate") { tenant.attributes.append("employeeHireDate") }
        TestTenant.addSeats(300, to: "VISIOCLIENT", in: &tenant)  // a seat for everyone hired
        let joiner = try #require(
            tenant.users.first { user in
                guard case let .string(text)? = user.properties["employeeHireDate"],
                    let hire = PolicyDates.instant(text)
                else { return false }
                return hire > asOf && !TestTenant.holdsDirectly(user, "VISIOCLIENT")
            }
        )
        guard case let .string(hireText)? = joiner.properties["employeeHireDate"],
            let hire = PolicyDates.instant(hireText)
        else { return }
        let directory = try Self.scratchDirectory(
            policy: """
                name: starters-visio
                match:
                  attributes:
                    employeeHireDate: { olderThan: 0s }
                licenses:
                  - sku: VISIOCLIENT
                """,
            managedSkus: "[VISIOCLIENT]"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let snapshot = directory.appendingPathComponent("tenant.json").path
        try JSONEncoder().encode(tenant).write(to: URL(fileURLWithPath: snapshot))
        let configuration = directory.appendingPathComponent("allot.yaml").path

        func visioAdds(at moment: Int64) async throws -> Int {
            let at = Self.dateTime(moment)
            let result = try await Self.allot([
                "plan", "--config", configuration, "--snapshot", snapshot, "--output", "json", "--at", at,
            ])
            #expect(result.status == 0 || result.status == 2, "\(result.error)")
            let plan = try JSONDecoder().decode(PlanDocument.self, from: Data(result.output.utf8))
            return plan.changes.filter { $0.userId == joiner.id && $0.adds.contains { $0.sku == "VISIOCLIENT" } }.count
        }
        #expect(try await visioAdds(at: hire - 86_400) == 0, "a day before the start date")
        #expect(try await visioAdds(at: hire + 1) == 1, "just after it")

        let explained = try await Self.allot([
            "explain", joiner.userPrincipalName, "--config", configuration, "--snapshot", snapshot, "--at",
            Self.dateTime(hire - 86_400),
        ])
        #expect(explained.status == 0, "\(explained.error)")
        #expect(
            explained.output.contains("employeeHireDate"),
            "explain names the date that decided: \(explained.output)"
        )
    }

    // MARK: - Helpers

    /// `2026-12-07T06:00:00Z` for seconds since 1970, as `--at` takes it.
    static func dateTime(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    /// Runs the built `allot` in the repository, at most 60 s.
    static func allot(_ arguments: [String]) async throws -> Result {
        try await run(TestPaths.allot.path, arguments)
    }

    /// Runs `executable` in a scratch directory, at most 60 s.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-offline-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let child = try ChildProcess(
            "allot",
            executable: URL(fileURLWithPath: executable),
            arguments: arguments,
            directory: directory
        )
        let status = try await child.exitStatus(within: .seconds(60))
        return Result(status: status, output: child.standardOutput, error: child.standardError)
    }

    /// A directory with `allot.yaml` (the example's, with `managedSkus` replaced) and one policy file.
    static func scratchDirectory(policy: String, managedSkus: String? = nil) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-offline-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("policies"),
            withIntermediateDirectories: true
        )
        var configuration = try String(contentsOfFile: exampleConfig, encoding: .utf8)
            .replacingOccurrences(of: "policies: ../../policies", with: "policies: ./policies")
        if let managedSkus {
            configuration = configuration.replacingOccurrences(
                of: "managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO, PROJECTPROFESSIONAL, VISIOCLIENT]",
                with: "managedSkus: \(managedSkus)"
            )
        }
        try configuration.write(to: directory.appendingPathComponent("allot.yaml"), atomically: true, encoding: .utf8)
        try policy.write(
            to: directory.appendingPathComponent("policies/policy.yaml"),
            atomically: true,
            encoding: .utf8
        )
        return directory
    }

    /// The example snapshot without any assignment of the SKU `partNumber`.
    static func snapshot(removingAssignmentsOf partNumber: String) throws -> Data {
        var document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: exampleSnapshot)))
                as? [String: Any]
        )
        let skus = try #require(document["subscribedSkus"] as? [[String: Any]])
        let skuId = try #require(skus.first { $0["skuPartNumber"] as? String == partNumber }?["skuId"] as? String)
        let users = try #require(document["users"] as? [[String: Any]])
        document["users"] = users.map { user in
            var user = user
            for key in ["assignedLicenses", "licenseAssignmentStates"] {
                user[key] = (user[key] as? [[String: Any]])?.filter { $0["skuId"] as? String != skuId }
            }
            return user
        }
        return try JSONSerialization.data(withJSONObject: document)
    }
}
