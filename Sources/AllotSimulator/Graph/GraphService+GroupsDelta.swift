import AllotCore
import HTTPTypes
import Synchronization

extension GraphService {
    /// `GET /groups/delta`: a first round of every group, with its direct members in
    /// `members@delta` when `members` is selected (or nothing is), then rounds of the groups
    /// whose direct membership changed, each with the members added and those removed
    /// (`"@removed": {"reason": "deleted"}`).
    ///
    /// A page holds at most the page size of objects, a group and each `members@delta` entry
    /// counting one: a large group's members go over several pages, the group repeated on each
    /// (delta-query-groups.md, "Paging through members in a large group").
    func groupsDelta(_ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let preferences = deltaPreferences(request)
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let start = try deltaStart(request, resource: .groups, version: directory.version, origin: origin)
            var writer = JSONWriter(capacity: 256)
            switch start {
            case let .latest(token):
                let selection = try Self.groupDeltaSelection(token.select)
                writer.raw("{\"@odata.context\":")
                writer.string("\(origin)/v1.0/$metadata#\(selection.context)")
                writeDeltaLink(token, done: true, request: request, origin: origin, into: &writer)
                writer.raw(",\"value\":[]}")
            case let .token(token):
                let selection = try Self.groupDeltaSelection(token.select)
                writer = groupsDeltaPage(
                    token,
                    selection: selection,
                    directory: directory,
                    pageSize: preferences.pageSize,
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

    /// What a groups delta tracks: properties (always with `id`) and whether `members` is selected.
    struct GroupDeltaSelection {
        var properties: [String]
        var members: Bool
        var context: String
    }

    /// `$select` on groups delta: group properties and the `members` relationship; without
    /// `$select`, Graph's default properties and the members (delta-query-groups.md).
    static func groupDeltaSelection(_ select: String?) throws(GraphError) -> GroupDeltaSelection {
        let (names, explicit) = try groupSelection(select, extra: ["members"])
        var properties = names.filter { $0 != "members" }
        if !properties.contains("id") { properties.append("id") }
        let context = explicit ? "groups(\(names.joined(separator: ",")))" : "groups"
        return GroupDeltaSelection(
            properties: properties,
            members: !explicit || names.contains("members"),
            context: context
        )
    }

    /// A group's `members@delta` in a first round: built once per group and round (sorting a
    /// million members takes a while), then sliced page by page.
    private func firstRoundEntries(of group: Int, round: UInt64, in directory: Directory) -> [MemberDeltaEntry] {
        let id = directory.groups[group].id
        if let cached = state.memberEntries.withLock({ $0 }), cached.group == id, cached.round == round {
            return cached.entries
        }
        let entries = directory.directMemberEntries(of: group, asOf: round)
        state.memberEntries.withLock { $0 = MemberEntriesCache(group: id, round: round, entries: entries) }
        return entries
    }

    private func groupsDeltaPage(
        _ token: DeltaToken,
        selection: GroupDeltaSelection,
        directory: Directory,
        pageSize: Int,
        request: GraphRequest,
        origin: String
    ) -> JSONWriter {
        let candidates: [Int]
        if let ids = token.filterIds {
            candidates = Set(ids.compactMap { directory.groupIndex[$0] }).sorted()
        } else {
            candidates = Array(directory.groups.indices)
        }
        let seesHidden = request.caller.roles.contains(GraphPermissions.readHiddenMembers)
        var next = token
        var values = JSONWriter(capacity: pageSize * 120)
        var budget = pageSize
        var first = true
        var done = true
        for group in candidates where group >= Int(next.position) {
            if group > Int(next.position) { (next.position, next.offset) = (UInt64(group), 0) }
            if budget <= 0 {
                done = false
                break
            }
            let record = directory.groups[group]
            // A HiddenMembership group shows no members without Member.Read.Hidden, as its
            // member listings do (docs/simulator.md, "Hidden membership").
            let showsMembers = selection.members && (!record.hidesMembership || seesHidden)
            let entries: [MemberDeltaEntry]
            if token.isFullRound {
                entries = showsMembers ? firstRoundEntries(of: group, round: token.round, in: directory) : []
            } else {
                // Groups never change their own properties here: a later round is membership only.
                guard showsMembers, directory.hasDirectMemberChanges(group, since: token.since, through: token.round)
                else { continue }
                entries = directory.directMemberChanges(of: group, since: token.since, through: token.round)
            }
            let from = min(Int(next.offset), entries.count)
            let slice = entries[from..<min(entries.count, from + max(1, budget - 1))]
            values.comma(&first)
            values.byte(UInt8(ascii: "{"))
            var firstField = true
            Self.writeGroupFields(record, properties: selection.properties, first: &firstField, into: &values)
            if !slice.isEmpty {
                values.raw(",\"members@delta\":[")
                var firstEntry = true
                for entry in slice {
                    values.comma(&firstEntry)
                    values.raw(
                        entry.isGroup
                            ? "{\"@odata.type\":\"#microsoft.graph.group\",\"id\":"
                            : "{\"@odata.type\":\"#microsoft.graph.user\",\"id\":"
                    )
                    values.guid(entry.id)
                    values.raw(entry.removed ? ",\"@removed\":{\"reason\":\"deleted\"}}" : "}")
                }
                values.byte(UInt8(ascii: "]"))
            }
            values.byte(UInt8(ascii: "}"))
            budget -= 1 + slice.count
            if slice.endIndex < entries.count {
                next.offset = UInt64(slice.endIndex)
                done = false
                break
            }
            (next.position, next.offset) = (UInt64(group + 1), 0)
        }
        var writer = JSONWriter(capacity: values.bytes.count + 512)
        writer.raw("{\"@odata.context\":")
        writer.string("\(origin)/v1.0/$metadata#\(selection.context)")
        writeDeltaLink(next, done: done, request: request, origin: origin, into: &writer)
        writer.raw(",\"value\":[")
        writer.raw(values.bytes)
        writer.raw("]}")
        return writer
    }
}

/// The `members@delta` list of the group a first groups delta round is paging through. The list
/// is the members as of the round's start, so it stays right however the directory changes.
struct MemberEntriesCache: Sendable {
    let group: GUID
    let round: UInt64
    let entries: [MemberDeltaEntry]
}
