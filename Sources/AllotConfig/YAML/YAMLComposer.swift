import AllotCore
import CYaml

/// Composes YAML documents from libyaml's event stream (the C library Yams bundles), with
/// every position and every problem kept.
///
/// Allot does not use `Yams.Parser` here, for three reasons measured on Yams 6.2.2: a
/// duplicate key aborts the whole document with the position of the enclosing mapping; a
/// mapping whose key is an alias of a large shared tree is hashed node by node while
/// composing (exponential: six levels of ten took 4.6 s, a few more never finish); and
/// composition cannot be stopped part way. Here a duplicate key is reported where it is
/// written and composing goes on, and the expanded size of the document is counted as
/// events arrive, so an alias bomb is refused after at most ``maximumExpandedNodes`` nodes
/// of work, before anything walks it.
struct YAMLComposer {
    /// The most nodes one document may stand for once aliases are expanded. Policy and
    /// configuration documents hold a few hundred.
    static let maximumExpandedNodes = 100_000

    /// The documents read and the problems found. A syntax error ends the file: the
    /// documents before it are kept.
    struct Result {
        var documents: [YAMLNode] = []
        var diagnostics: [Diagnostic] = []
    }

    static func compose(_ bytes: [UInt8], file: String) -> Result {
        guard !bytes.isEmpty else { return Result() }
        return bytes.withUnsafeBufferPointer { buffer in
            var session = Session(file: file, bytes: buffer)
            session.run()
            return session.result
        }
    }
}

extension YAMLComposer {
    /// A sequence or mapping whose end event has not arrived yet.
    private struct Frame {
        var isMapping: Bool
        var line: Int
        var column: Int
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var pendingKey: YAMLNode?
        var expandedSize = 1
    }

    private struct Session {
        let file: String
        let bytes: UnsafeBufferPointer<UInt8>
        var result = Result()
        private var stack: [Frame] = []
        private var anchors: [String: YAMLNode] = [:]
        private var documentSize = 0

        init(file: String, bytes: UnsafeBufferPointer<UInt8>) {
            self.file = file
            self.bytes = bytes
        }

