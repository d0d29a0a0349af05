import AnyVizProtocol
import CZmq
import Foundation
import Glibc
import Logging
import Metrics

/// The zmq implementation of `KernelServer`: binds the five sockets from a connection file.
///
/// Threads: the heartbeat has its own thread and answers whatever else happens. One I/O thread
/// owns shell, control, stdin and iopub (zmq sockets are single-threaded): it reads requests and
/// hands them to the handler, and it sends what any thread queued through `send`, woken by a
/// byte on a pipe. Control requests are answered on this thread, so they never wait behind a cell.
public final class ZMQServer: KernelServer, @unchecked Sendable {
    private let context = ZMQContext()
    /// The heartbeat has a context of its own whose I/O thread runs at real-time priority, so
    /// pings are echoed promptly even when a cell and other processes saturate the CPUs.
    private let heartbeatContext = ZMQContext()
    private let codec: WireCodec
    private let logger: Logger
    private let shell: ZMQSocket
    private let control: ZMQSocket
    private let stdin: ZMQSocket
    private let iopub: ZMQSocket
    private let heartbeat: ZMQSocket
    /// A pipe whose read end the I/O thread polls; writing a byte wakes it to send the outbox.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let outboxLock = NSLock()
    private var outbox: [(Channel, [Data])] = []
    private weak var handler: MessageHandler?
    /// Messages refused for a bad signature or a malformed frame: never executed, only counted
    /// and logged (an operator watches this for misconfigured or hostile clients).
    private let rejected = Counter(label: "anyviz_rejected_messages_total")
    /// A flood of bad messages logs a few lines and then one summary per interval.
    private var rejectionLog = RejectionLogLimiter()
    private let limits: TransportLimits

    public init(connection: ConnectionInfo, logger: Logger, limits: TransportLimits? = nil) throws {
        codec = WireCodec(key: connection.key)
        self.logger = logger
        if let limits {
            self.limits = limits
        } else {
            let (fromEnvironment, warning) = TransportLimits.fromEnvironment()
            if let warning { logger.warning("\(warning)") }
            self.limits = fromEnvironment
        }
        shell = try context.socket(ZMQ_ROUTER)
        control = try context.socket(ZMQ_ROUTER)
        stdin = try context.socket(ZMQ_ROUTER)
        iopub = try context.socket(ZMQ_XPUB)
        heartbeatContext.setOption(ZMQ_THREAD_SCHED_POLICY, SCHED_FIFO)
        heartbeatContext.setOption(ZMQ_THREAD_PRIORITY, 1)
        heartbeat = try heartbeatContext.socket(ZMQ_REP)
        // Every subscriber's subscription reaches us, so each gets its own iopub_welcome.
        iopub.setOption(ZMQ_XPUB_VERBOSE, 1)
        // Refuse oversized frames while reading their length, before any buffering or
        // signature check; libzmq then drops that one connection.
        for socket in [shell, control, stdin, iopub] {
            socket.setInt64Option(ZMQ_MAXMSGSIZE, Int64(self.limits.maxMessageBytes))
        }
        heartbeat.setInt64Option(ZMQ_MAXMSGSIZE, Int64(self.limits.maxHeartbeatBytes))
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        do {
            guard wakeRead >= 0 else { throw ZMQError(operation: "pipe", code: errno) }
            try shell.bind(connection.endpoint(port: connection.shellPort))
            try control.bind(connection.endpoint(port: connection.controlPort))
            try stdin.bind(connection.endpoint(port: connection.stdinPort))
            try iopub.bind(connection.endpoint(port: connection.iopubPort))
            try heartbeat.bind(connection.endpoint(port: connection.hbPort))
        } catch {
            // The contexts wait for every open socket when they are released: close them
            // first, or a port that is taken would hang the kernel instead of ending it.
            for socket in [shell, control, stdin, iopub, heartbeat] {
                socket.setOption(ZMQ_LINGER, 0)
                socket.close()
            }
            for fd in fds where fd >= 0 { close(fd) }
            throw error
        }
    }

