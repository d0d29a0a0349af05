import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking FIFO between the I/O thread (producer) and the shell thread (consumer).
///
/// Every push also writes a byte to a pipe (`wakeDescriptor` is its read end), so a consumer
/// that is busy with something else while idle (the interpreter's event loop) can wait on a
/// descriptor and return as soon as a request arrives.
final class RequestQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private let condition = NSCondition()
    /// Readable whenever something was pushed since the reader last drained it.
    let wakeDescriptor: Int32
    private let wakeWriter: Int32

    init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
        }
        wakeDescriptor = ends[0]
        wakeWriter = ends[1]
    }

    deinit {
        for end in [wakeDescriptor, wakeWriter] where end >= 0 { close(end) }
    }

    func push(_ item: Element) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
        // A full pipe is readable already: the byte is not needed then.
        if wakeWriter >= 0 {
            var byte: UInt8 = 1
            _ = write(wakeWriter, &byte, 1)
        }
    }

    func pop() -> Element {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty { condition.wait() }
        return items.removeFirst()
    }

    var isEmpty: Bool {
        condition.lock()
        defer { condition.unlock() }
        return items.isEmpty
    }

    /// Removes and returns the queued items that match, leaving the others in order.
    func drain(where predicate: (Element) -> Bool) -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        let taken = items.filter(predicate)
        items.removeAll(where: predicate)
        return taken
    }
}
