import Foundation
import Logging

/// One chat message; `role` is "system", "user" or "assistant".
public struct LLMMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
    static func system(_ text: String) -> LLMMessage { LLMMessage(role: "system", content: text) }
    static func user(_ text: String) -> LLMMessage { LLMMessage(role: "user", content: text) }
    static func assistant(_ text: String) -> LLMMessage { LLMMessage(role: "assistant", content: text) }
}

/// The model's text plus how it was obtained, for logs and metrics.
public struct LLMResult: Sendable, Equatable {
    public var text: String
    /// Tries it took, 1 when the first one succeeded.
    public var attempts: Int
    /// Seconds from the first try to the answer, backoff included.
    public var latency: Double
    public init(text: String, attempts: Int, latency: Double) {
        self.text = text; self.attempts = attempts; self.latency = latency
    }
}

/// A chat model. `complete` blocks the calling thread until there is an answer, every allowed
/// attempt failed, or `cancellation` is set, and throws `LLMError`.
public protocol LLMProvider: Sendable {
    func complete(_ messages: [LLMMessage], cancellation: CancellationFlag) throws -> LLMResult
}

/// The provider for `config`, or nil when it is `offline` (the caller then uses the planner).
public func makeProvider(_ config: LLMConfiguration, http: HTTPClient = HTTPClient()) -> LLMProvider? {
    ChatProvider(config, http: http)
}

/// A chat model behind an HTTP API. Retries, backoff and key handling are the same for every
/// service; only the wire format (`ChatWireFormat`) differs, chosen by the configured provider.
struct ChatProvider: LLMProvider {
    let configuration: LLMConfiguration
    let format: ChatWireFormat.Type
    let http: HTTPClient

    /// nil for `offline`, which has no wire format.
    init?(_ configuration: LLMConfiguration, http: HTTPClient = HTTPClient()) {
        switch configuration.provider {
        case .gemini: format = GeminiFormat.self
        case .openai: format = OpenAIFormat.self
        case .offline: return nil
        }
        self.configuration = configuration
        self.http = http
    }

    var url: String { format.url(configuration) }

    func complete(_ messages: [LLMMessage], cancellation: CancellationFlag) throws -> LLMResult {
        // The vendor's own service needs a key; a local server at another base URL may not.
        let vendorURL = LLMConfiguration.defaultBaseURL(configuration.provider)
        if configuration.apiKey == nil && configuration.baseURL == vendorURL { throw LLMError.notConfigured }
        var headers = ["Content-Type": "application/json", "Accept": "application/json"]
        if let key = configuration.apiKey {
            let (name, value) = format.keyHeader(key)
            headers[name] = value
        }
        let body = try format.requestBody(messages, model: configuration.model)
        return try sendWithRetries(http: http, url: url, headers: headers, body: body,
                                   config: configuration, cancellation: cancellation, parse: format.replyText)
    }
}

/// What differs between the chat APIs: the endpoint, the header that carries the key and the
/// shapes of request and reply.
protocol ChatWireFormat: Sendable {
    static func url(_ configuration: LLMConfiguration) -> String
    static func keyHeader(_ key: String) -> (name: String, value: String)
    static func requestBody(_ messages: [LLMMessage], model: String) throws -> Data
    /// The answer's text; throws `malformedBody` for an unexpected shape, `emptyReply` for no text.
    static func replyText(_ body: Data) throws -> String
}

extension ChatWireFormat {
    static func nonEmpty(_ text: String) throws -> String {
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw LLMError.emptyReply }
        return text
    }

    static func malformed(expected: String, _ body: Data) -> LLMError {
        .malformedBody("expected \(expected), got: \(snippet(String(decoding: body, as: UTF8.self), limit: 120))")
    }
}

// MARK: - Gemini

