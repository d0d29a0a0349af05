import AnyVizProtocol
import Foundation
import Metrics

/// What the native LLM client records per call (swift-metrics; the executable bootstraps a
/// Prometheus backend).
public struct LLMCallMetrics: Sendable {
    public let latency = Recorder(label: "anyviz_llm_latency_seconds", aggregate: true)
    /// UTF-8 bytes of each request's messages: shows that prompts stay small (schema, not data).
    public let promptBytes = Recorder(label: "anyviz_llm_prompt_bytes", aggregate: true)

    public init() {}
}

/// The chart pipeline's counters, counted in Python (`anyviz.metrics`) and handed over with the
/// execute reply. Only known names and label keys pass, so a cell cannot invent series; label
/// values are short words (a level, an error kind), never data.
public enum PipelineMetrics {
    static let counters: [String: Set<String>] = [
        "anyviz_viz_requests_total": [],
        "anyviz_viz_cache_hits_total": [],
        "anyviz_viz_cache_misses_total": [],
        "anyviz_viz_results_total": ["level"],
        "anyviz_errors_total": ["type"],
    ]

    /// Adds `[{"name", "labels", "value"}]` to the counters; anything else is ignored.
    public static func record(_ counts: JSONValue) {
        for item in counts.arrayValue ?? [] {
            guard let name = item["name"]?.stringValue, let allowed = counters[name],
                  let value = item["value"]?.intValue, value > 0 else { continue }
            var dimensions: [(String, String)] = []
            for (key, label) in item["labels"]?.objectValue ?? [:] {
                guard allowed.contains(key), let text = label.stringValue, isWord(text) else { continue }
                dimensions.append((key, text))
            }
            guard dimensions.count == allowed.count else { continue }
            Counter(label: name, dimensions: dimensions.sorted { $0.0 < $1.0 }).increment(by: value)
        }
    }

    /// Label values are identifiers such as `planner` or `llm_http_429`.
    static func isWord(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" || $0 == "."
        }
    }
}
