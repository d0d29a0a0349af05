import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import AnyVizViz
import ArgumentParser
import Foundation

/// `%viz` options, parsed with swift-argument-parser; the words left over are the request.
struct VizArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "%viz")

    @Option(help: "The DataFrame to chart (default: the one most recently loaded or used).") var df: String?
    @Option(help: "Chart type: bar, line, scatter, pie, histogram, box, violin, area, heatmap.") var type: String?
    @Option(help: "Column for the x axis.") var x: String?
    @Option(help: "Column for the y axis.") var y: String?
    @Option(help: "Column for colour.") var color: String?
    @Option(help: "Aggregation: sum, mean, median, min, max, count.") var agg: String?
    @Flag(help: "Put the chart's Python code into the next cell, to make the notebook reproducible.") var code = false
    @Flag(name: .customLong("no-cache"), help: "Ask again instead of reusing a cached answer.") var noCache = false
    @Flag(help: "Also show the code and how the chart was chosen.") var explain = false
    @Flag(name: .customLong("static"), help: "Also attach a PNG image (for viewers without interactive charts; ANYVIZ_STATIC=1 for every chart).") var staticImage = false
    @Argument(help: "What to show, in plain language (e.g. revenue by region over time). A first word that names a DataFrame picks that frame.") var request: [String] = []
}

extension MagicRegistry {
    /// Registers `%viz`, `%customize`, `%llm`, `%cache` and the `fetch` service.
    public func registerVisualization(pipeline: VizPipeline, http: HTTPClient = HTTPClient()) {
        register(Magic(name: "viz", summary: "Plain language to an interactive Plotly chart (LLM if configured, else the built-in planner).",
                       usage: VizArguments.helpMessage(columns: 100),
                       implementation: .native { [unowned self] line in try self.runViz(line, pipeline: pipeline) }))
        register(Magic(name: "customize", summary: "Change the last chart in place, e.g. %customize title 'Sales 2024', log scale y, dark theme.",
                       implementation: .native { line in
                           let instruction = line.trimmingCharacters(in: .whitespaces)
                           guard !instruction.isEmpty else { throw MagicError("Say what to change, e.g. %customize title 'Sales 2024' or %customize dark theme.") }
                           _ = try MagicRegistry.translate { try pipeline.customize(instruction) }
                       }))
        register(Magic(name: "llm", summary: "Show or set the LLM used by %viz (never prints a key).",
                       usage: LLMArguments.helpMessage(columns: 100),
                       implementation: .native { line in try MagicRegistry.runLLM(line, settings: pipeline.settings) }))
        register(Magic(name: "cache", summary: "Show %viz cache statistics; `%cache clear` empties it.",
                       implementation: .native { [unowned self] line in
                           let clear = line.trimmingCharacters(in: .whitespaces) == "clear"
                           let stats = try runtime.callJSON("anyviz.viz.api", clear ? "cache_clear" : "cache_stats", [:])
                           Output.text((clear ? "Cache cleared. " : "") + MagicRegistry.describe(stats))
                       }))
        registerService("fetch") { payload in
            guard let url = payload["url"]?.stringValue, let path = payload["path"]?.stringValue else {
                return ["status": "error", "message": "fetch needs url and path"]
            }
            let cancel = CancellationFlag()
            do {
                let response = try http.download(url: url, to: path, timeout: payload["timeout_s"]?.doubleValue ?? 120, cancellation: cancel)
                guard response.isSuccess else {
                    return ["status": "error", "http_code": .int(response.status),
                            "message": .string("\(url) answered HTTP \(response.status)")]
                }
                return ["status": "ok", "bytes": .int(response.bytesReceived), "http_code": .int(response.status)]
            } catch let error as HTTPClientError {
                return ["status": "error", "message": .string(error.userMessage)]
            }
        }
    }

