import XCTest
@testable import AnyVizLLM

/// Real HTTP through libcurl against tests/fakellm.py: wire formats, retries, timeouts,
/// cancellation and error messages as the user will see them.
final class ProviderHTTPTests: XCTestCase {
    let key = "test-key-7f3a9c"
    var server: FakeLLMServer?

    override func tearDown() {
        server?.stop()
        server = nil
    }

    func start(_ script: [[String: Any]], requireKey: String? = nil) throws -> FakeLLMServer {
        let s = try FakeLLMServer(script: script, requireKey: requireKey)
        server = s
        return s
    }

    func config(_ kind: LLMProviderKind, _ s: FakeLLMServer, key: String? = "default",
                timeout: Double = 10, attempts: Int = 3) -> LLMConfiguration {
        LLMConfiguration(provider: kind, baseURL: kind == .gemini ? s.geminiBaseURL : s.openAIBaseURL,
                         apiKey: key == "default" ? self.key : key, timeout: timeout, maxAttempts: attempts,
                         backoffBase: 0.05, maxRetryAfter: 10)
    }

    let messages = [LLMMessage.system("You write Plotly code."), LLMMessage.user("bar chart of sales by region")]

    func complete(_ config: LLMConfiguration, cancellation: CancellationFlag = CancellationFlag()) throws -> LLMResult {
        try makeProvider(config)!.complete(messages, cancellation: cancellation)
    }

