import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import Crypto
import Foundation
import Logging

/// What the user asked `%viz` for.
public struct VizRequest: Sendable {
    public var frame: String?
    public var text: String
    public var type: String?
    public var x: String?
    public var y: String?
    public var color: String?
    public var agg: String?
    public var useCache = true
    /// Also attach a PNG (for places that show no interactive charts, e.g. a git host's preview).
    public var staticImage = false

    public init(frame: String? = nil, text: String = "", type: String? = nil, x: String? = nil, y: String? = nil,
                color: String? = nil, agg: String? = nil, useCache: Bool = true, staticImage: Bool = false) {
        self.frame = frame
        self.text = text
        self.type = type
        self.x = x
        self.y = y
        self.color = color
        self.agg = agg
        self.useCache = useCache
        self.staticImage = staticImage
    }

    var hints: [String: String] {
        var h: [String: String] = [:]
        for (k, v) in [("type", type), ("x", x), ("y", y), ("color", color), ("agg", agg)] { if let v { h[k] = v } }
        return h
    }
}

/// How a `%viz` ended: which level produced what the user sees.
public struct VizOutcome: Sendable {
    public enum Level: String, Sendable { case cache, llm, planner, simple, table, message }
    public var level: Level
    public var code: String?
    public var displayID: String?
    public var explanation: String
    public var llmCalls: Int
}

/// The interrupt reached a running `%viz` (e.g. during an LLM call).
public struct VizInterrupted: Error {}

/// `%viz`/`%customize` could not show anything; the message says why and what to do.
public struct VizError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `%viz` and `%customize`: context → cache → LLM → guard and render → repair (≤ 2 rounds) →
/// fallback (planner chart → simpler chart → table → message). The Python side does the data
/// work (`anyviz.viz.api`); this type decides what to try next.
public final class VizPipeline: @unchecked Sendable {
    let runtime: PythonRuntime
    public let settings: LLMSettings
    let logger: Logger
    public let metrics: VizMetrics
    static let api = "anyviz.viz.api"
    static let maxRepairs = 2

    public init(runtime: PythonRuntime, settings: LLMSettings, logger: Logger, metrics: VizMetrics = VizMetrics()) {
        self.runtime = runtime
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
    }

    func api(_ function: String, _ argument: JSONValue) throws -> JSONValue {
        try runtime.callJSON(VizPipeline.api, function, argument)
    }

    public func viz(_ request: VizRequest) throws -> VizOutcome {
        metrics.requests.increment()
        let frameArgument = request.frame.map(JSONValue.string) ?? .null
        guard let provider = settings.provider else {
            // Offline: the planner reads the frame itself; no prompt summary to compute.
            let frame = try api("context", ["frame": frameArgument, "light": true])["frame"]?.stringValue ?? "df"
            return try fallback(frame: frame, request: request, note: nil, llmCalls: 0)
        }
        let context = try api("context", ["frame": frameArgument])
        let frame = context["frame"]?.stringValue ?? "df"
        if let engineNote = context["engine_note"]?.stringValue {
            // A table in DuckDB or Spark: the planner's spec runs there; LLM pandas code cannot.
            return try fallback(frame: frame, request: request, note: engineNote, llmCalls: 0)
        }
        let key = cacheKey(config: settings.current, request: request, context: context)
        if request.useCache, let outcome = try cachedChart(key: key, frame: frame, request: request) {
            return outcome
        }
        let attempt = try llmChart(provider, key: key, frame: frame, request: request, summary: context["summary"]?.stringValue ?? "")
        if let outcome = attempt.outcome { return outcome }
        return try fallback(frame: frame, request: request, note: attempt.note, llmCalls: attempt.calls)
    }

