import Foundation

/// Which wire format to speak. `openai` also covers every OpenAI-compatible local server
/// (Ollama, llama.cpp, vLLM, LM Studio): they differ only by base URL and need no key.
public enum LLMProviderKind: String, Sendable {
    case gemini, openai, offline
}

/// Everything a provider needs for one call. The settings themselves (environment, `%llm`,
/// their summary) are Python's (`anyviz.llm_http.LLMConfig`), which sends them with each call.
public struct LLMConfiguration: Sendable, Equatable {
    public var provider: LLMProviderKind
    public var baseURL: String
    public var model: String
    public var apiKey: String?
    /// Seconds allowed for one attempt (connect + answer).
    public var timeout: Double
    /// Total tries, the first one included; retries happen on 429, 5xx and connection errors.
    public var maxAttempts: Int
    /// First backoff delay in seconds; doubles per retry, plus up to 25 % jitter.
    public var backoffBase: Double
    /// Longest `Retry-After` we honour; a service asking for longer is reported instead of
    /// keeping the notebook blocked.
    public var maxRetryAfter: Double

    static let defaultGeminiBaseURL = "https://generativelanguage.googleapis.com/v1beta"
    static let defaultOpenAIBaseURL = "https://api.openai.com/v1"
    public static let defaultTimeout: Double = 60
    public static let defaultMaxAttempts = 3

    public init(provider: LLMProviderKind, baseURL: String? = nil, model: String? = nil,
                apiKey: String? = nil, timeout: Double = LLMConfiguration.defaultTimeout,
                maxAttempts: Int = LLMConfiguration.defaultMaxAttempts, backoffBase: Double = 0.5,
                maxRetryAfter: Double = 10) {
        self.provider = provider
        self.baseURL = Self.trimSlash(baseURL ?? Self.defaultBaseURL(provider))
        self.model = model ?? Self.defaultModel(provider)
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoffBase = backoffBase
        self.maxRetryAfter = maxRetryAfter
    }

    /// The vendor's own endpoint, which always needs a key.
    static func defaultBaseURL(_ kind: LLMProviderKind) -> String {
        switch kind {
        case .gemini: return defaultGeminiBaseURL
        case .openai: return defaultOpenAIBaseURL
        case .offline: return ""
        }
    }

    static func defaultModel(_ kind: LLMProviderKind) -> String {
        switch kind {
        case .gemini: return "gemini-2.5-flash"
        case .openai: return "gpt-4o-mini"
        case .offline: return ""
        }
    }

    /// Replace any occurrence of the key (servers sometimes echo it) with a placeholder.
    func redact(_ text: String) -> String {
        guard let apiKey, apiKey.count >= 4 else { return text }
        return text.replacingOccurrences(of: apiKey, with: "[API key]")
    }

    static func trimSlash(_ s: String) -> String {
        var s = s.trimmingCharacters(in: .whitespaces)
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
