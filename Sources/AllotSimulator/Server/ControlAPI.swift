import AllotCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// The control API under `/_simulator` (loopback only, no authentication): what tests and
/// people use to steer the simulator over HTTP, mirroring ``GraphSimulator``'s methods.
struct ControlAPI {
    let simulator: GraphSimulator

    /// `PUT /_simulator/quota` body.
    private struct QuotaBody: Decodable {
        let writes: Int
        let windowSeconds: Double
    }

    /// `PUT /_simulator/roles` body.
    private struct RolesBody: Decodable {
        let clientId: String
        let roles: Set<String>
    }

    func respond(to request: Request, path: String, context: SimulatorRequestContext) async throws -> Response {
        let route = path.dropFirst("/_simulator".count)
        switch (request.method, route) {
        case (.post, "/faults"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            do {
                let fault = try JSONDecoder().decode(SimulatedFault.self, from: Data(body.readableBytesView))
                simulator.addFault(fault)
                return try encode(fault, status: .created)
            } catch {
                return problem(
                    "the fault is not valid: \(Self.describe(error)); send {\"kind\": \"throttle\", \"path\": \"/assignLicense\", \"count\": 1}"
                )
            }
        case (.get, "/faults"):
            return try encode(simulator.faults())
        case (.delete, "/faults"):
            simulator.clearFaults()
            return Response(status: .noContent)
        case (.get, "/requests"):
            return try encode(simulator.requestLog())
        case (.delete, "/requests"):
            simulator.clearRequestLog()
            return Response(status: .noContent)
        case (.get, "/tenant"):
            return try encode(simulator.currentTenant())
        case (.post, "/tokens/revoke"):
            simulator.revokeTokens()
            return Response(status: .noContent)
        case (.put, "/quota"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text == "null" {
                simulator.setWriteQuota(nil)
                return Response(status: .noContent)
            }
            do {
                let quota = try JSONDecoder().decode(QuotaBody.self, from: Data(body.readableBytesView))
                guard quota.writes > 0, quota.windowSeconds > 0 else {
                    return problem("'writes' and 'windowSeconds' must both be above 0")
                }
                simulator.setWriteQuota(
                    SimulatedWriteQuota(writes: quota.writes, window: .milliseconds(Int64(quota.windowSeconds * 1000)))
                )
                return Response(status: .noContent)
            } catch {
                return problem(
                    "the quota is not valid: \(Self.describe(error)); send {\"writes\": 3000, \"windowSeconds\": 150} or null"
                )
            }
        case (.put, "/roles"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            do {
                let grant = try JSONDecoder().decode(RolesBody.self, from: Data(body.readableBytesView))
                simulator.setRoles(grant.roles, forClient: grant.clientId)
                return Response(status: .noContent)
            } catch {
                return problem(
                    "the roles are not valid: \(Self.describe(error)); send {\"clientId\": \"...\", \"roles\": [\"User.Read.All\"]}"
                )
            }
        case (.post, "/delta/expire"):
            simulator.expireDeltaTokens()
            return Response(status: .noContent)
        case (.put, "/entraIDPremium"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            switch String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines) {
            case "true": simulator.setEntraIDPremium(true)
            case "false": simulator.setEntraIDPremium(false)
            default: return problem("send true or false")
            }
            return Response(status: .noContent)
        case (.post, "/users"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            do {
                let user = try JSONDecoder().decode(DirectoryUser.self, from: Data(body.readableBytesView))
                try simulator.createUser(user)
                return Response(status: .created)
            } catch {
                return problem(
                    "the user was not created: \(Self.describe(error)); send a snapshot user, e.g. {\"id\": \"...\", \"userPrincipalName\": \"new@contoso.com\"}"
                )
            }
        default:
            return try await respondToObjectRoute(request, route: route, context: context)
        }
    }

    /// The routes that name a user or group: `/users/{id}` (PATCH, DELETE), `/users/{id}/signInActivity`
    /// (PUT), `/deletedUsers/{id}` (DELETE), `/groups/{id}/members` (POST), `/groups/{id}/members/{userId}` (DELETE).
    private func respondToObjectRoute(
        _ request: Request,
        route: Substring,
        context: SimulatorRequestContext
    ) async throws -> Response {
        let segments = route.split(separator: "/").map(String.init)
        let ids = segments.map { GUID($0) }
        do {
            switch (request.method, segments.count, segments.first) {
            case (.patch, 2, "users"):
                guard let id = ids[1] else { break }
                guard case let .object(properties) = try await json(request, context: context) else {
                    return problem("send the properties to set as an object, as PATCH /users/{id} takes them")
                }
                try simulator.updateUser(id, properties)
                return Response(status: .noContent)
            case (.delete, 2, "users"):
                guard let id = ids[1] else { break }
                let permanently = request.uri.queryParameters["permanently"] == "true"
                guard simulator.deleteUser(id, permanently: permanently) else {
                    throw DirectoryChangeError.unknownUser(id)
                }
                return Response(status: .noContent)
            case (.put, 3, "users") where segments[2] == "signInActivity":
                guard let id = ids[1] else { break }
                let body = try await json(request, context: context)
                try simulator.setSignInActivity(
                    body == .null ? nil : try SimulatedSignInActivity(json: body),
                    forUser: id
                )
                return Response(status: .noContent)
            case (.delete, 2, "deletedUsers"):
                guard let id = ids[1] else { break }
                guard simulator.purgeDeletedUser(id) else { throw DirectoryChangeError("\(id) is not a deleted user") }
                return Response(status: .noContent)
            case (.post, 3, "groups") where segments[2] == "members":
                guard let group = ids[1] else { break }
                guard
                    let user = try await json(request, context: context).objectValue?["id"]?.stringValue.flatMap(
                        GUID.init
                    )
                else {
                    return problem("send the user to add as {\"id\": \"...\"}")
                }
                try simulator.addMember(user, toGroup: group)
                return Response(status: .noContent)
            case (.delete, 4, "groups") where segments[2] == "members":
                guard let group = ids[1], let user = ids[3] else { break }
                try simulator.removeMember(user, fromGroup: group)
                return Response(status: .noContent)
            default:
                break
            }
        } catch let error as DirectoryChangeError {
            return problem(error.description)
        }
        return problem(
            "no control endpoint \(request.method.rawValue) \(route); see docs/simulator.md (faults, requests, tenant, tokens/revoke, quota, roles, users, groups, delta/expire, entraIDPremium)",
            status: .notFound
        )
    }

    /// The request body as JSON (`null` when empty).
    private func json(_ request: Request, context: SimulatorRequestContext) async throws -> JSONValue {
        let body = try await request.body.collect(upTo: context.maxUploadSize)
        guard body.readableBytes > 0 else { return .null }
        do {
            return try JSONParser.parse(body.readableBytesView)
        } catch {
            throw DirectoryChangeError("the body is not JSON: \(error)")
        }
    }

    private func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return SimulatorResponder.json(status, Array(try encoder.encode(value)))
    }

    private func problem(_ message: String, status: HTTPResponse.Status = .badRequest) -> Response {
        var writer = JSONWriter()
        writer.raw("{\"error\":")
        writer.string(message)
        writer.byte(UInt8(ascii: "}"))
        return SimulatorResponder.json(status, writer.bytes)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(context): context.debugDescription
        case let DecodingError.keyNotFound(key, _): "'\(key.stringValue)' is missing"
        case let DecodingError.typeMismatch(_, context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case let fault as SimulatedFaultError: fault.description
        case let change as DirectoryChangeError: change.description
        default: "\(error)"
        }
    }
}
