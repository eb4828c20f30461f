import AllotCore

/// Why a change made through ``GraphSimulator``'s methods (the control API's) was refused: the
/// message Graph would give, or what to fix.
public struct DirectoryChangeError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    static func unknownUser(_ id: GUID) -> DirectoryChangeError {
        DirectoryChangeError(
            "Resource '\(id)' does not exist or one of its queried reference-property objects are not present."
        )
    }
}
