import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

@testable import AllotDaemon

/// The status server's HTTP manners, in process through Hummingbird's router test client.
@Suite("Status server: methods")
struct StatusServerTests {
    static func application() -> some ApplicationProtocol {
        let status = DaemonStatus(
            startedAt: Date(),
            interval: .seconds(60),
            mode: "report",
            policies: DaemonStatus.Policies(
                revision: "r1",
                files: ["a.yaml"],
                count: 1,
                loadedAt: Date(),
                lastError: nil
            )
        )
        let registry = PrometheusCollectorRegistry()
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "allot_interval",
                unitName: "seconds",
                helpText: "Seconds between cycles."
            )
        ).set(to: 60.0)
        let server = StatusServer(
            host: "127.0.0.1",
            port: 0,
            status: status,
            registry: registry,
            logger: Logger(label: "test")
        )
        return Application(router: server.router())
    }

    @Test("HEAD answers as GET, with no body", arguments: ["/healthz", "/readyz", "/status", "/metrics"])
    func headAnswersAsGet(path: String) async throws {
        try await Self.application().test(.router) { client in
            let get = try await client.execute(uri: path, method: .get)
            let head = try await client.execute(uri: path, method: .head)
            #expect(head.status == get.status)
            #expect(head.headers[.contentType] == get.headers[.contentType])
            #expect(get.body.readableBytes > 0)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test("a wrong method gets 405 with Allow: GET, HEAD; an unknown path stays 404")
    func wrongMethod() async throws {
        try await Self.application().test(.router) { client in
            for method in [HTTPRequest.Method.post, .put, .delete] {
                let response = try await client.execute(uri: "/status", method: method)
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
                #expect(String(buffer: response.body).contains("use GET or HEAD"))
            }
            #expect(try await client.execute(uri: "/nowhere", method: .post).status == .notFound)
        }
    }
}
