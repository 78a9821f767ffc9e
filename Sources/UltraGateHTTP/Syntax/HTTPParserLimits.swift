import UltraGateSupport
/// Size limits that keep a hostile client from making the parser buffer without bound.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Longest request line, without its CRLF (→ 414).
    public var maxRequestLineBytes: Int
    /// Longest head: request line, field lines and the empty line, terminators included (→ 431).
    public var maxHeaderBytes: Int
    /// Most header field lines (→ 431).
    public var maxHeaderCount: Int
    /// Largest body, as declared by Content-Length or decoded from chunks (→ 413).
    public var maxBodyBytes: Int
    /// Largest trailer section of a chunked body, terminators included (→ 431).
    public var maxTrailerBytes: Int
    /// Longest chunk-size line (size plus extensions, terminator included) (→ 400).
    public var maxChunkSizeLineBytes: Int

    public init(maxRequestLineBytes: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100,
                maxBodyBytes: Int = 8 << 20, maxTrailerBytes: Int = 8192, maxChunkSizeLineBytes: Int = 4096) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
        self.maxChunkSizeLineBytes = maxChunkSizeLineBytes
    }
}
