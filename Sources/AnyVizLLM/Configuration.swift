import Foundation

/// Which wire format to speak. `openai` also covers every OpenAI-compatible local server
/// (Ollama, llama.cpp, vLLM, LM Studio): they differ only by base URL and need no key.
public enum LLMProviderKind: String, Sendable, CaseIterable {
    case gemini, openai, offline
}

/// Everything a provider needs, read once from the environment (and changeable by `%llm`).
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
    /// Problems found while reading the environment (bad numbers, unknown provider), in words
    /// the user can act on; shown by `summary`.
    public var issues: [String]

    public static let defaultGeminiBaseURL = "https://generativelanguage.googleapis.com/v1beta"
    public static let defaultOpenAIBaseURL = "https://api.openai.com/v1"
    public static let defaultGeminiModel = "gemini-2.5-flash"
    public static let defaultOpenAIModel = "gpt-4o-mini"
    public static let defaultTimeout: Double = 60
    public static let defaultMaxAttempts = 3

    public init(provider: LLMProviderKind, baseURL: String? = nil, model: String? = nil,
                apiKey: String? = nil, timeout: Double = LLMConfiguration.defaultTimeout,
                maxAttempts: Int = LLMConfiguration.defaultMaxAttempts, backoffBase: Double = 0.5,
                maxRetryAfter: Double = 10, issues: [String] = []) {
        self.provider = provider
        self.baseURL = Self.trimSlash(baseURL ?? Self.defaultBaseURL(provider))
        self.model = model ?? Self.defaultModel(provider)
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoffBase = backoffBase
        self.maxRetryAfter = maxRetryAfter
        self.issues = issues
    }

    public static func defaultBaseURL(_ kind: LLMProviderKind) -> String {
        switch kind {
        case .gemini: return defaultGeminiBaseURL
        case .openai: return defaultOpenAIBaseURL
        case .offline: return ""
        }
    }

    public static func defaultModel(_ kind: LLMProviderKind) -> String {
        switch kind {
        case .gemini: return defaultGeminiModel
        case .openai: return defaultOpenAIModel
        case .offline: return ""
        }
    }

    /// Read ANYVIZ_LLM_* (and GEMINI_API_KEY / OPENAI_API_KEY). Never fails: problems fall back
    /// to defaults and are listed in `issues` so `%llm` can show them.
    ///
    /// Key precedence is ANYVIZ_LLM_API_KEY, then the chosen provider's own variable only, so
    /// an OpenAI key is never sent to Google or the reverse.
    public static func fromEnvironment(_ env: [String: String]) -> LLMConfiguration {
        func value(_ name: String) -> String? {
            guard let v = env[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { return nil }
            return v
        }
        var issues: [String] = []
        let gemini = value("GEMINI_API_KEY"), openai = value("OPENAI_API_KEY")
        let auto: LLMProviderKind = gemini != nil ? .gemini : openai != nil ? .openai : .offline
        var kind = auto
        if let raw = value("ANYVIZ_LLM_PROVIDER") {
            if let k = LLMProviderKind(rawValue: raw.lowercased()) {
                kind = k
            } else {
                issues.append("ANYVIZ_LLM_PROVIDER=\(raw) is not one of gemini, openai, offline; using \(auto.rawValue).")
            }
        }
        let key = value("ANYVIZ_LLM_API_KEY") ?? (kind == .gemini ? gemini : kind == .openai ? openai : nil)

        var timeout = defaultTimeout
        if let raw = value("ANYVIZ_LLM_TIMEOUT_S") {
            if let t = Double(raw), t.isFinite, t > 0 { timeout = t } else {
                issues.append("ANYVIZ_LLM_TIMEOUT_S=\(raw) is not a positive number of seconds; using \(formatSeconds(defaultTimeout)).")
            }
        }
        var attempts = defaultMaxAttempts
        if let raw = value("ANYVIZ_LLM_RETRIES") {
            // The variable counts retries after the first try.
            if let r = Int(raw), (0...10).contains(r) { attempts = r + 1 } else {
                issues.append("ANYVIZ_LLM_RETRIES=\(raw) is not a whole number from 0 to 10; using \(defaultMaxAttempts - 1).")
            }
        }
        var base = value("ANYVIZ_LLM_BASE_URL")
        if let b = base, !(b.lowercased().hasPrefix("http://") || b.lowercased().hasPrefix("https://")) {
            issues.append("ANYVIZ_LLM_BASE_URL=\(b) must start with http:// or https://; using the default.")
            base = nil
        }
        if kind == .gemini && key == nil {
            issues.append("Gemini needs an API key: set GEMINI_API_KEY (or ANYVIZ_LLM_API_KEY).")
        }
        if kind == .openai && key == nil && base == nil {
            issues.append("api.openai.com needs an API key: set OPENAI_API_KEY, or ANYVIZ_LLM_BASE_URL for a local server.")
        }
        var config = LLMConfiguration(provider: kind, baseURL: base, model: value("ANYVIZ_LLM_MODEL"),
                                      apiKey: key, timeout: timeout, maxAttempts: attempts, issues: [])
        config.issues = issues.map { config.redact($0) }
        return config
    }

    /// One line per fact for `%llm` / `%health`. Never contains the key (only whether one is set).
    public var summary: String {
        var lines: [String]
        if provider == .offline {
            lines = ["provider: offline (no LLM; charts come from the built-in planner)",
                     "to use an LLM: set GEMINI_API_KEY or OPENAI_API_KEY, or ANYVIZ_LLM_PROVIDER=openai with ANYVIZ_LLM_BASE_URL for a local server"]
        } else {
            lines = ["provider: \(provider.rawValue)",
                     "model: \(model)",
                     "base URL: \(Self.displayURL(baseURL))",
                     "API key: \(apiKey == nil ? "not set" : "set")",
                     "timeout: \(formatSeconds(timeout)) per attempt, attempts: \(maxAttempts)"]
        }
        lines += issues.map { "warning: \($0)" }
        return redact(lines.joined(separator: "\n"))
    }

    /// Replace any occurrence of the key (servers sometimes echo it) with a placeholder.
    public func redact(_ text: String) -> String {
        guard let apiKey, apiKey.count >= 4 else { return text }
        return text.replacingOccurrences(of: apiKey, with: "[API key]")
    }

    /// A URL without user:password@ or query string, which could carry credentials.
    static func displayURL(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        if c.user != nil || c.password != nil { c.user = nil; c.password = nil }
        if c.query != nil { c.query = nil }
        return c.string ?? url
    }

    static func trimSlash(_ s: String) -> String {
        var s = s.trimmingCharacters(in: .whitespaces)
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
