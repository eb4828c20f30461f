import AllotConfig
import AllotCore
import Foundation
import Testing

/// Files that are not what they should be get a clear error, never a crash or a hang.
@Suite("Files: missing, binary, empty, huge, alias bombs")
struct FileProblemTests {
    @Test("a binary file")
    func binaryFile() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        try workspace.write("policies/tool.yaml", bytes: [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00])
        #expect(
            workspace.problems() == [
                "policies/tool.yaml:1:8: not a text file (a NUL byte at offset 7): Allot reads YAML written as UTF-8 text"
            ]
        )
    }

    @Test("a file in another encoding than UTF-8")
    func notUTF8() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        try workspace.write(
            "policies/latin1.yaml",
            bytes: Array("name: a\ndescription: caf".utf8) + [0xE9] + Array("\n".utf8)
        )
        #expect(
            workspace.problems() == [
                "policies/latin1.yaml:2:17: not valid UTF-8 (a bad byte at offset 24): save the file as UTF-8"
            ]
        )
    }

    @Test("a control character libyaml refuses", arguments: [[UInt8(0x01)], [0x1B]])
    func controlCharacter(byte: [UInt8]) throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        try workspace.write("policies/control.yaml", bytes: Array("name: a\nmatch: ".utf8) + byte)
        #expect(workspace.problems() == ["policies/control.yaml:2:8: invalid YAML: control characters are not allowed"])
    }

    @Test("empty policy files", arguments: ["", "\n\n", "# only a comment\n", "---\n", "---\n---\n...\n"])
    func emptyFile(contents: String) throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy, "empty.yaml": contents])
        #expect(
            workspace.problems() == [
                "policies/empty.yaml:1:1: the policy file is empty: it holds one or more policies, separated by `---`"
            ]
        )
    }

    @Test("an empty configuration file")
    func emptyConfiguration() throws {
        #expect(
            try configurationProblems("# nothing yet\n") == [
                "allot.yaml:1:1: the configuration file is empty: it needs at least `tenant`, `auth.clientId` and `reconcile.managedSkus`"
            ]
        )
    }

    @Test("a file over 1 MiB is refused unread")
    func hugeFile() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        try workspace.write("policies/huge.yaml", bytes: [UInt8](repeating: UInt8(ascii: "#"), count: (1 << 20) + 1))
        #expect(
            workspace.problems() == [
                "policies/huge.yaml:1:1: file is larger than 1 MiB; configuration and policy files are a few kilobytes: is this the right file?"
            ]
        )
    }

    @Test("a file of exactly 1 MiB is read")
    func fileAtTheLimit() throws {
        let comment = "# " + String(repeating: "x", count: (1 << 20) - 3 - validPolicy.utf8.count) + "\n"
        let workspace = try Workspace(policies: ["valid.yaml": comment + validPolicy])
        #expect(workspace.problems() == [])
    }

    /// `a0: &a0 [x, ...]`, then each level an anchored list of `fanout` aliases of the one before.
    private func aliasChain(levels: Int, fanout: Int) -> [String] {
        var lines = ["a0: &a0 [" + Array(repeating: "lol", count: fanout).joined(separator: ", ") + "]"]
        for level in 1...levels {
            lines.append(
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: fanout).joined(separator: ", ")
                    + "]"
            )
        }
        return lines
    }

    @Test("billion laughs: aliases expanding past the node budget")
    func billionLaughs() throws {
        let problems = try policyProblems(aliasChain(levels: 9, fanout: 9).joined(separator: "\n") + "\n")
        #expect(
            problems == [
                "policies/test.yaml:6:10: this document holds more than 100000 YAML nodes, aliases expanded, where Allot's hold a few hundred (an alias bomb?); Allot stops reading this file"
            ]
        )
    }

    @Test("an alias bomb as a mapping key (Yams' own composer hashes it node by node)")
    func aliasKeyBomb() throws {
        let lines =
            aliasChain(levels: 3, fanout: 10) + [
                "? [" + Array(repeating: "*a3", count: 10).joined(separator: ", ") + "]\n: 1"
            ]
        let problems = try policyProblems(lines.joined(separator: "\n") + "\n")
        #expect(
            problems == [
                "policies/test.yaml:5:39: this document holds more than 100000 YAML nodes, aliases expanded, where Allot's hold a few hundred (an alias bomb?); Allot stops reading this file"
            ]
        )
    }

    @Test("deep nesting stops at libyaml's limit")
    func deepNesting() throws {
        let problems = try policyProblems(String(repeating: "[", count: 5000))
        #expect(problems.count == 1)
        #expect(problems.first?.contains("Maximum nesting level reached") == true)
    }

    @Test("a missing configuration file")
    func missingConfiguration() throws {
        let workspace = try Workspace(configuration: nil)
        #expect(
            workspace.problems() == [
                "allot.yaml: cannot open: no such file or directory (give another file with --config PATH)"
            ]
        )
    }

    @Test("a configuration path that is a directory")
    func configurationIsDirectory() throws {
        let workspace = try Workspace(configuration: nil)
        try FileManager.default.createDirectory(atPath: workspace.path("allot.yaml"), withIntermediateDirectories: true)
        #expect(workspace.problems() == ["allot.yaml: is a directory, not a YAML file"])
    }

    @Test("a missing policy directory")
    func missingPolicyDirectory() throws {
        let problems = try Workspace(configuration: Workspace.minimalConfiguration + "policies: ./nowhere\n").problems()
        #expect(problems == ["policy directory nowhere does not exist: create it, or set `policies` in allot.yaml"])
    }

    @Test("a policy path that is a file")
    func policyPathIsFile() throws {
        let workspace = try Workspace(configuration: Workspace.minimalConfiguration + "policies: ./allot.yaml\n")
        #expect(
            workspace.problems() == [
                "policy directory allot.yaml is a file, not a directory: set `policies` in allot.yaml to a directory"
            ]
        )
    }

    @Test("a policy directory without policy files")
    func emptyPolicyDirectory() throws {
        let workspace = try Workspace(policies: ["README.md": "# policies\n", ".hidden.yaml": validPolicy])
        #expect(
            workspace.problems() == [
                "no policy files (*.yaml, *.yml) in policies: Allot does not run without policies, since none would remove every managed license"
            ]
        )
    }

    @Test("a policy file that is a directory, and a dangling link")
    func unreadablePolicyFiles() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        try FileManager.default.createDirectory(
            atPath: workspace.path("policies/folder.yaml"),
            withIntermediateDirectories: true
        )
        try FileManager.default.createSymbolicLink(
            atPath: workspace.path("policies/gone.yml"),
            withDestinationPath: workspace.path("nowhere.yaml")
        )
        #expect(
            workspace.problems() == [
                "policies/folder.yaml: is a directory, not a YAML file",
                "policies/gone.yml: cannot open: no such file or directory",
            ]
        )
    }
}

extension FileProblemTests {
    @Test("a FIFO in the policy directory is skipped with a warning, never opened (it would wait for a writer)")
    func fifoInPolicyDirectory() throws {
        let workspace = try Workspace(policies: ["valid.yaml": validPolicy])
        #expect(mkfifo(workspace.path("policies/pipe.yaml"), 0o600) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        let loaded = try workspace.load()
        #expect(loaded.policies.files == [workspace.path("policies/valid.yaml")])
        #expect(
            loaded.policies.warnings == [
                workspace.path("policies/pipe.yaml")
                    + " is a FIFO (named pipe), not a regular file: skipped (policy files are regular files or symbolic links to them)"
            ]
        )
    }

    @Test("a FIFO as the configuration file is refused, not waited on")
    func fifoAsConfiguration() throws {
        let workspace = try Workspace(configuration: nil, policies: ["valid.yaml": validPolicy])
        #expect(mkfifo(workspace.configurationPath, 0o600) == 0)
        let problems = workspace.problems()
        #expect(problems == ["allot.yaml: is not a regular file, not a YAML file"], "\(problems)")
    }
}
