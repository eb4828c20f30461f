import AllotCore

/// The part of OData `$filter` Graph clients use on users and groups: comparisons (`eq`, `ne`,
/// `in`), `startswith(...)`, `assignedLicenses/any(s:s/skuId eq GUID)`, combined with `and`,
/// `or` and parentheses. String comparisons ignore case, as the directory's do.
indirect enum ODataFilter: Equatable, Sendable {
    case equals(property: String, value: Literal)
    case notEquals(property: String, value: Literal)
    case isIn(property: String, values: [Literal])
    case startsWith(property: String, prefix: String)
    /// `collection/any(v:v/member eq value)`.
    case any(collection: String, member: String, value: Literal)
    case and(ODataFilter, ODataFilter)
    case or(ODataFilter, ODataFilter)

    /// A literal value in a filter.
    enum Literal: Equatable, Sendable {
        case string(String)
        case bool(Bool)
        case null
        case number(Double)
        case guid(GUID)

        /// The value as a JSON value, for comparison with stored properties.
        var json: JSONValue {
            switch self {
            case let .string(text): .string(text)
            case let .bool(flag): .bool(flag)
            case .null: .null
            case let .number(number): .number(number)
            case let .guid(id): .string(id.description)
            }
        }

        var text: String? {
            switch self {
            case let .string(text): text
            case let .guid(id): id.description
            default: nil
            }
        }
    }

    /// Parses `$filter` text.
    /// - Throws: `Request_BadRequest` with the position Graph would complain about.
    static func parse(_ text: String) throws(GraphError) -> ODataFilter {
        var parser = Parser(tokens: try tokenize(text), text: text)
        let filter = try parser.parseOr()
        guard parser.atEnd else { throw invalid(text) }
        return filter
    }

    static func invalid(_ text: String) -> GraphError {
        .badRequest("Invalid filter clause: syntax error or unsupported expression in '\(text)'.")
    }

    fileprivate enum Token: Equatable {
        case word(String)
        case string(String)
        case open, close, comma, colon
    }

    private static func tokenize(_ text: String) throws(GraphError) -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case " ", "\t": index += 1
            case "(": tokens.append(.open); index += 1
            case ")": tokens.append(.close); index += 1
            case ",": tokens.append(.comma); index += 1
            case ":": tokens.append(.colon); index += 1
            case "'":
                var value = ""
                index += 1
                var closed = false
                while index < characters.count {
                    if characters[index] == "'" {
                        if index + 1 < characters.count, characters[index + 1] == "'" {
                            value.append("'")
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    value.append(characters[index])
                    index += 1
                }
                guard closed else { throw invalid(text) }
                tokens.append(.string(value))
            default:
                var word = ""
                while index < characters.count, !" \t(),:'".contains(characters[index]) {
                    word.append(characters[index])
                    index += 1
                }
                tokens.append(.word(word))
            }
        }
        return tokens
    }

    private struct Parser {
        let tokens: [Token]
        let text: String
        var position = 0

        var atEnd: Bool { position == tokens.count }

        mutating func next() -> Token? {
            guard position < tokens.count else { return nil }
            defer { position += 1 }
            return tokens[position]
        }

        func peekWord() -> String? {
            guard position < tokens.count, case let .word(word) = tokens[position] else { return nil }
            return word.lowercased()
        }

        mutating func expect(_ token: Token) throws(GraphError) {
            guard next() == token else { throw ODataFilter.invalid(describe()) }
        }

        func describe() -> String { text }

        mutating func parseOr() throws(GraphError) -> ODataFilter {
            var left = try parseAnd()
            while peekWord() == "or" {
                position += 1
                left = .or(left, try parseAnd())
            }
            return left
        }

        mutating func parseAnd() throws(GraphError) -> ODataFilter {
            var left = try parseAtom()
            while peekWord() == "and" {
                position += 1
                left = .and(left, try parseAtom())
            }
            return left
        }

        mutating func parseAtom() throws(GraphError) -> ODataFilter {
            guard let token = next() else { throw ODataFilter.invalid(describe()) }
            switch token {
            case .open:
                let inner = try parseOr()
                try expect(.close)
                return inner
            case let .word(word) where word.lowercased() == "startswith":
                try expect(.open)
                guard case let .word(property)? = next() else { throw ODataFilter.invalid(describe()) }
                try expect(.comma)
                guard case let .string(prefix)? = next() else { throw ODataFilter.invalid(describe()) }
                try expect(.close)
                return .startsWith(property: property, prefix: prefix)
            case let .word(word) where word.lowercased().hasSuffix("/any"):
                let collection = String(word.dropLast(4))
                try expect(.open)
                guard case let .word(variable)? = next() else { throw ODataFilter.invalid(describe()) }
                try expect(.colon)
                guard case let .word(path)? = next(), path.lowercased().hasPrefix(variable.lowercased() + "/") else {
                    throw ODataFilter.invalid(describe())
                }
                guard peekWord() == "eq" else { throw ODataFilter.invalid(describe()) }
                position += 1
                let value = try parseLiteral()
                try expect(.close)
                return .any(collection: collection, member: String(path.dropFirst(variable.count + 1)), value: value)
            case let .word(property):
                guard let op = peekWord() else { throw ODataFilter.invalid(describe()) }
                position += 1
                switch op {
                case "eq": return .equals(property: property, value: try parseLiteral())
                case "ne": return .notEquals(property: property, value: try parseLiteral())
                case "in":
                    try expect(.open)
                    var values = [try parseLiteral()]
                    while position < tokens.count, tokens[position] == .comma {
                        position += 1
                        values.append(try parseLiteral())
                    }
                    try expect(.close)
                    return .isIn(property: property, values: values)
                default: throw ODataFilter.invalid(describe())
                }
            default:
                throw ODataFilter.invalid(describe())
            }
        }

        mutating func parseLiteral() throws(GraphError) -> Literal {
            switch next() {
            case let .string(text)?: return .string(text)
            case let .word(word)?:
                switch word.lowercased() {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "null": return .null
                default:
                    if let id = GUID(word) { return .guid(id) }
                    if let number = Double(word) { return .number(number) }
                    throw ODataFilter.invalid(describe())
                }
            default: throw ODataFilter.invalid(describe())
            }
        }
    }
}