        mutating func run() {
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                report("out of memory while reading YAML", line: 1, column: 1)
                return
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)

            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    reportSyntaxError(parser)
                    return
                }
                defer { yaml_event_delete(&event) }
                guard handle(event) else { return }
                if documentSize > YAMLComposer.maximumExpandedNodes {
                    let (line, column) = Self.position(event.start_mark)
                    report(
                        "this document holds more than \(YAMLComposer.maximumExpandedNodes) YAML nodes, aliases expanded, "
                            + "where Allot's hold a few hundred (an alias bomb?); Allot stops reading this file",
                        line: line,
                        column: column
                    )
                    return
                }
            }
        }

        /// Returns false at the end of the stream.
        private mutating func handle(_ event: yaml_event_t) -> Bool {
            let (line, column) = Self.position(event.start_mark)
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return false
            case YAML_DOCUMENT_START_EVENT:
                anchors = [:]
                stack = []
                documentSize = 0
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                if let node = anchors[name] {
                    documentSize += node.expandedSize
                    attach(node)
                } else {
                    report(
                        "alias `*\(name)` refers to no anchor `&\(name)` defined before it",
                        line: line,
                        column: column
                    )
                    documentSize += 1
                    // Stands in as the text `*name`, so the reader does not also call it null.
                    attach(
                        YAMLNode(
                            content: .scalar(YAMLScalar(text: "*" + name, isPlain: false)),
                            line: line,
                            column: column,
                            expandedSize: 1
                        )
                    )
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length),
                    as: UTF8.self
                )
                var isPlain = scalar.style == YAML_PLAIN_SCALAR_STYLE
                if let tag = Self.string(scalar.tag) {
                    isPlain = false
                    if tag != "!" && tag != "tag:yaml.org,2002:str" { reportTag(tag, line: line, column: column) }
                }
                documentSize += 1
                let node = YAMLNode(
                    content: .scalar(YAMLScalar(text: text, isPlain: isPlain)),
                    line: line,
                    column: column,
                    expandedSize: 1
                )
                register(node, anchor: Self.string(scalar.anchor))
                attach(node)
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                if let tag = Self.string(start.tag), tag != "tag:yaml.org,2002:seq" {
                    reportTag(tag, line: line, column: column)
                }
                documentSize += 1
                stack.append(Frame(isMapping: false, line: line, column: column, anchor: Self.string(start.anchor)))
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                if let tag = Self.string(start.tag), tag != "tag:yaml.org,2002:map" {
                    reportTag(tag, line: line, column: column)
                }
                documentSize += 1
                stack.append(Frame(isMapping: true, line: line, column: column, anchor: Self.string(start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { break }
                let content: YAMLNode.Content =
                    frame.isMapping ? .mapping(withoutDuplicateKeys(frame.pairs)) : .sequence(frame.items)
                let node = YAMLNode(
                    content: content,
                    line: frame.line,
                    column: frame.column,
                    expandedSize: frame.expandedSize
                )
                register(node, anchor: frame.anchor)
                attach(node)
            default:
                break
            }
            return true
        }

        private mutating func register(_ node: YAMLNode, anchor: String?) {
            if let anchor { anchors[anchor] = node }
        }

        /// Adds a finished node to the collection being built, or makes it the document's root.
        private mutating func attach(_ node: YAMLNode) {
            guard !stack.isEmpty else {
                result.documents.append(node)
                return
            }
            let top = stack.count - 1
            stack[top].expandedSize += node.expandedSize
            if !stack[top].isMapping {
                stack[top].items.append(node)
            } else if let key = stack[top].pendingKey {
                stack[top].pairs.append(YAMLPair(key: key, value: node))
                stack[top].pendingKey = nil
            } else {
                stack[top].pendingKey = node
            }
        }

        /// Reports every repeated key where it is repeated and keeps the first.
        private mutating func withoutDuplicateKeys(_ pairs: [YAMLPair]) -> [YAMLPair] {
            var first: [String: YAMLNode] = [:]
            var kept: [YAMLPair] = []
            kept.reserveCapacity(pairs.count)
            for pair in pairs {
                guard case let .scalar(key) = pair.key.content else {
                    kept.append(pair)
                    continue
                }
                if let earlier = first[key.text] {
                    report(
                        "duplicate key `\(key.text)` (first at line \(earlier.line), column \(earlier.column))",
                        line: pair.key.line,
                        column: pair.key.column
                    )
                } else {
                    first[key.text] = pair.key
                    kept.append(pair)
                }
            }
            return kept
        }

        private mutating func reportTag(_ tag: String, line: Int, column: Int) {
            let shown = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) : tag
            report(
                "unsupported YAML tag `\(shown)`: Allot reads plain YAML values; remove the tag",
                line: line,
                column: column
            )
        }

        private mutating func reportSyntaxError(_ parser: yaml_parser_t) {
            let problem = parser.problem.map { String(cString: $0) } ?? "unreadable input"
            var line = 1
            var column = 1
            if parser.error == YAML_READER_ERROR {
                (line, column) = SourceFile.position(ofOffset: parser.problem_offset, in: bytes)
            } else if parser.error == YAML_SCANNER_ERROR || parser.error == YAML_PARSER_ERROR {
                (line, column) = Self.position(parser.problem_mark)
            }
            var message = "invalid YAML: \(problem)"
            if let context = parser.context.map({ String(cString: $0) }) {
                let (contextLine, contextColumn) = Self.position(parser.context_mark)
                message += " (\(context) at line \(contextLine), column \(contextColumn))"
            }
            report(message, line: line, column: column)
        }

        private mutating func report(_ message: String, line: Int, column: Int) {
            result.diagnostics.append(Diagnostic(message, at: SourceLocation(file: file, line: line, column: column)))
        }

        private static func position(_ mark: yaml_mark_t) -> (line: Int, column: Int) {
            (Int(mark.line) + 1, Int(mark.column) + 1)
        }

        private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafePointer($0)) }
        }
    }
}
