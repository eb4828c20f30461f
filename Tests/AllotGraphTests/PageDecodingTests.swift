import Foundation
import AllotCore
import NIOCore
import Testing

@testable import AllotGraph

@Suite("Page decoding")
struct PageDecodingTests {
    static let sku = "05e9a617-0261-4cee-bb44-138d3ef5d965"
    static let plan = "7547a3fe-08ee-4ccb-b430-5077c5041653"
    static let group = "9d3f1b2e-0000-4000-8000-000000000001"

    static let page = """
        {"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users(id,department)",
         "value":[
          {"id":"00000000-0000-4000-8000-000000000002","userPrincipalName":"b\\u00e9a@contoso.com","usageLocation":null,
           "department":"Sales \\"EMEA\\"","accountEnabled":true,"employeeType":null,"otherMails":["x@y.z"],
           "onPremisesExtensionAttributes":{"extensionAttribute1":"VISIO","extensionAttribute2":null},
           "assignedLicenses":[{"disabledPlans":["\(plan)"],"skuId":"\(sku)"}],
           "licenseAssignmentStates":[{"skuId":"\(sku)","disabledPlans":["\(plan)"],"assignedByGroup":null,"state":"Active","error":"None","lastUpdatedDateTime":"2025-01-01T00:00:00Z"}]},
          {"id":"00000000-0000-4000-8000-000000000001","userPrincipalName":"a@contoso.com","usageLocation":"GB",
           "department":"Engineering","accountEnabled":false,"age":42.5,
           "assignedLicenses":[{"disabledPlans":[],"skuId":"\(sku)"}],
           "licenseAssignmentStates":[{"skuId":"\(sku)","disabledPlans":[],"assignedByGroup":"\(group)","state":"Error","error":"CountViolation"}]},
          {"id":"00000000-0000-4000-8000-000000000003","userPrincipalName":"c@contoso.com",
           "assignedLicenses":[{"disabledPlans":["\(plan)"],"skuId":"\(sku)"}],
           "licenseAssignmentStates":[{"skuId":"\(sku)","disabledPlans":["\(plan)"],"assignedByGroup":null,"state":"Active","error":"None","lastUpdatedDateTime":"2025-01-01T00:00:00Z"}]}
         ],
         "@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=abc"}
        """

