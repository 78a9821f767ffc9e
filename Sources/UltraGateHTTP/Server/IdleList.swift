import UltraGateSupport
/// The links an `IdleList` keeps in each member, so joining and leaving it cost O(1) and allocate
/// nothing.
package struct IdleListLinks<Member: AnyObject> {
    package var previous: Member?
    package var next: Member?
    package var isListed = false
}

/// Something an `IdleList` can hold: it carries its own links.
package protocol IdleListMember: AnyObject {
    var idleLinks: IdleListLinks<Self> { get set }
}

/// An event loop's keep-alive connections waiting between requests, the longest waiting first: at
/// the connection cap the oldest is closed to make room. An intrusive doubly linked list, so a
/// connection joins when it goes idle and leaves when its next request starts or it closes, in
/// O(1) each. Loop-thread state: not synchronized. A member holds references to its neighbours
/// only while listed.
package struct IdleList<Member: IdleListMember> {
    package private(set) var count = 0
    /// The member idle the longest.
    package private(set) var oldest: Member?
    private var newest: Member?

    package func contains(_ member: Member) -> Bool { member.idleLinks.isListed }

    /// Adds `member` as the newest; a member already listed keeps its place.
    package mutating func append(_ member: Member) {
        guard !member.idleLinks.isListed else { return }
        member.idleLinks = IdleListLinks(previous: newest, next: nil, isListed: true)
        if let newest { newest.idleLinks.next = member } else { oldest = member }
        newest = member
        count += 1
    }

    /// Removes `member` if listed.
    package mutating func remove(_ member: Member) {
        guard member.idleLinks.isListed else { return }
        let links = member.idleLinks
        if let previous = links.previous { previous.idleLinks.next = links.next } else { oldest = links.next }
        if let next = links.next { next.idleLinks.previous = links.previous } else { newest = links.previous }
        member.idleLinks = IdleListLinks()
        count -= 1
    }

    /// Removes and returns the member idle the longest.
    package mutating func removeOldest() -> Member? {
        guard let member = oldest else { return nil }
        remove(member)
        return member
    }
}
