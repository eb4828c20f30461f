import AllotCore
import Testing

@Suite("Loopback hosts")
struct LoopbackTests {
    @Test("localhost, 127.0.0.0/8 and ::1 are loopback; names that only look like it are not")
    func loopback() {
        for host in ["localhost", "LOCALHOST", "allot.localhost", "127.0.0.1", "127.8.9.10", "::1", "0:0:0:0:0:0:0:1"] {
            #expect(isLoopbackHost(host), "\(host)")
        }
        for host in ["127.example.com", "127.0.0", "128.0.0.1", "0.0.0.0", "::", "graph.microsoft.com", ""] {
            #expect(!isLoopbackHost(host), "\(host)")
        }
    }
}
