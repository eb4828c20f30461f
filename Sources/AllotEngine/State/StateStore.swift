import Foundation

/// Reads and writes ``EngineState`` as `state.json` in a directory, atomically: the new state is
/// written to a temporary file, flushed to disk, then renamed over the old one, so a crash
/// leaves either the old or the new state, never half of one.
public struct StateStore: Sendable {
    public let directory: String
    public var path: String { directory + "/state.json" }

    public init(directory: String) {
        self.directory = directory
    }

    /// The state directory: `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else
    /// `$XDG_STATE_HOME/allot`, else `~/.local/state/allot`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let systemd = environment["STATE_DIRECTORY"], !systemd.isEmpty {
            // systemd may pass several, colon-separated; the first is ours.
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/allot" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state/allot"
    }

    /// What loading found.
    public struct Loaded: Sendable {
        public var state: EngineState
        /// Why the stored state could not be used (it was set aside), if so.
        public var recovery: String?
    }

    /// Loads the state. A missing file is an empty state; an unreadable or corrupt one is
    /// replaced by an empty state, which can only delay removals, never cause one.
    /// - Parameter setAside: move a corrupt file aside (`state.json.corrupt-<time>`) so that the
    ///   next save starts afresh; read-only commands (`allot plan`, `explain`) pass `false` and
    ///   leave it for the cycle that will save, which reports it.
    public func load(now: Date = Date(), setAside: Bool = true) -> Loaded {
        guard FileManager.default.fileExists(atPath: path) else { return Loaded(state: EngineState()) }
        let reason: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var state = try JSONDecoder().decode(EngineState.self, from: data)
            if (EngineState.oldestReadableVersion...EngineState.currentVersion).contains(state.version) {
                state.version = EngineState.currentVersion
                return Loaded(state: state)
            }
            reason =
                "state version \(state.version) is not one this Allot reads (\(EngineState.oldestReadableVersion) to \(EngineState.currentVersion))"
        } catch {
            reason = "state file is unreadable or corrupt (\(error))"
        }
        guard setAside else {
            return Loaded(
                state: EngineState(),
                recovery: "\(reason); left it in place and used an empty state (pending removals wait again)"
            )
        }
        let aside = path + ".corrupt-\(Int(now.timeIntervalSince1970))"
        try? FileManager.default.moveItem(atPath: path, toPath: aside)
        return Loaded(
            state: EngineState(),
            recovery: "\(reason); moved it to \(aside) and started from an empty state (pending removals wait again)"
        )
    }

    /// Writes the state atomically (write, fsync, rename, fsync the directory).
    public func save(_ state: EngineState) throws {
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(state)
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StateStoreError(path: temporary, operation: "create", code: errno) }
        var failure = data.withUnsafeBytes { writeAll(descriptor, $0) }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw StateStoreError(path: temporary, operation: "write", code: failure)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StateStoreError(path: path, operation: "replace", code: code)
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// Writing the state file failed.
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32

    public var description: String {
        "cannot \(operation) the state file \(path): \(String(cString: strerror(code))); check that the state directory exists and is writable"
    }
}
