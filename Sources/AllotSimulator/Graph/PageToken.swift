import AllotCore
import HTTPTypes

/// The opaque `$skiptoken` and `$deltatoken` values the simulator hands out: base64url of a
/// kind, numbers and an optional text, so a client cannot build one by accident.
struct PageToken: Equatable, Sendable {
    /// What the token continues: `users`, `groups`, `members`, a delta round, a delta link.
    enum Kind: String, Sendable {
        case users = "u"
        case groups = "g"
        case members = "m"
        case deltaPage = "d"
        case deltaLink = "l"
    }

    let kind: Kind
    let numbers: [UInt64]
    let text: String

    init(kind: Kind, numbers: [UInt64], text: String = "") {
        self.kind = kind
        self.numbers = numbers
        self.text = text
    }

    var encoded: String {
        Base64URL.encode(
            Array("allot1|\(kind.rawValue)|\(numbers.map(String.init).joined(separator: "."))|\(text)".utf8)
        )
    }

    /// Reads a token of the expected kind.
    /// - Throws: Graph's answer to a page token it does not know.
    init(decoding token: String, expecting kind: Kind) throws(GraphError) {
        guard let bytes = Base64URL.decode(token[...]) else { throw Self.expired }
        let parts = String(decoding: bytes, as: UTF8.self).split(
            separator: "|",
            maxSplits: 3,
            omittingEmptySubsequences: false
        )
        guard parts.count == 4, parts[0] == "allot1", parts[1] == kind.rawValue else { throw Self.expired }
        let numbers = parts[2].split(separator: ".").compactMap { UInt64($0) }
        self.init(kind: kind, numbers: numbers, text: String(parts[3]))
    }

    static let expired = GraphError(
        status: .badRequest,
        code: "Directory_ExpiredPageToken",
        message: "The specified page token value has expired and can no longer be included in your request."
    )
}
