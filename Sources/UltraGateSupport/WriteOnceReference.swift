import Synchronization

/// A reference that is set at most once and from then on read with one atomic load: no lock and
/// no reference counting on the slot. For a value made on first use and then read on every
/// request (`Mutex` would cost a lock and an unlock per read). Keep it in a `let` of a class.
public struct WriteOnceReference<Value: AnyObject & Sendable>: ~Copyable, Sendable {
    /// The value's address, retained once by `storeIfUnset`; 0 while unset.
    @usableFromInline let bits = Atomic<UInt>(0)

    @inlinable public init() {}

    /// `body` on the value, nil while unset. The value is lent, not retained: the slot keeps it
    /// alive for as long as the slot lives.
    @inlinable public func withValue<R>(_ body: (Value) -> R) -> R? {
        let raw = bits.load(ordering: .acquiring)
        guard raw != 0, let address = UnsafeRawPointer(bitPattern: raw) else { return nil }
        return Unmanaged<Value>.fromOpaque(address)._withUnsafeGuaranteedRef(body)
    }

    /// Sets the value unless another was set first; `body` then runs on whichever value stays.
    @inlinable public func storeIfUnset<R>(_ value: Value, _ body: (Value) -> R) -> R {
        let retained = Unmanaged.passRetained(value)
        let raw = UInt(bitPattern: retained.toOpaque())
        let (stored, current) = bits.compareExchange(expected: 0, desired: raw, ordering: .acquiringAndReleasing)
        if stored { return body(value) }
        retained.release()
        return Unmanaged<Value>.fromOpaque(UnsafeRawPointer(bitPattern: current)!)._withUnsafeGuaranteedRef(body)
    }

    deinit {
        let raw = bits.load(ordering: .acquiring)
        if let address = UnsafeRawPointer(bitPattern: raw) { Unmanaged<Value>.fromOpaque(address).release() }
    }
}
