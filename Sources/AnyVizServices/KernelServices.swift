import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import AnyVizViz
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
/// (the GIL is released while a service runs). Magics are Python functions; only work that
/// needs native code lives here: the chart pipeline with the libcurl LLM client, LLM settings
/// and reachability, and downloads.
///
/// | service             | payload                                                   | answer |
/// |---------------------|-----------------------------------------------------------|--------|
/// | `viz`               | frame, text, type, x, y, color, agg, use_cache, static    | level, code, explanation, llm_calls |
/// | `customize`         | instruction                                               | level, code, explanation, llm_calls |
/// | `last_chart_script` | –                                                         | script (or null) |
/// | `llm`               | provider, model, base_url, key_env, timeout (all optional) | summary |
/// | `llm_status`        | –                                                         | text |
/// | `fetch`             | url, path, timeout_s                                      | status, bytes, http_code / message |
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
        } catch let error as VizError {
            return .userError(error.message)
        } catch is ServiceInterrupted {
            return .interrupted
        } catch is VizInterrupted {
            return .interrupted
        } catch {
            logger.error("kernel service failed", metadata: ["service": "\(service)", "error": "\(error)"])
            return .failure("\(error)")
        }
    }
}

extension KernelServices {
    /// The chart pipeline: `viz`, `customize`, `last_chart_script`.
    public func registerVisualization(pipeline: VizPipeline) {
        register("viz") { payload in
            func text(_ key: String) -> String? {
                payload[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            }
            let request = VizRequest(frame: text("frame"), text: payload["text"]?.stringValue ?? "",
                                     type: text("type"), x: text("x"), y: text("y"), color: text("color"),
                                     agg: text("agg"), useCache: payload["use_cache"]?.boolValue ?? true,
                                     staticImage: payload["static"]?.boolValue ?? false)
            return KernelServices.describe(try pipeline.viz(request))
        }
        register("customize") { payload in
            let instruction = payload["instruction"]?.stringValue ?? ""
            guard !instruction.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ServiceError("Say what to change, e.g. %customize title 'Sales 2024' or %customize dark theme.")
            }
            return KernelServices.describe(try pipeline.customize(instruction))
        }
        register("last_chart_script") { _ in
            ["script": pipeline.lastChartScript().map(JSONValue.string) ?? .null]
        }
    }

    static func describe(_ outcome: VizOutcome) -> JSONValue {
        ["level": .string(outcome.level.rawValue), "code": outcome.code.map(JSONValue.string) ?? .null,
         "display_id": outcome.displayID.map(JSONValue.string) ?? .null,
         "explanation": .string(outcome.explanation), "llm_calls": .int(outcome.llmCalls)]
    }

    /// `llm` (show or change the settings, never a key) and `llm_status` (does it answer?).
    public func registerLLM(settings: LLMSettings, http: HTTPClient = HTTPClient(),
                            environment: @escaping @Sendable () -> [String: String] = { ProcessInfo.processInfo.environment }) {
        register("llm") { payload in
            try KernelServices.updateLLM(settings, payload, environment: environment())
            return ["summary": .string(settings.current.summary)]
        }
        register("llm_status") { _ in
            ["text": .string(KernelServices.llmReachability(settings.current, http: http))]
        }
    }

    static func updateLLM(_ settings: LLMSettings, _ payload: JSONValue, environment: [String: String]) throws {
        let provider = payload["provider"]?.stringValue
        let kind = provider.flatMap { LLMProviderKind(rawValue: $0.lowercased()) }
        if let provider, kind == nil {
            throw ServiceError("Unknown provider \(provider): use gemini, openai or offline.")
        }
        var keyFromEnv: String?
        if let variable = payload["key_env"]?.stringValue {
            guard let value = environment[variable], !value.isEmpty else {
                throw ServiceError("The environment variable \(variable) is not set in the kernel's environment. Set it before starting Jupyter.")
            }
            keyFromEnv = value
        }
        let model = payload["model"]?.stringValue
        let baseURL = payload["base_url"]?.stringValue
        let timeout = payload["timeout"]?.doubleValue
        settings.update { config in
            if let kind, kind != config.provider {
                config.provider = kind
                if baseURL == nil { config.baseURL = LLMConfiguration.defaultBaseURL(kind) }
                if model == nil { config.model = LLMConfiguration.defaultModel(kind) }
            }
            if let model { config.model = model }
            if let baseURL { config.baseURL = baseURL }
            if let keyFromEnv { config.apiKey = keyFromEnv }
            if let timeout { config.timeout = timeout }
        }
    }

    /// Asks the provider's model list (a cheap authenticated GET) whether it answers.
    static func llmReachability(_ config: LLMConfiguration, http: HTTPClient) -> String {
        guard config.provider != .offline else { return "offline (built-in planner)" }
        var headers: [String: String] = [:]
        if let key = config.apiKey {
            if config.provider == .gemini { headers["x-goog-api-key"] = key } else { headers["Authorization"] = "Bearer \(key)" }
        }
        let label = "\(config.provider.rawValue) \(config.model) at \(config.baseURL)"
        do {
            let response = try http.get(url: config.baseURL + "/models", headers: headers, timeout: 3, cancellation: CancellationFlag())
            return response.isSuccess ? "\(label): reachable" : "\(label): answered HTTP \(response.status)"
        } catch let error as HTTPClientError {
            return "\(label): not reachable (\(config.redact(error.userMessage)))"
        } catch {
            return "\(label): not reachable"
        }
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
