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
        let changes = try validatedChanges(members, ofUser: user)
        if let visibleAt {
            pendingWrites.append(PendingUserWrite(user: users.ids[user], changes: changes, visibleAt: visibleAt))
            return
        }
        for (name, value) in changes {
            setProperty(name, to: value, ofUser: user)
        }
    }

    /// The properties a `PATCH` (of `user`) or `POST /users` body sets, checked and normalised
    /// as Graph stores them; `skipping` names members the caller handles itself.
    func validatedChanges(
        _ members: [String: JSONValue],
        ofUser user: Int?,
        skipping: Set<String> = []
    ) throws(GraphError) -> [(name: String, value: JSONValue?)] {
        var changes: [(String, JSONValue?)] = []
        for (name, value) in members.sorted(by: { $0.key < $1.key })
        where !name.hasPrefix("@") && !skipping.contains(name) {
            guard let canonical = UserProperties.canonicalNames[name.lowercased()] else {
                throw .badRequest("Invalid property '\(name)'.")
            }
            guard let kind = UserProperties.updatable[canonical] else {
                throw .badRequest("Property '\(canonical)' is read-only and cannot be set.")
            }
            let invalid = GraphError.badRequest(
                "Invalid value specified for property '\(canonical)' of resource 'User'."
            )
            switch (kind, value) {
            case (_, .null): changes.append((canonical, nil))
            case (.string, .string): changes.append((canonical, value))
            case (.boolean, .bool): changes.append((canonical, value))
            case let (.dateTime, .string(text)):
                guard let seconds = UTCTime.epochSeconds(parsing: text) else { throw invalid }
                changes.append((canonical, .string(UTCTime(seconds).iso8601)))
            case let (.countryCode, .string(code)):
                guard Self.isValidUsageLocation(code) else { throw invalid }
                changes.append((canonical, .string(code.uppercased())))
            case let (.extensionAttributes, .object(fields)):
                var merged = user.flatMap { users.column(named: canonical)?.value(ofUser: $0)?.objectValue } ?? [:]
                for (field, fieldValue) in fields {
                    guard field.hasPrefix("extensionAttribute"),
                        let number = Int(field.dropFirst("extensionAttribute".count)),
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
        return changes
    }

    /// `POST /users`: a new user from Graph's required properties (`accountEnabled`,
    /// `displayName`, `mailNickname`, `passwordProfile`, `userPrincipalName`) and any settable
    /// ones; the password is not kept. Returns the new user's index.
    mutating func createUser(body: JSONValue?, id: GUID, createdDateTime: String) throws(GraphError) -> Int {
        guard case let .object(members)? = body else { throw GraphError.invalidJSON() }
        for required in ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"]
        where members[required] == nil {
            throw .badRequest("A value is required for property '\(required)' of resource 'User'.")
        }
        guard case let .string(principalName)? = members["userPrincipalName"],
            principalName.split(separator: "@").count == 2
        else {
            throw .badRequest("Invalid value specified for property 'userPrincipalName' of resource 'User'.")
        }
        guard case let .string(nickname)? = members["mailNickname"], !nickname.isEmpty else {
            throw .badRequest("Invalid value specified for property 'mailNickname' of resource 'User'.")
        }
        guard users.index(ofPrincipalName: principalName) == nil else {
            throw .badRequest("Another object with the same value for property userPrincipalName already exists.")
        }
        let changes = try validatedChanges(
            members,
            ofUser: nil,
            skipping: ["userPrincipalName", "mailNickname", "passwordProfile"]
        )
        var properties: [String: JSONValue] = [
            "mailNickname": .string(nickname), "createdDateTime": .string(createdDateTime),
            "userType": .string("Member"),
        ]
        var usageLocation: String?
        for (name, value) in changes {
            if name == UserStore.usageLocationColumn {
                usageLocation = value?.stringValue
            } else {
                properties[name] = value
            }
        }
        do {
            try createUser(
                DirectoryUser(
                    id: id,
                    userPrincipalName: principalName,
                    usageLocation: usageLocation,
                    properties: properties
                )
            )
        } catch {
            throw .badRequest("Another object with the same value for property id already exists.")
        }
        return users.count - 1
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
