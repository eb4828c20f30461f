import AllotConfig
import AllotEngine
import Foundation

/// The environment a command runs with: the process's own, plus where the installed host keeps
/// the daemon's credential and state when systemd did not say (``HostLayout``). So `sudo allot
/// plan` and `sudo allot apply` use the same secret and state file as `allot.service`.
func hostEnvironment(_ loaded: LoadedConfiguration) -> [String: String] {
    HostLayout.environment(
        configurationPath: loaded.configurationPath,
        environment: ProcessInfo.processInfo.environment,
        isRoot: geteuid() == 0
    )
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
    let files = FileManager.default
    // The directory as systemd made it: /var/lib/allot is a link into /var/lib/private.
    let directory = URL(fileURLWithPath: store.directory).resolvingSymlinksInPath().path
    guard let owner = try? ownership(files.attributesOfItem(atPath: directory)), owner.user != 0,
        let current = try? ownership(files.attributesOfItem(atPath: store.path)), current != owner
    else { return }
    do {
        try files.setAttributes(
            [.ownerAccountID: NSNumber(value: owner.user), .groupOwnerAccountID: NSNumber(value: owner.group)],
            ofItemAtPath: store.path
        )
    } catch {
        printError(
            "warning: could not give \(store.path) to the state directory's owner (uid \(owner.user)): \(error.localizedDescription); "
                + "the daemon may not read it until: chown --reference=\(directory) \(store.path)"
        )
    }
}

/// The owner and group in a file's attributes.
private func ownership(_ attributes: [FileAttributeKey: Any]) -> Ownership? {
    guard let user = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value,
        let group = (attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value
    else { return nil }
    return Ownership(user: user, group: group)
}

private struct Ownership: Equatable {
    var user: UInt32
    var group: UInt32
}