    @Test("users decode into the builder with only the kept attributes")
    func users() throws {
        let attributes = [
            "department", "accountEnabled", "onPremisesExtensionAttributes.extensionAttribute1", "otherMails", "age",
            "userPrincipalName",
        ]
        var builder = TenantBuilder(attributes: attributes)
        var decoder = UserPageDecoder(attributePaths: builder.attributePaths)
        let (count, nextLink) = try decoder.decode(ByteBuffer(string: Self.page), into: &builder)
        #expect(count == 3)
        #expect(nextLink == "https://graph.microsoft.com/v1.0/users?$skiptoken=abc")
        let model = try builder.build()
        #expect(model.userCount == 3)
        let first = try #require(model.userIndex(forReference: "a@contoso.com"))
        let second = try #require(model.userIndex(forReference: "bÉa@contoso.com"))
        #expect(model.usageLocation(at: first) == "GB")
        #expect(model.usageLocation(at: second) == nil)
        #expect(model.attribute("department", ofUser: second) == .string("Sales \"EMEA\""))
        #expect(model.attribute("accountEnabled", ofUser: first) == .bool(false))
        #expect(
            model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: second) == .string("VISIO")
        )
        #expect(model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: first) == nil)
        #expect(model.attribute("otherMails", ofUser: second) == .array([.string("x@y.z")]))
        #expect(model.attribute("age", ofUser: first) == .number(42.5))
        #expect(model.attribute("userPrincipalName", ofUser: first) == .string("a@contoso.com"))

        let skuId = try #require(GUID(Self.sku))
        let direct = model.licenseHolding(ofUser: second)
        #expect(direct.directAssignment(of: skuId)?.disabledPlans == [GUID(Self.plan)!])
        let inherited = model.licenseHolding(ofUser: first)
        #expect(inherited.directAssignment(of: skuId) == nil)
        #expect(inherited.states?.first?.error == "CountViolation")
        #expect(!inherited.heldThroughGroup(skuId))
        // The third user's licenses are byte-identical to the second's: one interned holding.
        let third = try #require(model.userIndex(forReference: "c@contoso.com"))
        #expect(model.licenseHolding(ofUser: third) == direct)
    }

    @Test("the decoded model equals the one JSONDecoder gives for the same users")
    func agreesWithCodable() throws {
        let attributes = ["department", "accountEnabled", "onPremisesExtensionAttributes.extensionAttribute1"]
        var builder = TenantBuilder(attributes: attributes)
        var decoder = UserPageDecoder(attributePaths: builder.attributePaths)
        _ = try decoder.decode(ByteBuffer(string: Self.page), into: &builder)
        let scanned = try builder.build().snapshot()

        struct Page: Decodable { let value: [DirectoryUser] }
        let users = try JSONDecoder().decode(Page.self, from: Data(Self.page.utf8)).value
        let reference = try TenantModel(snapshot: Snapshot(attributes: attributes, users: users)).snapshot()
        #expect(scanned.users == reference.users)
    }

    /// Values are looked up by their raw bytes before they are decoded: repeated bytes, the same
    /// value written differently, nested paths through objects, `null` and non-objects must all
    /// come out as the JSONDecoder reads them.
    static let repeatingPage = """
        {"value":[
          {"id":"00000000-0000-4000-8000-000000000001","userPrincipalName":"a@contoso.com","usageLocation":"GB",
           "department":"Sales","accountEnabled":true,"onPremisesExtensionAttributes":{"extensionAttribute1":"VISIO","extensionAttribute2":null}},
          {"id":"00000000-0000-4000-8000-000000000002","userPrincipalName":"b@contoso.com","usageLocation":"G\\u0042",
           "department":"Sal\\u0065s","accountEnabled":true,"onPremisesExtensionAttributes":{"extensionAttribute2":"VISIO"}},
          {"id":"00000000-0000-4000-8000-000000000003","userPrincipalName":"c@contoso.com","usageLocation":null,
           "department":"Sales","accountEnabled":false,"onPremisesExtensionAttributes":null},
          {"id":"00000000-0000-4000-8000-000000000004","userPrincipalName":"d@contoso.com",
           "department":"","accountEnabled":true,"onPremisesExtensionAttributes":"VISIO"},
          {"id":"00000000-0000-4000-8000-000000000005","userPrincipalName":"e@contoso.com","usageLocation":"GB",
           "department":["Sales"],"onPremisesExtensionAttributes":{"extensionAttribute3":"LEGACY","extensionAttribute1":"VISIO"}}
        ]}
        """

    @Test("values interned by their raw bytes come out as JSONDecoder reads them, across pages")
    func valuesByBytes() throws {
        let attributes = [
            "department", "accountEnabled", "onPremisesExtensionAttributes.extensionAttribute1",
            "onPremisesExtensionAttributes",
        ]
        var builder = TenantBuilder(attributes: attributes)
        var decoder = UserPageDecoder(attributePaths: builder.attributePaths)
        _ = try decoder.decode(ByteBuffer(string: Self.repeatingPage), into: &builder)
        // The same users again under other ids: every value is now found by its bytes.
        let again = Self.repeatingPage.replacingOccurrences(of: "-8000-00000000000", with: "-8000-00000000010")
            .replacingOccurrences(of: "@contoso.com", with: "@fabrikam.com")
        _ = try decoder.decode(ByteBuffer(string: again), into: &builder)
        let model = try builder.build()
        let scanned = model.snapshot()

        struct Page: Decodable { let value: [DirectoryUser] }
        let users =
            try JSONDecoder().decode(Page.self, from: Data(Self.repeatingPage.utf8)).value
            + JSONDecoder().decode(Page.self, from: Data(again.utf8)).value
        let reference = try TenantModel(snapshot: Snapshot(attributes: attributes, users: users)).snapshot()
        #expect(scanned.users == reference.users)

        for domain in ["contoso.com", "fabrikam.com"] {
            func user(_ name: String) throws -> Int { try #require(model.userIndex(forReference: "\(name)@\(domain)")) }
            #expect(model.attribute("department", ofUser: try user("b")) == .string("Sales"))
            #expect(model.usageLocation(at: try user("b")) == "GB")
            #expect(model.usageLocation(at: try user("c")) == nil)
            #expect(model.attribute("department", ofUser: try user("d")) == nil, "an empty string is missing")
            #expect(model.attribute("department", ofUser: try user("e")) == .array([.string("Sales")]))
            #expect(
                model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: try user("a"))
                    == .string("VISIO")
            )
            #expect(model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: try user("b")) == nil)
            #expect(model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: try user("c")) == nil)
            #expect(model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: try user("d")) == nil)
            #expect(
                model.attribute("onPremisesExtensionAttributes.extensionAttribute1", ofUser: try user("e"))
                    == .string("VISIO")
            )
            #expect(model.attribute("onPremisesExtensionAttributes", ofUser: try user("d")) == .string("VISIO"))
        }
    }

    @Test(
        "member pages yield the users' ids, the nested groups' ids and the next link; devices and contacts are skipped"
    )
    func members() throws {
        let body = """
            {"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
            "@odata.nextLink":"https://graph.microsoft.com/v1.0/groups/x/transitiveMembers?$select=id&$top=999&$skiptoken=abc",
            "value":[{"@odata.type":"#microsoft.graph.user","id":"00000000-0000-4000-8000-000000000001"},
            {"@odata.type":"#microsoft.graph.group","id":"00000000-0000-4000-8000-000000000002"},
            {"id":"00000000-0000-4000-8000-00000000000A","@odata.type":"#microsoft.graph.user"},
            {"@odata.type":"#microsoft.graph.device","id":"00000000-0000-4000-8000-000000000003"},
            {"@odata.type":"#microsoft.graph.orgContact","id":"00000000-0000-4000-8000-000000000004"},
            {"id":"00000000-0000-4000-8000-000000000005"}]}
            """
        var ids: [GUID] = []
        var groups: [GUID] = []
        let next = try CollectionPage.userIds(ByteBuffer(string: body), into: &ids, groups: &groups)
        #expect(
            next == "https://graph.microsoft.com/v1.0/groups/x/transitiveMembers?$select=id&$top=999&$skiptoken=abc"
        )
        #expect(
            ids.map(\.description) == [
                "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-00000000000a",
                "00000000-0000-4000-8000-000000000005",
            ],
            "an untyped entry is kept: only ids of users read from /users count"
        )
        #expect(groups.map(\.description) == ["00000000-0000-4000-8000-000000000002"])
        #expect(throws: (any Error).self) {
            var none: [GUID] = []
            var noGroups: [GUID] = []
            _ = try CollectionPage.userIds(
                ByteBuffer(string: ##"{"value":[{"@odata.type":"#microsoft.graph.user"}]}"##),
                into: &none,
                groups: &noGroups
            )
        }
    }

    @Test(
        "malformed pages are errors, not empty pages",
        arguments: [
            #"{"value":[{"id":"not-a-guid","userPrincipalName":"a"}]}"#,
            #"{"value":[{"userPrincipalName":"a"}]}"#,
            #"{"value":[{"id":"00000000-0000-4000-8000-000000000001","userPrincipalName":"a"}"#,
            #"<html>Service Unavailable</html>"#,
        ]
    )
    func malformed(body: String) {
        var builder = TenantBuilder(attributes: [])
        var decoder = UserPageDecoder(attributePaths: builder.attributePaths)
        #expect(throws: (any Error).self) { try decoder.decode(ByteBuffer(string: body), into: &builder) }
    }

    @Test("$select names the license fields and each attribute's first component once")
    func select() {
        #expect(
            GraphClient.userSelect(attributes: [
                "department", "onPremisesExtensionAttributes.extensionAttribute1",
                "onPremisesExtensionAttributes.extensionAttribute2", "usageLocation", "accountEnabled",
            ])
                == [
                    "id", "userPrincipalName", "usageLocation", "assignedLicenses", "licenseAssignmentStates",
                    "department",
                    "onPremisesExtensionAttributes", "accountEnabled",
                ]
        )
    }
}

