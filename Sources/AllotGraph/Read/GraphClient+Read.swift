import AllotCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// How far a tenant read has come, for the engine's progress line.
public struct ReadProgress: Sendable, Hashable {
    /// User pages received so far.
    public var userPages: Int
    /// Users decoded so far.
    public var users: Int
    /// Group member pages received so far (all groups).
    public var memberPages: Int
}

/// Who reads users' `signInActivity`: the message when Graph refuses it says what to change.
public enum SignInActivityReader: Sendable {
    /// A loaded policy tests `signInActivity.*`.
    case policies
    /// `allot report` measures inactivity with it.
    case report
}

extension GraphClient {
    /// Reads everything a plan needs: all users (the license fields plus `attributes`), the
    /// referenced groups with their transitive user members, and the subscribed SKUs.
    ///
    /// Fails closed: if any page, group or SKU read fails (after retries), or a group
    /// reference matches no group or several, it throws a ``GraphReadError`` saying which read
    /// failed; it never returns part of the tenant as if it were all of it.
    ///
    /// - Parameters:
    ///   - attributes: the user properties the policies test, dotted for nested objects
    ///     (`onPremisesExtensionAttributes.extensionAttribute1`).
    ///   - groups: group references: an object id (GUID), or a display name that must match
    ///     exactly one group.
    ///   - reader: who needs `signInActivity`, when `attributes` name it: what the message says
    ///     to do when Graph refuses it.
    ///   - progress: called after every page (from any task; keep it cheap).
    public func readTenant(
        attributes: [String],
        groups: [String],
        signInActivityFor reader: SignInActivityReader = .policies,
        progress: (@Sendable (ReadProgress) -> Void)? = nil
    ) async throws -> TenantModel {
        let counter = ProgressCounter(report: progress)
        var jobs: [ReadJob] = [.users, .subscribedSkus]
        var seenReferences = Set<String>()
        for reference in groups where seenReferences.insert(reference.lowercased()).inserted {
            jobs.append(.group(reference))
        }
        let takenAt = Date().formatted(.iso8601)
        var builder: TenantBuilder?
        var skus: [SubscribedSku] = []
        var resolvedGroups: [Int: (group: DirectoryGroup, nested: Set<GUID>)] = [:]
        try await withThrowingTaskGroup(of: (Int, ReadOutput).self) { group in
            var next = 0
            func startNext() {
                guard next < jobs.count else { return }
                let index = next
                let job = jobs[index]
                next += 1
                group.addTask {
                    switch job {
                    case .users:
                        return (
                            index,
                            .users(
                                try await self.readUsers(
                                    attributes: attributes,
                                    takenAt: takenAt,
                                    reader: reader,
                                    counter: counter
                                )
                            )
                        )
                    case .subscribedSkus:
                        return (index, .subscribedSkus(try await self.readSubscribedSkus()))
                    case .group(let reference):
                        let read = try await self.readGroup(reference, counter: counter)
                        return (index, .group(read.group, nested: read.nested))
                    }
                }
            }
            for _ in 0..<min(configuration.concurrency.reads, jobs.count) { startNext() }
            while let (index, output) = try await group.next() {
                switch output {
                case .users(let users): builder = users
                case .subscribedSkus(let list): skus = list
                case .group(let directoryGroup, let nested): resolvedGroups[index] = (directoryGroup, nested)
                }
                startNext()
            }
        }
        guard var builder else { throw CancellationError() }
        for sku in skus { builder.add(sku) }
        var addedGroups = Set<GUID>()
        for index in resolvedGroups.keys.sorted() {
            let (group, nested) = resolvedGroups[index]!
            if addedGroups.insert(group.id).inserted { builder.add(group, nestedGroups: nested) }
        }
        do {
            return try builder.build()
        } catch {
            throw GraphReadError(
                .malformedResponse,
                read: "users",
                message: "Graph returned inconsistent data: \(error)"
            )
        }
    }

    private enum ReadJob: Sendable {
        case users, subscribedSkus
        case group(String)
    }

    private enum ReadOutput: Sendable {
        case users(TenantBuilder)
        case subscribedSkus([SubscribedSku])
        case group(DirectoryGroup, nested: Set<GUID>)
    }

    /// The `$select` of the users listing: the license fields plus the first component of each attribute path.
    static func userSelect(attributes: [String]) -> [String] {
        var fields = ["id", "userPrincipalName", "usageLocation", "assignedLicenses", "licenseAssignmentStates"]
        for root in UserPageDecoder.selectedRoots(of: attributes) where !fields.contains(root) { fields.append(root) }
        return fields
    }

    /// Users a page: Graph's maximum, which is lower when `signInActivity` is selected.
    public static func userPageSize(attributes: [String]) -> Int {
        userSelect(attributes: attributes).contains(PolicyDates.signInActivity) ? signInActivityPageSize : 999
    }

