import XCTest
@testable import AnyVizLLM

/// Reply and error bodies as the real services (and OpenAI-compatible servers) send them.
final class WireFormatTests: XCTestCase {
    func testGeminiSkipsThoughtPartsAndJoinsTextParts() throws {
        let body = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"planning...","thought":true},{"text":"fig = "},{"text":"px.bar(df)"}]}}]}"#
        XCTAssertEqual(try GeminiFormat.replyText(Data(body.utf8)), "fig = px.bar(df)")
    }

    func testGeminiBlockedPromptIsEmptyReply() {
        let body = #"{"promptFeedback":{"blockReason":"SAFETY"}}"#
        XCTAssertThrowsError(try GeminiFormat.replyText(Data(body.utf8))) { XCTAssertEqual($0 as? LLMError, .emptyReply) }
    }

    func testOpenAIContentAsPartsListAndNullContent() throws {
        let parts = #"{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"fig = "},{"type":"text","text":"1"}]}}]}"#
        XCTAssertEqual(try OpenAIFormat.replyText(Data(parts.utf8)), "fig = 1")
        let null = #"{"choices":[{"message":{"role":"assistant","content":null}}]}"#
        XCTAssertThrowsError(try OpenAIFormat.replyText(Data(null.utf8))) { XCTAssertEqual($0 as? LLMError, .emptyReply) }
        XCTAssertThrowsError(try OpenAIFormat.replyText(Data(#"{"object":"list"}"#.utf8))) {
            guard case LLMError.malformedBody(let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("choices"))
        }
    }

    func testGeminiAssistantTurnsUseModelRole() throws {
        let data = try GeminiFormat.requestBody([.system("a"), .system("b"), .user("q"), .assistant("r"), .user("fix it")],
                                                model: "gemini-2.5-flash")
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let roles = (body["contents"] as? [[String: Any]])?.compactMap { $0["role"] as? String }
        XCTAssertEqual(roles, ["user", "model", "user"])
        let system = ((body["systemInstruction"] as? [String: Any])?["parts"] as? [[String: Any]])?.first?["text"] as? String
        XCTAssertEqual(system, "a\n\nb")
        XCTAssertEqual(GeminiFormat.url(LLMConfiguration(provider: .gemini, apiKey: "k")),
                       "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent")
    }

    func testErrorMessageShapes() {
        XCTAssertEqual(errorMessage(Data(#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}"#.utf8)), "API key not valid.")
        XCTAssertEqual(errorMessage(Data(#"{"error":"model 'llama9' not found"}"#.utf8)), "model 'llama9' not found")
        XCTAssertEqual(errorMessage(Data("upstream\nconnect error".utf8)), "upstream connect error")
        XCTAssertEqual(errorMessage(Data(String(repeating: "x", count: 1000).utf8)).count, 301)
    }

    func testRetryDelaySources() {
        XCTAssertEqual(retryDelay(HTTPResponse(status: 429, body: Data(), headers: ["retry-after": "7"])), 7)
        let gemini = #"{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#
        XCTAssertEqual(retryDelay(HTTPResponse(status: 429, body: Data(gemini.utf8), headers: [:])), 37)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let date = formatter.string(from: Date().addingTimeInterval(30))
        let delay = retryDelay(HTTPResponse(status: 503, body: Data(), headers: ["retry-after": date])) ?? -1
        XCTAssertTrue((28...31).contains(delay), "\(delay)")
        XCTAssertNil(retryDelay(HTTPResponse(status: 500, body: Data("oops".utf8), headers: [:])))
    }

    func testErrorMessagesSayWhatToDo() {
        XCTAssertTrue(LLMError.http(status: 404, snippet: "").userMessage.contains("ANYVIZ_LLM_MODEL"))
        XCTAssertTrue(LLMError.notConfigured.userMessage.contains("GEMINI_API_KEY"))
        XCTAssertTrue(LLMError.timeout(seconds: 2.5).userMessage.contains("2.5 s"))
        XCTAssertTrue(LLMError.timeout(seconds: 2.5).userMessage.contains("ANYVIZ_LLM_TIMEOUT_S"))
    }
}
