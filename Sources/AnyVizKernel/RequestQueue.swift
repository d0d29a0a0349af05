import Foundation

/// A blocking FIFO between the I/O thread (producer) and the shell thread (consumer).
final class RequestQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private let condition = NSCondition()

    func push(_ item: Element) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    func pop() -> Element {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty { condition.wait() }
        return items.removeFirst()
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
