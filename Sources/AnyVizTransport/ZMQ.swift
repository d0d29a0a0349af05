import CZmq
import Foundation

/// A libzmq failure, with the library's own explanation.
public struct ZMQError: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public var description: String { "\(operation): \(String(cString: zmq_strerror(code)))" }

    static func last(_ operation: String) -> ZMQError { ZMQError(operation: operation, code: zmq_errno()) }
}

/// A zmq context; one per process.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() {
        handle = zmq_ctx_new()
    }

    /// Sets a context option (e.g. the I/O thread's scheduling policy); before any socket exists.
    public func setOption(_ option: Int32, _ value: Int32) {
        zmq_ctx_set(handle, option, value)
    }

    private var terminated = false

    /// Waits until every socket is closed and their queued messages are sent (linger).
    public func terminate() {
        guard !terminated else { return }
        terminated = true
        zmq_ctx_term(handle)
    }

    deinit { terminate() }

    public func socket(_ type: Int32) throws -> ZMQSocket {
        guard let s = zmq_socket(handle, type) else { throw ZMQError.last("zmq_socket") }
        return ZMQSocket(handle: s)
    }
}

/// A zmq socket. Not thread-safe: each is owned by exactly one thread.
public final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var closed = false

    init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
        var linger: Int32 = 1000
        zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    deinit { close() }

    /// True when the context is being terminated: the owning thread must close and stop.
    public static var contextTerminated: Bool { zmq_errno() == ETERM }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
    }

    public func setOption(_ option: Int32, _ value: Int32) {
        var v = value
        zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size)
    }

    /// For the 64-bit options (ZMQ_MAXMSGSIZE).
    public func setInt64Option(_ option: Int32, _ value: Int64) {
        var v = value
        zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size)
    }

    /// Receives one whole multipart message; nil if nothing was waiting (with `dontWait`) or on error.
    public func receiveMultipart(dontWait: Bool = false) -> [Data]? {
        switch receive(dontWait: dontWait, byteLimit: .max) {
        case .message(let frames): return frames
        case .oversized, nil: return nil
        }
    }

    /// What `receive` got: a whole message, or one over the byte limit that was discarded.
    public enum Received: Equatable {
        case message([Data])
        /// The message's frames together held more than the limit; none was kept.
        case oversized(bytes: Int)
    }

    /// Receives one whole multipart message, copying frames only while their total stays within
    /// `byteLimit`: past it the remaining frames are read and dropped at once, so a peer cannot
    /// make the kernel hold a second copy of a huge message (libzmq's own per-frame limit,
    /// ZMQ_MAXMSGSIZE, refuses any single frame above it before it is buffered).
    public func receive(dontWait: Bool = false, byteLimit: Int) -> Received? {
        var frames: [Data] = []
        var total = 0
        var started = false
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            // Once the first frame is in, the rest of the message is already queued: no waiting.
            let rc = zmq_msg_recv(&msg, handle, dontWait || started ? ZMQ_DONTWAIT : 0)
            if rc < 0 {
                if !started { return nil }
                if zmq_errno() == EINTR { continue }
                return total > byteLimit ? .oversized(bytes: total) : .message(frames)
            }
            started = true
            let size = zmq_msg_size(&msg)
            total += size
            if total <= byteLimit {
                frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&msg), count: size))
            } else if !frames.isEmpty {
                frames.removeAll()
            }
            if zmq_msg_more(&msg) == 0 {
                return total > byteLimit ? .oversized(bytes: total) : .message(frames)
            }
        }
    }

    @discardableResult
    public func sendMultipart(_ frames: [Data]) -> Bool {
        for (i, frame) in frames.enumerated() {
            let flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            let rc = frame.withUnsafeBytes { raw in
                zmq_send(handle, raw.baseAddress, raw.count, flags)
            }
            if rc < 0 { return false }
        }
        return true
    }
}
