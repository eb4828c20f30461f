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
                return problem("the fault is not valid: \(Self.describe(error)); send {\"kind\": \"throttle\", \"path\": \"/assignLicense\", \"count\": 1}")
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
                simulator.setWriteQuota(SimulatedWriteQuota(writes: quota.writes, window: .milliseconds(Int64(quota.windowSeconds * 1000))))
                return Response(status: .noContent)
            } catch {
                return problem("the quota is not valid: \(Self.describe(error)); send {\"writes\": 3000, \"windowSeconds\": 150} or null")
            }
        case (.put, "/roles"):
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            do {
                let grant = try JSONDecoder().decode(RolesBody.self, from: Data(body.readableBytesView))
                simulator.setRoles(grant.roles, forClient: grant.clientId)
                return Response(status: .noContent)
            } catch {
                return problem("the roles are not valid: \(Self.describe(error)); send {\"clientId\": \"...\", \"roles\": [\"User.Read.All\"]}")
            }
        default:
            return problem(
                "no control endpoint \(request.method.rawValue) \(path); see docs/simulator.md (faults, requests, tenant, tokens/revoke, quota, roles)",
                status: .notFound)
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
        case let DecodingError.typeMismatch(_, context): "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case let fault as SimulatedFaultError: fault.description
        default: "\(error)"
        }
    }
}