/// Google's `models/{model}:generateContent`. System messages become `systemInstruction`,
/// assistant turns use Gemini's role name "model"; the key goes in `x-goog-api-key` (never in
/// the URL, where proxies and logs would keep it).
enum GeminiFormat: ChatWireFormat {
    struct Part: Codable { var text: String?; var thought: Bool? }
    struct Content: Codable { var role: String?; var parts: [Part]? }
    struct Instruction: Codable { var parts: [Part] }
    struct GenerationConfig: Codable { var temperature: Double }
    struct Request: Codable {
        var systemInstruction: Instruction?
        var contents: [Content]
        var generationConfig: GenerationConfig
    }
    struct Candidate: Codable { var content: Content? }
    struct PromptFeedback: Codable { var blockReason: String? }
    struct Response: Codable { var candidates: [Candidate]?; var promptFeedback: PromptFeedback? }

    static func url(_ configuration: LLMConfiguration) -> String {
        var model = configuration.model
        if model.hasPrefix("models/") { model.removeFirst("models/".count) }
        let escaped = model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? model
        return "\(configuration.baseURL)/models/\(escaped):generateContent"
    }

    static func keyHeader(_ key: String) -> (name: String, value: String) { ("x-goog-api-key", key) }

    static func requestBody(_ messages: [LLMMessage], model: String) throws -> Data {
        let system = messages.filter { $0.role == "system" }.map(\.content)
        let turns = messages.filter { $0.role != "system" }.map {
            Content(role: $0.role == "assistant" ? "model" : "user", parts: [Part(text: $0.content)])
        }
        let request = Request(
            systemInstruction: system.isEmpty ? nil : Instruction(parts: [Part(text: system.joined(separator: "\n\n"))]),
            contents: turns,
            generationConfig: GenerationConfig(temperature: 0))
        return try JSONEncoder().encode(request)
    }

    static func replyText(_ body: Data) throws -> String {
        guard let reply = try? JSONDecoder().decode(Response.self, from: body),
              reply.candidates != nil || reply.promptFeedback != nil else {
            throw malformed(expected: "a Gemini generateContent reply with \"candidates\"", body)
        }
        // Thinking models may add parts flagged `thought`: they are not the answer.
        let parts = reply.candidates?.first?.content?.parts ?? []
        return try nonEmpty(parts.filter { $0.thought != true }.compactMap(\.text).joined())
    }
}

// MARK: - OpenAI-compatible

/// `POST {base}/chat/completions`, the format OpenAI and the local servers (Ollama,
/// llama.cpp, vLLM, LM Studio) share. `Authorization` is only sent when a key is set.
enum OpenAIFormat: ChatWireFormat {
    struct Message: Codable {
        var role: String
        var content: String?
        init(role: String, content: String?) { self.role = role; self.content = content }
        struct Part: Codable { var type: String?; var text: String? }
        enum Keys: String, CodingKey { case role, content }
        /// `content` is a string for OpenAI, but some compatible servers send a list of
        /// `{"type": "text", "text": ...}` parts; both are read as one string.
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            role = (try? c.decode(String.self, forKey: .role)) ?? "assistant"
            if let text = try? c.decodeIfPresent(String.self, forKey: .content) {
                content = text
            } else if let parts = try? c.decodeIfPresent([Part].self, forKey: .content) {
                content = parts.compactMap(\.text).joined()
            } else {
                content = nil
            }
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(role, forKey: .role)
            try c.encode(content ?? "", forKey: .content)
        }
    }
    struct Request: Codable { var model: String; var messages: [Message]; var temperature: Double }
    struct Choice: Codable { var message: Message? }
    struct Response: Codable { var choices: [Choice]? }

    static func url(_ configuration: LLMConfiguration) -> String { "\(configuration.baseURL)/chat/completions" }

    static func keyHeader(_ key: String) -> (name: String, value: String) { ("Authorization", "Bearer \(key)") }

    static func requestBody(_ messages: [LLMMessage], model: String) throws -> Data {
        let request = Request(model: model, messages: messages.map { Message(role: $0.role, content: $0.content) },
                              temperature: 0)
        return try JSONEncoder().encode(request)
    }

    static func replyText(_ body: Data) throws -> String {
        guard let reply = try? JSONDecoder().decode(Response.self, from: body), let choices = reply.choices else {
            throw malformed(expected: "a chat completion with \"choices\"", body)
        }
        return try nonEmpty(choices.first?.message?.content ?? "")
    }
}

