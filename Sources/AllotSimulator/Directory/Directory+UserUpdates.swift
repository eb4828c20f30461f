import AllotCore

/// A `PATCH` of a user that no read sees yet (the consistency lag).
struct PendingUserWrite: Sendable {
    let user: GUID
    let changes: [(name: String, value: JSONValue?)]
    let visibleAt: ContinuousClock.Instant
}

extension Directory {
    /// `PATCH /users/{id}`: sets the properties the body names, at once or, with a
    /// consistency lag, once `visibleAt` has come (every value is checked now).
    mutating func updateUser(_ key: String, body: JSONValue?, visibleAt: ContinuousClock.Instant?) throws(GraphError) {
        guard case let .object(members)? = body else { throw GraphError.invalidJSON() }
        guard let user = users.index(ofIdOrPrincipalName: key) else { throw .notFound(key) }
        var changes: [(String, JSONValue?)] = []
        for (name, value) in members.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("@") {
            guard let canonical = UserProperties.canonicalNames[name.lowercased()] else {
                throw .badRequest("Invalid property '\(name)'.")
            }
            guard let kind = UserProperties.updatable[canonical] else {
                throw .badRequest("Property '\(canonical)' is read-only and cannot be set.")
            }
            let invalid = GraphError.badRequest("Invalid value specified for property '\(canonical)' of resource 'User'.")
            switch (kind, value) {
            case (_, .null): changes.append((canonical, nil))
            case (.string, .string): changes.append((canonical, value))
            case (.boolean, .bool): changes.append((canonical, value))
            case let (.countryCode, .string(code)):
                guard Self.isValidUsageLocation(code) else { throw invalid }
                changes.append((canonical, .string(code.uppercased())))
            case let (.extensionAttributes, .object(fields)):
                var merged = users.column(named: canonical)?.value(ofUser: user)?.objectValue ?? [:]
                for (field, fieldValue) in fields {
                    guard field.hasPrefix("extensionAttribute"), let number = Int(field.dropFirst("extensionAttribute".count)),
                        (1...15).contains(number)
                    else { throw invalid }
                    switch fieldValue {
                    case .null, .string: merged[field] = fieldValue
                    default: throw invalid
                    }
                }
                changes.append((canonical, .object(merged)))
            default: throw invalid
            }
        }
        if let visibleAt {
            pendingWrites.append(PendingUserWrite(user: users.ids[user], changes: changes, visibleAt: visibleAt))
            return
        }
        for (name, value) in changes {
            setProperty(name, to: value, ofUser: user)
        }
    }

    /// Makes the pending writes whose time has come visible, oldest first.
    mutating func settle(now: ContinuousClock.Instant) {
        while let write = pendingWrites.first, write.visibleAt <= now {
            pendingWrites.removeFirst()
            guard let user = users.index(ofId: write.user) else { continue }
            for (name, value) in write.changes {
                setProperty(name, to: value, ofUser: user)
            }
        }
    }
}
