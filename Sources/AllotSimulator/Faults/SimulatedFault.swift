/// A misbehaviour the simulator injects into matching requests, on purpose.
///
/// The JSON form is what `POST /_simulator/faults` takes:
/// `{"kind": "throttle", "method": "POST", "path": "/assignLicense", "after": 0, "count": 1,
/// "retryAfterSeconds": 1}`.
public struct SimulatedFault: Sendable, Hashable, Codable {
    /// What the fault does.
    public struct Kind: Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String

        /// `429 Too Many Requests` with `Retry-After` (a batch item gets its own 429).
        public static let throttle = Kind(rawValue: "throttle")
        /// A 5xx answer (`status`, default 503), for top-level requests and batch items.
        public static let serverError = Kind(rawValue: "serverError")
        /// The response waits `delayMilliseconds` first.
        public static let latency = Kind(rawValue: "latency")
        /// The connection closes without a response.
        public static let dropConnection = Kind(rawValue: "dropConnection")
        /// A page of a paged listing (users, delta, groups, members) fails with 503.
        public static let failPage = Kind(rawValue: "failPage")
        /// The token endpoint and IMDS answer 503 with an Entra error body; with `status` 404 or
        /// 410, IMDS answers that instead (starting, or being updated).
        public static let tokenOutage = Kind(rawValue: "tokenOutage")
        /// A `$batch` runs and its items are answered, but the batch itself answers `status`
        /// (429 with `Retry-After`, or a 5xx), as Graph has been seen to: clients must still
        /// read the items one by one.
        public static let batchStatus = Kind(rawValue: "batchStatus")
        /// The request (a whole `$batch` included) is carried out, then the connection closes
        /// without an answer: a retry meets the state the first attempt left.
        public static let dropAfterProcessing = Kind(rawValue: "dropAfterProcessing")
        /// A page of a paged listing links to itself as its `@odata.nextLink`.
        public static let repeatNextLink = Kind(rawValue: "repeatNextLink")

        public static let all: [Kind] = [
            .throttle, .serverError, .latency, .dropConnection, .failPage, .tokenOutage, .batchStatus,
            .dropAfterProcessing, .repeatNextLink,
        ]

        public init?(_ name: String) {
            guard let kind = Kind.all.first(where: { $0.rawValue == name }) else { return nil }
            self = kind
        }

