import AllotConfig
import AllotTestSupport
import Foundation
import Testing

/// Runs `deploy/install.sh --root` against a scratch directory, with a stub `allot` binary,
/// so that installing, re-running, upgrading and removing are checked without touching the host.
@Suite("deploy/install.sh")
struct InstallScriptTests {
    /// A copy of the files the script installs, plus a scratch root to install into.
    struct Sandbox {
        let directory: URL
        var repository: URL { directory.appendingPathComponent("repo") }
        var root: URL { directory.appendingPathComponent("root") }
        var stub: URL { directory.appendingPathComponent("allot-stub") }
        var stubLog: URL { directory.appendingPathComponent("allot-stub.log") }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "allot-install-\(UUID().uuidString)"
            )
            let files = [
                "deploy/install.sh", "deploy/layout.sh", "deploy/app-registration.md", "systemd/allot.service",
                "systemd/allot@.service",
                "docs/deployment.md", "docs/schema/allot.schema.json", "docs/schema/policy.schema.json",
            ]
            for file in files {
                let target = directory.appendingPathComponent("repo/\(file)")
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                try FileManager.default.copyItem(at: TestPaths.repository.appendingPathComponent(file), to: target)
            }
            try write("tenant: contoso.onmicrosoft.com\n", to: "repo/deploy/allot.yaml")
            try write("name: sample\nmatch: { all: true }\n", to: "repo/policies/sample.yaml")
            try setValidation(passes: true)
        }

        func write(_ text: String, to path: String) throws {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        /// The stub records its arguments and answers `validate` with success or failure.
        func setValidation(passes: Bool) throws {
            try write("#!/bin/sh\necho \"$*\" >> '\(stubLog.path)'\nexit \(passes ? 0 : 1)\n", to: "allot-stub")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        }

        func install(
            _ options: [String] = [],
            binary: String? = nil,
            input: String? = nil
        ) throws -> ProcessRunner.Result {
            try ProcessRunner.run(
                "/bin/bash",
                [
                    repository.appendingPathComponent("deploy/install.sh").path, "--root", root.path, "--binary",
                    binary ?? stub.path,
                ] + options,
                input: input
            )
        }

        func uninstall(_ options: [String] = []) throws -> ProcessRunner.Result {
            try ProcessRunner.run(
                "/bin/bash",
                [repository.appendingPathComponent("deploy/install.sh").path, "--root", root.path, "--uninstall"]
                    + options
            )
        }

        func installed(_ path: String) -> String { root.appendingPathComponent(path).path }

        func contents(_ path: String) -> String? { try? String(contentsOfFile: installed(path), encoding: .utf8) }

        func permissions(_ path: String) -> Int? {
            (try? FileManager.default.attributesOfItem(atPath: installed(path)))?[.posixPermissions] as? Int
        }

        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: installed(path)) }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test("a fresh install puts every file in place with the right modes and validates the config")
    func freshInstall() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }

        let result = try sandbox.install(input: "s3cret-value\n")
        #expect(result.status == 0, "install.sh failed:\n\(result.output)")

        #expect(sandbox.permissions("usr/local/bin/allot") == 0o755)
        #expect(sandbox.contents("etc/systemd/system/allot.service")?.contains("Type=notify") == true)
        // The units are the package's, moved under /usr/local.
        for unit in ["allot.service", "allot@.service"] {
            let text = try #require(sandbox.contents("etc/systemd/system/\(unit)"))
            #expect(text.contains("ExecStart=/usr/local/bin/allot run --config /etc/allot/"), "\(unit)")
            #expect(text.contains("file:///usr/local/share/doc/allot/deployment.md"), "\(unit)")
            #expect(!text.contains("/usr/bin/allot"), "\(unit)")
        }
        #expect(sandbox.exists("usr/local/share/allot/schema/allot.schema.json"))
        #expect(sandbox.exists("usr/local/share/allot/schema/policy.schema.json"))
        #expect(sandbox.contents("etc/allot/allot.yaml") == "tenant: contoso.onmicrosoft.com\n")
        #expect(sandbox.contents("etc/allot/policies/sample.yaml") != nil)
        #expect(sandbox.permissions("etc/allot/policies/sample.yaml") == 0o644)
        #expect(sandbox.exists("usr/local/share/doc/allot/deployment.md"))
        #expect(sandbox.exists("usr/local/share/doc/allot/app-registration.md"))

        #expect(sandbox.permissions("etc/allot/credentials") == 0o700)
        #expect(sandbox.permissions("etc/allot/credentials/client-secret") == 0o600)
        #expect(sandbox.contents("etc/allot/credentials/client-secret") == "s3cret-value")
        #expect(!result.output.contains("s3cret-value"), "the secret must never be printed")

        let validated = try String(contentsOf: sandbox.stubLog, encoding: .utf8)
        #expect(validated == "validate --config \(sandbox.installed("etc/allot/allot.yaml"))\n")
        #expect(result.output.contains("systemctl enable --now allot"))
    }

    @Test("running it again keeps config, policies and the secret, and replaces the binary and unit")
    func rerunKeepsConfiguration() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        #expect(try sandbox.install(input: "first").status == 0)

        try "tenant: edited\n".write(
            toFile: sandbox.installed("etc/allot/allot.yaml"),
            atomically: true,
            encoding: .utf8
        )
        try FileManager.default.removeItem(atPath: sandbox.installed("etc/allot/policies/sample.yaml"))
        try "# stale unit\n".write(
            toFile: sandbox.installed("etc/systemd/system/allot.service"),
            atomically: true,
            encoding: .utf8
        )

        let rerun = try sandbox.install(input: "second")
        #expect(rerun.status == 0, "install.sh failed:\n\(rerun.output)")
        #expect(sandbox.contents("etc/allot/allot.yaml") == "tenant: edited\n")
        #expect(!sandbox.exists("etc/allot/policies/sample.yaml"), "an existing policy directory is never touched")
        #expect(sandbox.contents("etc/allot/credentials/client-secret") == "first")
        #expect(sandbox.contents("etc/systemd/system/allot.service")?.contains("Type=notify") == true)

        // Rotating the secret with the installed binary itself, as docs/deployment.md shows.
        let replaced = try sandbox.install(
            ["--replace-secret"],
            binary: sandbox.installed("usr/local/bin/allot"),
            input: "second"
        )
        #expect(replaced.status == 0, "install.sh failed:\n\(replaced.output)")
        #expect(sandbox.contents("etc/allot/credentials/client-secret") == "second")
        #expect(sandbox.permissions("usr/local/bin/allot") == 0o755)
    }

    @Test("an empty secret stops the script before it changes anything")
    func emptySecretChangesNothing() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }

        let result = try sandbox.install(input: "")
        #expect(result.status != 0)
        #expect(result.output.contains("the client secret is empty"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.root.path))
    }

    @Test("an invalid configuration is installed but reported, with a failing exit status")
    func invalidConfigurationFails() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try sandbox.setValidation(passes: false)

        let result = try sandbox.install(input: "secret")
        #expect(result.status == 1)
        #expect(result.output.contains("the configuration is not valid yet"))
        #expect(sandbox.exists("etc/allot/allot.yaml"))
    }

    @Test("certificate authentication installs the PEM files as credentials through a drop-in")
    func certificateCredentials() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try sandbox.write("CERT\n", to: "cert.pem")
        try sandbox.write("KEY\n", to: "key.pem")

        let result = try sandbox.install([
            "--certificate", sandbox.directory.appendingPathComponent("cert.pem").path,
            "--private-key", sandbox.directory.appendingPathComponent("key.pem").path,
        ])
        #expect(result.status == 0, "install.sh failed:\n\(result.output)")
        #expect(!sandbox.exists("etc/allot/credentials/client-secret"))
        #expect(sandbox.permissions("etc/allot/credentials/client-key.pem") == 0o600)
        #expect(sandbox.permissions("etc/allot/credentials/client-certificate.pem") == 0o600)
        let dropIn = try #require(sandbox.contents("etc/systemd/system/allot.service.d/credentials.conf"))
        #expect(dropIn.contains("LoadCredential=\n"))
        #expect(dropIn.contains("LoadCredential=client-key:/etc/allot/credentials/client-key.pem"))
        #expect(dropIn.contains("LoadCredential=client-certificate:/etc/allot/credentials/client-certificate.pem"))
    }

    @Test("--no-credential asks for no secret and drops the unit's client-secret credential")
    func noCredential() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }

        let result = try sandbox.install(["--no-credential"])
        #expect(result.status == 0, "install.sh failed:\n\(result.output)")
        #expect(!sandbox.exists("etc/allot/credentials/client-secret"))
        #expect(sandbox.permissions("etc/allot/credentials") == 0o700)
        let dropIn = try #require(sandbox.contents("etc/systemd/system/allot.service.d/credentials.conf"))
        #expect(dropIn.contains("LoadCredential=\n"), "the unit's LoadCredential= for the secret is cleared")
        #expect(!dropIn.contains("LoadCredential=client"))
        #expect(result.output.contains("federatedTokenFile"))
    }

    @Test("uninstall keeps configuration and state; --purge removes them")
    func uninstallAndPurge() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        #expect(try sandbox.install(input: "secret").status == 0)
        try sandbox.write("{}", to: "root/var/lib/private/allot/state.json")

        try sandbox.write("{}", to: "root/var/lib/private/allot-contoso/state.json")

        let uninstalled = try sandbox.uninstall()
        #expect(uninstalled.status == 0, "uninstall failed:\n\(uninstalled.output)")
        #expect(!sandbox.exists("usr/local/bin/allot"))
        #expect(!sandbox.exists("etc/systemd/system/allot.service"))
        #expect(!sandbox.exists("etc/systemd/system/allot@.service"))
        #expect(!sandbox.exists("usr/local/share/doc/allot"))
        #expect(!sandbox.exists("usr/local/share/allot"))
        #expect(sandbox.exists("etc/allot/allot.yaml"))
        #expect(sandbox.exists("etc/allot/credentials/client-secret"))
        #expect(sandbox.exists("var/lib/private/allot/state.json"))

        let purged = try sandbox.uninstall(["--purge"])
        #expect(purged.status == 0, "purge failed:\n\(purged.output)")
        #expect(!sandbox.exists("etc/allot"))
        #expect(!sandbox.exists("var/lib/private/allot"))
        #expect(!sandbox.exists("var/lib/private/allot-contoso"), "a tenant instance's state goes with --purge too")
    }

    @Test("the installed configuration and policies name the installed JSON Schemas in their modelines")
    func modelinesPointAtInstalledSchemas() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try sandbox.write(
            "# yaml-language-server: $schema=../docs/schema/allot.schema.json\ntenant: contoso.onmicrosoft.com\n",
            to: "repo/deploy/allot.yaml"
        )
        try sandbox.write(
            "# yaml-language-server: $schema=../docs/schema/policy.schema.json\nname: sample\nmatch: { all: true }\n",
            to: "repo/policies/sample.yaml"
        )

        let result = try sandbox.install(input: "secret")
        #expect(result.status == 0, "install.sh failed:\n\(result.output)")
        #expect(
            sandbox.contents("etc/allot/allot.yaml")
                == "# yaml-language-server: $schema=/usr/local/share/allot/schema/allot.schema.json\ntenant: contoso.onmicrosoft.com\n"
        )
        #expect(
            sandbox.contents("etc/allot/policies/sample.yaml")
                == "# yaml-language-server: $schema=/usr/local/share/allot/schema/policy.schema.json\nname: sample\nmatch: { all: true }\n"
        )
    }

    @Test("--dry-run prints the steps and changes nothing")
    func dryRunChangesNothing() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }

        let result = try sandbox.install(["--dry-run"])
        #expect(result.status == 0, "dry run failed:\n\(result.output)")
        #expect(result.output.contains("$ install -m 0755"))
        #expect(result.output.contains("would write the client secret"))
        #expect(!FileManager.default.fileExists(atPath: sandbox.root.path))
        #expect(!FileManager.default.fileExists(atPath: sandbox.stubLog.path))
    }
}

