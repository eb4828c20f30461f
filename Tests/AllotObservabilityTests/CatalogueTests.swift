import AllotObservability
import Foundation
import Testing

/// The vocabulary in code (`AllotEvent`, `AllotMetric`) and in `docs/` say the same thing.
@Suite("The vocabulary agrees with its documents")
struct CatalogueTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("docs")

    static func document(_ name: String) throws -> String {
        try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8)
    }

    /// The `### ` sections of docs/log-events.md by the event names in their heading (before its
    /// parenthesis), e.g. "### `read.progress`, `apply.progress` (info)".
    static func eventSections() throws -> [String: Substring] {
        var sections: [String: Substring] = [:]
        for section in try document("log-events.md").split(separator: "\n### ").dropFirst() {
            let heading = section.prefix { $0 != "\n" }
            let names = heading.prefix { $0 != "(" }.split(separator: "`", omittingEmptySubsequences: false)
                .enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            let body = section.split(separator: "\n## ", maxSplits: 1).first ?? section
            for name in names { sections[name] = body }
        }
        return sections
    }

    @Test("every event is documented, every documented event is declared")
    func events() throws {
        let sections = try Self.eventSections()
        #expect(Set(sections.keys) == Set(AllotEvent.all.map(\.name)))
        #expect(Set(AllotEvent.all.map(\.name)).count == AllotEvent.all.count, "an event is declared twice")
    }

    @Test("every declared field is documented with its event", arguments: AllotEvent.all)
    func fields(event: AllotEvent) throws {
        let section = try #require(try Self.eventSections()[event.name])
        for field in event.fields {
            #expect(
                section.contains("`\(field)`"),
                "\(event.name): `\(field)` is not in its section of docs/log-events.md"
            )
        }
    }

    @Test("the metrics table lists each metric with its type, labels and help text")
    func metrics() throws {
        let rows = try Self.document("metrics.md").split(separator: "\n").filter { $0.hasPrefix("| `allot_") }.map {
            row in
            row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let documented = Dictionary(
            uniqueKeysWithValues: rows.map { ($0[1].replacingOccurrences(of: "`", with: ""), $0) }
        )
        #expect(Set(documented.keys) == Set(AllotMetric.all.map(\.name)))
        for metric in AllotMetric.all {
            let row = try #require(documented[metric.name])
            #expect(row[2] == metric.kind.rawValue, "\(metric.name)")
            let labels = row[3].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
            }
            #expect(labels == metric.labels, "\(metric.name)")
            #expect(row[4].replacingOccurrences(of: "`", with: "") == metric.help, "\(metric.name)")
        }
    }
}
