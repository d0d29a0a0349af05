import Foundation

/// Size limits applied to what clients send, before any signature is checked: an unsigned
/// peer must not be able to make the kernel allocate gigabytes.
public struct TransportLimits: Sendable, Equatable {
    /// The largest message (all frames together) accepted on shell, control and stdin. Also set
    /// as libzmq's ZMQ_MAXMSGSIZE, which refuses a bigger frame while reading its length and
    /// disconnects that peer only; other clients keep being served.
    public var maxMessageBytes: Int
    /// Heartbeat pings are a few bytes; the socket only echoes them.
    public var maxHeartbeatBytes: Int = 64 * 1024

    public static let defaultMaxMessageMB = 256

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// `ANYVIZ_MAX_MESSAGE_MB` (a positive whole number of MiB), else 256 MiB. Returns a
    /// warning to log when the setting was present but unusable.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> (limits: TransportLimits, warning: String?) {
        let fallback = TransportLimits(maxMessageBytes: defaultMaxMessageMB << 20)
        guard let raw = environment["ANYVIZ_MAX_MESSAGE_MB"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else {
            return (fallback, nil)
        }
        guard let mb = Int(raw), mb > 0, mb <= 1 << 20 else {
            return (fallback, "ANYVIZ_MAX_MESSAGE_MB=\(raw) is not a whole number of MB between 1 and 1048576; using \(defaultMaxMessageMB)")
        }
        return (TransportLimits(maxMessageBytes: mb << 20), nil)
    }
}

/// Keeps the log readable under a flood of rejected messages: the first `burst` rejections of
/// a window are logged one by one, the rest only counted, and when the window ends one summary
/// line reports how many were not shown. Every rejection is still counted in the metrics.
///
/// A value type driven by the caller's clock (seconds), so it is testable without waiting.
public struct RejectionLogLimiter: Sendable {
    public let burst: Int
    public let interval: Double
    private var windowStart: Double?
    private var detailed = 0
    private var suppressed = 0

    public init(burst: Int = 5, interval: Double = 5) {
        self.burst = burst
        self.interval = interval
    }

    /// What to write for one rejection at time `now`.
    public struct Decision: Equatable, Sendable {
        /// Log this rejection in full.
        public var logDetail: Bool
        /// Rejections of an earlier window not yet reported: log one summary line first.
        public var summary: Int?

        public init(logDetail: Bool, summary: Int?) {
            self.logDetail = logDetail
            self.summary = summary
        }
    }

    public mutating func record(at now: Double) -> Decision {
        let summary = flush(at: now)
        if windowStart == nil {
            windowStart = now
            detailed = 0
        }
        if detailed < burst {
            detailed += 1
            return Decision(logDetail: true, summary: summary)
        }
        suppressed += 1
        return Decision(logDetail: false, summary: summary)
    }

    /// The count of rejections not shown, once their window is over (then the next window
    /// starts with a fresh burst); nil while the window lasts or when nothing was suppressed.
    public mutating func flush(at now: Double) -> Int? {
        guard let start = windowStart, now - start >= interval else { return nil }
        windowStart = nil
        defer { suppressed = 0 }
        return suppressed > 0 ? suppressed : nil
    }

    /// When `flush` will next have something to report, so an idle I/O loop can wake for it.
    public var summaryDeadline: Double? {
        guard let start = windowStart, suppressed > 0 else { return nil }
        return start + interval
    }
}
