import UltraGateJSON
import UltraGateSupport
import CLMDB

/// An LMDB failure: the return code and what was being attempted.
public struct LMDBError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public init(_ code: Int32, _ operation: String) {
        self.code = code
        self.operation = operation
    }

    public var isMapFull: Bool { code == MDB_MAP_FULL }
    public var isMapResized: Bool { code == MDB_MAP_RESIZED }
    public var description: String { "\(operation): \(String(cString: mdb_strerror(code))) (\(code))" }

    @inline(__always) package static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
        if code != 0 { throw LMDBError(code, operation()) }
    }
}

/// A named database handle; valid for the life of its environment, in every thread.
public struct LMDBDatabase: Sendable, Hashable {
    public let dbi: MDB_dbi
}

/// A transaction handle. A plain value around `MDB_txn*`: the code that begins one ends it
/// (`commit`/`abort`/`reset`), and pointers from `get` die with it. A write transaction is used
/// on the one thread that began it.
public struct LMDBTransaction {
    public let handle: OpaquePointer

    /// The value stored under `key`, pointing into the map: copy it before the transaction ends.
    public func get(_ db: LMDBDatabase, _ key: UnsafeRawBufferPointer) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_get")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    public func get(_ db: LMDBDatabase, _ key: [UInt8]) throws(LMDBError) -> UnsafeRawBufferPointer? {
        var v = MDB_val()
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_get(handle, db.dbi, &kv, &v)
        }
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_get")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    public func put(_ db: LMDBDatabase, _ key: [UInt8], _ value: [UInt8], flags: UInt32 = 0) throws(LMDBError) {
        let rc = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                return mdb_put(handle, db.dbi, &kv, &vv, flags)
            }
        }
        try LMDBError.check(rc, "mdb_put")
    }

    /// Deletes `key`; `false` when it was not there.
    @discardableResult
    public func delete(_ db: LMDBDatabase, _ key: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { k in
            var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return mdb_del(handle, db.dbi, &kv, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try LMDBError.check(rc, "mdb_del")
        return true
    }

    /// Removes every entry of `db`, keeping the database (and every process's handle to it) valid.
    public func empty(_ db: LMDBDatabase) throws(LMDBError) {
        try LMDBError.check(mdb_drop(handle, db.dbi, 0), "mdb_drop")
    }

    public func stat(_ db: LMDBDatabase) throws(LMDBError) -> MDB_stat {
        var s = MDB_stat()
        try LMDBError.check(mdb_stat(handle, db.dbi, &s), "mdb_stat")
        return s
    }

    public func openCursor(_ db: LMDBDatabase) throws(LMDBError) -> LMDBCursor {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, db.dbi, &cursor), "mdb_cursor_open")
        return LMDBCursor(handle: cursor!)
    }

    public func commit() throws(LMDBError) {
        try LMDBError.check(mdb_txn_commit(handle), "mdb_txn_commit")
    }

    public func abort() { mdb_txn_abort(handle) }
}

/// A cursor over one database inside one transaction; close it before the transaction ends
/// (read-only) or let the commit free it (write).
public struct LMDBCursor {
    public let handle: OpaquePointer

    /// Moves the cursor (`MDB_FIRST`, `MDB_NEXT`, `MDB_SET_RANGE` with `seek`…) and returns the entry
    /// there, pointing into the map, or nil at the end.
    public func move(_ op: MDB_cursor_op, seek: [UInt8]? = nil) throws(LMDBError)
        -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?
    {
        var k = MDB_val()
        var v = MDB_val()
        let rc: Int32
        if let seek {
            rc = seek.withUnsafeBytes { s in
                k = MDB_val(mv_size: s.count, mv_data: UnsafeMutableRawPointer(mutating: s.baseAddress))
                return mdb_cursor_get(handle, &k, &v, op)
            }
        } else {
            rc = mdb_cursor_get(handle, &k, &v, op)
        }
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_cursor_get")
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Deletes the entry under the cursor; the next `MDB_NEXT` yields the one after it.
    public func deleteCurrent() throws(LMDBError) {
        try LMDBError.check(mdb_cursor_del(handle, 0), "mdb_cursor_del")
    }

    public func close() { mdb_cursor_close(handle) }
}