// MARK: - Retries

private let logger = Logger(label: "anyviz.llm")

/// POST with retries on 429, 5xx and connection errors: exponential backoff from
/// `backoffBase` with up to 25 % jitter (so many kernels do not retry in lockstep), or the
/// server's `Retry-After` when given. A timeout is not retried: the user has already waited
/// the full timeout and the next attempt would most likely hang as well.
func sendWithRetries(http: HTTPClient, url: String, headers: [String: String], body: Data,
                     config: LLMConfiguration, cancellation: CancellationFlag,
                     parse: (Data) throws -> String) throws -> LLMResult {
    let start = Date()
    let attempts = max(1, config.maxAttempts)
    for attempt in 1...attempts {
        if cancellation.isCancelled { throw LLMError.cancelled }
        let failure: LLMError
        var wait: Double? = nil
        do {
            let response = try http.post(url: url, headers: headers, body: body,
                                         timeout: config.timeout, cancellation: cancellation)
            logger.debug("LLM attempt", metadata: ["attempt": "\(attempt)", "status": "\(response.status)",
                                                   "provider": "\(config.provider.rawValue)"])
            if response.isSuccess {
                let text = try parse(response.body)
                return LLMResult(text: text, attempts: attempt, latency: Date().timeIntervalSince(start))
            }
            failure = .http(status: response.status, snippet: config.redact(errorMessage(response.body)))
            wait = retryDelay(response)
        } catch let error as HTTPClientError {
            switch error {
            case .cancelled: throw LLMError.cancelled
            case .timeout(let s): throw LLMError.timeout(seconds: s)
            case .transport(let why), .file(let why): failure = .transport(config.redact(why))
            case .tooLarge, .refusedAddress, .unsupportedScheme: failure = .transport(config.redact(error.userMessage))
            }
        }
        guard failure.isRetryable, attempt < attempts else { throw failure }
        if let asked = wait, asked > config.maxRetryAfter, case .http(let status, let text) = failure {
            let note = "the service asks to wait \(formatSeconds(asked.rounded(.up)))"
            throw LLMError.http(status: status, snippet: text.isEmpty ? note : "\(text); \(note)")
        }
        let backoff = config.backoffBase * pow(2, Double(attempt - 1))
        let delay = wait ?? backoff + Double.random(in: 0...(backoff * 0.25))
        logger.debug("LLM retry", metadata: ["after_s": "\(delay)", "error": "\(failure.userMessage)"])
        if !cancellation.sleep(delay) { throw LLMError.cancelled }
    }
    throw LLMError.cancelled  // unreachable: the loop returns or throws
}

/// The service's own explanation: `{"error": {"message"}}` (Gemini, OpenAI), `{"error": "..."}`
/// (Ollama and others), else the start of the body.
func errorMessage(_ body: Data) -> String {
    if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
        if let error = object["error"] as? [String: Any], let message = error["message"] as? String {
            return snippet(message)
        }
        if let message = object["error"] as? String { return snippet(message) }
        if let message = object["message"] as? String { return snippet(message) }
    }
    return snippet(String(decoding: body.prefix(2048), as: UTF8.self))
}

/// Seconds the server asked us to wait: `Retry-After` (seconds or HTTP date) or Gemini's
/// `"retryDelay": "12s"` inside the error details.
func retryDelay(_ response: HTTPResponse) -> Double? {
    if let value = response.header("retry-after")?.trimmingCharacters(in: .whitespaces) {
        if let seconds = Double(value), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = formatter.date(from: value) { return max(0, date.timeIntervalSinceNow) }
    }
    let text = String(decoding: response.body.prefix(8192), as: UTF8.self)
    if let regex = try? NSRegularExpression(pattern: #""retryDelay"\s*:\s*"([0-9.]+)s""#),
       let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
       let range = Range(match.range(at: 1), in: text), let seconds = Double(text[range]) {
        return seconds
    }
    return nil
}