    /// A cached LLM answer for this exact request, schema and data, shown again (no HTTP call).
    func cachedChart(key: String, frame: String, request: VizRequest) throws -> VizOutcome? {
        guard let cached = try? api("cache_get", ["key": .string(key)]), cached["hit"] == true,
              let text = cached["value"]?.stringValue, let reply = try? ChartReply.parse(text) else {
            metrics.cacheMisses.increment()
            return nil
        }
        metrics.cacheHits.increment()
        let shown = try render(frame: frame, reply: reply, source: "llm", request: request, note: nil)
        guard shown["status"] == "ok" else { return nil }
        metrics.fallback("cache").increment()
        return VizOutcome(level: .cache, code: reply.code, displayID: shown["display_id"]?.stringValue,
                          explanation: VizPipeline.plainText(reply.explanation), llmCalls: 0)
    }

    /// Asks the LLM, runs its code under the guard, and on failure sends the error back for a
    /// repair (at most `maxRepairs` times). Without a chart, `note` says why for the fallback.
    func llmChart(_ provider: LLMProvider, key: String, frame: String, request: VizRequest,
                  summary: String) throws -> (outcome: VizOutcome?, note: String?, calls: Int) {
        var messages = PromptBuilder.chartMessages(summary: summary, request: request.text, hints: request.hints)
        var lastError = ""
        var note: String?
        var calls = 0
        for round in 0...VizPipeline.maxRepairs {
            let text: String
            do {
                text = try callLLM(provider, messages)
                calls += 1
            } catch let error as LLMError {
                if case .cancelled = error { throw VizInterrupted() }
                metrics.errors(error.kind).increment()
                return (nil, "The LLM could not be used (\(error.userMessage)); the built-in planner made this chart.", calls)
            }
            let reply: ChartReply
            do {
                reply = try ChartReply.parse(text)
            } catch {
                lastError = (error as? LLMError)?.userMessage ?? "the reply had no code"
                messages = PromptBuilder.repairMessages(messages, reply: text, error: lastError)
                note = "The LLM's reply was unusable \(round + 1) time(s) (\(lastError)); the built-in planner made this chart."
                continue
            }
            let repaired = round > 0 ? "Repaired after \(round) failed attempt(s): \(lastError)" : nil
            let shown = try render(frame: frame, reply: reply, source: "llm", request: request, note: repaired)
            if shown["status"] == "ok" {
                _ = try? api("cache_put", ["key": .string(key), "value": .string(reply.jsonText)])
                metrics.fallback("llm").increment()
                return (VizOutcome(level: .llm, code: reply.code, displayID: shown["display_id"]?.stringValue,
                                   explanation: VizPipeline.plainText(reply.explanation), llmCalls: calls), nil, calls)
            }
            lastError = shown["message"]?.stringValue ?? "unknown error"
            metrics.errors("code_\(shown["status"]?.stringValue ?? "error")").increment()
            if shown["status"] == "unsandboxed" {
                // No repair can help when the machine lacks the sandbox: stop asking the LLM.
                return (nil, "\(lastError) The built-in planner made this chart.", calls)
            }
            messages = PromptBuilder.repairMessages(messages, reply: text, error: repairText(shown))
            note = "The LLM's code failed \(round + 1) time(s) (last error: \(lastError)); the built-in planner made this chart."
        }
        return (nil, note, calls)
    }

