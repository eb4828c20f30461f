import AllotCore
import AllotTools
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Changes the simulated tenant between cycles as an administrator would, through the
/// simulator's Graph API (`assignLicense`, `PATCH /users/{id}`, membership `$ref`s), reads
/// licenses for the soak's checks, and arms faults through its control API.
final class TenantAdmin {
    private let http: HTTPClient
    private let baseURL: String
    private var token = ""
    private var userIds: [String] = []
    private var enabledUserIds: [String] = []
    /// The managed SKUs' ids.
    private var skus: [String] = []
    /// Every subscribed SKU's id by part number.
    private var skuIds: [String: String] = [:]
    static let tenant = "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21"
    static let managed: Set<String> = [
        "SPE_E3", "SPE_E5", "STANDARDPACK", "POWER_BI_PRO", "PROJECTPROFESSIONAL", "VISIOCLIENT",
    ]
    static let countries = ["US", "GB", "DE", "FR", "NL", "IN", "JP", "CA", "AU", "BR"]

    init(http: HTTPClient, baseURL: String) {
        self.http = http
        self.baseURL = baseURL
    }

    /// Gets a token, the user ids and the managed SKU ids.
    func prepare() async throws {
        try await refreshToken()
        for user in try await list("\(baseURL)/v1.0/users?$select=id,accountEnabled&$top=999") {
            guard let id = user["id"] as? String else { continue }
            userIds.append(id)
            if user["accountEnabled"] as? Bool == true { enabledUserIds.append(id) }
        }
        let subscribed = try await json(.GET, "\(baseURL)/v1.0/subscribedSkus")
        for sku in subscribed["value"] as? [[String: Any]] ?? [] {
            guard let name = sku["skuPartNumber"] as? String, let id = sku["skuId"] as? String else { continue }
            skuIds[name] = id
            if Self.managed.contains(name) { skus.append(id) }
        }
        guard !userIds.isEmpty, !skus.isEmpty else {
            throw SoakError("the simulator returned no users or no managed SKUs")
        }
    }

    /// Drifts `count` random users: removes a managed SKU they hold, adds one they do not,
    /// re-enables every plan of one they hold, or moves their usage location. Returns how many
    /// changes Graph accepted (an add may fail for lack of seats, as it would in a tenant), and
    /// the users drifted.
    func drift(users count: Int, random: inout SplitMix64) async throws -> (accepted: Int, users: [String]) {
        var accepted = 0
        var drifted: [String] = []
        for _ in 0..<count {
            guard let user = random.element(userIds) else { break }
            drifted.append(user)
            let details = try await json(.GET, "\(baseURL)/v1.0/users/\(user)?$select=id,assignedLicenses")
            let held = (details["assignedLicenses"] as? [[String: Any]] ?? []).compactMap { $0["skuId"] as? String }
                .filter(skus.contains)
            let body: [String: Any]
            switch random.below(4) {
            case 0 where !held.isEmpty:
                body = ["addLicenses": [], "removeLicenses": [random.element(held)!]]
            case 2 where !held.isEmpty:
                body = ["addLicenses": [["skuId": random.element(held)!, "disabledPlans": []]], "removeLicenses": []]
            case 3:
                let location = ["usageLocation": random.element(Self.countries)!]
                if try await send(.PATCH, "\(baseURL)/v1.0/users/\(user)", location) < 300 { accepted += 1 }
                continue
            default:
                guard let sku = random.element(skus.filter { !held.contains($0) }) else { continue }
                body = ["addLicenses": [["skuId": sku, "disabledPlans": []]], "removeLicenses": []]
            }
            if try await send(.POST, "\(baseURL)/v1.0/users/\(user)/assignLicense", body) < 300 { accepted += 1 }
        }
        return (accepted, drifted)
    }

    /// The groups and SKUs of ``MembershipChanges``, and who may join or leave: joiners are
    /// enabled users outside Engineering and License Exempt, leavers direct members of PMO.
    struct MembershipGroups {
        var joinGroup: String
        var leaveGroup: String
        var grantedSku: String
        var replacedSku: String
        var leaverSku: String
        var joinerCandidates: [String]
        var leaverCandidates: [String]
        /// Seats of the granted SKU not assigned.
        var spareSeats: Int
    }

    func membershipGroups() async throws -> MembershipGroups {
        func group(_ name: String) async throws -> String {
            let filter = "displayName eq '\(name)'".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            guard let id = try await list("\(baseURL)/v1.0/groups?$filter=\(filter)&$select=id").first?["id"] as? String
            else {
                throw SoakError("the simulated tenant has no group \(name)")
            }
            return id
        }
        func users(_ url: String) async throws -> Set<String> {
            Set(
                try await list(url).filter {
                    $0["@odata.type"] as? String ?? "#microsoft.graph.user" == "#microsoft.graph.user"
                }.compactMap { $0["id"] as? String }
            )
        }
        func sku(_ name: String) throws -> String {
            guard let id = skuIds[name] else { throw SoakError("the simulated tenant has no SKU \(name)") }
            return id
        }
        let engineering = try await users(
            "\(baseURL)/v1.0/groups/\(try await group("Engineering"))/transitiveMembers?$select=id&$top=999"
        )
        let exempt = try await users(
            "\(baseURL)/v1.0/groups/\(try await group("License Exempt"))/transitiveMembers?$select=id&$top=999"
        )
        let pmo = try await group("PMO")
        let subscribed = try await json(.GET, "\(baseURL)/v1.0/subscribedSkus")["value"] as? [[String: Any]] ?? []
        let granted = try sku("SPE_E5")
        let seats = subscribed.first { $0["skuId"] as? String == granted }
        let prepaid = (seats?["prepaidUnits"] as? [String: Any])?["enabled"] as? Int ?? 0
        return MembershipGroups(
            joinGroup: try await group("Platform Engineering"),
            leaveGroup: pmo,
            grantedSku: granted,
            replacedSku: try sku("SPE_E3"),
            leaverSku: try sku("PROJECTPROFESSIONAL"),
            joinerCandidates: enabledUserIds.filter { !engineering.contains($0) && !exempt.contains($0) },
            leaverCandidates: try await users("\(baseURL)/v1.0/groups/\(pmo)/members?$select=id&$top=999").sorted(),
            spareSeats: prepaid - (seats?["consumedUnits"] as? Int ?? 0)
        )
    }

