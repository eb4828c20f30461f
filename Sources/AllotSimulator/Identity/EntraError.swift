import Foundation
import HTTPTypes

/// An error of the Microsoft Entra token endpoint: OAuth `error`, an AADSTS code and its text.
struct EntraError: Error, Sendable {
    var status: HTTPResponse.Status
    /// The OAuth 2.0 error (`invalid_client`, `invalid_request`, ...).
    var error: String
    /// The AADSTS number.
    var code: Int
    var message: String

    /// Entra's body: `error`, `error_description` ending in trace, correlation and time,
    /// `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
    func body(correlationId: String, now: Double) -> [UInt8] {
        let traceId = UUID().uuidString.lowercased()
        let timestamp = UTCTime(now).entraTimestamp
        var writer = JSONWriter(capacity: 512)
        writer.raw("{\"error\":")
        writer.string(error)
        writer.raw(",\"error_description\":")
        writer.string(
            "AADSTS\(code): \(message)\r\nTrace ID: \(traceId)\r\nCorrelation ID: \(correlationId)\r\nTimestamp: \(timestamp)"
        )
        writer.raw(",\"error_codes\":[")
        writer.integer(code)
        writer.raw("],\"timestamp\":")
        writer.string(timestamp)
        writer.raw(",\"trace_id\":")
        writer.string(traceId)
        writer.raw(",\"correlation_id\":")
        writer.string(correlationId)
        writer.raw(",\"error_uri\":")
        writer.string("https://login.microsoftonline.com/error?code=\(code)")
        writer.byte(UInt8(ascii: "}"))
        return writer.bytes
    }

    static func missingParameter(_ name: String) -> EntraError {
        EntraError(
            status: .badRequest,
            error: "invalid_request",
            code: 900144,
            message: "The request body must contain the following parameter: '\(name)'."
        )
    }

    static func invalidClient(_ code: Int, _ message: String) -> EntraError {
        EntraError(status: .unauthorized, error: "invalid_client", code: code, message: message)
    }

    static let serviceUnavailable = EntraError(
        status: .serviceUnavailable,
        error: "temporarily_unavailable",
        code: 90006,
        message: "The service is temporarily unavailable. Please retry the request."
    )
}