    /// Graph's maximum page size of a users listing that selects `signInActivity` (user-list.md).
    static let signInActivityPageSize = 500

    private func readUsers(
        attributes: [String],
        takenAt: String,
        reader: SignInActivityReader,
        counter: ProgressCounter
    ) async throws -> TenantBuilder {
        var builder = TenantBuilder(tenant: configuration.tenant, takenAt: takenAt, attributes: attributes)
        var decoder = UserPageDecoder(attributePaths: builder.attributePaths)
        let select = Self.userSelect(attributes: attributes).map(FormEncoding.escape).joined(separator: ",")
        var links = NextLinks(
            graph: graph,
            first: "\(graph.base)/users?$select=\(select)&$top=\(Self.userPageSize(attributes: attributes))"
        )
        var url: String? = links.first
        var page = 0
        while let current = url {
            page += 1
            let read = "users page \(page)"
            let response: GraphResponse
            do {
                response = try await getPage(current, read: read, operation: "GET /users")
            } catch let error as GraphReadError {
                throw Self.signInActivityRefusal(error, reader: reader) ?? error
            }
            let decoded: (users: Int, nextLink: String?)
            do {
                decoded = try decoder.decode(response.body, into: &builder)
            } catch {
                throw GraphReadError(
                    .malformedResponse,
                    read: read,
                    message: "the page could not be decoded (\(error)); client-request-id \(response.clientRequestId)"
                )
            }
            counter.add(userPages: 1, users: decoded.users)
            url = try links.follow(decoded.nextLink, read: read)
        }
        return builder
    }

    /// One page of a small listing, decoded with `JSONDecoder` (SKUs, groups by name).
    private struct ODataPage<Element: Decodable>: Decodable {
        let value: [Element]
        let nextLink: String?
        enum CodingKeys: String, CodingKey {
            case value
            case nextLink = "@odata.nextLink"
        }
    }

    /// Reads `GET /subscribedSkus` (every page): the SKUs and their seat counts.
    /// - Throws: ``GraphReadError`` naming the failed page.
    public func readSubscribedSkus() async throws -> [SubscribedSku] {
        var skus: [SubscribedSku] = []
        var links = NextLinks(graph: graph, first: "\(graph.base)/subscribedSkus")
        var url: String? = links.first
        var page = 0
        while let current = url {
            page += 1
            let read = page == 1 ? "subscribedSkus" : "subscribedSkus page \(page)"
            let response = try await getPage(current, read: read, operation: "GET /subscribedSkus")
            do {
                let decoded = try JSONDecoder().decode(
                    ODataPage<SubscribedSku>.self,
                    from: Data(response.body.readableBytesView)
                )
                skus += decoded.value
                url = try links.follow(decoded.nextLink, read: read)
            } catch let error as GraphReadError {
                throw error
            } catch {
                throw GraphReadError(
                    .malformedResponse,
                    read: read,
                    message: "the SKUs could not be decoded (\(error))"
                )
            }
        }
        return skus
    }

    /// Resolves a group reference to exactly one group and reads its transitive user members,
    /// and the groups nested in it at any depth (the fast path credits their joiners to it).
    ///
    /// Members come from the standard listing `GET /groups/{id}/transitiveMembers`, which is
    /// strongly consistent, not from the `microsoft.graph.user` cast: a cast needs
    /// `ConsistencyLevel: eventual` and is served from an index that "might not be up-to-date
    /// with recent changes" (docs/graph-client.md). Entries typed as anything but a user (nested
    /// groups, devices, contacts) are skipped.
    private func readGroup(
        _ reference: String,
        counter: ProgressCounter
    ) async throws -> (group: DirectoryGroup, nested: Set<GUID>) {
        let info = try await resolveGroup(reference)
        if info.visibility?.lowercased() == "hiddenmembership" { try await requireHiddenMembershipPermission(info) }
        var members: [GUID] = []
        var nested: [GUID] = []
        var links = NextLinks(
            graph: graph,
            first: "\(graph.base)/groups/\(info.id)/transitiveMembers?$select=id&$top=999"
        )
        var url: String? = links.first
        var page = 0
        while let current = url {
            page += 1
            let read = "members of group '\(info.displayName)' (\(info.id)) page \(page)"
            let response = try await getPage(current, read: read, operation: "GET /groups/{id}/transitiveMembers")
            let nextLink: String?
            do {
                nextLink = try CollectionPage.userIds(response.body, into: &members, groups: &nested)
            } catch {
                throw GraphReadError(
                    .malformedResponse,
                    read: read,
                    message: "the page could not be decoded (\(error))"
                )
            }
            counter.add(memberPages: 1)
            url = try links.follow(nextLink, read: read)
        }
        return (DirectoryGroup(id: info.id, displayName: info.displayName, members: members), Set(nested))
    }

