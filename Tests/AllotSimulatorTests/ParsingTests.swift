import AllotCore
import Testing

@testable import AllotSimulator

@Suite("Parsers: JSON, OData filters, query strings, command-line values")
struct ParsingTests {
    @Test("JSON round trip, escapes and errors")
    func json() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":"x\"y\\z\n\u00e9\ud83d\ude00","c":{}}"#
        let value = try JSONParser.parse(Array(text.utf8))
        #expect(value["b"] == .string("x\"y\\z\né😀"))
        #expect(value["a"] == .array([.number(1), .number(2.5), .number(-300), .bool(true), .bool(false), .null]))
        #expect(try JSONParser.parse(value.encoded) == value)
        #expect(
            try JSONParser.parse(Array("[0,-0.5,10,1E+2,2e-1,-12.25e3]".utf8))
                == .array([
                    .number(0), .number(-0.5), .number(10), .number(100), .number(0.2), .number(-12_250),
                ])
        )
        // Numbers strict JSON refuses, as Graph does, though Double(_:) would read them.
        let badNumbers = ["01", "-01", "+1", ".5", "1.", "-", "1e", "1e+", "1.e3", "--1", "0x1"]
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", "{\"a\":1,}"] + badNumbers {
            #expect(throws: JSONParser.Failure.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
    }

    @Test("OData filters parse into the expressions Graph clients send")
    func filters() throws {
        #expect(
            try ODataFilter.parse("userPrincipalName eq 'o''brien@contoso.com'")
                == .equals(property: "userPrincipalName", value: .string("o'brien@contoso.com"))
        )
        let sku = GUID("05e9a617-0261-4cee-bb44-138d3ef5d965")!
        #expect(
            try ODataFilter.parse("assignedLicenses/any(s:s/skuId eq 05e9a617-0261-4cee-bb44-138d3ef5d965)")
                == .any(collection: "assignedLicenses", member: "skuId", value: .guid(sku))
        )
        #expect(
            try ODataFilter.parse("(accountEnabled eq true and startswith(displayName,'Ad')) or id in ('a','b')")
                == .or(
                    .and(
                        .equals(property: "accountEnabled", value: .bool(true)),
                        .startsWith(property: "displayName", prefix: "Ad")
                    ),
                    .isIn(property: "id", values: [.string("a"), .string("b")])
                )
        )
        for bad in [
            "displayName eq", "displayName eq 'open", "displayName gt 'x'", "(a eq 'b'", "x/any(s:t/skuId eq 1)",
        ] {
            #expect(throws: GraphError.self, "\(bad)") { try ODataFilter.parse(bad) }
        }
    }

    @Test("query strings: percent escapes and + as space; next links keep the query")
    func queries() {
        let query = QueryParameters("%24filter=displayName+eq+%27R%26D%27&$top=5&select=id"[...])
        #expect(query.option("filter") == "displayName eq 'R&D'")
        #expect(query.option("top") == "5")
        #expect(query.option("select") == "id")
        #expect(query.encoded(removingOptions: ["top"]) == ["$filter=displayName%20eq%20'R%26D'", "select=id"])
        #expect(GraphService.relativeBatchURL("https://graph.microsoft.com/v1.0/users?$top=1") == "/users?$top=1")
        #expect(GraphService.relativeBatchURL("users/x") == "/users/x")
    }

    @Test("durations and write quotas as the command line takes them")
    func commandLineValues() {
        #expect(DurationText.parse("30s", bareSeconds: true) == .seconds(30))
        #expect(DurationText.parse("15m") == .seconds(900))
        #expect(DurationText.parse("1h") == .seconds(3600))
        #expect(DurationText.parse("42", bareSeconds: true) == .seconds(42))
        #expect(DurationText.parse("1h30m", bareSeconds: true) == .seconds(5400))
        #expect(DurationText.parse("soon") == nil)
        #expect(SimulatedWriteQuota(parsing: "3000/150s") == SimulatedWriteQuota(writes: 3000, window: .seconds(150)))
        #expect(SimulatedWriteQuota(parsing: "10/2m") == SimulatedWriteQuota(writes: 10, window: .seconds(120)))
        #expect(SimulatedWriteQuota(parsing: "0/150s") == nil)
        #expect(SimulatedWriteQuota(parsing: "3000") == nil)
    }

    @Test("UTC timestamps in Graph's and Entra's formats")
    func timestamps() {
        let time = UTCTime(1_752_509_645)
        #expect(time.graphDate == "2025-07-14T16:14:05")
        #expect(time.entraTimestamp == "2025-07-14 16:14:05Z")
        #expect(UTCTime(951_782_400).graphDate == "2000-02-29T00:00:00")
    }
}
