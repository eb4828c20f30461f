import AllotCore
import Foundation
import Testing

/// `JSONValue` decodes each kind of JSON value as that kind, whatever order its decoder tries
/// them in, and encodes back to the same JSON.
@Suite("JSONValue coding")
struct JSONValueCodingTests {
    @Test("every kind of value decodes as itself: strings that look like numbers or booleans stay strings")
    func kindsStayApart() throws {
        let json = #"""
            {"text": "x", "numeric": "1", "truth": "true", "empty": "", "int": 1, "zero": 0, "real": -2.5,
             "yes": true, "no": false, "none": null, "list": [1, "1", true, null, {}], "object": {"a": [], "b": {"c": "d"}},
             "emptyList": [], "emptyObject": {}}
            """#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let expected: JSONValue = .object([
            "text": .string("x"), "numeric": .string("1"), "truth": .string("true"), "empty": .string(""),
            "int": .number(1), "zero": .number(0), "real": .number(-2.5), "yes": .bool(true), "no": .bool(false),
            "none": .null, "list": .array([.number(1), .string("1"), .bool(true), .null, .object([:])]),
            "object": .object(["a": .array([]), "b": .object(["c": .string("d")])]),
            "emptyList": .array([]), "emptyObject": .object([:]),
        ])
        #expect(value == expected)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let again = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(value))
        #expect(again == expected)
    }

    @Test("a top-level scalar or array decodes too")
    func topLevel() throws {
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("true".utf8)) == .bool(true))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("12".utf8)) == .number(12))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(#""a""#.utf8)) == .string("a"))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("[[]]".utf8)) == .array([.array([])]))
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data("null".utf8)) == .null)
    }
}
