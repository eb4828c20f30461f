/// Where a value came from: a file, a line and a column (all 1-based).
///
/// Policies carry locations so that problems found later (an unknown group in the
/// tenant, a plan name the SKU does not have) still point at the line to fix.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// A problem in configuration, policies or their fit with the tenant, pinned to a place.
public struct Diagnostic: Error, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String

    public init(_ message: String, at location: SourceLocation?) {
        self.message = message
        self.location = location
    }

    /// `FILE:LINE:COLUMN: message`, or the message alone when nothing is known of the place.
    public var description: String {
        guard let location else { return message }
        return "\(location): \(message)"
    }

    public static func < (lhs: Diagnostic, rhs: Diagnostic) -> Bool {
        switch (lhs.location, rhs.location) {
        case let (l?, r?): (l, lhs.message) < (r, rhs.message)
        case (nil, .some): true
        case (.some, nil): false
        case (nil, nil): lhs.message < rhs.message
        }
    }
}

/// A set of diagnostics thrown together: loading reports every problem at once.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics.sorted()
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A name or id as written in a policy, with where it was written.
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    public var value: String
    public var location: SourceLocation?

    public init(_ value: String, at location: SourceLocation? = nil) {
        self.value = value
        self.location = location
    }

    /// Whether the value is a GUID (an object id, a skuId or a servicePlanId) rather than a name.
    public var isGUID: Bool { GUID(value) != nil }

    public var description: String { value }

    // Identity is the value alone: the same name written twice is the same reference.
    public static func == (lhs: Reference, rhs: Reference) -> Bool { lhs.value == rhs.value }
    public func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// A SKU by `skuPartNumber` (e.g. `SPE_E5`) or `skuId`.
public typealias SkuReference = Reference
/// A service plan by `servicePlanName` (e.g. `YAMMER_ENTERPRISE`) or `servicePlanId`.
public typealias PlanReference = Reference
/// A group by display name (exactly one match, case-insensitive) or object id.
public typealias GroupReference = Reference
/// A user by `userPrincipalName` or object id.
public typealias UserReference = Reference

/// One policy document: who matches, and which licenses they get.
public struct Policy: Sendable, Hashable {
    /// Unique across all policy files.
    public var name: String
    public var description: String?
    /// Higher is served first when seats are short.
    public var priority: Int
    public var match: Match
    public var licenses: [LicenseGrant]
    /// Where the document starts.
    public var location: SourceLocation?

    public init(
        name: String,
        description: String? = nil,
        priority: Int = 0,
        match: Match,
        licenses: [LicenseGrant],
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.description = description
        self.priority = priority
        self.match = match
        self.licenses = licenses
        self.location = location
    }
}

extension Policy {
    /// Who a policy applies to. Every clause given must hold; `exclude` then removes users.
    public struct Match: Sendable, Hashable {
        /// `match: { all: true }`: everyone (before exclusions). The only way to say so.
        public var all: Bool
        /// Member of any of them (transitively). `nil`: no group clause; `[]`: matches nobody.
        public var groups: [GroupReference]?
        /// Every condition must hold.
        public var attributes: [AttributeCondition]
        public var exclude: Exclusion
        public var location: SourceLocation?

        public init(
            all: Bool = false,
            groups: [GroupReference]? = nil,
            attributes: [AttributeCondition] = [],
            exclude: Exclusion = Exclusion(),
            location: SourceLocation? = nil
        ) {
            self.all = all
            self.groups = groups
            self.attributes = attributes
            self.exclude = exclude
            self.location = location
        }

        /// Whether any clause selects users; a `match` without one is a validation error.
        public var hasClauses: Bool { all || groups != nil || !attributes.isEmpty }
    }

    /// Users removed from a policy's match: a user is excluded by any one of these.
    public struct Exclusion: Sendable, Hashable {
        public var groups: [GroupReference]
        public var users: [UserReference]
        /// `exclude.attributes`: a user for whom any one of these conditions holds is excluded
        /// (each condition's own operators must all hold, as under `match.attributes`).
        public var attributes: [AttributeCondition]

        public init(groups: [GroupReference] = [], users: [UserReference] = [], attributes: [AttributeCondition] = []) {
            self.groups = groups
            self.users = users
            self.attributes = attributes
        }
    }

    /// One SKU a policy grants, with its plans and the SKUs it replaces.
    public struct LicenseGrant: Sendable, Hashable {
        public var sku: SkuReference
        public var plans: PlanSelection
        /// Whoever gets `sku` from this policy loses these.
        public var replaces: [SkuReference]
        public var location: SourceLocation?

        public init(
            sku: SkuReference,
            plans: PlanSelection = .all,
            replaces: [SkuReference] = [],
            location: SourceLocation? = nil
        ) {
            self.sku = sku
            self.plans = plans
            self.replaces = replaces
            self.location = location
        }
    }

    /// Which of a SKU's service plans are switched on.
    public enum PlanSelection: Sendable, Hashable {
        /// Every plan (no `disabledPlans`).
        case all
        /// A deny-list: these plans off, all others (including new ones) on.
        case disabled([PlanReference])
        /// An allow-list: these plans on, all others (including new ones) off.
        case enabled([PlanReference])
    }
}