    /// Planner chart → simpler chart → table → message: `%viz` always shows something.
    func fallback(frame: String, request: VizRequest, note: String?, llmCalls: Int) throws -> VizOutcome {
        var note = note
        let options: JSONValue = .object(request.hints.mapValues(JSONValue.string))
        do {
            let plan = try api("plan", ["frame": .string(frame), "request": .string(request.text), "options": options])
            let code = plan["code"]?.stringValue ?? ""
            let shown = try api("render", [
                "frame": .string(frame), "code": .string(code), "source": "planner",
                "explanation": plan["explanation"] ?? .null, "alternatives": plan["alternatives"] ?? [],
                "note": note.map(JSONValue.string) ?? .null, "request": .string(request.text),
                "static": .bool(request.staticImage),
            ])
            if shown["status"] == "ok" {
                metrics.fallback("planner").increment()
                return VizOutcome(level: .planner, code: code, displayID: shown["display_id"]?.stringValue,
                                  explanation: plan["explanation"]?.stringValue ?? "", llmCalls: llmCalls)
            }
            note = joined(note, "The planned chart failed (\(shown["message"]?.stringValue ?? "error")); showing a simpler chart.")
        } catch let error as PythonError where error.typeName == "NotUnderstood" {
            // A guessed chart would mislead: the message (words, close columns, requests that
            // work) is the answer.
            metrics.fallback("message").increment()
            throw VizError(joined(note, error.message))
        } catch let error as PythonError where error.isUserError {
            note = joined(note, "\(error.message) Showing a simpler view of the data instead.")
        }
        for (level, function) in [(VizOutcome.Level.simple, "simple"), (.table, "table")] {
            if let shown = try? api(function, ["frame": .string(frame), "columns": .null, "note": note.map(JSONValue.string) ?? .null]),
               shown["status"] == "ok" {
                metrics.fallback(level.rawValue).increment()
                return VizOutcome(level: level, code: nil, displayID: shown["display_id"]?.stringValue,
                                  explanation: note ?? "", llmCalls: llmCalls)
            }
        }
        metrics.fallback("message").increment()
        throw VizError(note ?? "No chart or table could be made from \(frame).")
    }

    /// Keeps every reason the user should read: an earlier LLM failure is not hidden by a later one.
    private func joined(_ earlier: String?, _ later: String) -> String {
        guard let earlier, !earlier.isEmpty else { return later }
        return earlier.replacingOccurrences(of: "; the built-in planner made this chart.", with: ".") + " " + later
    }

    func render(frame: String, reply: ChartReply, source: String, request: VizRequest, note: String?) throws -> JSONValue {
        try api("render", [
            "frame": .string(frame), "code": .string(reply.code), "source": .string(source),
            "explanation": .string(reply.explanation), "alternatives": .array(reply.alternatives.map(JSONValue.string)),
            "note": note.map(JSONValue.string) ?? .null, "request": .string(request.text),
            "static": .bool(request.staticImage),
        ])
    }

    /// Unicode direction controls (they make text read differently from what it is).
    static let directionControls: Set<UInt32> = [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
                                                 0x2066, 0x2067, 0x2068, 0x2069]

