import AllotCore
import AllotObservability
import Foundation
import Logging
import Synchronization
import Testing

@testable import AllotEngine

/// Captures log lines in memory.
final class LineCapture: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    var sink: LogSink { LogSink { line in self.storage.withLock { $0.append(line) } } }
    func logger(format: StructuredLogHandler.Format = .json, level: Logger.Level = .info) -> Logger {
        Logger(label: "test") { _ in StructuredLogHandler(format: format, level: level, sink: self.sink) }
    }
}

@Suite("Structured logs")
struct StructuredLogHandlerTests {
    @Test("JSON: one object per line with ts, level, event, msg and typed fields")
    func json() throws {
        let capture = LineCapture()
        capture.logger().event(
            .licenseFailed,
            level: .error,
            "assignLicense failed for ada@contoso.com",
            [
                "user.id": "2d7f", "graph.code": "Request_BadRequest", "attempts": .stringConvertible(2),
                "retry": .stringConvertible(false),
                "skus": .array(["SPE_E5"]), "note": "a \"quoted\"\nline",
            ]
        )
        let line = try #require(capture.lines.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "license.failed")
        #expect(object["level"] as? String == "error")
        #expect(object["msg"] as? String == "assignLicense failed for ada@contoso.com")
        #expect(object["attempts"] as? Int == 2)
        #expect(object["retry"] as? Bool == false)
        #expect(object["skus"] as? [String] == ["SPE_E5"])
        #expect(object["note"] as? String == "a \"quoted\"\nline")
        #expect((object["ts"] as? String)?.hasSuffix("Z") == true)
        #expect(line.hasPrefix("{\"ts\":"))
    }

    @Test("logfmt and text")
    func otherFormats() throws {
        let capture = LineCapture()
        capture.logger(format: .logfmt).event(.cycleStarted, "cycle started", ["cycle": "7"])
        capture.logger(format: .text).event(.cycleStarted, "cycle started", ["cycle": "7"])
        #expect(capture.lines[0].contains(" level=info event=cycle.started msg=\"cycle started\" cycle=7\n"))
        #expect(capture.lines[1].contains(" INFO     [cycle.started] cycle started  cycle=7\n"))
    }

    @Test("levels below the configured one are dropped")
    func levels() {
        let capture = LineCapture()
        capture.logger(level: .warning).info("routine")
        #expect(capture.lines.isEmpty)
    }
}
