import AllotCore
import HTTPTypes
import Synchronization

extension GraphService {
    /// `GET /users/delta`: a first round of every user in pages, then rounds of the users whose
    /// tracked properties changed since the round's token, and the users deleted since.
    ///
    /// `$select` sets the tracked properties (a change to another does not bring the user back);
    /// licenses and sign-in activity are never tracked (``UserProperties/untrackedByDelta``).
    /// `Prefer: return=minimal` writes only the properties that changed.
    func usersDelta(_ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let preferences = deltaPreferences(request)
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let store = directory.users
            let start = try deltaStart(request, resource: .users, version: directory.version, origin: origin)
            var writer = JSONWriter(capacity: 256)
            switch start {
            case let .latest(token):
                let selection = try userSelection(token.select, store: store, request, alwaysIncludeId: true)
                writer.raw("{\"@odata.context\":")
                writer.string("\(origin)/v1.0/$metadata#\(selection.contextSuffix("users"))")
                writeDeltaLink(token, done: true, request: request, origin: origin, into: &writer)
                writer.raw(",\"value\":[]}")
            case let .token(token):
                let selection = try userSelection(token.select, store: store, request, alwaysIncludeId: true)
                writer = usersDeltaPage(
                    token,
                    selection: selection,
                    directory: directory,
                    pageSize: preferences.pageSize,
                    minimal: preferences.minimal,
                    request: request,
                    origin: origin
                )
            }
            return writer.bytes
        }
        var response = GraphResponse.json(body)
        if let applied = preferences.applied { response.headers[.preferenceApplied] = applied }
        return response
    }

    /// One page of a users delta round: users from the token's place on (in creation order, so
    /// users created or deleted meanwhile move nobody), then, after a first round, the removals.
    private func usersDeltaPage(
        _ token: DeltaToken,
        selection: UserSelection,
        directory: Directory,
        pageSize: Int,
        minimal: Bool,
        request: GraphRequest,
        origin: String
    ) -> JSONWriter {
        let store = directory.users
        let tracked = selection.names.filter { $0 != "id" && !UserProperties.untrackedByDelta.contains($0) }
        let wanted = token.filterIds.map(Set.init)
        var next = token
        var writer = JSONWriter(capacity: 256 + pageSize * 700)
        var values = JSONWriter(capacity: pageSize * 700)
        var written = 0
        var first = true
        var done = false

        if next.position == 0 {
            let from = store.index(afterSerial: UInt32(clamping: next.offset))
            // The filtered users, or every user from `from` on (a range: a first round of a
            // million users pages without copying their indices for every page).
            let filtered = token.filterIds.map { ids in
                ids.compactMap(store.index(ofId:)).filter { $0 >= from }.sorted()
            }
            var position = filtered == nil ? from : 0
            var reachedEnd = true
            while position < (filtered?.count ?? store.count) {
                let user = filtered?[position] ?? position
                position += 1
                var changed: [String]?
                if !token.isFullRound {
                    guard store.changedIn[user] > token.since else { continue }
                    let properties = directory.userChanges.changed(tracked, of: store.ids[user], since: token.since)
                    guard !properties.isEmpty else { continue }
                    changed = properties
                }
                if written == pageSize {
                    reachedEnd = false
                    break
                }
                values.comma(&first)
                selection.write(user: user, store: store, only: minimal ? changed.map(Set.init) : nil, into: &values)
                next.offset = UInt64(store.serials[user])
                written += 1
            }
            if reachedEnd {
                next.position = 1
                next.offset = 0
            }
        }
        if next.position == 1 {
            let removals =
                token.isFullRound
                ? []
                : directory.userChanges.removals(since: token.since, through: token.round).filter {
                    wanted?.contains($0.id) ?? true
                }
            let from = Int(min(next.offset, UInt64(removals.count)))
            let end = min(removals.count, from + (pageSize - written))
            for removal in removals[from..<end] {
                values.comma(&first)
                values.raw("{\"id\":")
                values.guid(removal.id)
                values.raw(
                    removal.permanent
                        ? ",\"@removed\":{\"reason\":\"deleted\"}}" : ",\"@removed\":{\"reason\":\"changed\"}}"
                )
            }
            next.offset = UInt64(end)
            done = end == removals.count
        }
        writer.raw("{\"@odata.context\":")
        writer.string("\(origin)/v1.0/$metadata#\(selection.contextSuffix("users"))")
        writeDeltaLink(next, done: done, request: request, origin: origin, into: &writer)
        writer.raw(",\"value\":[")
        writer.raw(values.bytes)
        writer.raw("]}")
        return writer
    }
}
