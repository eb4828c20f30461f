/// The policies of one directory, loaded and checked together.
public struct PolicySet: Sendable, Hashable {
    /// Every policy, file by file in name order, documents in order within a file.
    public var policies: [Policy]
    /// The files read, absolute, in name order.
    public var files: [String]
    /// SHA-256 (lowercase hex) over each file's name, length and contents in order: it
    /// changes exactly when a file is added, removed, renamed or edited. `/status` shows it.
    public var revision: String
    /// Entries skipped with a warning: policy file names that are not regular files (a FIFO).
    public var warnings: [String]

    public init(policies: [Policy], files: [String], revision: String, warnings: [String] = []) {
        self.policies = policies
        self.files = files
        self.revision = revision
        self.warnings = warnings
    }
}
