import AnyVizLLM
import AnyVizProtocol
import AnyVizPython
import AnyVizViz
import Foundation

extension MagicRegistry {
    /// `%health`: is this kernel in a state to serve charts? Versions, memory, frames, cache
    /// store and whether the LLM endpoint answers. Never shows a key or data values.
    public func registerHealth(settings: LLMSettings, http: HTTPClient = HTTPClient()) {
        register(Magic(name: "health", summary: "Kernel health: versions, memory, frames, cache store, LLM reachability.",
                       implementation: .native { [unowned self] _ in
                           let facts = try runtime.callJSON("anyviz.health", "report", [:])
                           let cache = (try? runtime.callJSON("anyviz.viz.api", "cache_stats", [:])) ?? [:]
                           let llm = MagicRegistry.llmReachability(settings.current, http: http)
                           var rows: [(String, String)] = [("Python", facts["python"]?.stringValue ?? "?")]
                           for (name, version) in (facts["packages"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                               rows.append((name, version.stringValue ?? "not installed"))
                           }
                           rows.append(("Memory in use (RSS)", String(format: "%.1f MB", facts["rss_mb"]?.doubleValue ?? 0)))
                           let frames = facts["frames"]?.objectValue ?? [:]
                           rows.append(("Frames loaded", frames.isEmpty ? "none" : frames.keys.sorted().map { name in
                               let f = frames[name]!
                               return "\(name) (\(f["rows"]?.intValue ?? 0)×\(f["columns"]?.intValue ?? 0))"
                           }.joined(separator: ", ")))
                           rows.append(("Cache store", MagicRegistry.describe(cache).replacingOccurrences(of: "\n", with: "; ")))
                           rows.append(("LLM", llm))
                           let width = (rows.map(\.0.count).max() ?? 0) + 2
                           let text = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
                           let html = "<table>" + rows.map { "<tr><th style=\"text-align:left\">\(Output.escape($0.0))</th><td style=\"text-align:left\">\(Output.escape($0.1))</td></tr>" }.joined() + "</table>"
                           Output.display(["text/plain": .string(text), "text/html": .string(html)])
                       }))
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
}