@Suite("JSON scanner")
struct JSONScannerTests {
    /// Reads every value of a JSON array with the scanner.
    func values(_ json: String) throws -> [JSONValue] {
        var bytes = Array(json.utf8)
        return try bytes.withUnsafeMutableBytes { raw in
            var scanner = JSONScanner(UnsafeRawBufferPointer(raw))
            var result: [JSONValue] = []
            try scanner.beginArray()
            var first = true
            while try scanner.nextElement(first: &first) { result.append(try scanner.value()) }
            return result
        }
    }

    @Test("strings with escapes, quotes and backslashes at their ends")
    func escapes() throws {
        let parsed = try values(#"["plain", "a\\", "\\\"", "x\"y\"", "tab\there", "\u00e9\ud83d\ude00", "", "\/"]"#)
        #expect(
            parsed == [
                .string("plain"), .string("a\\"), .string("\\\""), .string("x\"y\""), .string("tab\there"),
                .string("é😀"), .string(""), .string("/"),
            ]
        )
    }

    @Test("numbers, literals and nested values")
    func nested() throws {
        let parsed = try values(#"[1, -2.5e3, true, false, null, {"a": [1, {"b": "c"}]}, []]"#)
        #expect(
            parsed == [
                .number(1), .number(-2500), .bool(true), .bool(false), .null,
                .object(["a": .array([.number(1), .object(["b": .string("c")])])]), .array([]),
            ]
        )
    }

    @Test("GUIDs in either case; anything else is an error")
    func guids() throws {
        var bytes = Array(
            #"["8F3C2A10-5b7e-4d2c-9a61-3e0f4b8d7c21", "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c2g", "x"]"#.utf8
        )
        try bytes.withUnsafeMutableBytes { raw in
            var scanner = JSONScanner(UnsafeRawBufferPointer(raw))
            try scanner.beginArray()
            var first = true
            #expect(try scanner.nextElement(first: &first))
            #expect(try scanner.guid().description == "8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21")
            #expect(try scanner.nextElement(first: &first))
            #expect(throws: JSONScanner.SyntaxError.self) { try scanner.guid() }
        }
    }
}
