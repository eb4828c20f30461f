#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lexical path handling: the loader resolves relative paths against the configuration
/// file's directory and shows every path absolute and without `.` or `..`.
enum Paths {
    /// `path` made absolute against `directory` (itself absolute), `.` and `..` removed.
    static func resolve(_ path: String, against directory: String) -> String {
        let joined = path.hasPrefix("/") ? path : directory + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": _ = components.popLast()
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The directory part of an absolute path.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    /// The process's working directory.
    static var currentDirectory: String {
        guard let pointer = getcwd(nil, 0) else { return "/" }
        defer { free(pointer) }
        return String(cString: pointer)
    }
}

/// Where a command run by hand on an installed host finds the daemon's credential and state.
///
/// Under systemd the unit says where they are: `$CREDENTIALS_DIRECTORY` (from `LoadCredential=`)
/// and `$STATE_DIRECTORY` (from `StateDirectory=`). An operator's `sudo allot plan` or
/// `sudo allot apply` has neither, yet must use the same secret and the same state file as the
/// daemon, whether the service runs or not. The installed layout answers:
///
/// | configuration | credentials | state (root only) |
/// |---|---|---|
/// | `/etc/allot/allot.yaml` (`allot.service`) | `/etc/allot/credentials/` | `/var/lib/allot` |
/// | `/etc/allot/NAME/allot.yaml` (`allot@NAME.service`) | `/etc/allot/NAME/credentials/` | `/var/lib/allot-NAME` |
/// | anywhere else | `credentials/` beside it | unchanged: `$XDG_STATE_HOME/allot` or `~/.local/state/allot` |
///
/// The credential directories are the ones the units' `LoadCredential=` lines copy from, so the
/// file names match (`client-secret`). The state directories are the units' `StateDirectory=`;
/// only root gets them by default, since only root can write there (systemd keeps them in
/// `/var/lib/private/`, mode 0700). What systemd sets always wins.
public enum HostLayout {
    /// The directory of the installed configuration.
    public static let configurationRoot = "/etc/allot"
    /// The directory under which the units keep their state.
    public static let stateRoot = "/var/lib"

    /// `environment` with `CREDENTIALS_DIRECTORY` and `STATE_DIRECTORY` filled in from the
    /// installed layout where systemd did not set them.
    ///
    /// - Parameters:
    ///   - configurationPath: the absolute path of the configuration file in use.
    ///   - isRoot: whether the process runs as root (only root gets the units' state directories).
    public static func environment(
        configurationPath: String,
        environment: [String: String],
        isRoot: Bool
    ) -> [String: String] {
        var result = environment
        if result["CREDENTIALS_DIRECTORY"]?.isEmpty ?? true {
            result["CREDENTIALS_DIRECTORY"] = credentialsDirectory(configurationPath: configurationPath)
        }
        if result["STATE_DIRECTORY"]?.isEmpty ?? true, isRoot,
            let state = stateDirectory(configurationPath: configurationPath)
        {
            result["STATE_DIRECTORY"] = state
        }
        return result
    }

    /// `credentials/` beside the configuration file: where `LoadCredential=` copies from.
    public static func credentialsDirectory(configurationPath: String) -> String {
        Paths.resolve("credentials", against: Paths.directory(of: Paths.resolve(configurationPath, against: "/")))
    }

    /// The unit's `StateDirectory=` for an installed configuration: `/var/lib/allot` for
    /// `/etc/allot/allot.yaml`, `/var/lib/allot-NAME` for `/etc/allot/NAME/allot.yaml`; `nil` for
    /// any other file.
    public static func stateDirectory(configurationPath: String) -> String? {
        let path = Paths.resolve(configurationPath, against: "/")
        guard path.hasPrefix(configurationRoot + "/"), path.hasSuffix("/allot.yaml") else { return nil }
        if path == configurationRoot + "/allot.yaml" { return stateRoot + "/allot" }
        let between = path.dropFirst(configurationRoot.count + 1).dropLast("/allot.yaml".count)
        guard !between.contains("/"), isInstanceName(between) else { return nil }
        return stateRoot + "/allot-" + between
    }

    /// Whether `name` can name an `allot@NAME.service` instance: 1 to 25 letters, digits, `-` and
    /// `_`, so that the instance's user `allot-NAME` is a valid user name (at most 31 characters).
    public static func isInstanceName(_ name: some StringProtocol) -> Bool {
        (1...25).contains(name.count)
            && name.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-"
                        || scalar == "_")
            }
    }
}
