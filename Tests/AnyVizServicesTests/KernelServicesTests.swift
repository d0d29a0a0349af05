@testable import AnyVizServices
import AnyVizLLM
import AnyVizPython
import AnyVizViz
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

    func testLLMSettingsChangeWithoutEverShowingTheKey() throws {
        let settings = LLMSettings(.fromEnvironment([:]))
        try KernelServices.updateLLM(settings, ["provider": "openai", "model": "m1", "base_url": "http://127.0.0.1:9/v1",
                                                "key_env": "K"], environment: ["K": "sk-secret-1234"])
        XCTAssertEqual(settings.current.provider, .openai)
        XCTAssertEqual(settings.current.model, "m1")
        XCTAssertEqual(settings.current.apiKey, "sk-secret-1234")
        XCTAssertFalse(settings.current.summary.contains("sk-secret-1234"))
        XCTAssertThrowsError(try KernelServices.updateLLM(settings, ["provider": "nope"], environment: [:]))
        XCTAssertThrowsError(try KernelServices.updateLLM(settings, ["key_env": "MISSING"], environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("MISSING"))
        }
    }
}
