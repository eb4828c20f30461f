import AllotProcessTesting
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
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("allot-install-\(UUID().uuidString)")
            let files = ["deploy/install.sh", "deploy/app-registration.md", "systemd/allot.service", "docs/deployment.md"]
            for file in files {
                let target = directory.appendingPathComponent("repo/\(file)")
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: TestPaths.repository.appendingPathComponent(file), to: target)
            }
            try write("tenant: contoso.onmicrosoft.com\n", to: "repo/deploy/allot.yaml")
            try write("name: sample\nmatch: { all: true }\n", to: "repo/policies/sample.yaml")
            try setValidation(passes: true)
        }

        func write(_ text: String, to path: String) throws {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        /// The stub records its arguments and answers `validate` with success or failure.
        func setValidation(passes: Bool) throws {
            try write("#!/bin/sh\necho \"$*\" >> '\(stubLog.path)'\nexit \(passes ? 0 : 1)\n", to: "allot-stub")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        }

        func install(_ options: [String] = [], binary: String? = nil, input: String? = nil) throws -> ProcessRunner.Result {
            try ProcessRunner.run(
                "/bin/bash",
                [repository.appendingPathComponent("deploy/install.sh").path, "--root", root.path, "--binary", binary ?? stub.path] + options,
                input: input
            )
        }

        func uninstall(_ options: [String] = []) throws -> ProcessRunner.Result {
            try ProcessRunner.run("/bin/bash", [repository.appendingPathComponent("deploy/install.sh").path, "--root", root.path, "--uninstall"] + options)
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

        try "tenant: edited\n".write(toFile: sandbox.installed("etc/allot/allot.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: sandbox.installed("etc/allot/policies/sample.yaml"))
        try "# stale unit\n".write(toFile: sandbox.installed("etc/systemd/system/allot.service"), atomically: true, encoding: .utf8)

        let rerun = try sandbox.install(input: "second")
        #expect(rerun.status == 0, "install.sh failed:\n\(rerun.output)")
        #expect(sandbox.contents("etc/allot/allot.yaml") == "tenant: edited\n")
        #expect(!sandbox.exists("etc/allot/policies/sample.yaml"), "an existing policy directory is never touched")
        #expect(sandbox.contents("etc/allot/credentials/client-secret") == "first")
        #expect(sandbox.contents("etc/systemd/system/allot.service")?.contains("Type=notify") == true)

        // Rotating the secret with the installed binary itself, as docs/deployment.md shows.
        let replaced = try sandbox.install(["--replace-secret"], binary: sandbox.installed("usr/local/bin/allot"), input: "second")
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

        let uninstalled = try sandbox.uninstall()
        #expect(uninstalled.status == 0, "uninstall failed:\n\(uninstalled.output)")
        #expect(!sandbox.exists("usr/local/bin/allot"))
        #expect(!sandbox.exists("etc/systemd/system/allot.service"))
        #expect(!sandbox.exists("usr/local/share/doc/allot"))
        #expect(sandbox.exists("etc/allot/allot.yaml"))
        #expect(sandbox.exists("etc/allot/credentials/client-secret"))
        #expect(sandbox.exists("var/lib/private/allot/state.json"))

        let purged = try sandbox.uninstall(["--purge"])
        #expect(purged.status == 0, "purge failed:\n\(purged.output)")
        #expect(!sandbox.exists("etc/allot"))
        #expect(!sandbox.exists("var/lib/private/allot"))
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
