import CLMDB

extension LMDBTransaction {
    /// Calls `body` with each entry of `db` whose key starts with `prefix` (every entry for an
    /// empty prefix), in key order, until `body` returns false. Key and value point into the map:
    /// copy what you keep. Do not write to `db` inside `body`; collect, then write.
    package func forEach(_ db: LMDBDatabase, prefix: [UInt8] = [],
                         _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(LMDBError) -> Bool) throws(LMDBError) {
        let cursor = try openCursor(db)
        defer { cursor.close() }
        var entry = prefix.isEmpty ? try cursor.move(MDB_FIRST) : try cursor.move(MDB_SET_RANGE, seek: prefix)
        while let (key, value) = entry {
            guard key.count >= prefix.count, prefix.withUnsafeBytes({ $0.elementsEqual(key.prefix(prefix.count)) }) else { return }
            guard try body(key, value) else { return }
            entry = try cursor.move(MDB_NEXT)
        }
    }
}
