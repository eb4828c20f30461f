import AllotCore

/// One change Allot makes in the tenant.
public enum GraphWrite: Sendable, Hashable {
    /// `POST /users/{id}/assignLicense`: every add, plan change and removal of one user in one call.
    case assignLicense(user: GUID, body: AssignLicenseBody)
    /// `PATCH /users/{id}` with `usageLocation` (needed before a license can be added).
    case setUsageLocation(user: GUID, code: String)

    /// The user the write changes.
    public var user: GUID {
        switch self {
        case .assignLicense(let user, _), .setUsageLocation(let user, _): user
        }
    }

    /// Whether this is the usage-location PATCH.
    public var isUsageLocation: Bool {
        if case .setUsageLocation = self { true } else { false }
    }

    var method: String {
        switch self {
        case .assignLicense: "POST"
        case .setUsageLocation: "PATCH"
        }
    }

    var relativeURL: String {
        switch self {
        case .assignLicense(let user, _): "/users/\(user)/assignLicense"
        case .setUsageLocation(let user, _): "/users/\(user)"
        }
    }

    /// The operation named in errors and logs.
    var operation: String {
        switch self {
        case .assignLicense: "POST /users/{id}/assignLicense"
        case .setUsageLocation: "PATCH /users/{id}"
        }
    }
}

/// What became of one write.
public struct GraphWriteResult: Sendable {
    /// The outcome of one write.
    public enum Outcome: Sendable {
        /// Graph accepted it.
        case applied
        /// Graph refused it, or it could not be delivered within the retries.
        case failed(GraphWriteError)
        /// It was never sent: the run was cancelled (SIGTERM) first. The next cycle sends it.
        case notSent
    }

    public let write: GraphWrite
    public let outcome: Outcome

    public var isApplied: Bool {
        if case .applied = outcome { true } else { false }
    }
}

/// Why Graph refused a write, classified so that the engine can report and count it, with
/// Graph's own code and message kept.
public struct GraphWriteError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; open-ended, so that new kinds do not break callers.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case usageLocation, noSeats, unknownSku, mutuallyExclusive, dependency, inheritedOnly, missingParameters
            case licenseNotHeld, userGone, permissionDenied, dependencyFailed, throttled, unavailable, other
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The user has no (or an invalid) usage location.
        public static let usageLocation = Kind(.usageLocation)
        /// The SKU has no available seats.
        public static let noSeats = Kind(.noSeats)
        /// The skuId is not a license the tenant owns.
        public static let unknownSku = Kind(.unknownSku)
        /// Service plans that cannot be held together.
        public static let mutuallyExclusive = Kind(.mutuallyExclusive)
        /// A service plan needs another plan the user lacks.
        public static let dependency = Kind(.dependency)
        /// The license is inherited from a group and cannot be removed directly.
        public static let inheritedOnly = Kind(.inheritedOnly)
        /// The body lacked `addLicenses` or `removeLicenses`.
        public static let missingParameters = Kind(.missingParameters)
        /// A SKU to remove is not directly assigned (any more), and reading the user showed the
        /// call's change had not been made: the tenant changed since the read.
        public static let licenseNotHeld = Kind(.licenseNotHeld)
        /// The user no longer exists (deleted since the read): 404 `Request_ResourceNotFound`.
        public static let userGone = Kind(.userGone)
        /// 403 `Authorization_RequestDenied`: the application lacks the permission the write needs.
        public static let permissionDenied = Kind(.permissionDenied)
        /// Not run because the request it depends on (the usage-location PATCH) failed (HTTP 424).
        public static let dependencyFailed = Kind(.dependencyFailed)
        /// Still throttled after the retries allowed.
        public static let throttled = Kind(.throttled)
        /// Server errors, timeouts or dropped connections after the retries allowed.
        public static let unavailable = Kind(.unavailable)
        /// Anything else; Graph's code and message say what.
        public static let other = Kind(.other)

        public var description: String { value.rawValue }

        /// Classifies a refused write: by HTTP status and Graph's error `code` first, then, for
        /// the `Request_BadRequest` family that shares one code, by the message (the texts in
        /// `graph-facts.md` §1.4 and §10).
        public static func classify(status: Int, code: String?, message: String) -> Kind {
            switch (status, code) {
            case (403, _), (_, "Authorization_RequestDenied"): return .permissionDenied
            case (404, _), (_, "Request_ResourceNotFound"): return .userGone
            case (424, _): return .dependencyFailed
            case (429, _), (_, "TooManyRequests"): return .throttled
            case (408, _), (500...599, _): return .unavailable
            case (_, "mutuallyExclusiveServicePlans"): return .mutuallyExclusive
            default: break
            }
            let text = message.lowercased()
            if text.contains("usage location") { return .usageLocation }
            if text.contains("does not have any available licenses") || text.contains("licensequotaexceeded") {
                return .noSeats
            }
            if text.contains("does not correspond to a valid company license") { return .unknownSku }
            if text.contains("mutually exclusive") { return .mutuallyExclusive }
            if text.contains("inherited from a group") { return .inheritedOnly }
            if text.contains("does not have a corresponding license") { return .licenseNotHeld }
            if text.contains("depends on the service plan")
                || text.contains("requires") && text.contains("to be enabled")
            {
                return .dependency
            }
            if text.contains("missing from the request payload") || text.contains("parameters of the operation") {
                return .missingParameters
            }
            return .other
        }
    }

    public let kind: Kind
    public let user: GUID
    /// `POST /users/{id}/assignLicense` or `PATCH /users/{id}`.
    public let operation: String
    /// The item's HTTP status, or `nil` when the batch itself never got an answer.
    public let status: Int?
    /// Graph's `error.code` (e.g. `Request_BadRequest`).
    public let code: String?
    /// Graph's `error.message`, as Graph wrote it (with Allot's note when it checked more).
    public internal(set) var message: String
    /// The `client-request-id` of the `$batch` request that carried the write.
    public let clientRequestId: String?

    public var description: String {
        let statusText = status.map { "HTTP \($0)" } ?? "no response"
        let codeText = code.map { " \($0)" } ?? ""
        let requestText = clientRequestId.map { " (client-request-id \($0))" } ?? ""
        return "\(operation) for user \(user) failed [\(kind)]: \(statusText)\(codeText): \(message)\(requestText)"
    }
}