        private init(rawValue: String) {
            self.rawValue = rawValue
        }

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            let name = try container.decode(String.self)
            guard let kind = Kind(name) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription:
                        "unknown fault kind '\(name)'; use one of \(Kind.all.map(\.rawValue).joined(separator: ", "))"
                )
            }
            self = kind
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }

    public var kind: Kind
    /// Only requests with this method (any when `nil`).
    public var method: String?
    /// Only requests whose path and query contain this text (any when `nil`); batch items match on their own URL.
    public var path: String?
    /// Matching requests let through before the fault starts.
    public var after: Int
    /// Matching requests affected; -1 means until the faults are cleared.
    public var count: Int
    /// `throttle`: the `Retry-After` seconds.
    public var retryAfterSeconds: Int
    /// `serverError`: 500, 502, 503 or 504; `batchStatus`: 429 or one of those.
    public var status: Int
    /// `latency`: the delay.
    public var delayMilliseconds: Int

    public init(
        kind: Kind,
        method: String? = nil,
        path: String? = nil,
        after: Int = 0,
        count: Int = 1,
        retryAfterSeconds: Int = 1,
        status: Int = 503,
        delayMilliseconds: Int = 200
    ) {
        self.kind = kind
        self.method = method
        self.path = path
        self.after = after
        self.count = count
        self.retryAfterSeconds = retryAfterSeconds
        self.status = status
        self.delayMilliseconds = delayMilliseconds
    }

    private enum CodingKeys: String, CodingKey {
        case kind, method, path, after, count, retryAfterSeconds, status, delayMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try container.decode(Kind.self, forKey: .kind),
            method: try container.decodeIfPresent(String.self, forKey: .method),
            path: try container.decodeIfPresent(String.self, forKey: .path),
            after: try container.decodeIfPresent(Int.self, forKey: .after) ?? 0,
            count: try container.decodeIfPresent(Int.self, forKey: .count) ?? 1,
            retryAfterSeconds: try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds) ?? 1,
            status: try container.decodeIfPresent(Int.self, forKey: .status) ?? 503,
            delayMilliseconds: try container.decodeIfPresent(Int.self, forKey: .delayMilliseconds) ?? 200
        )
        try validate()
    }

    /// Checks the numbers make sense.
    /// - Throws: ``SimulatedFaultError`` naming the field to fix.
    public func validate() throws(SimulatedFaultError) {
        if after < 0 { throw SimulatedFaultError("'after' must be 0 or more, not \(after)") }
        if count == 0 || count < -1 {
            throw SimulatedFaultError("'count' must be 1 or more, or -1 for until cleared; got \(count)")
        }
        if kind == .serverError, ![500, 502, 503, 504].contains(status) {
            throw SimulatedFaultError("'status' of a serverError must be 500, 502, 503 or 504, not \(status)")
        }
        if kind == .batchStatus, ![429, 500, 502, 503, 504].contains(status) {
            throw SimulatedFaultError("'status' of a batchStatus must be 429, 500, 502, 503 or 504, not \(status)")
        }
        if kind == .tokenOutage, ![503, 404, 410].contains(status) {
            throw SimulatedFaultError(
                "'status' of a tokenOutage must be 503, or 404 or 410 (IMDS starting or being updated), not \(status)"
            )
        }
        if retryAfterSeconds < 0 { throw SimulatedFaultError("'retryAfterSeconds' must be 0 or more") }
        if delayMilliseconds < 0 { throw SimulatedFaultError("'delayMilliseconds' must be 0 or more") }
    }

    /// Parses the command-line form `throttle:path=/assignLicense,count=5`.
    public init(parsing text: String) throws(SimulatedFaultError) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let name = parts.first, let kind = Kind(String(name)) else {
            throw SimulatedFaultError(
                "unknown fault '\(text)'; write KIND[:key=value,...] with KIND one of \(Kind.all.map(\.rawValue).joined(separator: ", "))"
            )
        }
        self.init(kind: kind)
        guard parts.count == 2 else { try validate(); return }
        for option in parts[1].split(separator: ",") {
            let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {
                throw SimulatedFaultError("fault option '\(option)' needs the form key=value")
            }
            let (key, value) = (pair[0], pair[1])
            func number() throws(SimulatedFaultError) -> Int {
                guard let number = Int(value) else {
                    throw SimulatedFaultError("fault option '\(key)' needs a number, not '\(value)'")
                }
                return number
            }
            switch key {
            case "method": method = value.uppercased()
            case "path": path = value
            case "after": after = try number()
            case "count": count = try number()
            case "retryAfter", "retryAfterSeconds": retryAfterSeconds = try number()
            case "status": status = try number()
            case "delay", "delayMilliseconds": delayMilliseconds = try number()
            default:
                throw SimulatedFaultError(
                    "unknown fault option '\(key)'; use method, path, after, count, retryAfterSeconds, status or delayMilliseconds"
                )
            }
        }
        try validate()
    }
}

/// A fault description that cannot be used, and why.
public struct SimulatedFaultError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The faults in force and how many requests each has seen: a pure state machine, asked once
/// per request (or batch item) which fault, if any, fires.
struct FaultBook: Sendable {
    private struct Entry: Sendable {
        let fault: SimulatedFault
        var seen = 0
        var affected = 0
    }

    private var entries: [Entry] = []

    var faults: [SimulatedFault] { entries.map(\.fault) }
    /// How many matching requests each fault has seen so far (on arrival), in the same order.
    var seen: [Int] { entries.map(\.seen) }

    mutating func add(_ fault: SimulatedFault) {
        entries.append(Entry(fault: fault))
    }

    mutating func clear() {
        entries.removeAll()
    }

    /// The fault that fires for this request among the given kinds, if any. Every matching
    /// fault counts the request; the first (in the order added) whose turn it is fires.
    mutating func take(
        _ kinds: Set<SimulatedFault.Kind>,
        method: String,
        path: String,
        isPagedListing: Bool
    ) -> SimulatedFault? {
        var fired: SimulatedFault?
        for index in entries.indices {
            let fault = entries[index].fault
            guard kinds.contains(fault.kind),
                fault.method.map({ $0.uppercased() == method.uppercased() }) ?? true,
                fault.path.map({ path.contains($0) }) ?? true,
                fault.kind != .failPage || isPagedListing
            else { continue }
            entries[index].seen += 1
            let due = entries[index].seen > fault.after && (fault.count == -1 || entries[index].affected < fault.count)
            if due, fired == nil {
                entries[index].affected += 1
                fired = fault
            }
        }
        return fired
    }
}
