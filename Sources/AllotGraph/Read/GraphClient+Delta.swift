import AllotCore
import Foundation
import NIOCore
import NIOHTTP1

/// Where the next users and groups delta rounds start: the `@odata.deltaLink`s of the last
/// rounds. Opaque; Graph keeps them valid for about seven days (directory objects).
public struct DeltaLinks: Sendable, Hashable {
    public var users: String
    public var groups: String

    public init(users: String, groups: String) {
        self.users = users
        self.groups = groups
    }
}

/// One delta round of users and groups: what changed, the links for the next round, and how
/// many requests it took.
public struct DeltaRound: Sendable {
    public var delta: TenantDelta
    public var links: DeltaLinks
    public var requests: Int
}

extension GraphClient {
    /// Starts tracking changes from now: `GET /users/delta` (the user principal name,
    /// `usageLocation`, `accountEnabled` and the tested attributes selected) and
    /// `GET /groups/delta` (`members` selected), each with `$deltatoken=latest`, which answers
    /// a deltaLink and no data. Two requests whatever the tenant size: the full read that
    /// follows holds the current state, and the next round holds everything changed since.
    public func startDelta(attributes: [String]) async throws -> DeltaLinks {
        let users = try await deltaLinkOnly(
            "\(graph.base)/users/delta?$select=\(Self.userDeltaSelect(attributes: attributes))&$deltatoken=latest",
            read: "users delta"
        )
        let groups = try await deltaLinkOnly(
            "\(graph.base)/groups/delta?$select=displayName,members&$deltatoken=latest",
            read: "groups delta"
        )
        return DeltaLinks(users: users, groups: groups)
    }

    /// Follows both links to the end of their rounds, folding every page into one
    /// ``TenantDelta``.
    /// - Throws: ``GraphReadError`` with reason ``GraphReadError/Reason/deltaExpired`` when
    ///   Graph refuses a link (410 Gone, `syncStateNotFound`), or another reason when a page
    ///   fails; nothing read is used then, and the links given stay the ones to follow.
    public func followDelta(_ links: DeltaLinks) async throws -> DeltaRound {
        var delta = TenantDelta()
        var requests = 0
        let users = try await followRound(links.users, read: "users delta", requests: &requests) { entry in
            try Self.addUser(entry, to: &delta)
        }
        let groups = try await followRound(links.groups, read: "groups delta", requests: &requests) { entry in
            try Self.addGroup(entry, to: &delta)
        }
        return DeltaRound(delta: delta, links: DeltaLinks(users: users, groups: groups), requests: requests)
    }

    /// Reads these users (the license fields and `attributes`) with `GET /users/{id}` in
    /// `$batch`es of 20. A user Graph no longer has (404) is left out.
    /// - Returns: the users read, and the number of `$batch` requests sent.
    /// - Throws: ``GraphReadError`` when a batch or one of its reads fails (after retries).
    public func readUsers(_ ids: [GUID], attributes: [String]) async throws -> (users: [DirectoryUser], requests: Int) {
        let select = Self.userSelect(attributes: attributes).map(FormEncoding.escape).joined(separator: ",")
        var users: [DirectoryUser] = []
        var requests = 0
        for start in stride(from: 0, to: ids.count, by: BatchRequest.maxRequests) {
            let chunk = Array(ids[start..<min(ids.count, start + BatchRequest.maxRequests)])
            let read = "users \(chunk[0]) and \(chunk.count - 1) more"
            let body = ReadBatch(
                requests: chunk.enumerated().map { index, id in
                    ReadBatch.Item(id: "\(index)", method: "GET", url: "/users/\(id)?$select=\(select)")
                }
            )
            requests += 1
            let response = try await sendRead(
                .POST,
                "\(graph.base)/$batch",
                read: read,
                operation: "POST /$batch",
                headers: [("Content-Type", "application/json")],
                body: Array(try JSONEncoder().encode(body))
            )
            guard
                let answers = try? JSONDecoder().decode(
                    ReadBatchResponse.self,
                    from: Data(response.body.readableBytesView)
                )
            else {
                throw GraphReadError(.malformedResponse, read: read, message: "the batch response could not be decoded")
            }
            for answer in answers.responses.sorted(by: { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }) {
                if answer.status == 404 { continue }
                guard (200..<300).contains(answer.status), let user = answer.body else {
                    let user = Int(answer.id).flatMap { chunk.indices.contains($0) ? chunk[$0] : nil }
                    throw GraphReadError(
                        .incomplete,
                        read: "user \(user.map(\.description) ?? answer.id)",
                        message:
                            "Graph answered \(answer.status) (\(answer.error?.code ?? "no code"): \(answer.error?.message ?? "no message")); nothing read is used"
                    )
                }
                users.append(user)
            }
        }
        return (users, requests)
    }

    /// The `$select` of the users delta: what a user's plan depends on besides licenses
    /// (which delta does not track).
    static func userDeltaSelect(attributes: [String]) -> String {
        var fields = ["id", "userPrincipalName", "usageLocation", "accountEnabled"]
        for root in UserPageDecoder.selectedRoots(of: attributes) where !fields.contains(root) { fields.append(root) }
        return fields.map(FormEncoding.escape).joined(separator: ",")
    }

    /// The `operation` label of a delta read (`users delta` -> `GET /users/delta`).
    static func deltaOperation(_ read: String) -> String {
        "GET /\(read.split(separator: " ")[0])/delta"
    }

    private func deltaLinkOnly(_ url: String, read: String) async throws -> String {
        var requests = 0
        return try await followRound(url, read: read, requests: &requests) { _ in }
    }

