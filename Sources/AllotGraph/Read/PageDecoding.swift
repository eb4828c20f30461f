import AllotCore
import Foundation
import NIOCore

/// Reads Graph collection pages (`{"value": [...], "@odata.nextLink": "..."}`) element by
/// element with ``JSONScanner``.
enum CollectionPage {
    /// Calls `element` for each item of `value` (the scanner positioned at the item) and
    /// returns the page's `@odata.nextLink`.
    static func read(
        _ body: ByteBuffer, element: (inout JSONScanner) throws -> Void
    ) throws -> String? {
        try body.withUnsafeReadableBytes { bytes in
            var scanner = JSONScanner(bytes)
            var nextLink: String?
            try scanner.beginObject()
            var first = true
            while let key = try scanner.nextKey(first: &first) {
                if scanner.matches(key, "value") {
                    try scanner.beginArray()
                    var firstElement = true
                    while try scanner.nextElement(first: &firstElement) { try element(&scanner) }
                } else if scanner.matches(key, "@odata.nextLink") {
                    nextLink = try scanner.optionalString()
                } else {
                    try scanner.skipValue()
                }
            }
            return nextLink
        }
    }

    /// The `id` of every user in a page of directory objects (transitive members), and of every
    /// group into `groups` (nested groups). Objects typed as anything else (`.device`,
    /// `.orgContact`, ...) are skipped; an object without `@odata.type` counts as a user, since
    /// only the ids of users read from `/users` ever count as members.
    static func userIds(_ body: ByteBuffer, into ids: inout [GUID], groups: inout [GUID]) throws -> String? {
        try read(body) { scanner in
            try scanner.beginObject()
            var first = true
            var id: GUID?
            var isUser = true
            var isGroup = false
            while let key = try scanner.nextKey(first: &first) {
                if scanner.matches(key, "id") {
                    id = try scanner.guid()
                } else if scanner.matches(key, "@odata.type") {
                    let type = try scanner.stringRange()
                    isUser = !type.escaped && scanner.matches(type.range, "#microsoft.graph.user")
                    isGroup = !type.escaped && scanner.matches(type.range, "#microsoft.graph.group")
                } else {
                    try scanner.skipValue()
                }
            }
            guard let id else { throw JSONScanner.SyntaxError(offset: scanner.position, expected: "an object with an id") }
            if isUser { ids.append(id) } else if isGroup { groups.append(id) }
        }
    }
}

/// Decodes pages of `GET /users` straight into a ``TenantBuilder``: only the selected fields,
/// license holdings interned by their raw bytes (most users share a few holdings), nothing
/// kept once the page is done.
struct UserPageDecoder {
    /// How a kept attribute path is found in a user object.
    private enum Source {
        case id, userPrincipalName, usageLocation
        /// A top-level property (`roots[index]`) and the path inside it.
        case property(root: Int, rest: [Substring])
    }

    private let sources: [Source]
    /// The top-level property names the kept paths start with (beyond the modelled fields).
    private let rootNames: [[UInt8]]
    private var roots: [JSONValue?]
    private var values: [JSONValue?]
    /// Interned holdings by a hash of their raw JSON bytes, with those bytes to confirm a hit.
    private var holdingsByBytes: [Int: [(bytes: [UInt8], holding: UInt32)]] = [:]

    /// - Parameter attributePaths: the builder's ``TenantBuilder/attributePaths``, in order.
    init(attributePaths: [String]) {
        var rootNames: [String] = []
        sources = attributePaths.map { path in
            switch path {
            case "id": return .id
            case "userPrincipalName": return .userPrincipalName
            case "usageLocation": return .usageLocation
            default:
                let components = path.split(separator: ".")
                let root = String(components[0])
                let index = rootNames.firstIndex(of: root) ?? {
                    rootNames.append(root)
                    return rootNames.count - 1
                }()
                return .property(root: index, rest: Array(components.dropFirst()))
            }
        }
        self.rootNames = rootNames.map { Array($0.utf8) }
        roots = Array(repeating: nil, count: rootNames.count)
        values = Array(repeating: nil, count: attributePaths.count)
    }

    /// The top-level properties `$select` must name for the kept paths.
    static func selectedRoots(of attributePaths: [String]) -> [String] {
        var names: [String] = []
        for path in attributePaths {
            let root = String(path.split(separator: ".").first ?? Substring(path))
            if !names.contains(root) { names.append(root) }
        }
        return names
    }

    /// Adds every user of one page to `builder`; returns the count and the next page's link.
    mutating func decode(_ body: ByteBuffer, into builder: inout TenantBuilder) throws -> (users: Int, nextLink: String?) {
        var count = 0
        let nextLink = try CollectionPage.read(body) { scanner in
            try decodeUser(&scanner, into: &builder)
            count += 1
        }
        return (count, nextLink)
    }

