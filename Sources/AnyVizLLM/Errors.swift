import Foundation

/// Why an LLM call gave no usable answer. `userMessage` says what happened and what to do and
/// never contains the API key (snippets are redacted when the error is made).
public enum LLMError: Error, Sendable, Equatable {
    /// An attempt took longer than the configured timeout.
    case timeout(seconds: Double)
    /// The user interrupted the cell.
    case cancelled
    /// The service answered with an error status after all allowed attempts; `snippet` is the
    /// service's own message (from `{"error": {"message"}}`) or the start of the body.
    case http(status: Int, snippet: String)
    /// No HTTP answer at all (DNS, refused, TLS...).
    case transport(String)
    /// A 200 answer without any text (safety filter, token limit, empty choice).
    case emptyReply
    /// A 200 answer that is not the expected JSON.
    case malformedBody(String)
    /// No provider/key set up.
    case notConfigured

    public var userMessage: String {
        switch self {
        case .timeout(let s):
            return "The LLM did not answer within \(formatSeconds(s)). Try again, use a faster model (ANYVIZ_LLM_MODEL), or raise ANYVIZ_LLM_TIMEOUT_S."
        case .cancelled:
            return "The LLM request was cancelled."
        case .http(let status, let snippet):
            let detail = snippet.isEmpty ? "" : " (\(snippet))"
            switch status {
            case 401, 403:
                return "The LLM service rejected the API key: HTTP \(status)\(detail). Check ANYVIZ_LLM_API_KEY / GEMINI_API_KEY / OPENAI_API_KEY."
            case 404:
                return "The LLM service has no such model or endpoint: HTTP 404\(detail). Check ANYVIZ_LLM_MODEL and ANYVIZ_LLM_BASE_URL."
            case 429:
                return "The LLM service is rate limiting this key (HTTP 429)\(detail). Wait a moment and run the cell again, or check your quota."
            case 500...599:
                return "The LLM service kept failing (HTTP \(status))\(detail). Try again later."
            default:
                return "The LLM service refused the request: HTTP \(status)\(detail)."
            }
        case .transport(let why):
            return "Could not reach the LLM service: \(why). Check the network and ANYVIZ_LLM_BASE_URL."
        case .emptyReply:
            return "The LLM answered with no text (it may have been filtered or cut off). Rephrase the request or try again."
        case .malformedBody(let why):
            return "The LLM service sent an answer that could not be read: \(why). Check that ANYVIZ_LLM_BASE_URL points at a Gemini or OpenAI-compatible API."
        case .notConfigured:
            return "No LLM is configured. Set GEMINI_API_KEY or OPENAI_API_KEY (or ANYVIZ_LLM_PROVIDER=openai and ANYVIZ_LLM_BASE_URL for a local server such as Ollama)."
        }
    }

    /// Worth another attempt with backoff (rate limits, server errors, connection problems).
    public var isRetryable: Bool {
        switch self {
        case .http(let status, _): return status == 429 || (500...599).contains(status)
        case .transport: return true
        default: return false
        }
    }
}

/// Cut `text` to about `limit` characters on one line, for error messages.
func snippet(_ text: String, limit: Int = 300) -> String {
    let flat = text.split(whereSeparator: { $0.isNewline }).joined(separator: " ")
        .trimmingCharacters(in: .whitespaces)
    return flat.count <= limit ? flat : String(flat.prefix(limit)) + "…"
}
