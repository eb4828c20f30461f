import HTTPTypes

/// A Graph error response: status, `error.code` and `error.message` in Graph's envelope.
struct GraphError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Extra response headers (`Retry-After`, throttling headers, `WWW-Authenticate`).
    var headers: HTTPFields = [:]
    /// Members of `innerError` beyond its date and request ids (a 429 names its status there).
    var innerDetails: [(name: String, value: String)] = []

    static func badRequest(_ message: String, code: String = "Request_BadRequest") -> GraphError {
        GraphError(status: .badRequest, code: code, message: message)
    }

    static func unsupportedQuery(_ message: String) -> GraphError {
        GraphError(status: .badRequest, code: "Request_UnsupportedQuery", message: message)
    }

    /// Graph's answer for an object id or name that does not exist.
    static func notFound(_ key: String) -> GraphError {
        GraphError(
            status: .notFound,
            code: "Request_ResourceNotFound",
            message:
                "Resource '\(key)' does not exist or one of its queried reference-property objects are not present."
        )
    }

    static func noRoute(method: HTTPRequest.Method, path: String) -> GraphError {
        GraphError(
            status: .badRequest,
            code: "BadRequest",
            message: "Resource not found for the segment '\(path.split(separator: "/").last.map(String.init) ?? path)'."
        )
    }

    static func methodNotAllowed() -> GraphError {
        GraphError(
            status: .methodNotAllowed,
            code: "Request_BadRequest",
            message: "Specified HTTP method is not allowed for the request target."
        )
    }

    static func invalidJSON() -> GraphError {
        GraphError(
            status: .badRequest,
            code: "BadRequest",
            message:
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
        )
    }

    static func unauthorized(_ message: String) -> GraphError {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] =
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""
        return GraphError(status: .unauthorized, code: "InvalidAuthenticationToken", message: message, headers: headers)
    }

    /// Graph's 429 as the throttling guide shows it: `Retry-After`, and an `innerError` that
    /// repeats the status (`"code": "429"`, `"message": "Please retry after"`, `"status": "429"`).
    static func tooManyRequests(retryAfterSeconds: Int, extraHeaders: HTTPFields = [:]) -> GraphError {
        var headers = extraHeaders
        headers[.retryAfter] = String(retryAfterSeconds)
        return GraphError(
            status: .tooManyRequests,
            code: "TooManyRequests",
            message: "Please retry again later.",
            headers: headers,
            innerDetails: [("code", "429"), ("message", "Please retry after"), ("status", "429")]
        )
    }

    /// The token lacks every permission the call accepts.
    static func forbidden() -> GraphError {
        GraphError(
            status: .forbidden,
            code: "Authorization_RequestDenied",
            message: "Insufficient privileges to complete the operation."
        )
    }

    static func serverError(status: Int) -> GraphError {
        let status = HTTPResponse.Status(code: status)
        let code: String
        let message: String
        switch status.code {
        case 502: (code, message) = ("BadGateway", "Bad Gateway")
        case 503:
            (code, message) = ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")
        case 504: (code, message) = ("gatewayTimeout", "The request timed out.")
        default: (code, message) = ("InternalServerError", "An internal server error occurred.")
        }
        return GraphError(status: status, code: code, message: message)
    }
}

extension HTTPField.Name {
    static let clientRequestId = HTTPField.Name("client-request-id")!
    static let requestId = HTTPField.Name("request-id")!
    static let consistencyLevel = HTTPField.Name("ConsistencyLevel")!
    static let prefer = HTTPField.Name("Prefer")!
    static let throttleScope = HTTPField.Name("x-ms-throttle-scope")!
    static let throttleInformation = HTTPField.Name("x-ms-throttle-information")!
    static let throttleLimitPercentage = HTTPField.Name("x-ms-throttle-limit-percentage")!
    static let resourceUnit = HTTPField.Name("x-ms-resource-unit")!
    static let agsDiagnostic = HTTPField.Name("x-ms-ags-diagnostic")!
    static let metadata = HTTPField.Name("Metadata")!
    static let odataVersion = HTTPField.Name("OData-Version")!
}