    /// `POST /groups/{id}/members/$ref`, as an administrator adds a member.
    func addMember(_ user: String, to group: String) async throws {
        let status = try await send(
            .POST,
            "\(baseURL)/v1.0/groups/\(group)/members/$ref",
            ["@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/\(user)"]
        )
        guard status == 204 else { throw SoakError("adding \(user) to group \(group) answered \(status)") }
    }

    /// `DELETE /groups/{id}/members/{id}/$ref`.
    func removeMember(_ user: String, from group: String) async throws {
        let status = try await send(.DELETE, "\(baseURL)/v1.0/groups/\(group)/members/\(user)/$ref", data: nil)
        guard status == 204 else { throw SoakError("removing \(user) from group \(group) answered \(status)") }
    }

    /// The SKU ids a user holds.
    func licenses(of user: String) async throws -> Set<String> {
        Self.skuIds(of: try await json(.GET, "\(baseURL)/v1.0/users/\(user)?$select=id,assignedLicenses"))
    }

    /// Every user's SKU ids.
    func allLicenses() async throws -> [String: Set<String>] {
        var licenses: [String: Set<String>] = [:]
        for user in try await list("\(baseURL)/v1.0/users?$select=id,assignedLicenses&$top=999") {
            if let id = user["id"] as? String { licenses[id] = Self.skuIds(of: user) }
        }
        return licenses
    }

    private static func skuIds(of user: [String: Any]) -> Set<String> {
        Set((user["assignedLicenses"] as? [[String: Any]] ?? []).compactMap { $0["skuId"] as? String })
    }

    /// Every entry of a paged listing.
    private func list(_ url: String) async throws -> [[String: Any]] {
        var entries: [[String: Any]] = []
        var next: String? = url
        while let url = next {
            let page = try await json(.GET, url)
            entries += page["value"] as? [[String: Any]] ?? []
            next = page["@odata.nextLink"] as? String
        }
        return entries
    }

    /// One fault for the next cycle: throttled or failing writes, a slow or failing read, a
    /// dropped connection, a token outage.
    func randomFault(random: inout SplitMix64) -> SimulatedFault {
        switch random.below(6) {
        case 0:
            SimulatedFault(kind: .throttle, path: "/assignLicense", count: 1 + random.below(5), retryAfterSeconds: 1)
        case 1: SimulatedFault(kind: .serverError, path: "/$batch", count: 1, status: 503)
        case 2: SimulatedFault(kind: .latency, path: "/users", count: 3, delayMilliseconds: 300)
        // More failures than the client's 6 retries: the read is incomplete and the cycle fails, writing nothing.
        case 3: SimulatedFault(kind: .failPage, path: "/users", after: random.below(20), count: 8)
        case 4: SimulatedFault(kind: .dropConnection, path: "/subscribedSkus", count: 1)
        default: SimulatedFault(kind: .tokenOutage, count: 1)
        }
    }

    func arm(_ fault: SimulatedFault) async throws {
        let status = try await send(.POST, "\(baseURL)/_simulator/faults", data: try JSONEncoder().encode(fault))
        guard status == 201 else { throw SoakError("arming \(fault.kind) answered \(status)") }
    }

    /// Clears the faults not yet triggered and the simulator's request log (which only grows).
    func clearFaults() async throws {
        _ = try await send(.DELETE, "\(baseURL)/_simulator/faults", data: nil)
        _ = try await send(.DELETE, "\(baseURL)/_simulator/requests", data: nil)
    }

    // MARK: HTTP

    private func refreshToken() async throws {
        var request = HTTPClientRequest(url: "\(baseURL)/\(Self.tenant)/oauth2/v2.0/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(
            ByteBuffer(
                string:
                    "client_id=soak&client_secret=soak&grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
            )
        )
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let token = object["access_token"] as? String
        else { throw SoakError("no token from the simulator (\(response.status))") }
        self.token = token
    }

    private func json(_ method: HTTPMethod, _ url: String) async throws -> [String: Any] {
        let (status, body) = try await exchange(method, url, data: nil)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw SoakError("\(method) \(url) answered \(status)")
        }
        return object
    }

    private func send(_ method: HTTPMethod, _ url: String, _ body: [String: Any]) async throws -> Int {
        try await send(method, url, data: try JSONSerialization.data(withJSONObject: body))
    }

    private func send(_ method: HTTPMethod, _ url: String, data: Data?) async throws -> Int {
        try await exchange(method, url, data: data).status
    }

    /// One request with the bearer token (fetched again after a 401: tokens expire).
    private func exchange(
        _ method: HTTPMethod,
        _ url: String,
        data: Data?,
        retried: Bool = false
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let data {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        if response.status == .unauthorized, !retried {
            try await refreshToken()
            return try await exchange(method, url, data: data, retried: true)
        }
        return (Int(response.status.code), Data(body.readableBytesView))
    }
}
