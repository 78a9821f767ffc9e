/// A first-in first-out queue over an array with a moving head: appends and removals are O(1)
/// amortised, storage is reused, and the consumed prefix is cut off once it makes up half the
/// array (and at least `compactAfter` elements), so a queue that never runs dry stays bounded.
///
/// A removed element is moved out of its slot (left `nil`), not copied: a copy left behind kept
/// the element's storage shared, so the consumer's first edit copied it (a stream chunk's
/// members, on every chunk behind another), and cutting off the consumed prefix destroyed those
/// copies through the runtime's generic tuple witnesses (~2k instructions per chunk, measured).
package struct ArrayQueue<Element> {
    private var storage: [Element?] = []
    private var head = 0
    private let compactAfter: Int

    package init(compactAfter: Int = 64) { self.compactAfter = Swift.max(1, compactAfter) }

    package var count: Int { storage.count - head }
    package var isEmpty: Bool { head == storage.count }

    package mutating func append(_ element: Element) { storage.append(element) }

    package mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head].take()
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= compactAfter && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    package mutating func removeAll() {
        storage.removeAll()
        head = 0
    }
}

extension ArrayQueue: Sendable where Element: Sendable {}
