/// A Graph request that failed for good: after the retries the policy allows, or at once for
/// an error that retrying cannot fix.
///
/// Carries what a person needs to act: the operation, the HTTP status, Graph's error code and
/// message, and the `client-request-id` Microsoft support asks for. Never a token or a secret.
public struct GraphRequestError: Error, Sendable, CustomStringConvertible {
    /// What was asked, e.g. `GET /users` or `POST /$batch`.
    public let operation: String
    /// The HTTP status, or `nil` when no response arrived (timeout, dropped connection).
    public let status: Int?
    /// Graph's `error.code` (e.g. `Request_ResourceNotFound`), when the body had one.
    public let code: String?
    public let message: String
    /// The `client-request-id` of the last attempt.
    public let clientRequestId: String

    init(operation: String, status: Int?, code: String?, message: String, clientRequestId: String) {
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.clientRequestId = clientRequestId
    }

    public var description: String {
        // No response: the message says which request to where, and why (connection refused).
        guard let status else { return "\(message) (client-request-id \(clientRequestId))" }
        let codeText = code.map { " \($0)" } ?? ""
        return "\(operation) failed: HTTP \(status)\(codeText): \(message) (client-request-id \(clientRequestId))"
    }
}

/// A tenant read that did not complete. Allot never plans on a partial read: the cycle stops
/// and says which read failed.
public struct GraphReadError: Error, Sendable, CustomStringConvertible {
    /// Why the read failed; open-ended so that new reasons do not break callers.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case incomplete, groupNotFound, groupAmbiguous, malformedResponse, membershipHidden, deltaExpired,
                signInActivityRefused
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A page or listing failed after retries; what was read so far is not used.
        public static let incomplete = Reason(.incomplete)
        /// A policy names a group that does not exist.
        public static let groupNotFound = Reason(.groupNotFound)
        /// A display name matches more than one group.
        public static let groupAmbiguous = Reason(.groupAmbiguous)
        /// Graph answered with a body Allot could not read, or a listing whose `@odata.nextLink` repeats.
        public static let malformedResponse = Reason(.malformedResponse)
        /// A group with hidden membership, and an access token without `Member.Read.Hidden`:
        /// Graph would list the group without its members.
        public static let membershipHidden = Reason(.membershipHidden)
        /// Graph refused a delta link (`410 Gone`, `syncStateNotFound`): the changes since it are
        /// lost, so only a full read can say what the tenant is now.
        public static let deltaExpired = Reason(.deltaExpired)
        /// A policy tests sign-in activity and Graph refused it: the application lacks
        /// `AuditLog.Read.All`, or the tenant has no Microsoft Entra ID P1.
        public static let signInActivityRefused = Reason(.signInActivityRefused)

        public var description: String { value.rawValue }
    }

    public let reason: Reason
    /// Which read failed, e.g. `users page 3` or `members of group 'Engineering' page 2`.
    public let read: String
    public let message: String
    /// The request that failed, when one did.
    public let request: GraphRequestError?

    init(_ reason: Reason, read: String, message: String, request: GraphRequestError? = nil) {
        self.reason = reason
        self.read = read
        self.message = message
        self.request = request
    }

    public var description: String {
        // An endpoint that never answered is the cause, not the read that happened to need it.
        if let request, request.status == nil {
            return "\(request); the tenant read stopped at \(read) and nothing read is used"
        }
        var text = "tenant read \(reason) at \(read): \(message)"
        if let request { text += " [\(request)]" }
        return text
    }
}

/// Allot could not obtain an access token. Names the credential file or Entra's `error` and
/// `error_description` (with its AADSTS code) and what to check; never the secret itself.
public struct AuthenticationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// Entra's `error` (e.g. `invalid_client`), when the token endpoint answered with one.
    public let entraError: String?
    /// Entra's `error_description`, starting with the AADSTS code.
    public let entraErrorDescription: String?
    public let clientRequestId: String?

    init(
        _ message: String,
        entraError: String? = nil,
        entraErrorDescription: String? = nil,
        clientRequestId: String? = nil
    ) {
        self.message = message
        self.entraError = entraError
        self.entraErrorDescription = entraErrorDescription
        self.clientRequestId = clientRequestId
    }

    public var description: String {
        var text = message
        if let entraError { text += ": \(entraError)" }
        if let entraErrorDescription { text += ": \(entraErrorDescription)" }
        if let clientRequestId { text += " (client-request-id \(clientRequestId))" }
        return text
    }
}
