import Metrics

/// Operator-facing counters of the visualization pipeline (swift-metrics; the executable
/// bootstraps a Prometheus backend). Labels never carry data values or keys.
public struct VizMetrics: Sendable {
    public let requests = Counter(label: "anyviz_viz_requests_total")
    public let cacheHits = Counter(label: "anyviz_viz_cache_hits_total")
    public let cacheMisses = Counter(label: "anyviz_viz_cache_misses_total")
    public let llmLatency = Recorder(label: "anyviz_llm_latency_seconds", aggregate: true)
    /// UTF-8 bytes of each LLM request's messages: shows that prompts stay small (schema, not data).
    public let promptBytes = Recorder(label: "anyviz_llm_prompt_bytes", aggregate: true)

    public init() {}

    public func fallback(_ level: String) -> Counter {
        Counter(label: "anyviz_viz_results_total", dimensions: [("level", level)])
    }

    public func errors(_ kind: String) -> Counter {
        Counter(label: "anyviz_errors_total", dimensions: [("type", kind)])
    }
}