    /// LLM text for plain-text places (the `--explain` summary): capped, without direction
    /// controls, other control characters (terminal escapes) shown as U+FFFD.
    static func plainText(_ text: String, limit: Int = 4000) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in PromptBuilder.capped(text, maxCharacters: limit).unicodeScalars {
            if directionControls.contains(scalar.value) { continue }
            let control = scalar.value < 0x20 && scalar != "\n" && scalar != "\t"
            scalars.append(control || (0x7F...0x9F).contains(scalar.value) ? "\u{FFFD}" : scalar)
        }
        return String(scalars)
    }

    /// What the LLM is told about a failed render: the masked error the Python side made
    /// (exception type, short message, no data values), never the message shown to the user.
    func repairText(_ shown: JSONValue) -> String {
        shown["repair_error"]?.stringValue ?? "the chart code failed (\(shown["status"]?.stringValue ?? "error"))"
    }

    /// One LLM call that an interrupt (SIGINT or interrupt_request) cancels within ~50 ms.
    func callLLM(_ provider: LLMProvider, _ messages: [LLMMessage]) throws -> String {
        let cancel = CancellationFlag()
        let done = CancellationFlag()
        let watcher = Thread {
            while !done.isCancelled {
                if PythonRuntime.interruptRequested { cancel.cancel(); return }
                usleep(20_000)
            }
        }
        watcher.start()
        defer { done.cancel() }
        let bytes = PromptBuilder.promptBytes(messages)
        metrics.promptBytes.record(bytes)
        logger.debug("LLM request", metadata: ["prompt_bytes": "\(bytes)", "messages": "\(messages.count)"])
        let started = Date()
        let result = try provider.complete(messages, cancellation: cancel)
        metrics.llmLatency.record(Date().timeIntervalSince(started))
        return result.text
    }

    /// Provider, model, prompt version, request, schema and data fingerprint: a changed file or
    /// prompt never reuses an old answer.
    func cacheKey(config: LLMConfiguration, request: VizRequest, context: JSONValue) -> String {
        let parts: JSONValue = [
            "provider": .string(config.provider.rawValue), "model": .string(config.model), "prompt": .string(PromptBuilder.version),
            "request": .string(request.text), "hints": .object(request.hints.mapValues(JSONValue.string)),
            "columns": context["columns"] ?? .null, "fingerprint": context["fingerprint"] ?? .null,
        ]
        return SHA256.hash(data: parts.data).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - %customize

    public func customize(_ instruction: String) throws -> VizOutcome {
        metrics.requests.increment()
        let last = try api("last_chart", [:])
        guard let code = last["code"]?.stringValue, let frame = last["frame"]?.stringValue else {
            throw VizError("There is no chart to customize yet: make one with %viz first.")
        }
        var note: String?
        // Options (--list, --undo, --df) address the kept chart history, which lives offline.
        if let provider = settings.provider, !instruction.hasPrefix("--") {
            let context = try api("context", ["frame": .string(frame)])
            var messages = PromptBuilder.customizeMessages(summary: context["summary"]?.stringValue ?? "", code: code, instruction: instruction)
            for _ in 0...VizPipeline.maxRepairs {
                let text: String
                do {
                    text = try callLLM(provider, messages)
                } catch let error as LLMError {
                    if case .cancelled = error { throw VizInterrupted() }
                    note = "The LLM could not be used (\(error.userMessage)); applied the change offline."
                    break
                }
                guard let reply = try? ChartReply.parse(text) else {
                    messages = PromptBuilder.repairMessages(messages, reply: text, error: "the reply had no code")
                    continue
                }
                let shown = try api("apply_custom_code", ["code": .string(reply.code), "instruction": .string(instruction)])
                if shown["status"] == "ok" {
                    return VizOutcome(level: .llm, code: reply.code, displayID: shown["display_id"]?.stringValue,
                                      explanation: VizPipeline.plainText(reply.explanation), llmCalls: 1)
                }
                messages = PromptBuilder.repairMessages(messages, reply: text, error: repairText(shown))
            }
        }
        let shown = try api("customize", ["instruction": .string(instruction), "note": note.map(JSONValue.string) ?? .null])
        if shown["status"] == "ok" {
            return VizOutcome(level: .planner, code: shown["code"]?.stringValue, displayID: shown["display_id"]?.stringValue,
                              explanation: shown["message"]?.stringValue ?? "", llmCalls: 0)
        }
        throw VizError(shown["message"]?.stringValue ?? "The chart could not be changed.")
    }

    /// The last chart (with customizations) as a cell that runs on its own, for `--code`.
    public func lastChartScript() -> String? {
        (try? api("last_chart", [:]))?["script"]?.stringValue
    }
}

extension ChartReply {
    /// The reply as the JSON object the prompt asks for (what the cache stores).
    var jsonText: String {
        (["code": .string(code), "explanation": .string(explanation), "alternatives": .array(alternatives.map(JSONValue.string))] as JSONValue).jsonString
    }
}

extension LLMError {
    var kind: String {
        switch self {
        case .timeout: return "llm_timeout"
        case .cancelled: return "llm_cancelled"
        case .http(let status, _): return "llm_http_\(status)"
        case .transport: return "llm_transport"
        case .emptyReply: return "llm_empty"
        case .malformedBody: return "llm_malformed"
        case .notConfigured: return "llm_not_configured"
        case .noCode: return "llm_no_code"
        }
    }
}
