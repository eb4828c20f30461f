import AllotCore

/// One request the simulator answered (control API requests are not logged).
public struct LoggedRequest: Sendable, Hashable, Codable {
    /// Counts from 1 in arrival order.
    public var sequence: Int
    public var method: String
    /// The path with its query, as sent.
    public var path: String
    /// The HTTP status sent; 0 when the connection was dropped on purpose.
    public var status: Int
    /// The `client-request-id` header, if sent.
    public var clientRequestId: String?
    /// The `User-Agent` header, if sent.
    public var userAgent: String?
    /// For `POST /$batch`: each item and its status.
    public var batchItems: [LoggedBatchItem]?

    public init(
        sequence: Int,
        method: String,
        path: String,
        status: Int,
        clientRequestId: String?,
        userAgent: String?,
        batchItems: [LoggedBatchItem]?
    ) {
        self.sequence = sequence
        self.method = method
        self.path = path
        self.status = status
        self.clientRequestId = clientRequestId
        self.userAgent = userAgent
        self.batchItems = batchItems
    }

    private enum CodingKeys: String, CodingKey {
        case sequence, method, path, status, clientRequestId, userAgent, batchItems
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(status, forKey: .status)
        try container.encode(clientRequestId, forKey: .clientRequestId)
        try container.encode(userAgent, forKey: .userAgent)
        try container.encode(batchItems, forKey: .batchItems)
    }
}

/// One item of a logged `$batch`.
public struct LoggedBatchItem: Sendable, Hashable, Codable {
    public var id: String
    public var method: String
    public var url: String
    public var status: Int
    /// The item's JSON body as sent (e.g. an `assignLicense` body), so that tests can check
    /// exactly what was asked for; absent when the item had none.
    public var body: JSONValue?

    public init(id: String, method: String, url: String, status: Int, body: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.url = url
        self.status = status
        self.body = body
    }
}

/// The request log: the newest ``capacity`` requests.
struct RequestLog: Sendable {
    static let capacity = 200_000

    private(set) var entries: [LoggedRequest] = []
    private var nextSequence = 1

    mutating func append(
        method: String,
        path: String,
        status: Int,
        clientRequestId: String?,
        userAgent: String?,
        batchItems: [LoggedBatchItem]?
    ) {
        if entries.count >= Self.capacity { entries.removeFirst(entries.count / 10) }
        entries.append(
            LoggedRequest(
                sequence: nextSequence,
                method: method,
                path: path,
                status: status,
                clientRequestId: clientRequestId,
                userAgent: userAgent,
                batchItems: batchItems
            )
        )
        nextSequence += 1
    }

    mutating func clear() {
        entries.removeAll()
    }
}
