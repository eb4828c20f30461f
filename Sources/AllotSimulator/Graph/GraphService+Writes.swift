import AllotCore
import Foundation
import HTTPTypes
import Synchronization

/// The writes an administrator makes (and Allot's `PATCH` of usage locations): user updates and
/// deletion, group membership by reference.
extension GraphService {
    /// `PATCH /users/{id | userPrincipalName}`: 204. With a consistency lag, reads (and
    /// `assignLicense`'s checks) see the new values only once the lag has passed.
    func updateUser(_ key: String, _ request: GraphRequest) throws(GraphError) -> GraphResponse {
        if request.body?.objectValue?.keys.contains(where: { $0.lowercased() == "employeeleavedatetime" }) == true,
            !request.caller.roles.contains(UserProperties.writeLifecycleInfo)
        {
            // user.md: "To write this property, the calling app must be assigned the
            // User.Read.All and User-LifeCycleInfo.ReadWrite.All permissions."
            throw GraphError.forbidden()
        }
        let lag = state.configuration.consistencyLag
        let visibleAt = lag > .zero ? state.configuration.clock.now + lag : nil
        try state.directory.withLock { directory throws(GraphError) in
            try directory.updateUser(key, body: request.body, visibleAt: visibleAt)
        }
        return .noContent()
    }

    /// `POST /users`: 201 with the new user (Graph's default properties). Users delta reports
    /// them whole in its next round.
    func createUser(_ request: GraphRequest, origin: String) throws(GraphError) -> GraphResponse {
        let createdDateTime = UTCTime(state.wallClockNow().timeIntervalSince1970).iso8601
        let id = GUID(UUID().uuidString) ?? GUID(high: 0, low: 0)
        let body = try state.directory.withLock { directory throws(GraphError) -> [UInt8] in
            let user = try directory.createUser(body: request.body, id: id, createdDateTime: createdDateTime)
            let selection = try UserSelection.resolve(nil, store: directory.users)
            return Self.entity(user: user, store: directory.users, selection: selection, origin: origin)
        }
        return .json(body, status: .created)
    }

    /// `DELETE /users/{id | userPrincipalName}`: 204; the user leaves every group and frees their
    /// seats, and later calls naming them answer 404.
    func deleteUser(_ key: String) throws(GraphError) -> GraphResponse {
        let now = state.configuration.clock.now
        try state.directory.withLock { directory throws(GraphError) in
            guard let user = directory.users.index(ofIdOrPrincipalName: key) else { throw .notFound(key) }
            directory.deleteUser(user, at: now)
        }
        return .noContent()
    }

    /// `POST /groups/{id}/members/$ref` with `{"@odata.id": ".../directoryObjects/{id}"}`: 204,
    /// 400 when the user is already a direct member, 404 for an unknown object.
    func addMember(toGroup key: String, _ request: GraphRequest) throws(GraphError) -> GraphResponse {
        let memberKey = try Self.referencedObjectId(request.body)
        let now = state.configuration.clock.now
        try state.directory.withLock { directory throws(GraphError) in
            let group = try Self.groupIndex(key, in: directory)
            let id = GUID(memberKey)
            guard let user = id.flatMap(directory.users.index(ofId:)) else {
                if let id, directory.groupIndex[id] != nil {
                    throw .badRequest(
                        "The simulator adds users to groups, not groups: nesting group \(memberKey) is not supported."
                    )
                }
                throw .notFound(memberKey)
            }
            try directory.addMember(user: user, to: group, at: now)
        }
        return .noContent()
    }

    /// `DELETE /groups/{id}/members/{memberId}/$ref`: 204, 404 when not a direct member.
    func removeMember(_ memberKey: String, fromGroup key: String) throws(GraphError) -> GraphResponse {
        let now = state.configuration.clock.now
        try state.directory.withLock { directory throws(GraphError) in
            let group = try Self.groupIndex(key, in: directory)
            guard let user = GUID(memberKey).flatMap(directory.users.index(ofId:)) else { throw .notFound(memberKey) }
            try directory.removeMember(user: user, from: group, key: memberKey, at: now)
        }
        return .noContent()
    }

    /// The object id at the end of a reference body's `@odata.id`
    /// (`https://graph.microsoft.com/v1.0/directoryObjects/{id}`, or `.../users/{id}`).
    static func referencedObjectId(_ body: JSONValue?) throws(GraphError) -> String {
        let segments =
            body?.objectValue?["@odata.id"]?.stringValue.map { $0.split(separator: "/").map(String.init) } ?? []
        guard segments.count >= 2,
            ["directoryobjects", "users", "groups"].contains(segments[segments.count - 2].lowercased()),
            let id = segments.last
        else {
            throw .badRequest(
                "The request body must be {\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/{id}\"} naming the member to add.",
                code: "BadRequest"
            )
        }
        return id
    }
}
