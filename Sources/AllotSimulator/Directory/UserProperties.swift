/// The `microsoft.graph.user` properties Graph v1.0 knows, so that `$select` and `PATCH` reject
/// what the real service rejects.
enum UserProperties {
    /// Returned when a request has no `$select`.
    static let defaults = [
        "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
        "preferredLanguage", "surname", "userPrincipalName", "id",
    ]

    /// Collection-valued properties: an empty list, never `null`, when the user has none.
    static let collections: Set<String> = [
        "businessPhones", "imAddresses", "otherMails", "proxyAddresses", "identities", "assignedPlans",
        "provisionedPlans", "interests", "pastProjects", "responsibilities", "schools", "skills",
        "onPremisesProvisioningErrors", "serviceProvisioningErrors",
    ]

    /// Properties a `PATCH /users/{id}` may set here (and the JSON kind each takes).
    static let updatable: [String: UpdateKind] = [
        "usageLocation": .countryCode, "accountEnabled": .boolean, "department": .string, "jobTitle": .string,
        "city": .string, "country": .string, "officeLocation": .string, "companyName": .string,
        "employeeType": .string, "displayName": .string, "givenName": .string, "surname": .string,
        "mobilePhone": .string, "preferredLanguage": .string, "state": .string, "postalCode": .string,
        "streetAddress": .string, "employeeId": .string, "onPremisesExtensionAttributes": .extensionAttributes,
        "employeeHireDate": .dateTime, "employeeLeaveDateTime": .dateTime,
    ]

    /// Properties whose changes users delta does not report: the license fields (graph-facts §5,
    /// microsoftgraph/microsoft-graph-docs #16690) and sign-in activity, which the sign-in logs
    /// keep outside the directory's main store (delta-query-overview.md, "Changes to properties
    /// stored outside the main data store aren't tracked").
    static let untrackedByDelta: Set<String> = ["assignedLicenses", "licenseAssignmentStates", "signInActivity"]

    /// What a `PATCH` value must look like.
    enum UpdateKind {
        case string, boolean, countryCode, extensionAttributes
        /// A `DateTimeOffset`, stored as Graph writes it: `2025-07-14T16:14:05Z`.
        case dateTime
    }

    /// Needed to read `employeeLeaveDateTime` (without it Graph answers `null`), and, in its
    /// `ReadWrite` form, to set it (user.md: "To read this property, the calling app must be
    /// assigned the User-LifeCycleInfo.Read.All permission").
    static let readLifecycleInfo: Set<String> = ["User-LifeCycleInfo.Read.All", "User-LifeCycleInfo.ReadWrite.All"]
    static let writeLifecycleInfo = "User-LifeCycleInfo.ReadWrite.All"

    /// Every v1.0 user property, by lowercased name.
    static let canonicalNames: [String: String] = {
        let names = [
            "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "authorizationInfo",
            "birthday", "businessPhones", "city", "companyName", "consentProvidedForMinor", "country",
            "createdDateTime", "creationType", "customSecurityAttributes", "deletedDateTime", "department",
            "displayName", "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData",
            "employeeType", "externalUserState", "externalUserStateChangeDateTime", "faxNumber", "givenName",
            "hireDate", "id", "identities", "imAddresses", "interests", "isManagementRestricted",
            "isResourceAccount", "jobTitle", "lastPasswordChangeDateTime", "legalAgeGroupClassification",
            "licenseAssignmentStates", "mail", "mailboxSettings", "mailNickname", "mobilePhone", "mySite",
            "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes",
            "onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors",
            "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
            "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile", "pastProjects",
            "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName", "provisionedPlans",
            "proxyAddresses", "responsibilities", "schools", "securityIdentifier", "serviceProvisioningErrors",
            "showInAddressList", "signInActivity", "signInSessionsValidFromDateTime", "skills", "state",
            "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
        ]
        return Dictionary(uniqueKeysWithValues: names.map { ($0.lowercased(), $0) })
    }()
}
