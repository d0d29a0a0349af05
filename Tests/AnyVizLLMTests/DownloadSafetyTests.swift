import Foundation
import XCTest
@testable import AnyVizLLM

/// tests/download_server.py as a subprocess: a gzip bomb, a stalled body, redirects.
final class DownloadServer {
    let process = Process()
    let port: Int
    let directory: URL
    private let stdinPipe = Pipe()

    init(host: String = "127.0.0.1") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("anyviz-dl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: FakeLLMServer.python)
        process.arguments = [FakeLLMServer.repoRoot.appendingPathComponent("tests/download_server.py").path, "--host", host]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = stdinPipe
        try process.run()
        var line = Data()
        while true {
            let byte = out.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw NSError(domain: "DownloadServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "no port printed"])
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? stdinPipe.fileHandleForWriting.close()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

final class AddressClassificationTests: XCTestCase {
    func testLoopbackPrivateAndLinkLocalAreRecognised() {
        let local = ["127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                     "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "::", "fc00::1", "fd12:3456::1",
                     "fe80::1", "[::1]", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "fe80::1%eth0"]
        for text in local {
            guard let address = IPAddress(text) else { XCTFail("\(text) did not parse"); continue }
            XCTAssertTrue(address.isPrivate, "\(text) should be private")
        }
        let global = ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "192.169.0.1", "100.128.0.1",
                      "192.0.2.2", "2001:4860:4860::8888", "::ffff:8.8.8.8", "fbff::1", "2a00::1"]
        for text in global {
            guard let address = IPAddress(text) else { XCTFail("\(text) did not parse"); continue }
            XCTAssertFalse(address.isPrivate, "\(text) should not be private")
        }
        XCTAssertNil(IPAddress("example.com"))
        XCTAssertEqual(IPAddress("::ffff:127.0.0.1")?.description, "::ffff:127.0.0.1")
    }

    func testPolicyFollowsTheOriginalHost() throws {
        let never = CancellationFlag()
        XCTAssertTrue(try AddressPolicy.forDownload(of: "http://127.0.0.1:8000/x", environment: [:], cancellation: never).allowPrivate)
        XCTAssertTrue(try AddressPolicy.forDownload(of: "http://localhost/x", environment: [:], cancellation: never).allowPrivate)
        XCTAssertTrue(try AddressPolicy.forDownload(of: "http://[::1]:8000/x", environment: [:], cancellation: never).allowPrivate)
        XCTAssertFalse(try AddressPolicy.forDownload(of: "http://8.8.8.8/x", environment: [:], cancellation: never).allowPrivate)
        XCTAssertTrue(try AddressPolicy.forDownload(of: "http://8.8.8.8/x", environment: ["ANYVIZ_ALLOW_PRIVATE_REDIRECTS": "1"],
                                                    cancellation: never).allowPrivate)
        let proxied = try AddressPolicy.forDownload(of: "http://8.8.8.8/x", environment: ["http_proxy": "127.0.0.1:3128"],
                                                    cancellation: never)
        XCTAssertTrue(proxied.permits(IPAddress("127.0.0.1")!), "a configured proxy stays reachable")
        XCTAssertFalse(proxied.permits(IPAddress("127.0.0.2")!))
        XCTAssertTrue(proxied.permits(IPAddress("8.8.4.4")!))
    }

    func testDownloadLimitSetting() {
        XCTAssertEqual(DownloadLimit.bytes(environment: [:]), 1024 << 20)
        XCTAssertEqual(DownloadLimit.bytes(environment: ["ANYVIZ_MAX_DOWNLOAD_MB": "64"]), 64 << 20)
        XCTAssertEqual(DownloadLimit.bytes(environment: ["ANYVIZ_MAX_DOWNLOAD_MB": "-3"]), 1024 << 20)
    }
}

/// Real libcurl downloads from the hostile server.
final class DownloadSafetyTests: XCTestCase {
    var server: DownloadServer!

    override func setUpWithError() throws { server = try DownloadServer() }
    override func tearDown() { server.stop() }

    func testGzipBombStopsAtTheCapAndLeavesNoFile() throws {
        let path = server.path("bomb.csv")
        XCTAssertThrowsError(try HTTPClient().download(url: "\(server.url)/bomb.csv?mb=64", to: path, timeout: 30,
                                                       cancellation: CancellationFlag(), maxBytes: 8 << 20)) { error in
            XCTAssertEqual(error as? HTTPClientError, .tooLarge(limitBytes: 8 << 20))
            XCTAssertTrue((error as! HTTPClientError).userMessage.contains("ANYVIZ_MAX_DOWNLOAD_MB"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".anyviz-part"))
    }

    func testUnderTheCapTheDecodedFileIsWritten() throws {
        let path = server.path("ok.csv")
        let response = try HTTPClient().download(url: "\(server.url)/bomb.csv?mb=2", to: path, timeout: 30,
                                                 cancellation: CancellationFlag(), maxBytes: 8 << 20)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, 2 << 20)
    }

    func testInterruptFlagCancelsAStalledDownload() throws {
        let interrupted = CancellationFlag()
        let cancel = CancellationFlag(observing: { interrupted.isCancelled })
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { interrupted.cancel() }
        let path = server.path("slow.csv")
        XCTAssertThrowsError(try HTTPClient().download(url: "\(server.url)/slow.csv", to: path, timeout: 60,
                                                       cancellation: cancel)) { error in
            XCTAssertEqual(error as? HTTPClientError, .cancelled)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".anyviz-part"))
    }

    func testLoopbackToLoopbackRedirectIsFollowed() throws {
        let path = server.path("data.csv")
        let target = "\(server.url)/data.csv"
        let response = try HTTPClient().download(url: "\(server.url)/redirect?to=\(target)", to: path, timeout: 10,
                                                 cancellation: CancellationFlag())
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("city,population"))
    }

    func testConnectionsToPrivateAddressesAreRefusedWhenTheOriginalIsPublic() throws {
        // The policy a public original URL gets; every connection libcurl opens is checked.
        let path = server.path("secret.csv")
        XCTAssertThrowsError(try HTTPClient().download(url: "\(server.url)/data.csv", to: path, timeout: 10,
                                                       cancellation: CancellationFlag(), maxBytes: 1 << 20,
                                                       policy: AddressPolicy(allowPrivate: false))) { error in
            XCTAssertEqual(error as? HTTPClientError, .refusedAddress("127.0.0.1"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testRedirectThroughAProxyToAPrivateAddressIsRefusedBeforeItIsFollowed() throws {
        // The proxy connects for us, so the redirect target is checked by name: here the test
        // server on 127.0.0.2 plays the proxy for a made-up public host.
        let proxy = try DownloadServer(host: "127.0.0.2")
        defer { proxy.stop() }
        let environment = ["http_proxy": "http://127.0.0.2:\(proxy.port)"]
        setenv("http_proxy", environment["http_proxy"]!, 1)  // libcurl reads the process environment
        defer { unsetenv("http_proxy") }
        let path = server.path("via-proxy.csv")
        let ok = try HTTPClient().download(url: "http://data.example.com/data.csv", to: path, timeout: 10,
                                           cancellation: CancellationFlag(), environment: environment)
        XCTAssertEqual(ok.status, 200, "the proxy itself may be on loopback")
        for target in ["http://10.255.255.1/secret.csv", "http://[::1]:1/x", "http://localhost:1/x", "/redirect?to=http://169.254.169.254/"] {
            XCTAssertThrowsError(try HTTPClient().download(url: "http://data.example.com/redirect?to=\(target)", to: path,
                                                           timeout: 10, cancellation: CancellationFlag(),
                                                           environment: environment), target) { error in
                guard case HTTPClientError.refusedAddress = error else { return XCTFail("\(target): \(error)") }
            }
        }
    }

    func testRedirectToANonWebSchemeIsRefused() throws {
        let path = server.path("passwd")
        XCTAssertThrowsError(try HTTPClient().download(url: "\(server.url)/redirect?to=file:///etc/passwd", to: path,
                                                       timeout: 10, cancellation: CancellationFlag())) { error in
            guard case HTTPClientError.unsupportedScheme(let scheme) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(scheme, "file")
        }
        XCTAssertThrowsError(try HTTPClient().download(url: "gopher://127.0.0.1/x", to: path, timeout: 10,
                                                       cancellation: CancellationFlag())) { error in
            XCTAssertEqual(error as? HTTPClientError, .unsupportedScheme("gopher"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
