import AllotCore

/// What `allot --version` prints: `allot 0.1.0 (commit 1a2b3c4, linux x86_64)`.
///
/// The version is ``AllotVersion/current``, the one place it is kept. The commit is stamped at
/// build time by `deploy/package.sh` (which `deploy/install.sh` builds with): it writes
/// `BuildCommit.generated.swift` next to this file (ignored by git) and compiles with
/// `-Xswiftc -DALLOT_BUILD_COMMIT`. A plain `swift build` has neither and says `commit unknown`;
/// so does a build from a tarball without `.git` unless `ALLOT_COMMIT` names the commit.
enum BuildInfo {
    /// The line `--version` prints.
    static var versionLine: String { "allot \(AllotVersion.current) (commit \(commit), \(platform))" }

    /// The short commit hash (with `-dirty` for uncommitted changes), or `unknown`.
    static var commit: String {
        #if ALLOT_BUILD_COMMIT
        allotBuildCommit
        #else
        "unknown"
        #endif
    }

    /// The operating system and architecture the binary was built for, as `uname` names them.
    static var platform: String {
        #if os(Linux)
        let system = "linux"
        #elseif os(macOS)
        let system = "macos"
        #else
        let system = "unknown"
        #endif
        #if arch(x86_64)
        return "\(system) x86_64"
        #elseif arch(arm64)
        return "\(system) aarch64"
        #else
        return "\(system) unknown"
        #endif
    }
}
