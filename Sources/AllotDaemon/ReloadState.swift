import AllotCore

/// The reload bookkeeping of ``ReconcileLoop`` as a value: which problems were last reported,
/// whether they lie in `allot.yaml`, and what each read of the policy directory means.
///
/// No files, clock or logger (in the style of async-http-client's state machines): the loop
/// reads, asks this type what the read means, and carries out the answer, so every transition
/// is tested directly.
struct ReloadState: Sendable, Equatable {
    /// Problems reported as `policy.invalid`.
    struct Rejection: Sendable, Equatable {
        var diagnostics: [Diagnostic]
        /// The problems lie in `allot.yaml`: they stand until a reload accepts the file,
        /// whatever the policy directory does meanwhile.
        var inConfiguration: Bool
    }

    /// What a valid read of the policy directory (before a cycle) means.
    enum DirectoryRead: Sendable, Equatable {
        /// The set changed: install it. `standingProblems` are `allot.yaml`'s, still to be
        /// shown once the new set is in use.
        case install(standingProblems: [Diagnostic]?)
        /// The rejected change to the directory was undone: the running set is good again.
        case restored
        /// Nothing changed.
        case unchanged
    }

    /// The problems last reported (an unchanged broken set is reported once).
    private(set) var lastRejected: Rejection?

    /// The policy directory read as a valid set with `revision`, while `running` is in use.
    mutating func policiesRead(revision: String, running: String) -> DirectoryRead {
        let standing = lastRejected
        if standing?.inConfiguration != true { lastRejected = nil }
        if revision != running {
            return .install(standingProblems: standing?.inConfiguration == true ? standing?.diagnostics : nil)
        }
        return standing.map { $0.inConfiguration ? .unchanged : .restored } ?? .unchanged
    }

    /// A read found `diagnostics`. Returns whether they are new, and so to be reported.
    mutating func rejected(_ diagnostics: [Diagnostic], inConfiguration: Bool = false) -> Bool {
        defer { lastRejected = Rejection(diagnostics: diagnostics, inConfiguration: inConfiguration) }
        return lastRejected?.diagnostics != diagnostics
    }

    /// SIGHUP: an operator asked, so what the reload finds is reported even if it was before.
    mutating func reloadRequested() {
        lastRejected = nil
    }
}
