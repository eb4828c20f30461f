import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// The status endpoints on `status.listen` (loopback by default): `/healthz`, `/readyz`,
/// `/status` (JSON, `docs/status.md`) and `/metrics` (Prometheus text format, `docs/metrics.md`).
/// `HEAD` answers as `GET` without the body; any other method gets 405 with `Allow`.
struct StatusServer {
    /// The endpoints, each answering `GET` and `HEAD`.
    static let paths: Set<String> = ["/healthz", "/readyz", "/status", "/metrics"]

    let host: String
    let port: Int
    let status: DaemonStatus
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// The Hummingbird application; `onBound` runs once the port is bound, with the bound port.
    func application(onBound: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        var serverLogger = logger
        serverLogger.logLevel = .warning
        return Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "allot"),
            onServerRunning: { channel in await onBound(channel.localAddress?.port ?? 0) },
            logger: serverLogger
        )
    }

    /// The endpoints' router (tested in process with HummingbirdTesting).
    func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: MethodNotAllowedMiddleware(paths: Self.paths))
        let status = status
        let registry = registry
        router.get("healthz") { _, _ in
            Self.probe(status.health(now: Date()))
        }
        router.get("readyz") { _, _ in
            Self.probe(status.readiness())
        }
        router.get("status") { _, _ in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let body = (try? encoder.encode(status.snapshot(now: Date()))) ?? Data("{}".utf8)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        router.get("metrics") { _, _ in
            ProcessMetrics.shared.update()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: DaemonMetrics.exposition(registry.emitToBuffer())))
            )
        }
        return router
    }

    private static func probe(_ probe: DaemonStatus.Probe) -> Response {
        let text = probe.ok ? "ok\n" : (probe.reason ?? "not ok") + "\n"
        return Response(
            status: probe.ok ? .ok : .serviceUnavailable,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// Answers 405 with `Allow: GET, HEAD` to any other method on a status endpoint (the router
/// alone would answer 404, as if the path did not exist).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let paths: Set<String>

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard paths.contains(request.uri.path), request.method != .get, request.method != .head else {
            return try await next(request, context)
        }
        return Response(
            status: .methodNotAllowed,
            headers: [.allow: "GET, HEAD", .contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(
                byteBuffer: ByteBuffer(
                    string: "\(request.method) is not allowed on \(request.uri.path): use GET or HEAD\n"
                )
            )
        )
    }
}

/// A problem starting or running the daemon, with what to do about it.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
