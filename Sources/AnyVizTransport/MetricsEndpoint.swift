import CZmq
import Foundation
import Logging

/// Serves one text document (the Prometheus exposition) over plain HTTP for scrapers, using a
/// libzmq STREAM socket on its own thread: every GET gets the current text and the connection
/// is closed, as HTTP/1.0 scrapers expect.
public final class MetricsEndpoint: @unchecked Sendable {
    private let context = ZMQContext()
    private let socket: ZMQSocket
    private let render: @Sendable () -> String
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int, render: @escaping @Sendable () -> String) throws {
        socket = try context.socket(ZMQ_STREAM)
        try socket.bind("tcp://\(host):\(port)")
        self.port = port
        self.render = render
    }

    public func start() {
        let thread = Thread { [self] in
            while true {
                guard let frames = socket.receiveMultipart(), frames.count >= 2 else { continue }
                let (peer, request) = (frames[0], frames[1])
                // STREAM sockets report connects and disconnects as empty messages.
                guard !request.isEmpty else { continue }
                let line = String(decoding: request.prefix(256), as: UTF8.self)
                let ok = line.hasPrefix("GET /metrics") || line.hasPrefix("GET / ")
                let body = ok ? render() : "not found: GET /metrics\n"
                let head = "HTTP/1.0 \(ok ? "200 OK" : "404 Not Found")\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
                socket.sendMultipart([peer, Data((head + body).utf8)])
                socket.sendMultipart([peer, Data()])  // close the connection
            }
        }
        thread.name = "anyviz-metrics"
        thread.start()
    }
}
