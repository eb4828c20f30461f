import AllotCore
import Foundation

/// A user's sign-in activity as Graph's `signInActivity` reports it (signinactivity.md): the last
/// interactive sign-in attempt, the last non-interactive one, and the last successful one of
/// either kind, each with the request id of that sign-in. A date that is `nil` never happened.
public struct SimulatedSignInActivity: Sendable, Hashable {
    public var lastSignInDateTime: Date?
    public var lastNonInteractiveSignInDateTime: Date?
    public var lastSuccessfulSignInDateTime: Date?

    public init(
        lastSignInDateTime: Date? = nil,
        lastNonInteractiveSignInDateTime: Date? = nil,
        lastSuccessfulSignInDateTime: Date? = nil
    ) {
        self.lastSignInDateTime = lastSignInDateTime
        self.lastNonInteractiveSignInDateTime = lastNonInteractiveSignInDateTime
        self.lastSuccessfulSignInDateTime = lastSuccessfulSignInDateTime
    }

    /// Reads the JSON the control API takes: the three dates as ISO 8601 strings or `null`
    /// (request ids are made up), e.g. `{"lastSuccessfulSignInDateTime": "2026-08-01T09:30:00Z"}`.
    init(json: JSONValue) throws(DirectoryChangeError) {
        guard case let .object(members) = json else {
            throw DirectoryChangeError(
                "send the sign-in activity as an object of dates, e.g. {\"lastSignInDateTime\": \"2026-08-01T09:30:00Z\"}, or null"
            )
        }
        func date(_ name: String) throws(DirectoryChangeError) -> Date? {
            switch members[name] {
            case nil, .null?: return nil
            case let .string(text)?:
                guard let seconds = UTCTime.epochSeconds(parsing: text) else {
                    throw DirectoryChangeError(
                        "'\(name)' must be an ISO 8601 date-time such as 2026-08-01T09:30:00Z, not '\(text)'"
                    )
                }
                return Date(timeIntervalSince1970: seconds)
            default: throw DirectoryChangeError("'\(name)' must be a string or null")
            }
        }
        let known: Set<String> = [
            "lastSignInDateTime", "lastNonInteractiveSignInDateTime", "lastSuccessfulSignInDateTime",
        ]
        if let unknown = members.keys.first(where: { !known.contains($0) && !$0.hasSuffix("RequestId") }) {
            throw DirectoryChangeError("unknown member '\(unknown)'; use \(known.sorted().joined(separator: ", "))")
        }
        self.init(
            lastSignInDateTime: try date("lastSignInDateTime"),
            lastNonInteractiveSignInDateTime: try date("lastNonInteractiveSignInDateTime"),
            lastSuccessfulSignInDateTime: try date("lastSuccessfulSignInDateTime")
        )
    }

    /// Graph's JSON: each date (`2026-08-01T09:30:00Z`) with its request id, `null` for both
    /// when that kind of sign-in never happened. `requestId` names the sign-in at a date.
    func graphValue(requestId: (Date) -> String = { _ in UUID().uuidString.lowercased() }) -> JSONValue {
        func pair(_ date: Date?) -> (JSONValue, JSONValue) {
            guard let date else { return (.null, .null) }
            return (.string(UTCTime(date.timeIntervalSince1970).iso8601), .string(requestId(date)))
        }
        let interactive = pair(lastSignInDateTime)
        let nonInteractive = pair(lastNonInteractiveSignInDateTime)
        let successful = pair(lastSuccessfulSignInDateTime)
        return .object([
            "lastSignInDateTime": interactive.0, "lastSignInRequestId": interactive.1,
            "lastNonInteractiveSignInDateTime": nonInteractive.0, "lastNonInteractiveSignInRequestId": nonInteractive.1,
            "lastSuccessfulSignInDateTime": successful.0, "lastSuccessfulSignInRequestId": successful.1,
        ])
    }
}