    /// Follows one round's pages from `link` to its `@odata.deltaLink`, handing each entry of
    /// `value` to `entry`.
    private func followRound(
        _ link: String,
        read: String,
        requests: inout Int,
        entry: (JSONValue) throws -> Void
    ) async throws -> String {
        var links = NextLinks(graph: graph, first: link)
        var url = link
        var page = 0
        while true {
            page += 1
            let pageRead = "\(read) page \(page)"
            requests += 1
            let response: GraphResponse
            do {
                response = try await executor.send(
                    .GET,
                    url,
                    host: graph.host,
                    operation: Self.deltaOperation(read),
                    authorizer: authorizer
                )
            } catch let error as GraphRequestError {
                throw GraphReadError(
                    .incomplete,
                    read: pageRead,
                    message: "the read did not complete; nothing read is used",
                    request: error
                )
            }
            let failure = response.isSuccess ? nil : response.error(operation: Self.deltaOperation(read))
            if let failure,
                response.status == 410 || ["syncStateNotFound", "resyncRequired"].contains(failure.code ?? "")
            {
                throw GraphReadError(
                    .deltaExpired,
                    read: pageRead,
                    message:
                        "Graph no longer accepts the delta link (\(failure.code ?? "\(response.status)")): the changes since the last round are lost, so a full read follows",
                    request: failure
                )
            }
            if let failure {
                throw GraphReadError(
                    .incomplete,
                    read: pageRead,
                    message: "the read did not complete; nothing read is used",
                    request: failure
                )
            }
            let decoded: DeltaPage
            do {
                decoded = try JSONDecoder().decode(DeltaPage.self, from: Data(response.body.readableBytesView))
                for value in decoded.value { try entry(value) }
            } catch {
                throw GraphReadError(
                    .malformedResponse,
                    read: pageRead,
                    message: "the page could not be decoded (\(error))"
                )
            }
            if let deltaLink = decoded.deltaLink, !deltaLink.isEmpty {
                guard graph.isSameOrigin(as: deltaLink) else {
                    throw GraphReadError(
                        .malformedResponse,
                        read: pageRead,
                        message: "@odata.deltaLink '\(deltaLink)' does not point at the Graph endpoint \(graph.base)"
                    )
                }
                return deltaLink
            }
            guard let next = try links.follow(decoded.nextLink, read: pageRead) else {
                throw GraphReadError(
                    .malformedResponse,
                    read: pageRead,
                    message: "the page carries neither @odata.nextLink nor @odata.deltaLink"
                )
            }
            url = next
        }
    }

    /// A users delta entry: changed or created (every selected property), or `@removed`.
    static func addUser(_ entry: JSONValue, to delta: inout TenantDelta) throws {
        guard case .object(var fields) = entry, case .string(let idText)? = fields["id"], let id = GUID(idText) else {
            throw DeltaEntryError(expected: "a user with an id")
        }
        if fields["@removed"] != nil {
            delta.userRemoved(id)
            return
        }
        guard case .string(let principalName)? = fields["userPrincipalName"] else {
            throw DeltaEntryError(expected: "user \(id) with a userPrincipalName")
        }
        var usageLocation: String?
        if case .string(let code)? = fields["usageLocation"] { usageLocation = code }
        for key in fields.keys where ["id", "userPrincipalName", "usageLocation"].contains(key) || key.hasPrefix("@") {
            fields[key] = nil
        }
        delta.userChanged(
            DirectoryUser(
                id: id,
                userPrincipalName: principalName,
                usageLocation: usageLocation,
                licenseAssignmentStates: nil,
                properties: fields
            )
        )
    }

    /// A groups delta entry: its `members@delta` additions and `@removed` members.
    static func addGroup(_ entry: JSONValue, to delta: inout TenantDelta) throws {
        guard case .object(let fields) = entry, case .string(let idText)? = fields["id"], let group = GUID(idText)
        else {
            throw DeltaEntryError(expected: "a group with an id")
        }
        guard case .array(let members)? = fields["members@delta"] else { return }
        for member in members {
            guard case .object(let memberFields) = member, case .string(let memberText)? = memberFields["id"],
                let id = GUID(memberText)
            else {
                throw DeltaEntryError(expected: "a members@delta entry with an id")
            }
            let kind: MembershipChange.MemberKind
            switch memberFields["@odata.type"] {
            case .string("#microsoft.graph.user")?, nil: kind = .user
            case .string("#microsoft.graph.group")?: kind = .group
            default: kind = .other
            }
            delta.membership(
                MembershipChange(group: group, member: id, memberKind: kind, added: memberFields["@removed"] == nil)
            )
        }
    }
}

/// A delta page entry without the fields Allot needs.
struct DeltaEntryError: Error, CustomStringConvertible {
    let expected: String
    var description: String { "expected \(expected)" }
}

/// A delta page: `value`, and either `@odata.nextLink` or `@odata.deltaLink`.
private struct DeltaPage: Decodable {
    let value: [JSONValue]
    let nextLink: String?
    let deltaLink: String?

    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
        case deltaLink = "@odata.deltaLink"
    }
}

/// A `$batch` of reads.
private struct ReadBatch: Encodable {
    struct Item: Encodable {
        let id: String
        let method: String
        let url: String
    }

    let requests: [Item]
}

/// The answers to a `$batch` of user reads.
private struct ReadBatchResponse: Decodable {
    struct Item: Decodable {
        let id: String
        let status: Int
        let body: DirectoryUser?
        let error: GraphErrorEnvelope.Body?

        private enum CodingKeys: String, CodingKey { case id, status, body }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            status = try container.decode(Int.self, forKey: .status)
            body = (200..<300).contains(status) ? try container.decodeIfPresent(DirectoryUser.self, forKey: .body) : nil
            error = (try? container.decodeIfPresent(GraphErrorEnvelope.self, forKey: .body))?.error
        }
    }

    let responses: [Item]
}