    func assertThrows(_ expected: (LLMError) -> Bool, _ body: () throws -> Void,
                      file: StaticString = #filePath, line: UInt = #line) -> LLMError? {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as LLMError {
            XCTAssertTrue(expected(error), "unexpected \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("not an LLMError: \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: - Good replies

    func testGeminiGoodReplyAndWireFormat() throws {
        let s = try start([["reply": "fig = px.bar(df)"]])
        let result = try complete(config(.gemini, s))
        XCTAssertEqual(result.text, "fig = px.bar(df)")
        XCTAssertEqual(result.attempts, 1)
        XCTAssertGreaterThan(result.latency, 0)

        let request = try XCTUnwrap(s.requests().first)
        XCTAssertEqual(request["path"] as? String, "/v1beta/models/gemini-2.5-flash:generateContent")
        let headers = try XCTUnwrap(request["headers"] as? [String: String])
        XCTAssertEqual(headers["x-goog-api-key"], key)
        XCTAssertNil(headers["authorization"])
        let body = try XCTUnwrap(request["body"] as? [String: Any])
        let system = (body["systemInstruction"] as? [String: Any])?["parts"] as? [[String: Any]]
        XCTAssertEqual(system?.first?["text"] as? String, "You write Plotly code.")
        let contents = try XCTUnwrap(body["contents"] as? [[String: Any]])
        XCTAssertEqual(contents.count, 1)
        XCTAssertEqual(contents[0]["role"] as? String, "user")
        XCTAssertEqual((contents[0]["parts"] as? [[String: Any]])?.first?["text"] as? String, "bar chart of sales by region")
        XCTAssertEqual((body["generationConfig"] as? [String: Any])?["temperature"] as? Double, 0)
        // The key travels only in its header: not in the URL, not in the prompt.
        XCTAssertEqual(s.rawLog().components(separatedBy: key).count - 1, 1)
    }

    func testOpenAIGoodReplyAndWireFormat() throws {
        let s = try start([["reply": "fig = px.line(df)"]])
        var c = config(.openai, s)
        c.model = "gpt-test"
        let result = try complete(c)
        XCTAssertEqual(result.text, "fig = px.line(df)")
        XCTAssertEqual(result.attempts, 1)

        let request = try XCTUnwrap(s.requests().first)
        XCTAssertEqual(request["path"] as? String, "/v1/chat/completions")
        let headers = try XCTUnwrap(request["headers"] as? [String: String])
        XCTAssertEqual(headers["authorization"], "Bearer \(key)")
        XCTAssertEqual(headers["content-type"], "application/json")
        let body = try XCTUnwrap(request["body"] as? [String: Any])
        XCTAssertEqual(body["model"] as? String, "gpt-test")
        XCTAssertEqual(body["temperature"] as? Double, 0)
        let sent = try XCTUnwrap(body["messages"] as? [[String: String]])
        XCTAssertEqual(sent, [["role": "system", "content": "You write Plotly code."],
                              ["role": "user", "content": "bar chart of sales by region"]])
        XCTAssertEqual(s.rawLog().components(separatedBy: key).count - 1, 1)
    }

    func testOpenAICompatibleWithoutKeySendsNoAuthorization() throws {
        let s = try start([["reply": "fig = 1"]])
        XCTAssertEqual(try complete(config(.openai, s, key: nil)).text, "fig = 1")
        let headers = try XCTUnwrap(s.requests().first?["headers"] as? [String: String])
        XCTAssertNil(headers["authorization"])
    }

    // MARK: - Retries

    func test429ThenSuccessTakesTwoAttempts() throws {
        let s = try start([["status": 429], ["reply": "fig = ok"]])
        let result = try complete(config(.gemini, s))
        XCTAssertEqual(result.text, "fig = ok")
        XCTAssertEqual(result.attempts, 2)
        XCTAssertEqual(s.requests().count, 2)
    }

    func testRetryAfterIsHonoured() throws {
        let s = try start([["status": 503, "headers": ["Retry-After": "1"]], ["reply": "fig = ok"]])
        let start = Date()
        let result = try complete(config(.openai, s))
        XCTAssertEqual(result.attempts, 2)
        // A lower bound only: the wait asked for is a minimum, whatever the machine's load.
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 1.0)
    }

    func testRetryAfterBeyondTheCapIsReportedNotAwaited() throws {
        let s = try start([["status": 429, "headers": ["Retry-After": "120"]], ["reply": "never"]])
        let error = assertThrows({ if case .http(429, _) = $0 { return true }; return false }) {
            _ = try self.complete(self.config(.gemini, s))
        }
        XCTAssertEqual(s.requests().count, 1, "no second attempt after the refused wait")
        XCTAssertTrue(error?.userMessage.contains("wait 120 s") ?? false, error?.userMessage ?? "")
        XCTAssertTrue(error?.userMessage.contains("rate limiting") ?? false)
    }

    func test500sUntilFailure() throws {
        let s = try start([["status": 500]])
        let error = assertThrows({ if case .http(500, _) = $0 { return true }; return false }) {
            _ = try self.complete(self.config(.openai, s, attempts: 3))
        }
        XCTAssertEqual(s.requests().count, 3)
        let message = error?.userMessage ?? ""
        XCTAssertTrue(message.contains("HTTP 500"), message)
        XCTAssertTrue(message.contains("fake internal"), "the service's own message is shown: \(message)")
    }

    func testRejectedKeyIsNotRetriedAndNeverShown() throws {
        let s = try start([["status": 401, "body": ["error": ["message": "Incorrect API key provided: \(key)"]]]])
        let error = assertThrows({ if case .http(401, _) = $0 { return true }; return false }) {
            _ = try self.complete(self.config(.openai, s))
        }
        XCTAssertEqual(s.requests().count, 1)
        let message = error?.userMessage ?? ""
        XCTAssertTrue(message.contains("rejected the API key"), message)
        XCTAssertTrue(message.contains("Incorrect API key provided"), message)
        XCTAssertFalse(message.contains(key), message)
    }

    func testGeminiWrongKeyAgainstKeyCheckingServer() throws {
        let s = try start([["reply": "fig = 1"]], requireKey: "the-right-key")
        let error = assertThrows({ if case .http(403, _) = $0 { return true }; return false }) {
            _ = try self.complete(self.config(.gemini, s))
        }
        XCTAssertTrue(error?.userMessage.contains("GEMINI_API_KEY") ?? false)
        XCTAssertEqual(try complete(config(.gemini, s, key: "the-right-key")).text, "fig = 1")
    }

    func testConnectionRefusedIsATransportError() throws {
        let s = try start([["reply": "x"]])
        let c = config(.openai, s, attempts: 2)
        s.stop()
        let error = assertThrows({ if case .transport = $0 { return true }; return false }) {
            _ = try self.complete(c)
        }
        XCTAssertTrue(error?.userMessage.contains("Could not reach the LLM service") ?? false)
    }

    // MARK: - Timeouts and cancellation

    func testHangTimesOutWithinTheTimeout() throws {
        let s = try start([["hang": 20]])
        let start = Date()
        let error = assertThrows({ if case .timeout = $0 { return true }; return false }) {
            _ = try self.complete(self.config(.gemini, s, timeout: 1.0))
        }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.9, "not before the timeout")
        XCTAssertEqual(s.requests().count, 1, "a timeout is not retried")
        XCTAssertTrue(error?.userMessage.contains("did not answer within 1 s") ?? false, error?.userMessage ?? "")
    }

    func testCancelDuringHangEndsTheCallAsCancelled() throws {
        let s = try start([["hang": 20]])
        let flag = CancellationFlag()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { flag.cancel() }
        // How fast an interrupt lands is measured end to end, with a real kernel, in
        // tests/integration/test_viz_llm.py; here: the call ends as cancelled, not as a timeout.
        _ = assertThrows({ $0 == .cancelled }) {
            _ = try self.complete(self.config(.openai, s, timeout: 30), cancellation: flag)
        }
        XCTAssertEqual(s.requests().count, 1)
    }