    /// Starts the heartbeat and I/O threads; requests go to `handler` from then on.
    public func start(handler: MessageHandler) {
        self.handler = handler
        let hb = Thread { [heartbeat] in
            // The heartbeat only echoes, so a real-time priority costs nothing and keeps it
            // answering in a few ms even when a cell and other processes saturate the CPUs.
            // Without the privilege (not root) it stays at normal priority.
            var param = sched_param()
            param.sched_priority = 1
            _ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param)
            while true {
                guard let frames = heartbeat.receiveMultipart() else {
                    if ZMQSocket.contextTerminated { break }
                    continue
                }
                heartbeat.sendMultipart(frames)
            }
            heartbeat.close()
        }
        hb.name = "anyviz-heartbeat"
        hb.start()
        let io = Thread { [self] in runIOLoop() }
        io.name = "anyviz-io"
        io.start()
    }

    public func send(_ message: Message, on channel: Channel) {
        let frames = codec.encode(message)
        // Only the first message into an empty outbox wakes the I/O thread; it drains them all.
        let wasEmpty = outboxLock.withLock { () -> Bool in
            outbox.append((channel, frames))
            return outbox.count == 1
        }
        if wasEmpty {
            var one: UInt8 = 1
            _ = write(wakeWrite, &one, 1)
        }
    }

    /// Sends what is queued, closes the sockets (their linger delivers the last replies) and
    /// exits the process. Runs on the I/O thread, the sockets' owner, whoever asks.
    public func shutdownAndExit(status: Int32 = 0) {
        outboxLock.withLock { exitRequested = status }
        var one: UInt8 = 1
        _ = write(wakeWrite, &one, 1)
    }

    private var exitRequested: Int32?

    private func closeAndExit(_ status: Int32) -> Never {
        sendQueued()
        for socket in [shell, control, stdin, iopub] { socket.close() }
        context.terminate()
        heartbeatContext.terminate()
        exit(status)
    }

    private func runIOLoop() {
        // Control first: an interrupt must not wait behind shell traffic.
        let requests: [(ZMQSocket, Channel)] = [(control, .control), (shell, .shell), (stdin, .stdin)]
        func readable(_ socket: UnsafeMutableRawPointer?, fd: Int32 = 0) -> zmq_pollitem_t {
            zmq_pollitem_t(socket: socket, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)
        }
        // One poll item per request socket, then IOPub (new subscriptions) and the wake pipe.
        var items = requests.map { readable($0.0.handle) } + [readable(iopub.handle), readable(nil, fd: wakeRead)]
        let (subscriptions, wake) = (requests.count, requests.count + 1)
        func isReady(_ index: Int) -> Bool { items[index].revents & Int16(ZMQ_POLLIN) != 0 }
        while true {
            let rc = zmq_poll(&items, Int32(items.count), pollTimeoutMs())
            flushRejectionSummary()
            if rc < 0 { continue }
            for (index, (socket, channel)) in requests.enumerated() where isReady(index) {
                receive(from: socket, channel: channel)
            }
            if isReady(subscriptions) { welcomeSubscribers() }
            if isReady(wake) {
                var buffer = [UInt8](repeating: 0, count: 256)
                while read(wakeRead, &buffer, buffer.count) > 0 {}
            }
            sendQueued()
            if let status = outboxLock.withLock({ exitRequested }) { closeAndExit(status) }
        }
    }

    private func receive(from socket: ZMQSocket, channel: Channel) {
        // Drain what is waiting, but bounded so one flooded socket cannot starve the others.
        for _ in 0..<64 {
            switch socket.receive(dontWait: true, byteLimit: limits.maxMessageBytes) {
            case nil:
                return
            case .oversized(let bytes):
                reject(on: channel, reason: "message of \(bytes) bytes is over the limit of \(limits.maxMessageBytes) (ANYVIZ_MAX_MESSAGE_MB)")
            case .message(let frames):
                do {
                    let message = try codec.decode(frames)
                    handler?.handle(message, from: channel)
                } catch {
                    reject(on: channel, reason: "\(error)")
                }
            }
        }
    }

    private func reject(on channel: Channel, reason: String) {
        rejected.increment()
        let decision = rejectionLog.record(at: Self.now())
        if let count = decision.summary { logSummary(count) }
        if decision.logDetail {
            logger.warning("dropped invalid message", metadata: ["channel": "\(channel.rawValue)", "reason": "\(reason)"])
        }
    }

    private func flushRejectionSummary() {
        if let count = rejectionLog.flush(at: Self.now()) { logSummary(count) }
    }

    private func logSummary(_ count: Int) {
        logger.warning("dropped \(count) more invalid messages in the last \(Int(rejectionLog.interval)) s without logging each (anyviz_rejected_messages_total counts all)")
    }

    /// Poll forever, unless a rejection summary is due: then wake for it.
    private func pollTimeoutMs() -> Int {
        guard let deadline = rejectionLog.summaryDeadline else { return -1 }
        return max(0, Int(((deadline - Self.now()) * 1000).rounded(.up)))
    }

    private static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    private func welcomeSubscribers() {
        while let frames = iopub.receiveMultipart(dontWait: true) {
            guard let frame = frames.first, frame.first == 1 else { continue }
            let topic = String(decoding: frame.dropFirst(), as: UTF8.self)
            let welcome = Message(identities: [Data("iopub_welcome".utf8)],
                                  header: Header(session: "", msgType: "iopub_welcome"),
                                  content: (["subscription": .string(topic)] as JSONValue).data)
            iopub.sendMultipart(codec.encode(welcome))
        }
    }

    private func sendQueued() {
        let batch: [(Channel, [Data])] = outboxLock.withLock {
            defer { outbox.removeAll(keepingCapacity: true) }
            return outbox
        }
        for (channel, frames) in batch {
            switch channel {
            case .shell: shell.sendMultipart(frames)
            case .control: control.sendMultipart(frames)
            case .stdin: stdin.sendMultipart(frames)
            case .iopub: iopub.sendMultipart(frames)
            }
        }
    }
}
