import XCTest
@testable import AnyVizLLM

final class ConfigurationTests: XCTestCase {
    func testNoKeysMeansOfflineWithAHint() {
        let config = LLMConfiguration.fromEnvironment([:])
        XCTAssertEqual(config.provider, .offline)
        XCTAssertNil(makeProvider(config))
        XCTAssertTrue(config.summary.contains("offline"))
        XCTAssertTrue(config.summary.contains("GEMINI_API_KEY"))
    }

    func testGeminiDefaults() {
        let config = LLMConfiguration.fromEnvironment(["GEMINI_API_KEY": "g-secret-1"])
        XCTAssertEqual(config.provider, .gemini)
        XCTAssertEqual(config.baseURL, "https://generativelanguage.googleapis.com/v1beta")
        XCTAssertEqual(config.model, "gemini-2.5-flash")
        XCTAssertEqual(config.apiKey, "g-secret-1")
        XCTAssertEqual(config.timeout, 60)
        XCTAssertEqual(config.maxAttempts, 3)
        XCTAssertEqual(config.issues, [])
        XCTAssertEqual((makeProvider(config) as? ChatProvider)?.url,
                       "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
    }

    func testOpenAIDefaults() {
        let config = LLMConfiguration.fromEnvironment(["OPENAI_API_KEY": "o-secret-2"])
        XCTAssertEqual(config.provider, .openai)
        XCTAssertEqual(config.baseURL, "https://api.openai.com/v1")
        XCTAssertEqual(config.model, "gpt-4o-mini")
        XCTAssertEqual(config.apiKey, "o-secret-2")
        XCTAssertEqual((makeProvider(config) as? ChatProvider)?.url, "https://api.openai.com/v1/chat/completions")
    }

    func testPrecedence() {
        let both = ["GEMINI_API_KEY": "g-secret-1", "OPENAI_API_KEY": "o-secret-2"]
        XCTAssertEqual(LLMConfiguration.fromEnvironment(both).provider, .gemini)
        // An explicit provider takes its own key, never the other service's.
        var env = both; env["ANYVIZ_LLM_PROVIDER"] = "OpenAI"
        XCTAssertEqual(LLMConfiguration.fromEnvironment(env).apiKey, "o-secret-2")
        XCTAssertNil(LLMConfiguration.fromEnvironment(["ANYVIZ_LLM_PROVIDER": "openai", "GEMINI_API_KEY": "g"]).apiKey)
        env["ANYVIZ_LLM_API_KEY"] = "any-secret-3"
        XCTAssertEqual(LLMConfiguration.fromEnvironment(env).apiKey, "any-secret-3")
        XCTAssertEqual(LLMConfiguration.fromEnvironment(["ANYVIZ_LLM_PROVIDER": "offline", "GEMINI_API_KEY": "g"]).provider, .offline)
    }

    func testLocalOpenAICompatibleServerNeedsNoKey() {
        let config = LLMConfiguration.fromEnvironment([
            "ANYVIZ_LLM_PROVIDER": "openai", "ANYVIZ_LLM_BASE_URL": "http://localhost:11434/v1/",
            "ANYVIZ_LLM_MODEL": "llama3.2", "ANYVIZ_LLM_TIMEOUT_S": "120", "ANYVIZ_LLM_RETRIES": "0"])
        XCTAssertEqual(config.baseURL, "http://localhost:11434/v1")
        XCTAssertEqual(config.model, "llama3.2")
        XCTAssertNil(config.apiKey)
        XCTAssertEqual(config.timeout, 120)
        XCTAssertEqual(config.maxAttempts, 1)
        XCTAssertEqual(config.issues, [])
        XCTAssertTrue(config.summary.contains("API key: not set"))
    }

    func testBadValuesFallBackAndAreReported() {
        let config = LLMConfiguration.fromEnvironment([
            "GEMINI_API_KEY": "g-secret-1", "ANYVIZ_LLM_PROVIDER": "claude", "ANYVIZ_LLM_TIMEOUT_S": "soon",
            "ANYVIZ_LLM_RETRIES": "-1", "ANYVIZ_LLM_BASE_URL": "ftp://x"])
        XCTAssertEqual(config.provider, .gemini)
        XCTAssertEqual(config.timeout, 60)
        XCTAssertEqual(config.maxAttempts, 3)
        XCTAssertEqual(config.baseURL, LLMConfiguration.defaultGeminiBaseURL)
        let summary = config.summary
        for name in ["ANYVIZ_LLM_PROVIDER=claude", "ANYVIZ_LLM_TIMEOUT_S=soon", "ANYVIZ_LLM_RETRIES=-1", "ANYVIZ_LLM_BASE_URL=ftp://x"] {
            XCTAssertTrue(summary.contains(name), "summary should mention \(name): \(summary)")
        }
        XCTAssertTrue(LLMConfiguration.fromEnvironment(["ANYVIZ_LLM_PROVIDER": "gemini"]).summary.contains("needs an API key"))
    }

    func testSummaryNeverContainsTheKey() {
        let key = "sk-very-secret-4242"
        let envs: [[String: String]] = [
            ["OPENAI_API_KEY": key],
            ["GEMINI_API_KEY": key, "ANYVIZ_LLM_MODEL": "gemini-2.5-pro"],
            ["ANYVIZ_LLM_API_KEY": key, "ANYVIZ_LLM_PROVIDER": "openai", "ANYVIZ_LLM_BASE_URL": "https://proxy.example/v1?key=\(key)"],
            ["ANYVIZ_LLM_API_KEY": key, "ANYVIZ_LLM_PROVIDER": key],
        ]
        for env in envs {
            let config = LLMConfiguration.fromEnvironment(env)
            XCTAssertFalse(config.summary.contains(key), config.summary)
            XCTAssertFalse(config.summary.contains("secret"), config.summary)
        }
        let summary = LLMConfiguration.fromEnvironment(envs[1]).summary
        XCTAssertTrue(summary.contains("provider: gemini"))
        XCTAssertTrue(summary.contains("model: gemini-2.5-pro"))
        XCTAssertTrue(summary.contains("base URL: https://generativelanguage.googleapis.com/v1beta"))
        XCTAssertTrue(summary.contains("API key: set"))
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
