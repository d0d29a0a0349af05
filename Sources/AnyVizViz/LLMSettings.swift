import AnyVizLLM
import Foundation

/// The LLM configuration in force: from the environment at start, changed at runtime by `%llm`.
public final class LLMSettings: @unchecked Sendable {
    private let lock = NSLock()
    private var config: LLMConfiguration

    public init(_ config: LLMConfiguration = .fromEnvironment(ProcessInfo.processInfo.environment)) {
        self.config = config
    }

    public var current: LLMConfiguration { lock.withLock { config } }

    public func update(_ change: (inout LLMConfiguration) -> Void) {
        lock.withLock { change(&config) }
    }

    /// The provider to call, or nil when AnyViz runs offline (no key, or provider `offline`).
    public var provider: LLMProvider? { makeProvider(current) }
}