    private func runViz(_ line: String, pipeline: VizPipeline) throws {
        let arguments: VizArguments
        do {
            arguments = try VizArguments.parse(Tokenizer.split(line))
        } catch {
            throw MagicError(VizArguments.message(for: error) + "\n\n" + VizArguments.helpMessage(columns: 100))
        }
        // `%viz --code` alone: the last chart, with every %customize applied, as a cell.
        if arguments.code, arguments.request.isEmpty, arguments.df == nil, arguments.type == nil, arguments.x == nil,
           arguments.y == nil, arguments.color == nil, arguments.agg == nil, let script = pipeline.lastChartScript() {
            PythonRuntime.addPayload(["source": "set_next_input", "text": .string(script), "replace": false])
            Output.text("The last chart's code (with its customizations) is in the next cell.")
            return
        }
        var frame = arguments.df
        var text = arguments.request.joined(separator: " ")
        if frame == nil, !text.isEmpty {
            let split = try runtime.callJSON("anyviz.viz.api", "split_frame", ["request": .string(text)])
            if let named = split["frame"]?.stringValue {
                frame = named
                text = split["request"]?.stringValue ?? ""
            }
        }
        let request = VizRequest(frame: frame, text: text, type: arguments.type,
                                 x: arguments.x, y: arguments.y, color: arguments.color, agg: arguments.agg,
                                 useCache: !arguments.noCache, staticImage: arguments.staticImage)
        let outcome = try MagicRegistry.translate { try pipeline.viz(request) }
        if arguments.code, let code = pipeline.lastChartScript() ?? outcome.code {
            PythonRuntime.addPayload(["source": "set_next_input", "text": .string(code), "replace": false])
        }
        if arguments.explain {
            var text = "How this chart was made: \(outcome.level.rawValue)"
            if outcome.llmCalls > 0 { text += " (\(outcome.llmCalls) LLM call\(outcome.llmCalls == 1 ? "" : "s"))" }
            text += ".\n\(outcome.explanation)"
            if let code = outcome.code { text += "\n\nCode:\n\(code)" }
            Output.text(text)
        }
    }

    /// Maps pipeline errors to what the cell shows.
    static func translate<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as VizError {
            throw MagicError(error.message)
        } catch is VizInterrupted {
            throw MagicInterrupted()
        }
    }

    static func describe(_ stats: JSONValue) -> String {
        let store = stats["store"]?.stringValue ?? "disk"
        let location = stats["url"]?.stringValue ?? stats["path"]?.stringValue ?? ""
        return "Store: \(store) \(location)\nEntries: \(stats["entries"]?.intValue ?? 0)\nHits: \(stats["hits"]?.intValue ?? 0), misses: \(stats["misses"]?.intValue ?? 0)"
    }
}

/// `%llm` options.
struct LLMArguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "%llm")

    @Option(help: "gemini, openai (also Ollama, llama.cpp, vLLM, LM Studio) or offline.") var provider: String?
    @Option(help: "Model name.") var model: String?
    @Option(name: .customLong("base-url"), help: "Endpoint base URL, e.g. http://localhost:11434/v1 for Ollama.") var baseURL: String?
    @Option(name: .customLong("key-env"), help: "Name of an environment variable that holds the API key (the key itself never goes into a notebook).") var keyEnv: String?
    @Option(help: "Seconds per request.") var timeout: Double?
}

extension MagicRegistry {
    static func runLLM(_ line: String, settings: LLMSettings) throws {
        let arguments: LLMArguments
        do {
            arguments = try LLMArguments.parse(Tokenizer.split(line))
        } catch {
            throw MagicError(LLMArguments.message(for: error) + "\n\n" + LLMArguments.helpMessage(columns: 100))
        }
        if let name = arguments.provider, LLMProviderKind(rawValue: name.lowercased()) == nil {
            throw MagicError("Unknown provider \(name): use gemini, openai or offline.")
        }
        var keyFromEnv: String?
        if let variable = arguments.keyEnv {
            guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
                throw MagicError("The environment variable \(variable) is not set in the kernel's environment. Set it before starting Jupyter.")
            }
            keyFromEnv = value
        }
        settings.update { config in
            if let name = arguments.provider, let kind = LLMProviderKind(rawValue: name.lowercased()), kind != config.provider {
                config.provider = kind
                if arguments.baseURL == nil { config.baseURL = LLMConfiguration.defaultBaseURL(kind) }
                if arguments.model == nil { config.model = LLMConfiguration.defaultModel(kind) }
            }
            if let model = arguments.model { config.model = model }
            if let url = arguments.baseURL { config.baseURL = url }
            if let keyFromEnv { config.apiKey = keyFromEnv }
            if let timeout = arguments.timeout { config.timeout = timeout }
        }
        Output.text(settings.current.summary)
    }
}

/// Thrown when an interrupt stopped a magic; the bridge raises KeyboardInterrupt for it.
public struct MagicInterrupted: Error {}

/// Splits a magic line into words: whitespace separates, balanced quotes group. An unbalanced
/// quote (as in "what's the trend") is kept as a plain character.
enum Tokenizer {
    static func split(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var hasWord = false
        let chars = Array(line)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'", chars[(i + 1)...].contains(c) {
                quote = c
                hasWord = true
            } else if c.isWhitespace {
                if hasWord || !current.isEmpty { words.append(current) }
                current = ""
                hasWord = false
            } else {
                current.append(c)
            }
            i += 1
        }
        if hasWord || !current.isEmpty { words.append(current) }
        return words
    }
}
