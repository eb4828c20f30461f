/// What a policy set needs read from the tenant: the user attributes it tests and the groups
/// it names. The Graph read selects exactly these (`$select`), and a snapshot must hold them.
public struct PolicyRequirements: Sendable, Hashable {
    /// Attribute paths, dotted for nested objects, sorted.
    public let attributes: [String]
    /// Group references (display names or object ids) from `groups` and `exclude.groups`, sorted, without duplicates.
    public let groups: [String]

    public init(_ policies: [Policy]) {
        attributes = Set(policies.flatMap { ($0.match.attributes + $0.match.exclude.attributes).map(\.path) }).sorted()
        groups = Set(policies.flatMap { ($0.match.groups ?? []) + $0.match.exclude.groups }.map(\.value)).sorted()
    }
}
