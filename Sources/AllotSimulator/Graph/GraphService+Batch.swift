import AllotCore
import Foundation
import HTTPTypes
import Synchronization

extension GraphService {
    static let maxBatchRequests = 20

    /// One parsed item of a `$batch`.
    private struct BatchItem {
        let id: String
        let method: HTTPRequest.Method
        let url: String
        let headers: HTTPFields
        let body: JSONValue?
        let dependsOn: [String]
        /// An error that answers this item without running it (a malformed item).
        let problem: GraphError?
    }

    /// `POST /$batch`: up to 20 requests, answered as `responses`.
    ///
    /// Graph's rules: a batch is either fully parallel (no `dependsOn`) or fully sequential
    /// (every request after the first names a `dependsOn`), and a dependency must be an earlier
    /// request. Parallel requests run in no promised order and responses come back in any order;
    /// the simulator draws both orders from a seeded generator (``SimulatedBatchOrder``).
    func batch(_ request: GraphRequest, origin: String, clientRequestId: String) throws(GraphError) -> GraphResponse {
        guard case let .object(envelope)? = request.body, case let .array(rawItems)? = envelope["requests"] else {
            throw GraphError.badRequest(
                "Invalid batch payload format: the body must be a JSON object with a 'requests' array.",
                code: "BadRequest"
            )
        }
        guard !rawItems.isEmpty else {
            throw GraphError.badRequest("The batch request must contain at least one request.", code: "BadRequest")
        }
        guard rawItems.count <= Self.maxBatchRequests else {
            throw GraphError.badRequest(
                "The number of requests in the batch (\(rawItems.count)) exceeds the maximum of \(Self.maxBatchRequests).",
                code: "BadRequest"
            )
        }
        let items = try rawItems.map { raw throws(GraphError) in try Self.parseItem(raw) }
        var ids = Set<String>()
        for item in items {
            guard ids.insert(item.id).inserted else {
                throw GraphError.badRequest(
                    "Batch request ids must be unique; '\(item.id)' appears more than once.",
                    code: "BadRequest"
                )
            }
        }
        let sequential = try Self.checkSequencing(items)
        let (runOrder, answerOrder) = orders(count: items.count, sequential: sequential)

        var results: [String: GraphResponse] = [:]
        for index in runOrder {
            let item = items[index]
            let itemRequestId = UUID().uuidString.lowercased()
            let itemClientRequestId = item.headers[.clientRequestId] ?? clientRequestId
            let date = UTCTime(Date().timeIntervalSince1970).graphDate
            if let problem = item.problem {
                results[item.id] = .error(
                    problem,
                    requestId: itemRequestId,
                    clientRequestId: itemClientRequestId,
                    date: date
                )
            } else if let failed = item.dependsOn.first(where: { (results[$0]?.status.code ?? 424) >= 400 }) {
                results[item.id] = .error(
                    GraphError(
                        status: .init(code: 424),
                        code: "FailedDependency",
                        message: "The request depends on request '\(failed)', which failed."
                    ),
                    requestId: itemRequestId,
                    clientRequestId: itemClientRequestId,
                    date: date
                )
            } else {
                let itemRequest = GraphRequest(
                    method: item.method,
                    relativeURL: item.url,
                    headers: item.headers,
                    body: item.body,
                    bodyIsInvalid: false,
                    caller: request.caller,
                    isBatchItem: true
                )
                results[item.id] = respond(
                    to: itemRequest,
                    origin: origin,
                    requestId: itemRequestId,
                    clientRequestId: itemClientRequestId
                )
            }
        }

        var writer = JSONWriter(capacity: 1024 * items.count)
        writer.raw("{\"responses\":[")
        var first = true
        for index in answerOrder {
            let item = items[index]
            guard let response = results[item.id] else { continue }
            writer.comma(&first)
            Self.write(item: item.id, response, into: &writer)
        }
        writer.raw("]}")
        var response = GraphResponse.json(writer.bytes)
        response.batchItems = items.map { item in
            LoggedBatchItem(
                id: item.id,
                method: item.method.rawValue,
                url: item.url,
                status: results[item.id]?.status.code ?? 0,
                body: item.body
            )
        }
        return response
    }

    /// Whether the batch is sequential, checking Graph's rules: no mix of requests with and
    /// without `dependsOn`, and every dependency an earlier request.
    private static func checkSequencing(_ items: [BatchItem]) throws(GraphError) -> Bool {
        let sequential = items.contains { !$0.dependsOn.isEmpty }
        if sequential, items.dropFirst().contains(where: \.dependsOn.isEmpty) {
            throw GraphError.badRequest(
                "Batch should be either fully sequential or fully parallel.",
                code: "BadRequest"
            )
        }
        var earlier = Set<String>()
        for item in items {
            if let invalid = item.dependsOn.first(where: { !earlier.contains($0) }) {
                throw GraphError.badRequest(
                    "Invalid dependency for request Id '\(item.id)': '\(invalid)' is not the id of an earlier request in the batch.",
                    code: "BadRequest"
                )
            }
            earlier.insert(item.id)
        }
        return sequential
    }