    private mutating func decodeUser(_ scanner: inout JSONScanner, into builder: inout TenantBuilder) throws {
        for index in roots.indices { roots[index] = nil }
        var id: GUID?
        var principalName: String?
        var usageLocation: String?
        var licensesRange: Range<Int>?
        var statesRange: Range<Int>?
        try scanner.beginObject()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if scanner.matches(key, "id") {
                id = try scanner.guid()
            } else if scanner.matches(key, "userPrincipalName") {
                principalName = try scanner.string()
            } else if scanner.matches(key, "usageLocation") {
                usageLocation = try scanner.optionalString()
            } else if scanner.matches(key, "assignedLicenses") {
                let start = scanner.position
                try scanner.skipValue()
                licensesRange = start..<scanner.position
            } else if scanner.matches(key, "licenseAssignmentStates") {
                let start = scanner.position
                try scanner.skipValue()
                statesRange = start..<scanner.position
            } else if let root = rootNames.firstIndex(where: { scanner.matches(key, $0) }) {
                roots[root] = try scanner.value()
            } else {
                try scanner.skipValue()
            }
        }
        guard let id, let principalName else {
            throw JSONScanner.SyntaxError(offset: scanner.position, expected: "a user with id and userPrincipalName")
        }
        for (index, source) in sources.enumerated() {
            switch source {
            case .id: values[index] = .string(id.description)
            case .userPrincipalName: values[index] = .string(principalName)
            case .usageLocation: values[index] = usageLocation.map(JSONValue.string) ?? .null
            case .property(let root, let rest): values[index] = roots[root]?.value(atPath: rest)
            }
        }
        let holding = try internHolding(scanner, licenses: licensesRange, states: statesRange, into: &builder)
        builder.addUser(id: id, principalName: principalName, values: values, holding: holding)
    }

    private mutating func internHolding(
        _ scanner: JSONScanner, licenses: Range<Int>?, states: Range<Int>?, into builder: inout TenantBuilder
    ) throws -> UInt32 {
        let bytes = scanner.bytes
        let hash = Self.hash(bytes, licenses, states)
        let licensesCount = licenses?.count ?? 0
        if let candidates = holdingsByBytes[hash] {
            for candidate in candidates where Self.same(candidate.bytes, bytes, licenses, states, licensesCount: licensesCount) {
                return candidate.holding
            }
        }
        var assigned: [AssignedLicense] = []
        if let licenses {
            var sub = JSONScanner(bytes, position: licenses.lowerBound)
            if !(try sub.consumeNull()) {
                try sub.beginArray()
                var first = true
                while try sub.nextElement(first: &first) { assigned.append(try Self.assignedLicense(&sub)) }
            }
        }
        var stateList: [LicenseAssignmentState]?
        if let states {
            var sub = JSONScanner(bytes, position: states.lowerBound)
            if !(try sub.consumeNull()) {
                var list: [LicenseAssignmentState] = []
                try sub.beginArray()
                var first = true
                while try sub.nextElement(first: &first) { list.append(try Self.assignmentState(&sub)) }
                stateList = list
            }
        }
        let holding = builder.internHolding(LicenseHolding(assignedLicenses: assigned, states: stateList))
        var key: [UInt8] = []
        key.reserveCapacity(licensesCount + (states?.count ?? 0) + 1)
        if let licenses { key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[licenses])) }
        key.append(states == nil ? 0xFE : 0xFF)
        if let states { key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[states])) }
        holdingsByBytes[hash, default: []].append((key, holding))
        return holding
    }

    /// A quick hash of the license bytes (FNV-1a over 8-byte words); hits are confirmed byte for byte.
    private static func hash(_ bytes: UnsafeRawBufferPointer, _ licenses: Range<Int>?, _ states: Range<Int>?) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for range in [licenses ?? 0..<0, states ?? 0..<0] {
            hash = (hash ^ UInt64(range.count)) &* 0x100_0000_01b3
            var index = range.lowerBound
            while index + 8 <= range.upperBound {
                hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x100_0000_01b3
                index += 8
            }
            while index < range.upperBound {
                hash = (hash ^ UInt64(bytes[index])) &* 0x100_0000_01b3
                index += 1
            }
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    /// Whether a remembered key equals these license bytes (same layout as the key built above).
    private static func same(
        _ key: [UInt8], _ bytes: UnsafeRawBufferPointer, _ licenses: Range<Int>?, _ states: Range<Int>?, licensesCount: Int
    ) -> Bool {
        let statesCount = states?.count ?? 0
        guard key.count == licensesCount + 1 + statesCount, key[licensesCount] == (states == nil ? 0xFE : 0xFF) else { return false }
        return key.withUnsafeBytes { keyBytes in
            if let licenses, memcmp(keyBytes.baseAddress!, bytes.baseAddress! + licenses.lowerBound, licensesCount) != 0 {
                return false
            }
            if let states, memcmp(keyBytes.baseAddress! + licensesCount + 1, bytes.baseAddress! + states.lowerBound, statesCount) != 0 {
                return false
            }
            return true
        }
    }

    /// An `assignedLicense` (`skuId`, `disabledPlans`): the same fields as an assignment state's.
    private static func assignedLicense(_ scanner: inout JSONScanner) throws -> AssignedLicense {
        let fields = try assignmentState(&scanner)
        return AssignedLicense(skuId: fields.skuId, disabledPlans: fields.disabledPlans)
    }

    private static func assignmentState(_ scanner: inout JSONScanner) throws -> LicenseAssignmentState {
        var skuId: GUID?
        var disabledPlans: [GUID] = []
        var group: GUID?
        var state: String?
        var error: String?
        try scanner.beginObject()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if scanner.matches(key, "skuId") {
                skuId = try scanner.guid()
            } else if scanner.matches(key, "disabledPlans") {
                disabledPlans = try scanner.guids()
            } else if scanner.matches(key, "assignedByGroup") {
                group = try scanner.optionalGUID()
            } else if scanner.matches(key, "state") {
                state = try scanner.optionalString()
            } else if scanner.matches(key, "error") {
                error = try scanner.optionalString()
            } else {
                try scanner.skipValue()
            }
        }
        guard let skuId else { throw JSONScanner.SyntaxError(offset: scanner.position, expected: "a license with a skuId") }
        return LicenseAssignmentState(
            skuId: skuId, disabledPlans: disabledPlans, assignedByGroup: group, state: state, error: error == "None" ? nil : error)
    }
}
