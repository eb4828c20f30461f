import AllotCore
import AllotSimulator
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `allot simulate` in a child process on a loopback port, steered through its control API
/// (`/_simulator`): faults, the request log, the tenant's current state.
public final class SimulatorProcess {
    /// The application the simulator registers; `allot` authenticates as it with a client secret.
    public static let clientId = "3f6e2a51-7c1d-4b8e-9f20-6a5d4c3b2e10"
    public static let clientSecret = "e2e-Client~Secret.7Qx9vN2pL4mK8rT1"

    public let child: ChildProcess
    public let port: Int
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts the simulator serving `tenantFile` on `port` (0: any free port) and waits until it listens.
    public init(
        tenantFile: String,
        port: Int = 0,
        workspace: String,
        name: String = "simulator",
        extraArguments: [String] = []
    ) async throws {
        let secretFile = "\(workspace)/simulator-secret"
        try Self.clientSecret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        child = try ChildProcess(
            name,
            executable: TestPaths.allot,
            arguments: [
                "simulate", "--tenant", tenantFile, "--listen", "127.0.0.1:\(port)", "--client-id", Self.clientId,
                "--client-secret-file", secretFile,
            ] + extraArguments,
            directory: URL(fileURLWithPath: workspace)
        )
        let url = try await simulatorBaseURL(child, timeout: .seconds(90))
        guard let bound = URLComponents(string: url)?.port else {
            throw HarnessError("no port in the simulator's address \(url)")
        }
        self.port = bound
    }

    /// Stops the simulator (SIGKILL).
    public func stop() { child.stop() }

    // MARK: Control API

    public func addFault(_ fault: SimulatedFault) async throws {
        _ = try await control(.POST, "/faults", body: try JSONEncoder().encode(fault), expect: 201)
    }

    public func clearFaults() async throws {
        _ = try await control(.DELETE, "/faults", expect: 204)
    }

    public func requests() async throws -> [LoggedRequest] {
        try JSONDecoder().decode([LoggedRequest].self, from: try await control(.GET, "/requests"))
    }

    public func clearRequests() async throws {
        _ = try await control(.DELETE, "/requests", expect: 204)
    }

    /// The tenant as the simulator holds it now, as the snapshot document it serves.
    public func tenantDocument() async throws -> Data {
        try await control(.GET, "/tenant")
    }

    public func tenant() async throws -> Snapshot {
        try JSONDecoder().decode(Snapshot.self, from: try await tenantDocument())
    }

    private func control(
        _ method: HTTPMethod,
        _ path: String,
        body: Data? = nil,
        expect status: UInt = 200
    ) async throws -> Data {
        var request = HTTPClientRequest(url: "\(baseURL)/_simulator\(path)")
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 512 << 20)
        let data = Data(bytes.readableBytesView)
        guard response.status.code == status else {
            throw HarnessError(
                "\(method.rawValue) /_simulator\(path) answered \(response.status.code): \(String(decoding: data, as: UTF8.self))"
            )
        }
        return data
    }
}

extension [LoggedRequest] {
    /// Requests that change the tenant: `$batch`, and POST/PATCH/DELETE under `/v1.0`
    /// (the token endpoint's POST is not a write).
    public var writes: [LoggedRequest] {
        filter { request in
            request.path.contains("$batch")
                || (request.path.hasPrefix("/v1.0/") && ["POST", "PATCH", "DELETE", "PUT"].contains(request.method))
        }
    }

    /// Every `$batch` item, with its batch.
    public var batchItems: [LoggedBatchItem] { flatMap { $0.batchItems ?? [] } }
}
