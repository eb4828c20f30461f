import AllotCore
import Crypto
import Foundation

/// Loads `allot.yaml` and a policy directory into the core's plain types.
///
/// Every problem is reported, not just the first: loading throws one ``DiagnosticsError``
/// holding all of them, each as `FILE:LINE:COLUMN: message`. Paths in diagnostics and in
/// the results are absolute; relative paths in `allot.yaml` resolve against its directory.
///
/// ```swift
/// let loaded = try ConfigurationLoader().load(configurationAt: "/etc/allot/allot.yaml")
/// print(loaded.policies.revision)
/// ```
public struct ConfigurationLoader: Sendable {
    /// The environment: `AZURE_FEDERATED_TOKEN_FILE` can supply `auth.federatedTokenFile`.
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// `./allot.yaml` when present, else `/etc/allot/allot.yaml`.
    public static func defaultConfigurationPath(currentDirectory: String) -> String {
        let local = Paths.resolve("allot.yaml", against: currentDirectory)
        return FileManager.default.fileExists(atPath: local) ? local : "/etc/allot/allot.yaml"
    }

    /// The configuration file alone; its policy directory is not read.
    public func loadConfiguration(at path: String) throws(DiagnosticsError) -> AllotConfiguration {
        let (decoded, diagnostics) = readConfiguration(at: absolute(path))
        guard let decoded, diagnostics.isEmpty else { throw DiagnosticsError(diagnostics) }
        return decoded.configuration
    }

    /// Every `*.yaml` and `*.yml` file directly in `directory` (hidden files ignored), each
    /// document a policy, checked together against `reconcile`.
    public func loadPolicies(in directory: String, reconcile: ReconcileSettings) throws(DiagnosticsError) -> PolicySet {
        let (set, diagnostics) = readPolicies(in: absolute(directory), managedSkus: reconcile.managedSkus)
        guard diagnostics.isEmpty else { throw DiagnosticsError(diagnostics) }
        return set
    }

    /// The configuration and its policy directory, reporting every problem of both at once.
    public func load(configurationAt path: String) throws(DiagnosticsError) -> LoadedConfiguration {
        let path = absolute(path)
        var (decoded, diagnostics) = readConfiguration(at: path)
        guard let decoded, let policiesPath = decoded.policiesPath else { throw DiagnosticsError(diagnostics) }
        let (policies, policyDiagnostics) = readPolicies(in: policiesPath, managedSkus: decoded.managedSkus)
        diagnostics += policyDiagnostics
        guard diagnostics.isEmpty else { throw DiagnosticsError(diagnostics) }
        return LoadedConfiguration(configuration: decoded.configuration, policies: policies, configurationPath: path)
    }

    /// A configuration file's contents, read as if from `path` (for relative paths and
    /// messages). For tools and the fuzz target; files go through ``loadConfiguration(at:)``.
    public func decodeConfiguration(_ contents: [UInt8], path: String) throws(DiagnosticsError) -> AllotConfiguration {
        let (decoded, diagnostics) = decodeConfiguration(contents, at: absolute(path))
        guard let decoded, diagnostics.isEmpty else { throw DiagnosticsError(diagnostics) }
        return decoded.configuration
    }

    /// One policy file's contents, its documents checked together as a set against
    /// `managedSkus`. For tools and the fuzz target; directories go through ``loadPolicies(in:reconcile:)``.
    public func decodePolicies(
        _ contents: [UInt8],
        file: String,
        managedSkus: [SkuReference]
    ) throws(DiagnosticsError) -> [Policy] {
        var (policies, diagnostics) = decodePolicyFile(contents, file: file)
        diagnostics += PolicyValidation.validate(policies, managedSkus: managedSkus)
        guard diagnostics.isEmpty else { throw DiagnosticsError(diagnostics) }
        return policies
    }

    // MARK: - Configuration

    private func readConfiguration(at path: String) -> (ConfigurationDecoder.Decoded?, [Diagnostic]) {
        switch SourceFile.contents(of: path, missingHint: " (give another file with --config PATH)") {
        case let .failure(problem): return (nil, [problem])
        case let .success(contents): return decodeConfiguration(contents, at: path)
        }
    }

    private func decodeConfiguration(
        _ contents: [UInt8],
        at path: String
    ) -> (ConfigurationDecoder.Decoded?, [Diagnostic]) {
        let (reader, documents) = read(
            contents,
            file: path,
            emptyMessage:
                "the configuration file is empty: it needs at least `tenant`, `auth.clientId` and `reconcile.managedSkus`"
        )
        guard let root = documents.first else { return (nil, reader.diagnostics) }
        for extra in documents.dropFirst() {
            reader.report("allot.yaml holds one document; remove this second one (or its `---`)", at: extra)
        }
        guard case .mapping = root.content else {
            reader.report(
                "allot.yaml must be a mapping of settings (`tenant`, `auth`, `reconcile`, ...), got \(NodeReader.describe(root))",
                at: root
            )
            return (nil, reader.diagnostics)
        }
        let decoder = ConfigurationDecoder(environment: environment, directory: Paths.directory(of: path))
        let decoded = decoder.decode(root, reader)
        return (decoded, reader.diagnostics)
    }

