import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import Foundation
import Logging

/// A service failed in a way the user can fix; Python raises it as `anyviz.errors.MagicError`.
public struct ServiceError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Thrown when an interrupt stopped a service; Python sees KeyboardInterrupt.
public struct ServiceInterrupted: Error {}

/// What the Python side asks the native side for, through `_anyviz.call(service, payload)`
/// (the GIL is released while a service runs). The chart pipeline, the prompts and the LLM
/// settings are Python (`anyviz.viz.pipeline`, `anyviz.llm`); only work that needs native code
/// lives here: network transfers over libcurl.
///
/// | service        | payload                                   | answer |
/// |----------------|-------------------------------------------|--------|
/// | `llm_complete` | config {provider, base_url, model, api_key, timeout, max_attempts, backoff_base, max_retry_after}, messages [{role, content}] | status ok + text, or status error + kind, message, retryable |
/// | `fetch`        | url, path, timeout_s                      | status, bytes, http_code / message |
public final class KernelServices: @unchecked Sendable {
    public typealias Handler = @Sendable (JSONValue) throws -> JSONValue
    private var handlers: [String: Handler] = [:]
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public var names: [String] { handlers.keys.sorted() }

    /// Adds a service; a later registration under the same name replaces the earlier one.
    public func register(_ name: String, _ handler: @escaping Handler) {
        handlers[name] = handler
    }

    /// Makes these services the ones `_anyviz.call` reaches.
    public func install() {
        PythonRuntime.services = { [self] service, json in handle(service: service, json: json) }
    }

    func handle(service: String, json: String) -> ServiceResult {
        guard let handler = handlers[service] else {
            return .failure("unknown kernel service \(service); known: \(names.joined(separator: ", "))")
        }
        let payload = (try? JSONValue.parse(json)) ?? [:]
        do {
            return .ok(try handler(payload).jsonString)
        } catch let error as PythonError {
            return .python(error)
        } catch let error as ServiceError {
            return .userError(error.message)
        } catch is ServiceInterrupted {
            return .interrupted
        } catch {
            logger.error("kernel service failed", metadata: ["service": "\(service)", "error": "\(error)"])
            return .failure("\(error)")
        }
    }
}

extension KernelServices {
    /// `llm_complete`: one chat completion with the configuration Python sends (Python owns the
    /// settings; the key stays in this process and goes only into the provider's header).
    /// Retries, timeouts and the wire formats are the providers'; an interrupt cancels the
    /// transfer or the backoff sleep within ~20 ms. Latency and prompt size are recorded here,
    /// where the call is timed.
    public func registerLLM(http: HTTPClient = HTTPClient(), metrics: LLMCallMetrics = LLMCallMetrics()) {
        register("llm_complete") { payload in
            let config = try KernelServices.configuration(payload["config"] ?? [:])
            let messages = try KernelServices.messages(payload["messages"])
            guard let provider = makeProvider(config, http: http) else {
                return KernelServices.describe(LLMError.notConfigured)
            }
            let cancel = CancellationFlag(observing: { PythonRuntime.interruptRequested })
            metrics.promptBytes.record(messages.reduce(0) { $0 + $1.content.utf8.count })
            let started = Date()
            do {
                let result = try provider.complete(messages, cancellation: cancel)
                metrics.latency.record(Date().timeIntervalSince(started))
                return ["status": "ok", "text": .string(result.text)]
            } catch LLMError.cancelled {
                throw ServiceInterrupted()
            } catch let error as LLMError {
                metrics.latency.record(Date().timeIntervalSince(started))
                return KernelServices.describe(error)
            }
        }
    }

    /// The configuration Python sent; unknown providers and missing fields are the caller's bug.
    static func configuration(_ value: JSONValue) throws -> LLMConfiguration {
        guard let name = value["provider"]?.stringValue, let kind = LLMProviderKind(rawValue: name) else {
            throw ServiceError("llm_complete: unknown provider \(value["provider"]?.stringValue ?? "none"); use gemini, openai or offline.")
        }
        var config = LLMConfiguration(provider: kind, baseURL: value["base_url"]?.stringValue,
                                      model: value["model"]?.stringValue, apiKey: value["api_key"]?.stringValue)
        if let timeout = value["timeout"]?.doubleValue, timeout > 0, timeout.isFinite { config.timeout = timeout }
        if let attempts = value["max_attempts"]?.intValue { config.maxAttempts = max(1, min(attempts, 11)) }
        if let backoff = value["backoff_base"]?.doubleValue, backoff >= 0 { config.backoffBase = backoff }
        if let longest = value["max_retry_after"]?.doubleValue, longest >= 0 { config.maxRetryAfter = longest }
        return config
    }

    static func messages(_ value: JSONValue?) throws -> [LLMMessage] {
        let messages = (value?.arrayValue ?? []).compactMap { item -> LLMMessage? in
            guard let role = item["role"]?.stringValue, let content = item["content"]?.stringValue else { return nil }
            return LLMMessage(role: role, content: content)
        }
        guard !messages.isEmpty else { throw ServiceError("llm_complete needs messages [{role, content}].") }
        return messages
    }

    /// An LLM failure as Python's `LLMError` reads it: a kind for metrics, the user's message.
    static func describe(_ error: LLMError) -> JSONValue {
        ["status": "error", "kind": .string(error.kind), "message": .string(error.userMessage),
         "retryable": .bool(error.isRetryable)]
    }

    /// `fetch`: downloads a URL to a file with libcurl (used by `%load https://...`).
    public func registerFetch(http: HTTPClient = HTTPClient()) {
        register("fetch") { payload in
            guard let url = payload["url"]?.stringValue, let path = payload["path"]?.stringValue else {
                return ["status": "error", "message": "fetch needs url and path"]
            }
            // An interrupt (signal or message mode) stops the transfer within ~50 ms.
            let cancel = CancellationFlag(observing: { PythonRuntime.interruptRequested })
            do {
                let response = try http.download(url: url, to: path, timeout: payload["timeout_s"]?.doubleValue ?? 120, cancellation: cancel)
                guard response.isSuccess else {
                    return ["status": "error", "http_code": .int(response.status),
                            "message": .string("\(url) answered HTTP \(response.status)")]
                }
                return ["status": "ok", "bytes": .int(response.bytesReceived), "http_code": .int(response.status)]
            } catch HTTPClientError.cancelled {
                throw ServiceInterrupted()
            } catch let error as HTTPClientError {
                return ["status": "error", "message": .string(error.userMessage)]
            }
        }
    }
}

extension LLMError {
    /// The failure's name in Python's vocabulary (`anyviz.errors.LLMError.kind`).
    var kind: String {
        switch self {
        case .timeout: return "timeout"
        case .cancelled: return "cancelled"
        case .http(let status, _): return "http_\(status)"
        case .transport: return "transport"
        case .emptyReply: return "empty"
        case .malformedBody: return "malformed"
        case .notConfigured: return "not_configured"
        }
    }
}