/// The host `deploy/install.sh` leaves behind works without the service: the real script and
/// the built `allot` install into a scratch root, and `allot plan` and `allot apply` then run
/// against `allot simulate` with the installed configuration, policies and secret, nothing
/// else. The only change to the installed files is the documented override that points the
/// Graph endpoints at the simulator (docs/deployment.md, "Trying the installed host").
@Suite("An installed host")
struct InstalledHostTests {
    static let secret = "installed-host-secret"
    static let clientId = "00000000-0000-0000-0000-000000000000"

    @Test("plan and apply use the installed configuration, policies and secret, with no --config flags beyond the path")
    func planAndApplyWithTheInstalledFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-host-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.appendingPathComponent("root")
        let configuration = root.appendingPathComponent("etc/allot/allot.yaml").path

        let installed = try ProcessRunner.run(
            "/bin/bash",
            [
                TestPaths.repository.appendingPathComponent("deploy/install.sh").path, "--root", root.path, "--binary",
                TestPaths.allot.path,
            ],
            input: Self.secret + "\n"
        )
        #expect(
            installed.status == 0,
            "install.sh failed (it validates the shipped configuration):\n\(installed.output)"
        )
        let shipped = try String(contentsOfFile: configuration, encoding: .utf8)
        #expect(shipped.contains("\n  mode: report\n"), "the shipped configuration starts in report mode")
        #expect(!shipped.contains("\n  usageLocation:"), "the shipped configuration sets no usage location")

        // The simulator knows one application, with the installed secret: a token proves it was read.
        let registered = directory.appendingPathComponent("registered-secret").path
        try Self.secret.write(toFile: registered, atomically: true, encoding: .utf8)
        let simulator = try ChildProcess(
            "simulator",
            arguments: [
                "simulate", "--users", "300", "--seed", "9", "--listen", "127.0.0.1:0",
                "--client-id", Self.clientId, "--client-secret-file", registered,
            ],
            directory: directory
        )
        defer { simulator.stop() }
        let graph = try await simulatorBaseURL(simulator, timeout: .seconds(120))
        let override = "graph:\n  endpoint: \(graph)/v1.0\n  authority: \(graph)\n"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: configuration))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(override.utf8))
        try handle.close()

        // No systemd variables: the secret's default is credentials/client-secret beside the file.
        let environment = [
            "CREDENTIALS_DIRECTORY": "", "STATE_DIRECTORY": "",
            "XDG_STATE_HOME": directory.appendingPathComponent("xdg").path,
        ]
        let plan = try await Self.run(["plan", "--config", configuration], environment: environment, in: directory)
        #expect(plan.status == 2, "allot plan exited \(plan.status):\n\(plan.output)")
        #expect(plan.output.contains("Plan: "), "\(plan.output)")

        // apply as root hands its state file to the owner of the state directory, as the
        // daemon's DynamicUser= would own it.
        let state = directory.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let daemonUser: UInt32 = 64_123
        let isRoot = geteuid() == 0
        if isRoot { #expect(chown(state.path, daemonUser, daemonUser) == 0) }
        let apply = try await Self.run(
            ["apply", "--config", configuration],
            environment: environment.merging(["STATE_DIRECTORY": state.path]) { $1 },
            in: directory
        )
        #expect(
            apply.status == 3,
            "report mode finds drift and changes nothing, so apply exits 3; it exited \(apply.status):\n\(apply.output)"
        )
        let written = try FileManager.default.attributesOfItem(atPath: state.appendingPathComponent("state.json").path)
        if isRoot {
            #expect(
                (written[.ownerAccountID] as? NSNumber)?.uint32Value == daemonUser,
                "state.json belongs to the state directory's owner"
            )
            #expect((written[.groupOwnerAccountID] as? NSNumber)?.uint32Value == daemonUser)
        }
        #expect((written[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        // Without the installed secret, the error names the file it looked for.
        let secretPath = root.appendingPathComponent("etc/allot/credentials/client-secret").path
        try FileManager.default.moveItem(atPath: secretPath, toPath: secretPath + ".moved")
        let missing = try await Self.run(["plan", "--config", configuration], environment: environment, in: directory)
        #expect(missing.status == 1)
        #expect(missing.output.contains(secretPath), "\(missing.output)")
        #expect(
            !missing.output.contains(Self.secret) && !plan.output.contains(Self.secret)
                && !apply.output.contains(Self.secret)
        )
    }

    /// Runs the built `allot` to completion: its exit status and everything it printed.
    static func run(
        _ arguments: [String],
        environment: [String: String],
        in directory: URL
    ) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess(
            "allot-\(arguments[0])",
            arguments: arguments,
            environment: environment,
            directory: directory
        )
        let status = try await child.exitStatus(within: .seconds(120))
        return (status, child.standardOutput + child.standardError)
    }
}

