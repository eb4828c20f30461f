import AllotCore
import Testing

/// The grammars said once in AllotCore/Support and used by the configuration, the daemon, the
/// Graph client, the simulator and the command line.
@Suite("Grammars: host:port, durations, base64url")
struct GrammarTests {
    @Test(
        "host:port and [v6]:port",
        arguments: [
            ("127.0.0.1:9464", "127.0.0.1", 9464), ("localhost:0", "localhost", 0), ("[::1]:8080", "::1", 8080),
            ("0.0.0.0:65535", "0.0.0.0", 65535), ("allot.example.com:443", "allot.example.com", 443),
        ] as [(String, String, Int)]
    )
    func hostPort(text: String, host: String, port: Int) throws {
        let address = try #require(HostPort(parsing: text))
        #expect(address == HostPort(host: host, port: port))
        #expect(address.description == text)
    }

    @Test(
        "not host:port",
        arguments: [
            "9464", "localhost", "127.0.0.1:99999", ":9464", "::1:9464", "127.0.0.1:", "[::1]", "a b:1", "a/b:1",
            "host:-1",
        ]
    )
    func notHostPort(text: String) {
        #expect(HostPort(parsing: text) == nil)
    }

    @Test(
        "durations, largest unit first",
        arguments: [
            ("30s", 30), ("15m", 900), ("1h", 3600), ("0h", 0), ("1h30m", 5400), ("2d", 172_800), ("1d2h3m4s", 93784),
        ]
            as [(String, Int64)]
    )
    func durations(text: String, seconds: Int64) {
        #expect(DurationText.parse(text) == .seconds(seconds))
        #expect(DurationText.parse(text, bareSeconds: true) == .seconds(seconds))
    }

    @Test(
        "not durations",
        arguments: ["", "15", "15 m", "1.5h", "m", "1m1h", "-1h", "15min", "1h1h", "99999999999999999999s", "36501d"]
    )
    func notDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test("bare seconds only where the command line takes them")
    func bareSeconds() {
        #expect(DurationText.parse("42", bareSeconds: true) == .seconds(42))
        #expect(DurationText.parse("0", bareSeconds: true) == .zero)
        #expect(DurationText.parse("42") == nil)
        #expect(DurationText.parse("-42", bareSeconds: true) == nil)
    }

    @Test("base64url round-trips without padding and reads padded text")
    func base64URL() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0xBF, 0x00, 0x3E]
        #expect(Base64URL.encode(bytes) == "-_-_AD4")
        #expect(Base64URL.decode("-_-_AD4") == bytes)
        #expect(Base64URL.decode("-_-_AD4=") == bytes)
        #expect(Base64URL.decode("not base64url!") == nil)
        #expect(Base64URL.encode(Array(#"{"a":1}"#.utf8)) == "eyJhIjoxfQ")
    }
}
