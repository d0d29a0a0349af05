import Foundation

/// Tells a blocking call that the user interrupted the cell: HTTP transfers and backoff sleeps
/// poll it, so an interrupted LLM call or download returns within ~100 ms instead of waiting
/// for the network. Set by `cancel()`, or by a probe of the kernel's interrupt flag.
///
/// It is polled (not callback based) because libcurl's transfer loop and the retry sleep both
/// already run in small slices on the calling thread; a lock-protected Bool is all they need.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private let probe: (@Sendable () -> Bool)?

    public init() { probe = nil }

    /// A flag that also counts as set while `probe` returns true: the kernel's interrupt flag,
    /// so a call Python started stops when the user interrupts the cell.
    public init(observing probe: @escaping @Sendable () -> Bool) { self.probe = probe }

    /// Request cancellation; any transfer or sleep observing this flag stops soon after.
    public func cancel() {
        lock.lock(); cancelled = true; lock.unlock()
    }

    public var isCancelled: Bool {
        lock.lock()
        let set = cancelled
        lock.unlock()
        return set || (probe?() ?? false)
    }

    /// Sleep `seconds` in short slices; returns false (early) if cancelled meanwhile.
    /// Retry backoff uses this so an interrupt is not held up by a multi-second wait.
    @discardableResult
    public func sleep(_ seconds: Double, slice: Double = 0.02) -> Bool {
        let deadline = Date().addingTimeInterval(max(0, seconds))
        while true {
            if isCancelled { return false }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return true }
            Thread.sleep(forTimeInterval: min(slice, left))
        }
    }
}
