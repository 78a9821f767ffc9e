import UltraGateProviders
import UltraGateCache
import UltraGateUpstream
import UltraGateHTTP
import UltraGateJSON
import UltraGateSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Fixed-size arrays of 64-bit atomic cells, one copy per `ThreadStripe`, each copy padded to
/// whole 128-byte blocks (two cache lines, so the adjacent-line prefetcher does not couple
/// neighbours). Writers touch only their own stripe with relaxed atomics; readers add the stripes
/// up at scrape time. Cells hold either integer counts or `Double` bit patterns.
///
/// Memory is owned here and freed in `deinit`; any thread may read or write the cells.
package final class StripedCells: @unchecked Sendable {
    package let cellsPerStripe: Int
    package let stride: Int
    package let stripes: Int
    private let base: UnsafeMutablePointer<Atomic<UInt64>>
    private let stripeKey = ThreadStripe.key
    private let stripeMask: Int

    /// `stripes` must be a power of two.
    package init(cellsPerStripe: Int, stripes: Int = ThreadStripe.count) {
        precondition(cellsPerStripe > 0)
        precondition(stripes > 0 && stripes & (stripes - 1) == 0, "stripes must be a power of two")
        stripeMask = stripes - 1
        self.cellsPerStripe = cellsPerStripe
        self.stripes = stripes
        let cellsPerBlock = 128 / MemoryLayout<Atomic<UInt64>>.stride
        stride = (cellsPerStripe + cellsPerBlock - 1) / cellsPerBlock * cellsPerBlock
        let total = stride * stripes
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: total * MemoryLayout<Atomic<UInt64>>.stride, alignment: 128)
        base = raw.bindMemory(to: Atomic<UInt64>.self, capacity: total)
        for i in 0..<total { (base + i).initialize(to: Atomic(0)) }
    }

    deinit {
        base.deinitialize(count: stride * stripes)
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// The calling thread's stripe in these cells.
    @inline(__always) package var currentStripe: Int { ThreadStripe.index(key: stripeKey, mask: stripeMask) }

    /// Adds to an integer cell of the calling thread's stripe.
    @inline(__always) package func add(_ cell: Int, _ amount: UInt64) {
        (base + currentStripe * stride + cell).pointee.wrappingAdd(amount, ordering: .relaxed)
    }

    /// Adds to an integer cell of a given stripe (callers that already know their stripe).
    @inline(__always) package func add(_ cell: Int, _ amount: UInt64, stripe: Int) {
        (base + stripe * stride + cell).pointee.wrappingAdd(amount, ordering: .relaxed)
    }

    /// Adds to a `Double` cell of a given stripe. A compare-exchange loop on the bit pattern:
    /// the stripe is nearly always private to this thread, so the first attempt succeeds.
    @inline(__always) package func addDouble(_ cell: Int, _ amount: Double, stripe: Int) {
        let p = base + stripe * stride + cell
        var old = p.pointee.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + amount).bitPattern
            let (exchanged, original) = p.pointee.compareExchange(
                expected: old, desired: new, ordering: .relaxed)
            if exchanged { return }
            old = original
        }
    }

    @inline(__always) package func addDouble(_ cell: Int, _ amount: Double) {
        addDouble(cell, amount, stripe: currentStripe)
    }

    /// The integer cell summed over all stripes.
    package func sum(_ cell: Int) -> UInt64 {
        var total: UInt64 = 0
        for s in 0..<stripes { total &+= (base + s * stride + cell).pointee.load(ordering: .relaxed) }
        return total
    }

    /// The `Double` cell summed over all stripes.
    package func sumDouble(_ cell: Int) -> Double {
        var total = 0.0
        for s in 0..<stripes { total += Double(bitPattern: (base + s * stride + cell).pointee.load(ordering: .relaxed)) }
        return total
    }
}
