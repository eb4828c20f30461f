import AllotCore
import CoreFoundation
import Foundation
import Logging

/// A swift-log handler that writes one record per line, as JSON (one object a line, what
/// journald and log shippers want), logfmt, or plain text for people.
///
/// Every record has `ts` (RFC 3339, milliseconds, UTC), `level`, `event` (from the `event`
/// metadata key; see ``AllotEvent``) and `msg`, then the other metadata. Integers, decimals and
/// booleans stay numbers and booleans in JSON, so alert rules can compare them. When the sink
/// is the journal's stream, each line starts with its syslog priority (``JournalStream``).
public struct StructuredLogHandler: LogHandler {
    public typealias Format = AllotConfiguration.LoggingSettings.Format

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let format: Format
    private let sink: LogSink

    public init(format: Format, level: Logger.Level = .info, sink: LogSink = .standardOutput) {
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(error)" }
        let name = merged.removeValue(forKey: "event").map { "\($0)" }
        let line = Self.line(
            format: format,
            time: Date(),
            level: event.level,
            event: name,
            message: event.message.description,
            metadata: merged
        )
        sink.write(sink.isJournal ? JournalStream.priorityPrefix(event.level) + line : line)
    }

    /// One formatted record, newline included.
    static func line(
        format: Format,
        time: Date,
        level: Logger.Level,
        event: String?,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        let timestamp = time.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)
        )
        let keys = metadata.keys.sorted()
        switch format {
        case .json:
            var fields = ["\"ts\":\(jsonString(timestamp))", "\"level\":\(jsonString(level.rawValue))"]
            if let event { fields.append("\"event\":\(jsonString(event))") }
            fields.append("\"msg\":\(jsonString(message))")
            for key in keys { fields.append("\(jsonString(key)):\(json(metadata[key]!))") }
            return "{" + fields.joined(separator: ",") + "}\n"
        case .logfmt:
            var fields = ["ts=\(timestamp)", "level=\(level.rawValue)"]
            if let event { fields.append("event=\(logfmtValue(event))") }
            fields.append("msg=\(logfmtValue(message))")
            for key in keys { fields.append("\(key)=\(logfmtValue(flat(metadata[key]!)))") }
            return fields.joined(separator: " ") + "\n"
        case .text:
            let extra = keys.map { "\($0)=\(flat(metadata[$0]!))" }.joined(separator: " ")
            return "\(timestamp) \(level.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) "
                + (event.map { "[\($0)] " } ?? "") + message + (extra.isEmpty ? "" : "  " + extra) + "\n"
        }
    }

    private static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case let .string(text): return jsonString(text)
        case let .stringConvertible(convertible):
            switch convertible {
            case let number as any BinaryInteger: return "\(number)"
            case let number as Double where number.isFinite: return "\(number)"
            case let flag as Bool: return flag ? "true" : "false"
            default: return jsonString(convertible.description)
            }
        case let .array(values): return "[" + values.map(json).joined(separator: ",") + "]"
        case let .dictionary(members):
            return "{" + members.keys.sorted().map { "\(jsonString($0)):\(json(members[$0]!))" }.joined(separator: ",")
                + "}"
        }
    }

    private static func flat(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case let .string(text): text
        case let .stringConvertible(convertible): convertible.description
        case let .array(values): values.map(flat).joined(separator: ",")
        case let .dictionary(members):
            members.keys.sorted().map { "\($0):\(flat(members[$0]!))" }.joined(separator: ",")
        }
    }

    private static func logfmtValue(_ text: String) -> String {
        let needsQuotes = text.isEmpty || text.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\n" }
        guard needsQuotes else { return text }
        return "\""
            + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(control.value, radix: 16).count)
                    + String(control.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Where log lines go: a standard stream, or a closure (tests capture lines this way).
public struct LogSink: Sendable {
    /// Whether the lines go to the journal, which reads a `<N>` priority prefix off each line.
    public let isJournal: Bool
    private let writeLine: @Sendable (String) -> Void

    public init(isJournal: Bool = false, _ writeLine: @escaping @Sendable (String) -> Void) {
        self.isJournal = isJournal
        self.writeLine = writeLine
    }

    public func write(_ line: String) { writeLine(line) }

    /// Standard output, each line written whole (journald keeps it under systemd).
    public static let standardOutput = LogSink(isJournal: JournalStream.isJournal(descriptor: 1)) {
        FileDescriptorWriter.standardOutput.write($0)
    }

    /// Standard error, for commands whose standard output is their result (`plan --output json`).
    public static let standardError = LogSink(isJournal: JournalStream.isJournal(descriptor: 2)) {
        FileDescriptorWriter.standardError.write($0)
    }
}

/// systemd's journal as a log stream (sd-daemon(3), systemd.exec(5) `$JOURNAL_STREAM`).
///
/// systemd connects a service's standard output and error to the journal and sets
/// `JOURNAL_STREAM=DEVICE:INODE` to that stream; a descriptor is the journal when its device and
/// inode are those (a redirected stream is not, though the variable is inherited). The journal
/// then takes a leading `<N>` on each line as the line's syslog priority, so that
/// `journalctl -p err` finds errors; the rest of the line (the JSON) is stored as it is.
public enum JournalStream {
    /// Whether `descriptor` is the stream `JOURNAL_STREAM` names.
    public static func isJournal(
        descriptor: Int32,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// The sd-daemon(3) prefix of a level: `<7>` debug (and trace), `<6>` info, `<5>` notice,
    /// `<4>` warning, `<3>` error, `<2>` critical.
    public static func priorityPrefix(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "<7>"
        case .info: "<6>"
        case .notice: "<5>"
        case .warning: "<4>"
        case .error: "<3>"
        case .critical: "<2>"
        }
    }
}

/// Writes whole lines to a file descriptor, one writer at a time, so lines never interleave.
final class FileDescriptorWriter: Sendable {
    static let standardOutput = FileDescriptorWriter(descriptor: 1)
    static let standardError = FileDescriptorWriter(descriptor: 2)

    private let descriptor: Int32
    private let lock = NSLock()

    init(descriptor: Int32) { self.descriptor = descriptor }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        lock.lock()
        defer { lock.unlock() }
        _ = bytes.withUnsafeBytes { writeAll(descriptor, $0) }
    }
}

/// Writes all of `bytes` to `descriptor`, resuming after partial writes and `EINTR`.
/// - Returns: `nil` when everything was written, else the `errno` that stopped it.
public func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += written
    }
    return nil
}
