@testable import AllotConfig
import AllotCore
import Foundation
import Testing

/// The repository's samples load clean, and the JSON Schemas agree with them and with the loader.
@Suite("Samples and JSON Schemas")
struct SampleTests {
    @Test("the example configuration and the sample policies load clean")
    func samplesLoad() throws {
        let loaded = try ConfigurationLoader(environment: [:]).load(
            configurationAt: repositoryRoot + "/docs/examples/allot.yaml"
        )
        #expect(loaded.configuration.tenant == "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21")
        #expect(loaded.configuration.effectiveGraphEndpoint == "http://127.0.0.1:8080/v1.0")
        #expect(loaded.configuration.effectiveAuthority == "http://127.0.0.1:8080")
        #expect(loaded.configuration.reconcile.defaultUsageLocation == "US")
        #expect(
            loaded.configuration.reconcile.managedSkus.map(\.value)
                == ["SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT"]
        )
        #expect(loaded.configuration.policiesPath == repositoryRoot + "/policies")
        #expect(
            loaded.policies.files.map { ($0 as NSString).lastPathComponent }
                == ["analytics.yaml", "baseline.yaml", "engineering.yaml", "frontline.yaml", "specialists.yaml"]
        )
        let byName = Dictionary(uniqueKeysWithValues: loaded.policies.policies.map { ($0.name, $0) })
        #expect(
            byName.mapValues(\.priority) == [
                "staff-e3": 10, "engineering-e5": 100, "frontline-e1": 20, "finance-power-bi": 50,
                "analysts-power-bi": 40, "pmo-project": 30, "architects-visio": 30,
            ]
        )
        #expect(byName["engineering-e5"]?.licenses.first?.replaces == [Reference("SPE_E3")])
        #expect(
            byName["frontline-e1"]?.licenses.first?.plans
                == .enabled(
                    ["EXCHANGE_S_STANDARD", "TEAMS1", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "FORMS_PLAN_E1"].map {
                        Reference($0)
                    }
                )
        )
        #expect(byName["analysts-power-bi"]?.match.attributes.first?.operators == [.matches(#"\banalyst\b"#)])
    }

    @Test("every sample file names its schema in a yaml-language-server modeline")
    func modelines() throws {
        for (file, schema) in sampleFiles() {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.hasPrefix("# yaml-language-server: $schema="), "\(file)")
            let modeline = text.prefix { $0 != "\n" }.dropFirst("# yaml-language-server: $schema=".count)
            let target = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(String(modeline))
                .standardized.path
            #expect(target == schema, "\(file)")
        }
    }

    /// Runs Python's jsonschema over every sample; see docs/configuration.md for the pip line.
    @Test("every sample validates against its JSON Schema (Python jsonschema)")
    func samplesMatchSchemas() throws {
        let script = """
            import json, sys
            try:
                import jsonschema, yaml
            except ImportError as error:
                print(f"missing Python module ({error}): pip install jsonschema pyyaml")
                sys.exit(3)
            failures = 0
            for pair in sys.argv[1:]:
                schema_path, path = pair.split("=", 1)
                with open(schema_path) as handle:
                    schema = json.load(handle)
                jsonschema.Draft7Validator.check_schema(schema)
                validator = jsonschema.Draft7Validator(schema)
                with open(path) as handle:
                    for index, document in enumerate(yaml.safe_load_all(handle)):
                        for error in validator.iter_errors(document):
                            failures += 1
                            print(f"{path} (document {index + 1}): {error.json_path}: {error.message}")
            sys.exit(1 if failures else 0)
            """
        let arguments = sampleFiles().map { "\($0.schema)=\($0.file)" }
        let (status, output) = try runPython(script, arguments: arguments)
        #expect(status == 0, "\(output)")
    }

    /// The CI templates of docs/gitops.md against GitHub's workflow schema and GitLab's CI schema,
    /// as vendored by check-jsonschema (from SchemaStore and GitLab).
    @Test("the CI templates validate against GitHub's workflow schema and GitLab's CI schema")
    func ciTemplatesMatchSchemas() throws {
        let script = """
            import sys
            try:
                import check_jsonschema
            except ImportError as error:
                print(f"missing Python module ({error}): pip install check-jsonschema")
                sys.exit(3)
            from check_jsonschema import main
            sys.argv = ["check-jsonschema", "--builtin-schema", sys.argv[1], sys.argv[2]]
            main()
            """
        for (schema, file) in [
            ("vendor.github-workflows", "deploy/ci/github-actions.yml"),
            ("vendor.gitlab-ci", "deploy/ci/gitlab-ci.yml"),
        ] {
            let (status, output) = try runPython(script, arguments: [schema, repositoryRoot + "/" + file])
            #expect(status == 0, "\(file): \(output)")
        }
    }

    @Test("the schemas' property names are exactly the loader's keys")
    func schemaKeysMatchLoader() throws {
        #expect(
            try schemaTable(repositoryRoot + "/docs/schema/allot.schema.json")
                == Keys.Configuration.table.mapValues { $0.sorted() }
        )
        #expect(
            try schemaTable(repositoryRoot + "/docs/schema/policy.schema.json")
                == Keys.Policy.table.mapValues { $0.sorted() }
        )
    }

    // MARK: - Helpers

    private func sampleFiles() -> [(file: String, schema: String)] {
        let policies = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/policies")) ?? []
        return policies.filter { $0.hasSuffix(".yaml") }.sorted().map {
            (repositoryRoot + "/policies/" + $0, repositoryRoot + "/docs/schema/policy.schema.json")
        }
            + ["deploy/allot.yaml", "docs/examples/allot.yaml"].map {
                (repositoryRoot + "/" + $0, repositoryRoot + "/docs/schema/allot.schema.json")
            }
    }

    /// Every object schema's property names by path (`graph.writeQuota`, `licenses[]`,
    /// `match.attributes.*`), following `$ref`, `allOf`/`anyOf`/`oneOf`, `items` and
    /// `additionalProperties`.
    private func schemaTable(_ path: String) throws -> [String: [String]] {
        let root = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        )
        var table: [String: Set<String>] = [:]
        func walk(_ schema: [String: Any], _ path: String) {
            if let reference = schema["$ref"] as? String, reference.hasPrefix("#/definitions/"),
                let definitions = root["definitions"] as? [String: Any],
                let target = definitions[String(reference.dropFirst("#/definitions/".count))] as? [String: Any]
            {
                walk(target, path)
            }
            if let properties = schema["properties"] as? [String: Any] {
                table[path, default: []].formUnion(properties.keys)
                for (key, value) in properties {
                    if let child = value as? [String: Any] { walk(child, path.isEmpty ? key : "\(path).\(key)") }
                }
            }
            for combinator in ["allOf", "anyOf", "oneOf"] {
                for branch in schema[combinator] as? [[String: Any]] ?? [] { walk(branch, path) }
            }
            if let items = schema["items"] as? [String: Any] { walk(items, path + "[]") }
            if let additional = schema["additionalProperties"] as? [String: Any] { walk(additional, path + ".*") }
        }
        walk(root, "")
        return table.mapValues { $0.sorted() }
    }

    private func runPython(_ script: String, arguments: [String]) throws -> (Int32, String) {
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let python = try #require(
            search.map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) },
            "python3 is not on PATH: install Python 3, then pip install jsonschema pyyaml"
        )
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
