import AllotCore
import Foundation
import NIOCore

/// Reads Graph collection pages (`{"value": [...], "@odata.nextLink": "..."}`) element by
/// element with ``JSONScanner``.
enum CollectionPage {
    /// Calls `element` for each item of `value` (the scanner positioned at the item) and
    /// returns the page's `@odata.nextLink`.
    static func read(
        _ body: ByteBuffer,
        element: (inout JSONScanner) throws -> Void
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
            guard let id else {
                throw JSONScanner.SyntaxError(offset: scanner.position, expected: "an object with an id")
            }
            if isUser { ids.append(id) } else if isGroup { groups.append(id) }
        }
    }
}

/// Decodes pages of `GET /users` straight into a ``TenantBuilder``: only the selected fields,
/// attribute values and license holdings interned by their raw bytes (most users share a few of
/// each), nothing kept once the page is done.
struct UserPageDecoder {
    /// How a kept attribute path is found in a user object.
    private enum Source {
        case id, userPrincipalName, usageLocation
        /// A top-level property (`rootNames[root]`) and the keys of the path inside it.
        case property(root: Int, rest: [[UInt8]])
    }

    private let sources: [Source]
    /// The top-level property names the kept paths start with (beyond the modelled fields).
    private let rootNames: [[UInt8]]
    /// Where each root's value lies in the page, for the user being decoded.
    private var roots: [Range<Int>?]
    /// The user's interned value per kept path, handed to the builder.
    private var valueIndices: [UInt32]
    /// Per kept path, interned values by their raw JSON bytes: a value seen before is neither
    /// decoded into a `JSONValue` nor hashed as one again.
    private var valuesByBytes: [RawBytesIndex]
    /// Interned holdings by the raw bytes of `assignedLicenses` and `licenseAssignmentStates`.
    private var holdingsByBytes = RawBytesIndex()

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
                let index =
                    rootNames.firstIndex(of: root)
                    ?? {
                        rootNames.append(root)
                        return rootNames.count - 1
                    }()
                return .property(root: index, rest: components.dropFirst().map { Array($0.utf8) })
            }
        }
        self.rootNames = rootNames.map { Array($0.utf8) }
        roots = Array(repeating: nil, count: rootNames.count)
        valueIndices = Array(repeating: 0, count: attributePaths.count)
        valuesByBytes = Array(repeating: RawBytesIndex(), count: attributePaths.count)
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
    mutating func decode(
        _ body: ByteBuffer,
        into builder: inout TenantBuilder
    ) throws -> (users: Int, nextLink: String?) {
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
        var usageLocation: Range<Int>?
        var licensesRange: Range<Int>?
        var statesRange: Range<Int>?
        try scanner.beginObject()
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            let start = scanner.position
            if scanner.matches(key, "id") {
                id = try scanner.guid()
            } else if scanner.matches(key, "userPrincipalName") {
                principalName = try scanner.string()
            } else if scanner.matches(key, "usageLocation") {
                if !(try scanner.consumeNull()) { _ = try scanner.stringRange() }
                usageLocation = start..<scanner.position
            } else if scanner.matches(key, "assignedLicenses") {
                try scanner.skipValue()
                licensesRange = start..<scanner.position
            } else if scanner.matches(key, "licenseAssignmentStates") {
                try scanner.skipValue()
                statesRange = start..<scanner.position
            } else if let root = rootNames.firstIndex(where: { scanner.matches(key, $0) }) {
                try scanner.skipValue()
                roots[root] = start..<scanner.position
            } else {
                try scanner.skipValue()
            }
        }
        guard let id, let principalName else {
            throw JSONScanner.SyntaxError(offset: scanner.position, expected: "a user with id and userPrincipalName")
        }
        let bytes = scanner.bytes
        for (column, source) in sources.enumerated() {
            switch source {
            case .id: valueIndices[column] = builder.internValue(.string(id.description), inColumn: column)
            case .userPrincipalName:
                valueIndices[column] = builder.internValue(.string(principalName), inColumn: column)
            case .usageLocation:
                valueIndices[column] = try internValue(bytes, usageLocation, column: column, into: &builder)
            case .property(let root, let rest):
                let range = try Self.range(of: rest, in: roots[root], bytes)
                valueIndices[column] = try internValue(bytes, range, column: column, into: &builder)
            }
        }
        let holding = try internHolding(bytes, licenses: licensesRange, states: statesRange, into: &builder)
        builder.addUser(id: id, principalName: principalName, valueIndices: valueIndices, holding: holding)
    }

    /// Where the value at `path` (object keys, outermost first) lies inside the value at
    /// `range`, or `nil` when it is absent (or something on the way is not an object). A key
    /// given twice counts with its last value, as in a decoded object.
    private static func range(
        of path: [[UInt8]],
        in range: Range<Int>?,
        _ bytes: UnsafeRawBufferPointer
    ) throws -> Range<Int>? {
        guard var current = range else { return nil }
        for key in path {
            var scanner = JSONScanner(bytes, position: current.lowerBound)
            guard try scanner.peek() == UInt8(ascii: "{") else { return nil }
            try scanner.beginObject()
            var found: Range<Int>?
            var first = true
            while let name = try scanner.nextKey(first: &first) {
                let start = scanner.position
                try scanner.skipValue()
                if scanner.matches(name, key) { found = start..<scanner.position }
            }
            guard let found else { return nil }
            current = found
        }
        return current
    }

    /// The builder's index for the JSON value in `range` of the attribute at `column` (`nil`:
    /// absent), decoded only the first time these bytes are seen.
    private mutating func internValue(
        _ bytes: UnsafeRawBufferPointer,
        _ range: Range<Int>?,
        column: Int,
        into builder: inout TenantBuilder
    ) throws -> UInt32 {
        guard let range else { return builder.internValue(nil, inColumn: column) }
        if let known = valuesByBytes[column].index(bytes, range, nil) { return known }
        var scanner = JSONScanner(bytes, position: range.lowerBound)
        let index = builder.internValue(try scanner.value(), inColumn: column)
        valuesByBytes[column].remember(index, bytes, range, nil)
        return index
    }

    private mutating func internHolding(
        _ bytes: UnsafeRawBufferPointer,
        licenses: Range<Int>?,
        states: Range<Int>?,
        into builder: inout TenantBuilder
    ) throws -> UInt32 {
        if let known = holdingsByBytes.index(bytes, licenses, states) { return known }
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
        holdingsByBytes.remember(holding, bytes, licenses, states)
        return holding
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
        guard let skuId else {
            throw JSONScanner.SyntaxError(offset: scanner.position, expected: "a license with a skuId")
        }
        return LicenseAssignmentState(
            skuId: skuId,
            disabledPlans: disabledPlans,
            assignedByGroup: group,
            state: state,
            error: error == "None" ? nil : error
        )
    }
}

