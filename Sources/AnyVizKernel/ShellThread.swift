import Foundation

/// The thread every shell request runs on, started before the kernel has its sockets.
///
/// It begins with the interpreter's `startImpl` at once, so the language runtime's start
/// (CPython's initialisation and first imports) overlaps the transport's setup, the client's
/// connect and kernel_info instead of following them; the kernel then hands it its request
/// loop (`Kernel.start(on:)`), which runs as soon as the interpreter is ready.
public final class ShellThread: @unchecked Sendable {
    private let handOver = NSCondition()
    private var loop: (() -> Void)?

    /// Starts the thread, which prepares `interpreter` and then waits for the kernel's loop.
    public init(starting interpreter: Interpreter) {
        let thread = Thread { [self] in
            interpreter.startImpl()
            handOver.lock()
            while loop == nil { handOver.wait() }
            let body = loop
            handOver.unlock()
            body?()
        }
        thread.name = "anyviz-shell"
        // Cells run here: room for deep recursion before Python's own recursion limit.
        thread.stackSize = 64 << 20
        thread.start()
    }

    /// Runs `body` on this thread once the interpreter is ready; called once.
    func serve(_ body: @escaping () -> Void) {
        handOver.lock()
        precondition(loop == nil, "a shell thread serves one kernel")
        loop = body
        handOver.signal()
        handOver.unlock()
    }
}
