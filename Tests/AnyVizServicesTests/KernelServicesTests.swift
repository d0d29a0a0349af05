@testable import AnyVizServices
import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import Foundation
import Logging
import XCTest

final class KernelServicesTests: XCTestCase {
    func testUnknownServiceNamesTheKnownOnes() {
        let services = KernelServices(logger: Logger(label: "test"))
        services.register("echo") { $0 }
        guard case .failure(let message) = services.handle(service: "nope", json: "{}") else {
            return XCTFail("an unknown service must fail")
        }
        XCTAssertTrue(message.contains("nope") && message.contains("echo"), message)
        guard case .ok(let text) = services.handle(service: "echo", json: #"{"a":1}"#) else {
            return XCTFail("echo must answer")
        }
        XCTAssertEqual(text, #"{"a":1}"#)
    }

    func testUserErrorsBecomeMessagesNotFailures() {
        let services = KernelServices(logger: Logger(label: "test"))
        services.register("bad") { _ in throw ServiceError("Say what to change.") }
        services.register("stopped") { _ in throw ServiceInterrupted() }
        guard case .userError(let message) = services.handle(service: "bad", json: "{}") else {
            return XCTFail("expected a user error")
        }
        XCTAssertEqual(message, "Say what to change.")
        guard case .interrupted = services.handle(service: "stopped", json: "{}") else {
            return XCTFail("expected an interrupt")
        }
    }

    func testConfigurationFromPythonKeepsItsValuesAndRefusesUnknownProviders() throws {
        let config = try KernelServices.configuration([
            "provider": "openai", "base_url": "http://127.0.0.1:9/v1/", "model": "m1", "api_key": "sk-secret-1234",
            "timeout": 2.5, "max_attempts": 2, "backoff_base": 0, "max_retry_after": 1,
        ])
        XCTAssertEqual(config.provider, .openai)
        XCTAssertEqual(config.baseURL, "http://127.0.0.1:9/v1")
        XCTAssertEqual(config.model, "m1")
        XCTAssertEqual(config.apiKey, "sk-secret-1234")
        XCTAssertEqual(config.timeout, 2.5)
        XCTAssertEqual(config.maxAttempts, 2)
        XCTAssertThrowsError(try KernelServices.configuration(["provider": "nope"]))
    }

    func testOfflineCompletionAnswersATypedErrorNotAFailure() throws {
        let services = KernelServices(logger: Logger(label: "test"))
        services.registerLLM()
        let json = #"{"config": {"provider": "offline"}, "messages": [{"role": "user", "content": "hi"}]}"#
        guard case .ok(let text) = services.handle(service: "llm_complete", json: json) else {
            return XCTFail("an offline completion must answer with an error object")
        }
        let reply = try JSONValue.parse(text)
        XCTAssertEqual(reply["status"]?.stringValue, "error")
        XCTAssertEqual(reply["kind"]?.stringValue, "not_configured")
        XCTAssertEqual(reply["retryable"]?.boolValue, false)
        guard case .userError = services.handle(service: "llm_complete", json: #"{"config": {"provider": "openai"}}"#) else {
            return XCTFail("a completion without messages is refused")
        }
    }

    /// A loopback server that answers every request with `status` and a body.
    private func serve(status: Int, body: String) throws -> (port: UInt16, stop: () -> Void) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, size) } }
        listen(server, 8)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(server, $0, &size) } }
        let port = UInt16(bigEndian: address.sin_port)
        let response = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let thread = Thread {
            while true {
                let client = accept(server, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                _ = recv(client, &buffer, buffer.count, 0)
                _ = response.withCString { send(client, $0, strlen($0), 0) }
                close(client)
            }
        }
        thread.start()
        return (port, { shutdown(server, Int32(SHUT_RDWR)); close(server) })
    }

    func testCompletionOverLoopbackReturnsTextOrTypedHTTPError() throws {
        let services = KernelServices(logger: Logger(label: "test"))
        services.registerLLM()
        let ok = try serve(status: 200, body: #"{"choices": [{"message": {"content": "fig = 1"}}]}"#)
        defer { ok.stop() }
        let request = #"{"config": {"provider": "openai", "base_url": "http://127.0.0.1:\#(ok.port)/v1", "model": "m", "timeout": 5, "max_attempts": 1}, "messages": [{"role": "user", "content": "chart"}]}"#
        guard case .ok(let text) = services.handle(service: "llm_complete", json: request) else {
            return XCTFail("expected an answer")
        }
        XCTAssertEqual(try JSONValue.parse(text)["text"]?.stringValue, "fig = 1")

        let limited = try serve(status: 429, body: #"{"error": {"message": "slow down"}}"#)
        defer { limited.stop() }
        let request429 = request.replacingOccurrences(of: "\(ok.port)", with: "\(limited.port)")
        guard case .ok(let errorText) = services.handle(service: "llm_complete", json: request429) else {
            return XCTFail("expected an error object")
        }
        let reply = try JSONValue.parse(errorText)
        XCTAssertEqual(reply["kind"]?.stringValue, "http_429")
        XCTAssertEqual(reply["retryable"]?.boolValue, true)
        XCTAssertTrue(reply["message"]?.stringValue?.contains("HTTP 429") ?? false)
    }

    func testPipelineCountersAcceptOnlyKnownNamesAndWords() {
        XCTAssertTrue(PipelineMetrics.isWord("llm_http_429"))
        XCTAssertFalse(PipelineMetrics.isWord("a value with spaces"))
        XCTAssertFalse(PipelineMetrics.isWord(""))
        // Unknown names, bad labels and non-positive values are dropped without failing.
        PipelineMetrics.record([["name": "anyviz_secret_total", "labels": [:], "value": 1],
                                ["name": "anyviz_viz_results_total", "labels": ["level": "x y"], "value": 1],
                                ["name": "anyviz_viz_requests_total", "labels": [:], "value": 0]])
    }
}