    func testCancelDuringBackoffSleep() throws {
        let s = try start([["status": 503, "headers": ["Retry-After": "8"]]])
        let flag = CancellationFlag()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { flag.cancel() }
        _ = assertThrows({ $0 == .cancelled }) {
            _ = try self.complete(self.config(.gemini, s), cancellation: flag)
        }
        XCTAssertEqual(s.requests().count, 1)
    }

    func testAlreadyCancelledSendsNothing() throws {
        let s = try start([["reply": "x"]])
        let flag = CancellationFlag()
        flag.cancel()
        _ = assertThrows({ $0 == .cancelled }) { _ = try self.complete(self.config(.openai, s), cancellation: flag) }
        XCTAssertEqual(s.requests().count, 0)
    }

    // MARK: - Bad bodies

    func testGarbageBodyIsMalformed() throws {
        for kind in [LLMProviderKind.gemini, .openai] {
            let s = try start([["garbage": "<html>502 Bad Gateway</html>"]])
            let error = assertThrows({ if case .malformedBody = $0 { return true }; return false }) {
                _ = try self.complete(self.config(kind, s))
            }
            XCTAssertTrue(error?.userMessage.contains("502 Bad Gateway") ?? false, error?.userMessage ?? "")
            XCTAssertEqual(s.requests().count, 1)
            s.stop()
        }
    }

    func testEmptyReplyInBothFormats() throws {
        for kind in [LLMProviderKind.gemini, .openai] {
            let s = try start([["empty": true]])
            _ = assertThrows({ $0 == .emptyReply }) { _ = try self.complete(self.config(kind, s)) }
            s.stop()
        }
    }

    func testMissingKeyForHostedServiceIsNotConfigured() {
        for kind in [LLMProviderKind.gemini, .openai] {
            let c = LLMConfiguration(provider: kind, apiKey: nil)
            _ = assertThrows({ $0 == .notConfigured }) { _ = try makeProvider(c)!.complete(self.messages, cancellation: CancellationFlag()) }
        }
    }

    // MARK: - Downloads (%load URLs)

    func testDownloadToFile() throws {
        let s = try start([])
        let path = s.directory.appendingPathComponent("data.csv").path
        let response = try HTTPClient().download(url: "\(s.url)/bytes/100000", to: path, timeout: 10,
                                                 cancellation: CancellationFlag())
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.bytesReceived, 100_000)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let pattern = Data("anyviz-download-0123456789\n".utf8)
        XCTAssertEqual(data.count, 100_000)
        XCTAssertEqual(data.prefix(pattern.count), pattern)
        XCTAssertEqual(data.suffix(from: 27 * 3000).prefix(pattern.count), pattern)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".anyviz-part"))
    }

    func testDownloadErrorStatusLeavesNoFile() throws {
        let s = try start([])
        let path = s.directory.appendingPathComponent("missing.csv").path
        let response = try HTTPClient().download(url: "\(s.url)/status/404", to: path, timeout: 10,
                                                 cancellation: CancellationFlag())
        XCTAssertEqual(response.status, 404)
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains("NOT_FOUND"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".anyviz-part"))
    }

    func testDownloadRefusesNonWebSchemesAndBadFolders() throws {
        let dir = FileManager.default.temporaryDirectory.path
        XCTAssertThrowsError(try HTTPClient().download(url: "file:///etc/passwd", to: "\(dir)/x-\(UUID())", timeout: 5,
                                                       cancellation: CancellationFlag())) { error in
            XCTAssertEqual(error as? HTTPClientError, .unsupportedScheme("file"))
        }
        XCTAssertThrowsError(try HTTPClient().download(url: "http://127.0.0.1:9/x", to: "/nonexistent-dir/x.csv", timeout: 5,
                                                       cancellation: CancellationFlag())) { error in
            guard case HTTPClientError.file = error else { return XCTFail("\(error)") }
            XCTAssertTrue((error as! HTTPClientError).userMessage.contains("/nonexistent-dir"))
        }
    }
}

/// Thread safety: the kernel may run an LLM call and a download at once.
final class HTTPConcurrencyTests: XCTestCase {
    func testConcurrentRequestsEachGetTheirAnswer() throws {
        let s = try FakeLLMServer(script: [["reply": "fig = px.bar(df)"]])
        defer { s.stop() }
        let provider = makeProvider(LLMConfiguration(provider: .openai, baseURL: s.openAIBaseURL, apiKey: nil))!
        let messages = [LLMMessage.user("chart")]
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.add(Result { try provider.complete(messages, cancellation: CancellationFlag()).text })
        }
        XCTAssertEqual(results.values.count, 8)
        for r in results.values { XCTAssertEqual(try r.get(), "fig = px.bar(df)") }
        XCTAssertEqual(s.requests().count, 8)
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Result<String, Error>] = []
        func add(_ r: Result<String, Error>) { lock.lock(); items.append(r); lock.unlock() }
        var values: [Result<String, Error>] { lock.lock(); defer { lock.unlock() }; return items }
    }
}
