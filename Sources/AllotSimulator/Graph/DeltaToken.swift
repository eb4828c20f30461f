import AllotCore

/// What a users or groups delta round carries in its `$skiptoken` and `$deltatoken`: opaque to
/// clients (base64url, like every ``PageToken``), complete for the simulator, which keeps no
/// state per round.
struct DeltaToken: Sendable, Equatable {
    enum Resource: UInt64, Sendable {
        case users = 1
        case groups = 2

        var path: String { self == .users ? "users" : "groups" }
    }

    var resource: Resource
    /// Whether the round sends the current state of everything (a first round) rather than
    /// what changed.
    var isFullRound: Bool
    /// Changes in directory versions after this one belong to the round.
    var since: UInt64
    /// The directory version when the round began: the next round's `since`.
    var round: UInt64
    /// Where the next page starts. Users: 0 while writing users (`offset` is the serial of the
    /// last user written), 1 while writing removals (`offset` is the next one). Groups: the
    /// group's index (`offset` is the next entry of its `members@delta`).
    var position: UInt64 = 0
    var offset: UInt64 = 0
    /// When the token was issued (milliseconds of the simulator's clock) and in which token
    /// generation: both decide whether it has expired.
    var issuedAt: UInt64 = 0
    var generation: UInt64 = 0
    /// The initial request's `$select` text (`nil`: Graph's default properties).
    var select: String?
    /// The initial request's `$filter` ids (`nil`: every object).
    var filterIds: [GUID]?

    /// `kind`: ``PageToken/Kind/deltaPage`` for a `$skiptoken`, ``PageToken/Kind/deltaLink`` for a `$deltatoken`.
    func encoded(as kind: PageToken.Kind) -> String {
        let numbers = [resource.rawValue, isFullRound ? 1 : 0, since, round, position, offset, issuedAt, generation]
        let text =
            (select.map { "s" + $0 } ?? "-") + "|" + (filterIds?.map(\.description).joined(separator: ",") ?? "-")
        return PageToken(kind: kind, numbers: numbers, text: text).encoded
    }

    /// Reads a token the simulator issued for this resource.
    /// - Throws: Graph's answer to a token it does not know (`Directory_ExpiredPageToken`).
    init(decoding text: String, kind: PageToken.Kind, resource: Resource) throws(GraphError) {
        let token = try PageToken(decoding: text, expecting: kind)
        let numbers = token.numbers
        let parts = token.text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
        guard numbers.count == 8, numbers[0] == resource.rawValue, parts.count == 2 else { throw PageToken.expired }
        self.resource = resource
        isFullRound = numbers[1] == 1
        (since, round, position, offset, issuedAt, generation) = (
            numbers[2], numbers[3], numbers[4], numbers[5], numbers[6], numbers[7]
        )
        select = parts[0] == "-" ? nil : String(parts[0].dropFirst())
        filterIds = parts[1] == "-" ? nil : parts[1].split(separator: ",").compactMap { GUID($0) }
    }

    init(resource: Resource, isFullRound: Bool, since: UInt64, round: UInt64, select: String?, filterIds: [GUID]?) {
        self.resource = resource
        self.isFullRound = isFullRound
        self.since = since
        self.round = round
        self.select = select
        self.filterIds = filterIds
    }
}
