import AllotConfig
import AllotEngine
import CoreFoundation
import Foundation

/// The environment a command runs with: the process's own, plus where the installed host keeps
/// the daemon's credential and state when systemd did not say (``HostLayout``). So `sudo allot
/// plan` and `sudo allot apply` use the same secret and state file as `allot.service`.
func hostEnvironment(_ loaded: LoadedConfiguration) -> [String: String] {
    HostLayout.environment(
        configurationPath: loaded.configurationPath, environment: ProcessInfo.processInfo.environment, isRoot: geteuid() == 0)
}

/// The state file of this configuration: the daemon's on an installed host (root), else the
/// user's own (`docs/operations.md`).
func stateStore(_ loaded: LoadedConfiguration) -> StateStore {
    StateStore(directory: StateStore.defaultDirectory(environment: hostEnvironment(loaded)))
}

/// Gives the state file back to the owner of its directory after root wrote it.
///
/// Under `DynamicUser=` the state directory belongs to the service's user, and systemd does not
/// re-own files inside a directory it already owns; a `state.json` left to root (mode 0600)
/// would be unreadable to the daemon. Only root can write there by default, and only root can
/// change the owner, so this runs for root alone. A failure is reported, never fatal: the
/// cycle's work is done.
func handStateToDirectoryOwner(_ store: StateStore) {
    guard geteuid() == 0 else { return }
    var directory = stat()
    var file = stat()
    guard stat(store.directory, &directory) == 0, lstat(store.path, &file) == 0 else { return }
    guard directory.st_uid != 0, file.st_uid != directory.st_uid || file.st_gid != directory.st_gid else { return }
    if chown(store.path, directory.st_uid, directory.st_gid) != 0 {
        printError(
            "warning: could not give \(store.path) to the state directory's owner (uid \(directory.st_uid)): \(String(cString: strerror(errno))); "
                + "the daemon may not read it until: chown --reference=\(store.directory) \(store.path)")
    }
}