/// Where a hand-run command finds the daemon's credential and state (`HostLayout`).
@Suite("HostLayout")
struct HostLayoutTests {
    @Test("the credential directory is credentials/ beside the configuration file")
    func credentialsBesideTheConfiguration() {
        #expect(HostLayout.credentialsDirectory(configurationPath: "/etc/allot/allot.yaml") == "/etc/allot/credentials")
        #expect(
            HostLayout.credentialsDirectory(configurationPath: "/etc/allot/contoso/allot.yaml")
                == "/etc/allot/contoso/credentials"
        )
        #expect(
            HostLayout.credentialsDirectory(configurationPath: "/home/ops/allot/./allot.yaml")
                == "/home/ops/allot/credentials"
        )
    }

    @Test("installed configurations map to their unit's state directory; others to none")
    func stateDirectories() {
        #expect(HostLayout.stateDirectory(configurationPath: "/etc/allot/allot.yaml") == "/var/lib/allot")
        #expect(
            HostLayout.stateDirectory(configurationPath: "/etc/allot/contoso/allot.yaml") == "/var/lib/allot-contoso"
        )
        #expect(HostLayout.stateDirectory(configurationPath: "/etc/allot/contoso/../allot.yaml") == "/var/lib/allot")
        #expect(HostLayout.stateDirectory(configurationPath: "/etc/allot/a/b/allot.yaml") == nil)
        #expect(HostLayout.stateDirectory(configurationPath: "/etc/allot/bad name/allot.yaml") == nil)
        #expect(HostLayout.stateDirectory(configurationPath: "/etc/allot/other.yaml") == nil)
        #expect(HostLayout.stateDirectory(configurationPath: "/srv/allot/allot.yaml") == nil)
    }

    @Test("systemd's variables win; only root gets the unit's state directory")
    func environment() {
        let bare = HostLayout.environment(
            configurationPath: "/etc/allot/allot.yaml",
            environment: ["HOME": "/root"],
            isRoot: true
        )
        #expect(bare["CREDENTIALS_DIRECTORY"] == "/etc/allot/credentials")
        #expect(bare["STATE_DIRECTORY"] == "/var/lib/allot")
        #expect(bare["HOME"] == "/root")

        let underSystemd = HostLayout.environment(
            configurationPath: "/etc/allot/allot.yaml",
            environment: [
                "CREDENTIALS_DIRECTORY": "/run/credentials/allot.service", "STATE_DIRECTORY": "/var/lib/allot",
            ],
            isRoot: false
        )
        #expect(underSystemd["CREDENTIALS_DIRECTORY"] == "/run/credentials/allot.service")
        #expect(underSystemd["STATE_DIRECTORY"] == "/var/lib/allot")

        let user = HostLayout.environment(
            configurationPath: "/etc/allot/allot.yaml",
            environment: ["STATE_DIRECTORY": ""],
            isRoot: false
        )
        #expect(user["STATE_DIRECTORY"] == "", "a user's own state stays where it was (XDG)")
        #expect(user["CREDENTIALS_DIRECTORY"] == "/etc/allot/credentials")

        let elsewhere = HostLayout.environment(
            configurationPath: "/srv/allot/allot.yaml",
            environment: [:],
            isRoot: true
        )
        #expect(elsewhere["STATE_DIRECTORY"] == nil)
        #expect(elsewhere["CREDENTIALS_DIRECTORY"] == "/srv/allot/credentials")
    }

    @Test("instance names are what a dynamic user name allows")
    func instanceNames() {
        #expect(HostLayout.isInstanceName("contoso"))
        #expect(HostLayout.isInstanceName("fabrikam-eu_2"))
        #expect(!HostLayout.isInstanceName(""))
        #expect(!HostLayout.isInstanceName("a.b"))
        #expect(!HostLayout.isInstanceName(String(repeating: "x", count: 26)))
    }
}
