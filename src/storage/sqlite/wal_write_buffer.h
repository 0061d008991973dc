// WalWriteBuffer: a SQLite VFS shim over the default (unix) VFS that turns the two write calls
// SQLite makes per WAL frame (a 24-byte frame header, then the page) into one write per
// transaction.
//
// SQLite appends a commit's frames as a run of xWrite calls on the -wal file, each contiguous with
// the one before; a flow-run commit is ~8-12 frames, so ~16-24 pwrite calls, and the kernel's
// per-call cost is most of it. The shim keeps the run in a per-file buffer and hands it to
// the real file as one xWrite.
//
// Usage: Connection opens every database with `sqlite3_open_v2(..., WalWriteBuffer::vfs_name())`.
// The VFS is registered once per process (std::call_once), not as the default, so only Baton's
// connections use it.
//
// Contract (the correctness core):
// - Every file a connection opens is wrapped; every method forwards to the real file (the real
//   sqlite3_file lives right after the wrapper, szOsFile = wrapper + real), including xShm* and
//   xFetch, with the real file's iVersion. Only files opened with SQLITE_OPEN_WAL buffer.
// - A WAL xWrite is buffered when the buffer is empty or the write starts where the buffer ends;
//   any other write flushes the buffer first, then is buffered. The order of bytes reaching the
//   file is exactly SQLite's order; only the moment changes.
// - The buffer is flushed (one xWrite of the real file) before EVERY other method call on the WAL
//   file and on its connection's main database file (xRead, xSync, xTruncate, xFileSize, xClose,
//   xLock/xUnlock/xCheckReservedLock, xFileControl, xShmMap/Lock/Barrier/Unmap, xFetch...), when
//   it passes kFlushBytes, and at once when the write that completes a commit frame (a frame
//   header whose "database size after commit" field is non-zero, then its page) arrives. The
//   main database file is linked to its WAL at open (sqlite3_filename_database of the WAL's
//   name is the very pointer the pager opened the database with), so the link is per
//   connection, not per thread: a Connection may move between threads.
// - Why that is enough (sqlite 3.40 wal.c): sqlite3WalFrames writes the frames (walWriteOneFrame:
//   header then page), then publishes them in walIndexWriteHdr, which writes the wal-index
//   header's second copy, calls xShmBarrier on the main database file, then the first copy;
//   readers trust the header only when both copies match. Flushing at the commit frame (and in
//   xShmBarrier, a second line) puts the frames in the kernel before any reader can see them and
//   before COMMIT returns: durability is what synchronous=NORMAL gives without the shim. Frames
//   are only written while holding WAL_WRITE_LOCK, which is released through xShmLock (a flush),
//   so recovery by another process never reads a WAL with bytes still held here. A restarted WAL
//   (walRestartHdr; the 32-byte header written at offset 0, then frames from offset 32) is a
//   non-contiguous write: the previous run is flushed, then the new one buffers. Checksum
//   rewrites (walRewriteChecksums) xRead each frame before writing its header, so each read
//   flushes the previous header.
// - A flush is one xWrite of the real file, or several of at most 124 KiB each for a longer run:
//   the unix VFS masks a write's size to 17 bits (seekAndWriteFd), so it cannot take 128 KiB.
// - Errors: a failed flush is returned as the SQLite IO error of the call that flushed (SQLite
//   then rolls back); the buffered bytes are dropped. xShmBarrier cannot return an error: a flush
//   failing there is kept and returned by the next call that can. Commit frames are flushed in
//   the xWrite that completes them, so xShmBarrier has nothing to flush on the commit path.
//
// Thread-safety: registration is thread-safe; a wrapped file is used by one thread at a time, as
// SQLite (and Connection's contract) already guarantees. stats() is safe from any thread.
#pragma once

#include <cstdint>

namespace baton::sqlite {

class WalWriteBuffer {
 public:
  // A WAL write run is flushed when it passes this size (SQLite's own frames stay intact).
  static constexpr int64_t kFlushBytes = 1 << 20;

  // Registers the shim over the default VFS on first use; returns its name for sqlite3_open_v2.
  // Throws baton::Error (kInternal) when SQLite has no default VFS or registration fails.
  static const char* vfs_name();

  struct Stats {
    uint64_t wal_writes = 0;       // xWrite calls SQLite made on -wal files
    uint64_t wal_real_writes = 0;  // writes that reached the real -wal files
  };
  // Process-wide counters (relaxed atomics), for tests and benchmarks.
  static Stats stats();
};

}  // namespace baton::sqlite