    /// A group with hidden membership lists its members only to an application holding
    /// `Member.Read.Hidden`; without it Graph answers with fewer members (or none) rather than
    /// an error, and a plan made from that would remove licenses. The token's `roles` claim
    /// says whether the permission is there; a token Allot cannot read counts as without it.
    private func requireHiddenMembershipPermission(_ group: ResolvedGroup) async throws {
        let token = try await tokens.token(rejecting: nil)
        if let refusal = Self.hiddenMembershipRefusal(groupId: group.id, displayName: group.displayName, token: token) {
            throw refusal
        }
    }

    /// Why the members of a hidden-membership group cannot be read with `token`, or `nil` when
    /// its `roles` claim holds `Member.Read.Hidden`.
    static func hiddenMembershipRefusal(groupId: GUID, displayName: String, token: String) -> GraphReadError? {
        let roles = AccessTokenRoles.roles(of: token)
        if let roles, roles.contains(hiddenMembershipPermission) { return nil }
        let why =
            roles == nil
            ? "the access token is not a JWT whose roles claim Allot can read, so it cannot tell whether the application holds the \(hiddenMembershipPermission) permission"
            : "the application's access token lacks the \(hiddenMembershipPermission) application permission"
        return GraphReadError(
            .membershipHidden,
            read: "group '\(displayName)' (\(groupId))",
            message:
                "the group has hidden membership (visibility HiddenMembership) and \(why); Graph would list it without its members, "
                + "so nothing is planned. Grant \(hiddenMembershipPermission) to the app registration (application permission, "
                + "with admin consent; deploy/app-registration.md), or stop referencing the group"
        )
    }

    /// The error to report when Graph refused a users page for its `signInActivity`: the
    /// permission or the tenant's license it lacks, and what to do; `nil` for other failures.
    static func signInActivityRefusal(_ error: GraphReadError, reader: SignInActivityReader) -> GraphReadError? {
        guard let request = error.request, request.status == 403 else { return nil }
        let why: String
        switch request.code {
        case "Authentication_MSGraphPermissionMissing":
            why =
                "the application lacks the \(signInActivityPermission) permission, which Graph requires for signInActivity. "
                + "Grant \(signInActivityPermission) to the app registration (application permission, with admin consent; deploy/app-registration.md)"
        case "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
            why =
                "the tenant has no Microsoft Entra ID P1 (or P2) license, without which Graph keeps no signInActivity. "
                + "License the tenant for Entra ID P1"
        default:
            return nil
        }
        let message =
            switch reader {
            case .policies:
                "Graph refused to read users' sign-in activity, which a policy tests: \(why), or stop testing signInActivity.* in the policies; "
                    + "nothing is planned"
            case .report:
                "Graph refused to read users' sign-in activity, which `allot report` reads for its inactive columns: \(why), "
                    + "or run `allot report --no-activity`; nothing is reported"
            }
        return GraphReadError(.signInActivityRefused, read: error.read, message: message, request: request)
    }

    /// The application permission Graph requires to read users' `signInActivity`.
    static let signInActivityPermission = "AuditLog.Read.All"

    /// The application permission Graph requires to list a hidden-membership group's members.
    static let hiddenMembershipPermission = "Member.Read.Hidden"

    /// A group as its lookup answered.
    private struct ResolvedGroup {
        let id: GUID
        let displayName: String
        /// Graph's `visibility` (`Public`, `Private`, `HiddenMembership`), when set.
        let visibility: String?
    }

    private struct GroupEntry: Decodable {
        let id: GUID
        let displayName: String?
        let visibility: String?
    }

