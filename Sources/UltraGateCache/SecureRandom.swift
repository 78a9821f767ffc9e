import CUltraGateShims
#if canImport(Glibc)
import Glibc
#endif

/// Bytes from the kernel's CSPRNG through `getrandom(2)`, for secrets (virtual keys).
package enum SecureRandom {
    /// `count` random bytes. `getrandom` blocks only before the kernel's pool is first seeded and
    /// never returns weak bytes; interruptions and short reads are retried. A failure (no such
    /// system call) stops the process rather than let a secret be made from anything weaker.
    package static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var filled = 0
            while filled < count {
                let n = ug_getrandom(buffer.baseAddress! + filled, count - filled)
                if n > 0 {
                    filled += n
                } else if n < 0 && errno != EINTR {
                    fatalError("getrandom failed: \(String(cString: strerror(errno)))")
                }
            }
        }
        return bytes
    }
}
