import AllotCore
import Foundation
import Testing

/// The closed sets of the plan and explanation formats are String-backed enums: their JSON is
/// the documented strings (`docs/plan-format.md`), and a string outside the set does not decode.
@Suite("Closed sets in the JSON formats")
struct ClosedSetCodingTests {
    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode([value]), as: UTF8.self)
    }

    @Test("removal and skip reasons and license sources encode as their documented strings")
    func encoding() throws {
        #expect(try RemovalReason.allCases.map(Self.json) == [#"["notGranted"]"#, #"["replaced"]"#])
        #expect(try SkipReason.allCases.map(Self.json) == [#"["noUsageLocation"]"#, #"["backoff"]"#])
        #expect(try LicenseSource.allCases.map(Self.json) == [#"["direct"]"#, #"["group"]"#, #"["unknown"]"#])
    }

    @Test("a string outside the set is an error, not a default")
    func unknownValues() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([RemovalReason].self, from: Data(#"["expired"]"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([SkipReason].self, from: Data(#"["later"]"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([LicenseSource].self, from: Data(#"["inherited"]"#.utf8))
        }
    }
}