    private func resolveGroup(_ reference: String) async throws -> ResolvedGroup {
        if let id = GUID(reference) {
            let read = "group \(id)"
            let url = "\(graph.base)/groups/\(id)?$select=\(Self.groupSelect)"
            let response = try await executor.send(
                .GET,
                url,
                host: graph.host,
                operation: "GET /groups/{id}",
                authorizer: authorizer
            )
            if response.status == 404 {
                throw GraphReadError(
                    .groupNotFound,
                    read: read,
                    message: "no group has the object id \(id); fix the policy's group reference",
                    request: response.error(operation: "GET /groups/{id}")
                )
            }
            guard response.isSuccess else {
                throw GraphReadError(
                    .incomplete,
                    read: read,
                    message: "the group could not be read",
                    request: response.error(operation: "GET /groups/{id}")
                )
            }
            guard let entry = try? JSONDecoder().decode(GroupEntry.self, from: Data(response.body.readableBytesView))
            else {
                throw GraphReadError(.malformedResponse, read: read, message: "the group could not be decoded")
            }
            return ResolvedGroup(
                id: entry.id,
                displayName: entry.displayName ?? reference,
                visibility: entry.visibility
            )
        }
        let read = "group '\(reference)'"
        let literal = reference.replacingOccurrences(of: "'", with: "''")
        let filter = FormEncoding.escape("displayName eq '\(literal)'")
        // Every page: a name is unambiguous only if no later page holds another group with it.
        var entries: [GroupEntry] = []
        var links = NextLinks(graph: graph, first: "\(graph.base)/groups?$filter=\(filter)&$select=\(Self.groupSelect)")
        var url: String? = links.first
        while let current = url {
            let response = try await getPage(current, read: read, operation: "GET /groups?$filter")
            guard
                let page = try? JSONDecoder().decode(
                    ODataPage<GroupEntry>.self,
                    from: Data(response.body.readableBytesView)
                )
            else {
                throw GraphReadError(.malformedResponse, read: read, message: "the group search could not be decoded")
            }
            entries += page.value
            url = try links.follow(page.nextLink, read: read)
        }
        let matches = entries.filter { ($0.displayName ?? "").lowercased() == reference.lowercased() }
        switch matches.count {
        case 1:
            return ResolvedGroup(
                id: matches[0].id,
                displayName: matches[0].displayName ?? reference,
                visibility: matches[0].visibility
            )
        case 0:
            throw GraphReadError(
                .groupNotFound,
                read: read,
                message:
                    "no group has the display name '\(reference)'; fix the policy's group reference (names compare case-insensitively)"
            )
        default:
            let ids = matches.map { $0.id.description }.joined(separator: ", ")
            throw GraphReadError(
                .groupAmbiguous,
                read: read,
                message:
                    "\(matches.count) groups have the display name '\(reference)' (\(ids)); reference the intended one by its object id"
            )
        }
    }

    /// The group properties a lookup asks for.
    static let groupSelect = "id,displayName,visibility"

    /// GETs one page; a failure (after retries) is a ``GraphReadError/Reason/incomplete`` read.
    func getPage(_ url: String, read: String, operation: String) async throws -> GraphResponse {
        try await sendRead(.GET, url, read: read, operation: operation)
    }

    /// Sends one request of a read (a page, or a `$batch` of reads); a failure (after retries)
    /// is a ``GraphReadError/Reason/incomplete`` read.
    func sendRead(
        _ method: HTTPMethod,
        _ url: String,
        read: String,
        operation: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws -> GraphResponse {
        let response: GraphResponse
        do {
            response = try await executor.send(
                method,
                url,
                host: graph.host,
                operation: operation,
                headers: headers,
                body: body,
                authorizer: authorizer
            )
        } catch let error as GraphRequestError {
            throw GraphReadError(
                .incomplete,
                read: read,
                message: "the read did not complete; nothing read is used",
                request: error
            )
        }
        guard response.isSuccess else {
            throw GraphReadError(
                .incomplete,
                read: read,
                message: "the read did not complete; nothing read is used",
                request: response.error(operation: operation)
            )
        }
        return response
    }
}

/// The `@odata.nextLink`s of one paged listing, checked before they are followed: each must
/// point at the Graph endpoint (Allot's token goes nowhere else), and none may repeat a link
/// already followed, since a listing that links back to an earlier page would be read forever.
struct NextLinks {
    let graph: Endpoint
    /// The listing's first request, which no link may lead back to either.
    let first: String
    private var followed: Set<String>

    init(graph: Endpoint, first: String) {
        self.graph = graph
        self.first = first
        followed = [first]
    }

    /// The link to request next, or `nil` at the last page.
    /// - Throws: ``GraphReadError/Reason/malformedResponse`` naming `read` and the link.
    mutating func follow(_ link: String?, read: String) throws(GraphReadError) -> String? {
        guard let link, !link.isEmpty else { return nil }
        guard graph.isSameOrigin(as: link) else {
            throw GraphReadError(
                .malformedResponse,
                read: read,
                message: "@odata.nextLink '\(link)' does not point at the Graph endpoint \(graph.base)"
            )
        }
        guard followed.insert(link).inserted else {
            throw GraphReadError(
                .malformedResponse,
                read: read,
                message:
                    "@odata.nextLink '\(link)' repeats a page already read: the listing would never end, so nothing read is used"
            )
        }
        return link
    }
}

/// Counts pages and users across the concurrent reads and reports each change.
final class ProgressCounter: Sendable {
    private let state = Mutex(ReadProgress(userPages: 0, users: 0, memberPages: 0))
    private let report: (@Sendable (ReadProgress) -> Void)?

    init(report: (@Sendable (ReadProgress) -> Void)?) {
        self.report = report
    }

    func add(userPages: Int = 0, users: Int = 0, memberPages: Int = 0) {
        let snapshot = state.withLock { progress in
            progress.userPages += userPages
            progress.users += users
            progress.memberPages += memberPages
            return progress
        }
        report?(snapshot)
    }
}