    // MARK: - Policies

    private func readPolicies(in directory: String, managedSkus: [SkuReference]?) -> (PolicySet, [Diagnostic]) {
        var set = PolicySet(policies: [], files: [], revision: "")
        let names: [String]
        switch policyFileNames(in: directory) {
        case let .failure(problem): return (set, [problem])
        case let .success(found):
            names = found.names
            set.warnings = found.warnings
        }

        var diagnostics: [Diagnostic] = []
        var hash = SHA256()
        for name in names {
            let file = directory + "/" + name
            set.files.append(file)
            switch SourceFile.contents(of: file) {
            case let .failure(problem):
                diagnostics.append(problem)
            case let .success(contents):
                hash.update(data: Array("\(name)\n\(contents.count)\n".utf8))
                hash.update(data: contents)
                let (policies, problems) = decodePolicyFile(contents, file: file)
                set.policies += policies
                diagnostics += problems
            }
        }
        set.revision = hash.finalize().map { String(format: "%02x", $0) }.joined()
        diagnostics += PolicyValidation.validate(set.policies, managedSkus: managedSkus)
        return (set, diagnostics)
    }

    /// The policy files of a directory, by name: `*.yaml` and `*.yml`, hidden ones left out, and
    /// a warning for each such name that is not a regular file (symbolic links followed): a FIFO,
    /// a socket or a device is skipped, never opened (reading a FIFO would wait for a writer).
    private func policyFileNames(in directory: String) -> Result<(names: [String], warnings: [String]), Diagnostic> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            return .failure(
                Diagnostic(
                    "policy directory \(directory) does not exist: create it, or set `policies` in allot.yaml",
                    at: nil
                )
            )
        }
        guard isDirectory.boolValue else {
            return .failure(
                Diagnostic(
                    "policy directory \(directory) is a file, not a directory: set `policies` in allot.yaml to a directory",
                    at: nil
                )
            )
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            return .failure(
                Diagnostic("cannot list the policy directory \(directory): \(error.localizedDescription)", at: nil)
            )
        }
        var names: [String] = []
        var warnings: [String] = []
        for name in entries.filter({ !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }).sorted() {
            var status = stat()
            let path = directory + "/" + name
            // A directory named *.yaml stays in, to be reported as an error when read.
            if stat(path, &status) == 0, !Self.isRegularFileOrDirectory(status.st_mode) {
                warnings.append(
                    "\(path) is \(Self.fileKind(status.st_mode)), not a regular file: skipped (policy files are regular files or symbolic links to them)"
                )
                continue
            }
            names.append(name)
        }
        guard !names.isEmpty else {
            return .failure(
                Diagnostic(
                    "no policy files (*.yaml, *.yml) in \(directory): Allot does not run without policies, since none would remove every managed license",
                    at: nil
                )
            )
        }
        return .success((names, warnings))
    }

    private static func isRegularFileOrDirectory(_ mode: mode_t) -> Bool {
        mode & S_IFMT == S_IFREG || mode & S_IFMT == S_IFDIR
    }

    /// What a file that is neither a regular file nor a directory is, for a warning.
    private static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFSOCK: "a socket"
        case S_IFCHR, S_IFBLK: "a device"
        default: "not a regular file"
        }
    }

    private func decodePolicyFile(_ contents: [UInt8], file: String) -> ([Policy], [Diagnostic]) {
        let (reader, documents) = read(
            contents,
            file: file,
            emptyMessage: "the policy file is empty: it holds one or more policies, separated by `---`"
        )
        let decoder = PolicyDecoder(reader: reader)
        let policies = documents.compactMap(decoder.decode)
        return (policies, reader.diagnostics)
    }

    /// A file's documents, empty ones left out, and a reader holding the problems found so
    /// far: not text, YAML syntax, or `emptyMessage` when no document is left.
    private func read(_ contents: [UInt8], file: String, emptyMessage: String) -> (NodeReader, [YAMLNode]) {
        let reader = NodeReader(file: file)
        if let problem = SourceFile.textProblem(contents, file: file) {
            reader.report([problem])
            return (reader, [])
        }
        let composed = YAMLComposer.compose(contents, file: file)
        reader.report(composed.diagnostics)
        let documents = composed.documents.filter { !reader.isNull($0) }
        if documents.isEmpty, composed.diagnostics.isEmpty {
            reader.report([Diagnostic(emptyMessage, at: SourceLocation(file: file, line: 1, column: 1))])
        }
        return (reader, documents)
    }

    private func absolute(_ path: String) -> String {
        Paths.resolve(path, against: Paths.currentDirectory)
    }
}

/// A configuration with its policies, as `allot validate` checks them and the daemon runs them.
public struct LoadedConfiguration: Sendable {
    public var configuration: AllotConfiguration
    public var policies: PolicySet
    /// The configuration file read, absolute.
    public var configurationPath: String

    public init(configuration: AllotConfiguration, policies: PolicySet, configurationPath: String) {
        self.configuration = configuration
        self.policies = policies
        self.configurationPath = configurationPath
    }
}
