/// The application permissions (app roles) Microsoft's permission tables accept for each Graph
/// call: the least privileged one and the higher privileged ones. A token holding none of them
/// gets 403 `Authorization_RequestDenied`.
///
/// Sources (microsoftgraph/microsoft-graph-docs-contrib, `api-reference/v1.0`, the
/// `includes/permissions/*-permissions.md` tables and learn.microsoft.com): user-list, user-get,
/// user-update, user-delete, user-assignlicense, user-delta, subscribedsku-list (whose least
/// privileged permission is now `LicenseAssignment.Read.All`), group-list, group-get,
/// group-list-members, group-list-transitivemembers, group-post-members, group-delete-members.
enum GraphPermissions {
    static let readUsers: Set<String> = [
        "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
    ]
    static let updateUser: Set<String> = ["User.ReadWrite.All", "Directory.ReadWrite.All"]
    /// user-delete: "Not available" beyond it; `Directory.ReadWrite.All` cannot delete users.
    static let deleteUser: Set<String> = ["User.ReadWrite.All"]
    static let assignLicense: Set<String> = [
        "LicenseAssignment.ReadWrite.All", "AgentIdUser.ReadWrite.All", "AgentIdUser.ReadWrite.IdentityParentedBy",
        "Directory.ReadWrite.All", "User.ReadWrite.All",
    ]
    static let readSubscribedSkus: Set<String> = [
        "LicenseAssignment.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "Organization.Read.All",
        "Organization.ReadWrite.All",
    ]
    /// group-list; the newest table also names `Group-NestingSupport.ReadWrite.All` and
    /// `Group.ManageProtection.All`.
    static let listGroups: Set<String> = [
        "GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
        "Directory.ReadWrite.All",
        "Group-NestingSupport.ReadWrite.All", "Group.ManageProtection.All",
    ]
    static let getGroup: Set<String> = [
        "GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
        "Directory.ReadWrite.All",
    ]
    static let listMembers: Set<String> = [
        "GroupMember.Read.All", "Directory.Read.All", "Group.Read.All", "Group.ReadWrite.All",
        "GroupMember.ReadWrite.All",
    ]
    static let listTransitiveMembers: Set<String> = [
        "GroupMember.ReadBasic.All", "Directory.Read.All", "Group.Read.All", "Group.ReadBasic.All",
        "Group.ReadWrite.All",
        "GroupMember.Read.All", "GroupMember.ReadWrite.All",
    ]
    static let writeMembers: Set<String> = [
        "GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All",
    ]
    /// group-delta.md's table.
    static let groupsDelta: Set<String> = [
        "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All",
        "Group.ReadWrite.All",
    ]
    /// user-post-users.md's table.
    static let createUser: Set<String> = ["User.ReadWrite.All", "Directory.ReadWrite.All"]
    /// Needed, besides a user-reading permission, to select or filter on `signInActivity`.
    static let readAuditLogs = "AuditLog.Read.All"
    /// Needed, besides a listing permission, to see the members of a `HiddenMembership` group.
    static let readHiddenMembers = "Member.Read.Hidden"

    /// The permissions that allow a call, or `nil` for calls that need none (`$batch` itself:
    /// its items are checked one by one).
    static func accepted(for route: GraphRoute, method: String) -> Set<String>? {
        switch route {
        case .users: method == "POST" ? createUser : readUsers
        case .usersDelta: readUsers
        case .groupsDelta: groupsDelta
        case .user:
            switch method {
            case "PATCH": updateUser
            case "DELETE": deleteUser
            default: readUsers
            }
        case .assignLicense: assignLicense
        case .subscribedSkus, .subscribedSku: readSubscribedSkus
        case .groups: listGroups
        case .group: getGroup
        case let .groupMembers(_, transitive, _): transitive ? listTransitiveMembers : listMembers
        case .memberReferences, .memberReference: writeMembers
        case let .count(listing): accepted(for: listing, method: method)
        case .batch, .me: nil
        }
    }
}
