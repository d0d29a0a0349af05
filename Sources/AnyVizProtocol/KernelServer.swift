import Foundation

/// What the kernel core needs from its transport. The zmq sockets are one implementation; an
/// in-memory one drives the unit tests, so the protocol core is testable without libzmq.
public protocol KernelServer: AnyObject, Sendable {
    /// Queue a message for sending on a channel; safe from any thread, order preserved per caller.
    func send(_ message: Message, on channel: Channel)
}

/// Receives decoded, signature-checked messages from a transport.
public protocol MessageHandler: AnyObject, Sendable {
    func handle(_ message: Message, from channel: Channel)
}
