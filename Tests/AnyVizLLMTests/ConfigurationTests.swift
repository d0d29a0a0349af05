import XCTest
@testable import AnyVizLLM

/// The configuration Python sends for one call, and the provider it selects.
final class ConfigurationTests: XCTestCase {
    func testOfflineHasNoProvider() {
        XCTAssertNil(makeProvider(LLMConfiguration(provider: .offline)))
    }

    func testEachProviderDefaultsToItsVendorsEndpointAndModel() {
        let gemini = LLMConfiguration(provider: .gemini, apiKey: "g-secret-1")
        XCTAssertEqual(gemini.model, "gemini-2.5-flash")
        XCTAssertEqual((makeProvider(gemini) as? ChatProvider)?.url,
                       "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
        let openai = LLMConfiguration(provider: .openai, apiKey: "o-secret-2")
        XCTAssertEqual(openai.model, "gpt-4o-mini")
        XCTAssertEqual((makeProvider(openai) as? ChatProvider)?.url, "https://api.openai.com/v1/chat/completions")
    }

    func testLocalServerURLLosesTrailingSlashesAndAnEmptyKeyIsNoKey() {
        let local = LLMConfiguration(provider: .openai, baseURL: " http://localhost:11434/v1// ", model: "llama3.2",
                                     apiKey: "", maxAttempts: 0)
        XCTAssertEqual((makeProvider(local) as? ChatProvider)?.url, "http://localhost:11434/v1/chat/completions")
        XCTAssertNil(local.apiKey)
        XCTAssertEqual(local.maxAttempts, 1)
    }

    func testRedactHidesTheKeyWhereverAServerEchoesIt() {
        let config = LLMConfiguration(provider: .openai, apiKey: "sk-very-secret-4242")
        XCTAssertEqual(config.redact("bad key sk-very-secret-4242 (sk-very-secret-4242)"), "bad key [API key] ([API key])")
    }

    func testCancellationFlag() {
        let flag = CancellationFlag()
        XCTAssertFalse(flag.isCancelled)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { flag.cancel() }
        // `sleep` answers false only when the flag stopped it before the 60 s were up.
        XCTAssertFalse(flag.sleep(60))
        XCTAssertTrue(flag.isCancelled)
        XCTAssertTrue(CancellationFlag().sleep(0.05))
    }

    func testCancellationFlagObservingAProbeIsSetWhileTheProbeIs() {
        let interrupted = CancellationFlag()
        let flag = CancellationFlag(observing: { interrupted.isCancelled })
        XCTAssertFalse(flag.isCancelled)
        interrupted.cancel()
        XCTAssertTrue(flag.isCancelled)
        XCTAssertFalse(flag.sleep(60))
    }
}