/// Indices remembered by the raw JSON bytes they were decoded from (one or two values of a
/// page), so that bytes seen before are found by a hash and a byte comparison, not decoded
/// again. An absent value differs from every present one.
struct RawBytesIndex {
    private var entries: [Int: [(key: [UInt8], index: UInt32)]] = [:]

    /// The index remembered for the values at `first` and `second` in `bytes`, if any.
    func index(_ bytes: UnsafeRawBufferPointer, _ first: Range<Int>?, _ second: Range<Int>?) -> UInt32? {
        guard let candidates = entries[Self.hash(bytes, first, second)] else { return nil }
        for candidate in candidates where Self.same(candidate.key, bytes, first, second) { return candidate.index }
        return nil
    }

    mutating func remember(
        _ index: UInt32,
        _ bytes: UnsafeRawBufferPointer,
        _ first: Range<Int>?,
        _ second: Range<Int>?
    ) {
        var key: [UInt8] = []
        key.reserveCapacity(2 + (first?.count ?? 0) + (second?.count ?? 0))
        for part in [first, second] {
            key.append(part == nil ? Self.absent : Self.present)
            if let part { key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[part])) }
        }
        entries[Self.hash(bytes, first, second), default: []].append((key, index))
    }

    private static let absent: UInt8 = 0xFE
    private static let present: UInt8 = 0xFF

    /// A quick hash of the bytes (FNV-1a over 8-byte words); hits are confirmed byte for byte.
    private static func hash(_ bytes: UnsafeRawBufferPointer, _ first: Range<Int>?, _ second: Range<Int>?) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in [first, second] {
            let range = part ?? 0..<0
            hash = (hash ^ UInt64(part == nil ? 0 : range.count + 1)) &* 0x100_0000_01b3
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

    /// Whether a remembered key holds exactly these values (the layout ``remember`` writes).
    private static func same(
        _ key: [UInt8],
        _ bytes: UnsafeRawBufferPointer,
        _ first: Range<Int>?,
        _ second: Range<Int>?
    ) -> Bool {
        let firstCount = first?.count ?? 0
        let secondCount = second?.count ?? 0
        guard key.count == 2 + firstCount + secondCount, key[0] == (first == nil ? absent : present),
            key[1 + firstCount] == (second == nil ? absent : present)
        else { return false }
        return key.withUnsafeBytes { keyBytes in
            if let first, memcmp(keyBytes.baseAddress! + 1, bytes.baseAddress! + first.lowerBound, firstCount) != 0 {
                return false
            }
            if let second,
                memcmp(keyBytes.baseAddress! + 2 + firstCount, bytes.baseAddress! + second.lowerBound, secondCount) != 0
            {
                return false
            }
            return true
        }
    }
}
