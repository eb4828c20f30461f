import AllotTestSupport
import Foundation
import Glibc
import Testing

extension DaemonProcessTests {
    @Test("SIGTERM while a request to an unreachable endpoint is being retried: the daemon exits 0 within 5 s")
    func sigtermDuringRetries() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "allot-unreachable-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Nobody listens on `closed`: every token request is refused and retried (graph.timeout 1h).
        let closed = try freeLoopbackPort()
        let statusPort = try freeLoopbackPort()
        try "daemon-test-secret\n".write(
            to: directory.appendingPathComponent("client-secret"),
            atomically: true,
            encoding: .utf8
        )
        try """
        tenant: 8f3c2a10-5b7e-4d2c-9a61-3e0f4b8d7c21
        graph:
          endpoint: http://127.0.0.1:\(closed)/v1.0
          authority: http://127.0.0.1:\(closed)
          timeout: 1h
        auth:
          clientId: 00000000-0000-0000-0000-000000000000
          clientSecretFile: ./client-secret
        policies: \(TestPaths.samplePolicies.path)
        reconcile:
          interval: 1h
          managedSkus: [SPE_E3, SPE_E5, STANDARDPACK, POWER_BI_PRO, PROJECTPROFESSIONAL, VISIOCLIENT]
        status:
          listen: 127.0.0.1:\(statusPort)
        logging: { format: json }

        """.write(to: directory.appendingPathComponent("allot.yaml"), atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            "daemon",
            arguments: ["run", "--config", directory.appendingPathComponent("allot.yaml").path],
            environment: [
                "STATE_DIRECTORY": directory.appendingPathComponent("state").path, "NOTIFY_SOCKET": "",
                "WATCHDOG_USEC": "",
            ],
            directory: directory
        )
        let daemon = DaemonProcess(child: child, statusPort: statusPort)
        defer { child.stop() }
        let (_, retry) = try await daemon.log.first("graph.retry", timeout: .seconds(60))
        #expect(retry.string("error") == "connection refused", "\(retry)")
        #expect(retry.string("graph.operation") == "token")
        child.signal(SIGTERM)
        #expect(try await child.exitStatus(within: .seconds(5)) == 0, "\(child.standardOutput.suffix(2000))")
    }
}
