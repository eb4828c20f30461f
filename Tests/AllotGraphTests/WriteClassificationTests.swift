import AllotCore
import Foundation
import Testing

@testable import AllotGraph

@Suite("Write classification and batching")
struct WriteClassificationTests {
    @Test(
        "Graph's assignLicense errors map to kinds",
        arguments: [
            (
                400, "Request_BadRequest", "License assignment cannot be done for user with invalid usage location.",
                "usageLocation"
            ),
            (
                400, "Request_BadRequest",
                "Subscription with SKU 05e9a617-0261-4cee-bb44-138d3ef5d965 does not have any available licenses.",
                "noSeats"
            ),
            (
                400, "Request_BadRequest",
                "License 11111111-1111-1111-1111-111111111111 does not correspond to a valid company License.",
                "unknownSku"
            ),
            (
                400, "Request_BadRequest", "License assignment failed because service plans a,b are mutually exclusive",
                "mutuallyExclusive"
            ),
            (
                400, "Request_BadRequest",
                "License assignment failed because service plan x depends on the service plan(s) y, z.", "dependency"
            ),
            (
                400, "Request_BadRequest",
                "User license is inherited from a group membership and it cannot be removed directly from the user.",
                "inheritedOnly"
            ),
            (
                400, "Request_BadRequest",
                "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: addLicenses.",
                "missingParameters"
            ),
            (424, "FailedDependency", "The request failed because it depends on a failed request.", "dependencyFailed"),
            (429, "TooManyRequests", "Please retry again later.", "throttled"),
            (503, "ServiceUnavailable", "Service unavailable", "unavailable"),
            (
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                "permissionDenied"
            ),
            (
                404, "Request_ResourceNotFound",
                "Resource '6e7b768e-07e2-4810-8459-485f84f8f204' does not exist or one of its queried reference-property objects are not present.",
                "userGone"
            ),
            (400, "Request_BadRequest", "User does not have a corresponding license.", "licenseNotHeld"),
        ]
    )
    func classify(status: Int, code: String, message: String, kind: String) {
        #expect(GraphWriteError.Kind.classify(status: status, code: code, message: message).description == kind)
    }

    /// One published answer of Graph's, with the kind Allot must read it as.
    struct PublishedError: Decodable {
        struct Body: Decodable { let error: GraphErrorEnvelope.Body }
        let kind: String
        let source: String
        let status: Int
        let body: Body
    }

    static let publishedErrors: [String] = {
        let directory = Bundle.module.url(forResource: "Fixtures/graph-errors", withExtension: nil)!
        return (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".json") }
            .sorted() ?? []
    }()

    @Test("Graph's published error answers are read by meaning, code first", arguments: publishedErrors)
    func published(file: String) throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/graph-errors/\(file)", withExtension: nil))
        let fixture = try JSONDecoder().decode(PublishedError.self, from: Data(contentsOf: url))
        let kind = GraphWriteError.Kind.classify(
            status: fixture.status,
            code: fixture.body.error.code,
            message: fixture.body.error.message ?? ""
        )
        #expect(kind.description == fixture.kind, "\(file) (\(fixture.source))")
    }

    @Test("there is a published answer for every kind the classification table reads by meaning")
    func everyRowHasAFixture() throws {
        let kinds = try Self.publishedErrors.map { file in
            let url = try #require(Bundle.module.url(forResource: "Fixtures/graph-errors/\(file)", withExtension: nil))
            return try JSONDecoder().decode(PublishedError.self, from: Data(contentsOf: url)).kind
        }
        #expect(
            Set(kinds) == [
                "permissionDenied", "userGone", "throttled", "licenseNotHeld", "usageLocation", "dependency",
                "mutuallyExclusive", "noSeats",
            ]
        )
    }

    static let users = (1...30).map { GUID(high: 0, low: UInt64($0)) }

    @Test("a user's PATCH and license call share a unit, PATCH first")
    func units() {
        let writes: [GraphWrite] = [
            .assignLicense(user: Self.users[0], body: AssignLicenseBody()),
            .setUsageLocation(user: Self.users[0], code: "US"),
            .assignLicense(user: Self.users[1], body: AssignLicenseBody()),
            .assignLicense(user: Self.users[1], body: AssignLicenseBody(removeLicenses: [Self.users[2]])),
        ]
        let units = WriteUnit.units(for: writes, retry: RetryPolicy())
        #expect(units.map { $0.items.map(\.index) } == [[1, 0], [2], [3]])
    }

    @Test("a batch holds the next write of at most 20 units: a user's license call never travels with its PATCH")
    func batches() {
        var writes: [GraphWrite] = []
        for user in Self.users.prefix(25) { writes.append(.assignLicense(user: user, body: AssignLicenseBody())) }
        writes.append(.setUsageLocation(user: Self.users[25], code: "GB"))
        writes.append(.assignLicense(user: Self.users[25], body: AssignLicenseBody()))
        var queue = WriteUnit.units(for: writes, retry: RetryPolicy())
        let selection = WriteUnit.nextBatch(from: queue, now: .zero)!
        #expect(selection == Array(0..<20))
        let batch = WriteUnit.take(from: &queue, candidates: selection, limit: selection.count)
        #expect(batch.count == 20)
        #expect(
            queue.count == 6 && queue[5].items.map(\.index) == [25, 26],
            "the PATCH goes first, its license call after"
        )
        #expect(
            WriteUnit.take(from: &queue, candidates: [0, 1, 2], limit: 2).count == 2,
            "the pacing budget may grant fewer"
        )
    }

    @Test("units waiting for a Retry-After are not ready")
    func notBefore() {
        var queue = WriteUnit.units(
            for: [.assignLicense(user: Self.users[0], body: AssignLicenseBody())],
            retry: RetryPolicy()
        )
        queue[0].notBefore = .seconds(2)
        #expect(WriteUnit.nextBatch(from: queue, now: .seconds(1)) == nil)
        #expect(WriteUnit.nextBatch(from: queue, now: .seconds(2)) == [0])
    }

    @Test("the batch body carries both arrays and Content-Type, and never dependsOn (Graph refuses mixed batches)")
    func batchBody() throws {
        let sku = GUID(high: 5, low: 5)
        let request = BatchRequest(requests: [
            BatchRequest.Item(id: "1", write: .setUsageLocation(user: Self.users[0], code: "US")),
            BatchRequest.Item(
                id: "2",
                write: .assignLicense(
                    user: Self.users[1],
                    body: AssignLicenseBody(addLicenses: [AssignedLicense(skuId: sku)])
                )
            ),
        ])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as! [String: Any]
        let items = json["requests"] as! [[String: Any]]
        #expect(items[0]["method"] as? String == "PATCH")
        #expect(items[0]["url"] as? String == "/users/\(Self.users[0])")
        #expect((items[0]["body"] as? [String: String]) == ["usageLocation": "US"])
        #expect(items.allSatisfy { $0["dependsOn"] == nil })
        #expect(items[1]["url"] as? String == "/users/\(Self.users[1])/assignLicense")
        #expect((items[1]["headers"] as? [String: String])?["Content-Type"] == "application/json")
        let body = items[1]["body"] as! [String: Any]
        #expect((body["removeLicenses"] as? [Any])?.isEmpty == true)
        let added = (body["addLicenses"] as! [[String: Any]])[0]
        #expect(added["skuId"] as? String == sku.description)
        #expect((added["disabledPlans"] as? [Any])?.isEmpty == true)
    }
}