    /// The order the items run in and the order they are answered in (indices into the request).
    /// A sequential batch runs in request order, which keeps every dependency first.
    private func orders(count: Int, sequential: Bool) -> (run: [Int], answer: [Int]) {
        let requestOrder = Array(0..<count)
        guard state.configuration.batchOrder == .random else { return (requestOrder, requestOrder) }
        return state.batchRandom.withLock { random in
            let run = sequential ? requestOrder : requestOrder.shuffled(using: &random)
            return (run, requestOrder.shuffled(using: &random))
        }
    }

    private static func write(item id: String, _ response: GraphResponse, into writer: inout JSONWriter) {
        writer.raw("{\"id\":")
        writer.string(id)
        writer.raw(",\"status\":")
        writer.integer(response.status.code)
        writer.raw(",\"headers\":{")
        var firstHeader = true
        for field in response.headers {
            writer.comma(&firstHeader)
            writer.string(field.name.rawName)
            writer.byte(UInt8(ascii: ":"))
            writer.string(field.value)
        }
        writer.byte(UInt8(ascii: "}"))
        if let body = response.body {
            writer.raw(",\"body\":")
            if response.bodyIsJSON { writer.raw(body) } else { writer.string(Data(body).base64EncodedString()) }
        }
        writer.byte(UInt8(ascii: "}"))
    }

    private static func parseItem(_ raw: JSONValue) throws(GraphError) -> BatchItem {
        guard case let .object(fields) = raw else {
            throw GraphError.badRequest(
                "Invalid batch payload format: each request must be a JSON object.",
                code: "BadRequest"
            )
        }
        let id: String
        switch fields["id"] {
        case let .string(text)?: id = text
        case let .number(number)?: id = String(Int(number))
        default: throw GraphError.badRequest("Invalid batch payload format: a request has no 'id'.", code: "BadRequest")
        }
        guard let methodText = fields["method"]?.stringValue, let method = HTTPRequest.Method(methodText.uppercased())
        else {
            throw GraphError.badRequest(
                "Invalid batch payload format: request '\(id)' has no valid 'method'.",
                code: "BadRequest"
            )
        }
        guard var url = fields["url"]?.stringValue, !url.isEmpty else {
            throw GraphError.badRequest(
                "Invalid batch payload format: request '\(id)' has no 'url'.",
                code: "BadRequest"
            )
        }
        url = relativeBatchURL(url)
        var headers = HTTPFields()
        if case let .object(headerFields)? = fields["headers"] {
            for (name, value) in headerFields {
                if let fieldName = HTTPField.Name(name), let text = value.stringValue {
                    headers.append(HTTPField(name: fieldName, value: text))
                }
            }
        }
        let dependsOn: [String]
        switch fields["dependsOn"] {
        case let .array(values)?: dependsOn = values.compactMap { $0.stringValue ?? ($0 == .null ? nil : "\($0)") }
        case nil, .null?: dependsOn = []
        default:
            throw GraphError.badRequest(
                "Invalid batch payload format: 'dependsOn' of request '\(id)' must be an array.",
                code: "BadRequest"
            )
        }
        var body: JSONValue?
        var problem: GraphError?
        if let rawBody = fields["body"], rawBody != .null {
            if headers[.contentType] == nil {
                problem = GraphError.badRequest(
                    "Content-Type header must be specified when the request has a body.",
                    code: "BadRequest"
                )
            }
            if case let .string(encoded) = rawBody, let data = Data(base64Encoded: encoded) {
                body = try? JSONParser.parse(Array(data))
            } else {
                body = rawBody
            }
        }
        return BatchItem(
            id: id,
            method: method,
            url: url,
            headers: headers,
            body: body,
            dependsOn: dependsOn,
            problem: problem
        )
    }

    /// `/users/x`, `users/x` or an absolute Graph URL, as a path below `/v1.0`.
    static func relativeBatchURL(_ url: String) -> String {
        var path = url[...]
        if let scheme = path.range(of: "://") {
            path = path[scheme.upperBound...]
            path = path[(path.firstIndex(of: "/") ?? path.endIndex)...]
        }
        if !path.hasPrefix("/") { return "/" + path }
        if path.hasPrefix("/v1.0/") { return String(path.dropFirst(5)) }
        return String(path)
    }
}
