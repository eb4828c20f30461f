import AllotTestSupport
import AllotCore
import AllotSimulator
import Foundation

/// One line of the daemon's JSON log (`ts`, `level`, `event`, `msg` and the event's fields).
struct LogRecord: Sendable, CustomStringConvertible {
    let fields: [String: JSONValue]
    let line: String

    var event: String? { string("event") }
    var message: String { string("msg") ?? "" }
    var description: String { line }

    func string(_ key: String) -> String? {
        if case .string(let value) = fields[key] { return value }
        return nil
    }

    func int(_ key: String) -> Int? {
        if case .number(let value) = fields[key] { return Int(exactly: value) }
        return nil
    }

    func bool(_ key: String) -> Bool? {
        if case .bool(let value) = fields[key] { return value }
        return nil
    }

    func strings(_ key: String) -> [String]? {
        guard case .array(let values) = fields[key] else { return nil }
        return values.compactMap { if case .string(let text) = $0 { text } else { nil } }
    }
}

/// The daemon's standard output, read as it grows: one ``LogRecord`` per JSON line.
final class DaemonLog {
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()
    private var parsed: [LogRecord] = []

    init(path: String) {
        self.path = path
    }

    /// Every record so far.
    var records: [LogRecord] {
        refresh()
        return parsed
    }

    /// The records of `event`, in order.
    func events(_ event: String) -> [LogRecord] { records.filter { $0.event == event } }

    /// The first record of `event` at position `start` or later that satisfies `matches`,
    /// waiting at most `timeout`.
    @discardableResult
    func first(
        _ event: String,
        from start: Int = 0,
        timeout: Duration = .seconds(60),
        where matches: (LogRecord) -> Bool = { _ in true }
    ) async throws -> (index: Int, record: LogRecord) {
        var found: (Int, LogRecord)?
        try await waitUntil("the log event \(event) in \(path)", timeout: timeout, interval: .milliseconds(25)) {
            let records = self.records
            guard start < records.count,
                let index = records[start...].firstIndex(where: { $0.event == event && matches($0) })
            else { return false }
            found = (index, records[index])
            return true
        }
        return found!
    }

    private func refresh() {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        guard let data = try? handle.readToEnd(), !data.isEmpty else { return }
        offset += UInt64(data.count)
        partial.append(data)
        // Whole lines are parsed in place and dropped from the buffer once, at the end: dropping
        // each line as it is read would move the rest of a large chunk once per line.
        // Parsed with JSONParser, as RunResult parses `allot apply`'s lines: JSONDecoder throws and
        // catches an error for most JSONValues, and the test process records a backtrace for each.
        var lineStart = partial.startIndex
        while let newline = partial[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = partial[lineStart..<newline]
            lineStart = partial.index(after: newline)
            guard case .object(let fields)? = try? JSONParser.parse(line) else { continue }
            parsed.append(LogRecord(fields: fields, line: String(decoding: line, as: UTF8.self)))
        }
        partial = Data(partial[lineStart...])
    }
}
