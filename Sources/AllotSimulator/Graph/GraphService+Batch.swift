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

    /// `POST /$batch`: up to 20 requests, run in `dependsOn` order, answered as `responses`
    /// (not in request order, as Graph may answer).
    func batch(_ request: GraphRequest, origin: String, clientRequestId: String) throws(GraphError) -> GraphResponse {
        guard case let .object(envelope)? = request.body, case let .array(rawItems)? = envelope["requests"] else {
            throw GraphError.badRequest("Invalid batch payload format: the body must be a JSON object with a 'requests' array.", code: "BadRequest")
        }
        guard !rawItems.isEmpty else { throw GraphError.badRequest("The batch request must contain at least one request.", code: "BadRequest") }
        guard rawItems.count <= Self.maxBatchRequests else {
            throw GraphError.badRequest(
                "The number of requests in the batch (\(rawItems.count)) exceeds the maximum of \(Self.maxBatchRequests).", code: "BadRequest")
        }
        let items = try rawItems.map { raw throws(GraphError) in try Self.parseItem(raw) }
        var ids = Set<String>()
        for item in items {
            guard ids.insert(item.id).inserted else {
                throw GraphError.badRequest("Batch request ids must be unique; '\(item.id)' appears more than once.", code: "BadRequest")
            }
        }
        for item in items {
            if let unknown = item.dependsOn.first(where: { !ids.contains($0) }) {
                throw GraphError.badRequest("Request '\(item.id)' depends on '\(unknown)', which is not in the batch.", code: "BadRequest")
            }
        }

        var results: [String: (status: HTTPResponse.Status, response: GraphResponse)] = [:]
        var pending = items
        while !pending.isEmpty {
            guard let next = pending.firstIndex(where: { $0.dependsOn.allSatisfy { results[$0] != nil } }) else {
                throw GraphError.badRequest("The dependsOn of the batch requests form a cycle.", code: "BadRequest")
            }
            let item = pending.remove(at: next)
            let itemRequestId = UUID().uuidString.lowercased()
            let itemClientRequestId = item.headers[.clientRequestId] ?? clientRequestId
            let response: GraphResponse
            if let problem = item.problem {
                response = .error(problem, requestId: itemRequestId, clientRequestId: itemClientRequestId, date: UTCTime(Date().timeIntervalSince1970).graphDate)
            } else if let failed = item.dependsOn.first(where: { results[$0]!.status.code >= 400 }) {
                response = .error(
                    GraphError(
                        status: .init(code: 424), code: "FailedDependency",
                        message: "The request depends on request '\(failed)', which failed."),
                    requestId: itemRequestId, clientRequestId: itemClientRequestId, date: UTCTime(Date().timeIntervalSince1970).graphDate)
            } else {
                let itemRequest = GraphRequest(
                    method: item.method, relativeURL: item.url, headers: item.headers, body: item.body, bodyIsInvalid: false,
                    applicationId: request.applicationId, isBatchItem: true)
                response = respond(to: itemRequest, origin: origin, requestId: itemRequestId, clientRequestId: itemClientRequestId)
            }
            results[item.id] = (response.status, response)
        }

        var writer = JSONWriter(capacity: 1024 * items.count)
        writer.raw("{\"responses\":[")
        var first = true
        var logged: [LoggedBatchItem] = []
        // Graph may answer in any order; the simulator answers last request first.
        for item in items.reversed() {
            let response = results[item.id]!.response
            writer.comma(&first)
            writer.raw("{\"id\":")
            writer.string(item.id)
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
        writer.raw("]}")
        for item in items {
            logged.append(
                LoggedBatchItem(id: item.id, method: item.method.rawValue, url: item.url, status: results[item.id]!.status.code, body: item.body))
        }
        var response = GraphResponse.json(writer.bytes)
        response.batchItems = logged
        return response
    }

    private static func parseItem(_ raw: JSONValue) throws(GraphError) -> BatchItem {
        guard case let .object(fields) = raw else {
            throw GraphError.badRequest("Invalid batch payload format: each request must be a JSON object.", code: "BadRequest")
        }
        let id: String
        switch fields["id"] {
        case let .string(text)?: id = text
        case let .number(number)?: id = String(Int(number))
        default: throw GraphError.badRequest("Invalid batch payload format: a request has no 'id'.", code: "BadRequest")
        }
        guard let methodText = fields["method"]?.stringValue, let method = HTTPRequest.Method(methodText.uppercased()) else {
            throw GraphError.badRequest("Invalid batch payload format: request '\(id)' has no valid 'method'.", code: "BadRequest")
        }
        guard var url = fields["url"]?.stringValue, !url.isEmpty else {
            throw GraphError.badRequest("Invalid batch payload format: request '\(id)' has no 'url'.", code: "BadRequest")
        }
        url = relativeBatchURL(url)
        var headers = HTTPFields()
        if case let .object(headerFields)? = fields["headers"] {
            for (name, value) in headerFields {
                if let fieldName = HTTPField.Name(name), let text = value.stringValue { headers.append(HTTPField(name: fieldName, value: text)) }
            }
        }
        let dependsOn: [String]
        switch fields["dependsOn"] {
        case let .array(values)?: dependsOn = values.compactMap { $0.stringValue ?? ($0 == .null ? nil : "\($0)") }
        case nil, .null?: dependsOn = []
        default: throw GraphError.badRequest("Invalid batch payload format: 'dependsOn' of request '\(id)' must be an array.", code: "BadRequest")
        }
        var body: JSONValue?
        var problem: GraphError?
        if let rawBody = fields["body"], rawBody != .null {
            if headers[.contentType] == nil {
                problem = GraphError.badRequest("Content-Type header must be specified when the request has a body.", code: "BadRequest")
            }
            if case let .string(encoded) = rawBody, let data = Data(base64Encoded: encoded) {
                body = try? JSONParser.parse(Array(data))
            } else {
                body = rawBody
            }
        }
        return BatchItem(id: id, method: method, url: url, headers: headers, body: body, dependsOn: dependsOn, problem: problem)
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
