#include "storage/sqlite/wal_write_buffer.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "baton/error.h"

namespace baton::sqlite {

namespace {

constexpr char kVfsName[] = "baton-wal-buffer";
constexpr int kFrameHeaderBytes = 24;  // WAL_FRAME_HDRSIZE in wal.c
constexpr size_t kMaxWriteBytes = 124 * 1024;

sqlite3_vfs* g_real = nullptr;  // the default VFS the shim wraps; set once, before any use
sqlite3_vfs g_vfs;

std::atomic<uint64_t> g_wal_writes{0};
std::atomic<uint64_t> g_wal_real_writes{0};

// The wrapper SQLite allocates (szOsFile bytes, 8-byte aligned: the pager carves it out of one
// block); the real file follows it.
struct WrappedFile {
  sqlite3_file base;            // must be first: SQLite sees this
  sqlite3_io_methods methods;   // ours, with the real file's iVersion
  bool is_wal = false;
  const char* db_name = nullptr;  // main database files: the registry key
  WrappedFile* wal = nullptr;     // main database file: its connection's WAL, while open
  WrappedFile* db = nullptr;      // WAL file: its connection's main database file, while open
  std::vector<unsigned char> buffer;
  sqlite3_int64 buffer_offset = 0;
  bool commit_pending = false;  // the buffer ends inside a commit frame; flush after its page
  int deferred_error = SQLITE_OK;  // a flush that failed where no error could be returned

  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
  const sqlite3_io_methods* real_methods() { return real()->pMethods; }

  // Hands the buffered run to the real file as one write. Returns the IO error of that write (or
  // one deferred earlier); the bytes are dropped either way, as SQLite rolls back on the error.
  int flush() {
    int rc = deferred_error;
    deferred_error = SQLITE_OK;
    // The unix VFS masks one write's size to 17 bits (seekAndWriteFd: nBuf &= 0x1ffff), so a
    // run is handed over in pieces below 128 KiB.
    for (size_t done = 0; done < buffer.size();) {
      size_t piece = std::min(buffer.size() - done, kMaxWriteBytes);
      int write_rc = real_methods()->xWrite(real(), buffer.data() + done, static_cast<int>(piece),
                                            buffer_offset + static_cast<sqlite3_int64>(done));
      g_wal_real_writes.fetch_add(1, std::memory_order_relaxed);
      done += piece;
      if (write_rc != SQLITE_OK) {
        if (rc == SQLITE_OK) rc = write_rc;
        break;
      }
    }
    buffer.clear();
    commit_pending = false;
    return rc;
  }

  // The WAL whose buffer must be out before a call on this file: itself or its connection's.
  WrappedFile* buffered_wal() { return is_wal ? this : wal; }

  int flush_linked() {
    WrappedFile* w = buffered_wal();
    return w ? w->flush() : SQLITE_OK;
  }
  // For methods that cannot return an IO error: keep it for the next call that can.
  void flush_linked_deferring() {
    WrappedFile* w = buffered_wal();
    if (!w) return;
    int rc = w->flush();
    if (rc != SQLITE_OK) w->deferred_error = rc;
  }

  int buffered_write(const void* data, int amount, sqlite3_int64 offset) {
    g_wal_writes.fetch_add(1, std::memory_order_relaxed);
    if (db == nullptr) {
      // Unlinked (see vfs_open): nothing would flush it in xShmBarrier, so nothing is held.
      g_wal_real_writes.fetch_add(1, std::memory_order_relaxed);
      return real_methods()->xWrite(real(), data, amount, offset);
    }
    if (!buffer.empty() && offset != buffer_offset + static_cast<sqlite3_int64>(buffer.size())) {
      if (int rc = flush(); rc != SQLITE_OK) return rc;
    } else if (deferred_error != SQLITE_OK) {
      return flush();
    }
    // A WAL frame header whose "database size after commit" (bytes 4-7) is non-zero starts the
    // commit frame: the write after it (its page) flushes, so no commit frame ever waits for
    // xShmBarrier, which cannot report an error. (walRewriteChecksums rewrites headers in place,
    // each after an xRead, which flushes what the previous one left.)
    const auto* bytes = static_cast<const unsigned char*>(data);
    bool commit_header =
        amount == kFrameHeaderBytes && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
    if (buffer.empty()) buffer_offset = offset;
    buffer.insert(buffer.end(), bytes, bytes + amount);
    if (commit_header) {
      commit_pending = true;
      return SQLITE_OK;
    }
    if (commit_pending || static_cast<int64_t>(buffer.size()) >= WalWriteBuffer::kFlushBytes)
      return flush();
    return SQLITE_OK;
  }
};

static_assert(alignof(WrappedFile) <= 8 && sizeof(WrappedFile) % 8 == 0,
              "SQLite aligns a file to 8 bytes, and the real file must be aligned after ours");

WrappedFile* wrapped(sqlite3_file* file) { return reinterpret_cast<WrappedFile*>(file); }

// Main database files by the name pointer the pager opened them with, so that a WAL (whose name
// sqlite3_filename_database maps back to that pointer) finds its connection's database file.
std::mutex g_registry_mutex;
std::unordered_map<const char*, WrappedFile*>& registry() {
  static auto* map = new std::unordered_map<const char*, WrappedFile*>();
  return *map;
}

// --- io methods ---------------------------------------------------------------------------------

// Most methods flush the buffered WAL run (this file's, or its connection's), then forward to the
// real file: forwarding<&sqlite3_io_methods::xRead> is such a method.
template <typename Member>
struct Forward;
template <typename... Args>
struct Forward<int (*sqlite3_io_methods::*)(sqlite3_file*, Args...)> {
  template <int (*sqlite3_io_methods::*Method)(sqlite3_file*, Args...)>
  static int call(sqlite3_file* file, Args... args) {
    WrappedFile* f = wrapped(file);
    if (int rc = f->flush_linked(); rc != SQLITE_OK) return rc;
    return (f->real_methods()->*Method)(f->real(), args...);
  }
};
template <auto Method>
constexpr auto forwarding = &Forward<decltype(Method)>::template call<Method>;

int file_close(sqlite3_file* file) {
  WrappedFile* f = wrapped(file);
  int rc = f->flush_linked();
  if (f->is_wal) {
    if (f->db) f->db->wal = nullptr;
  } else if (f->db_name) {
    if (f->wal) f->wal->db = nullptr;
    std::lock_guard lock(g_registry_mutex);
    registry().erase(f->db_name);
  }
  int close_rc = f->real_methods()->xClose(f->real());
  f->~WrappedFile();
  return rc != SQLITE_OK ? rc : close_rc;
}

int file_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  WrappedFile* f = wrapped(file);
  if (f->is_wal) return f->buffered_write(data, amount, offset);
  if (int rc = f->flush_linked(); rc != SQLITE_OK) return rc;
  return f->real_methods()->xWrite(f->real(), data, amount, offset);
}

int file_sector_size(sqlite3_file* file) {
  WrappedFile* f = wrapped(file);
  f->flush_linked_deferring();
  return f->real_methods()->xSectorSize(f->real());
}

int file_device_characteristics(sqlite3_file* file) {
  WrappedFile* f = wrapped(file);
  f->flush_linked_deferring();
  return f->real_methods()->xDeviceCharacteristics(f->real());
}

// walIndexWriteHdr calls this between the wal-index header's two copies: the frames must be in
// the file before the first copy makes them visible.
void file_shm_barrier(sqlite3_file* file) {
  WrappedFile* f = wrapped(file);
  f->flush_linked_deferring();
  f->real_methods()->xShmBarrier(f->real());
}

sqlite3_io_methods methods_like(const sqlite3_io_methods& real) {
  sqlite3_io_methods m{};
  m.iVersion = std::min(real.iVersion, 3);
  m.xClose = file_close;
  m.xRead = forwarding<&sqlite3_io_methods::xRead>;
  m.xWrite = file_write;
  m.xTruncate = forwarding<&sqlite3_io_methods::xTruncate>;
  m.xSync = forwarding<&sqlite3_io_methods::xSync>;
  m.xFileSize = forwarding<&sqlite3_io_methods::xFileSize>;
  m.xLock = forwarding<&sqlite3_io_methods::xLock>;
  m.xUnlock = forwarding<&sqlite3_io_methods::xUnlock>;
  m.xCheckReservedLock = forwarding<&sqlite3_io_methods::xCheckReservedLock>;
  m.xFileControl = forwarding<&sqlite3_io_methods::xFileControl>;
  m.xSectorSize = file_sector_size;
  m.xDeviceCharacteristics = file_device_characteristics;
  if (m.iVersion >= 2) {
    m.xShmMap = real.xShmMap ? forwarding<&sqlite3_io_methods::xShmMap> : nullptr;
    m.xShmLock = real.xShmLock ? forwarding<&sqlite3_io_methods::xShmLock> : nullptr;
    m.xShmBarrier = real.xShmBarrier ? file_shm_barrier : nullptr;
    m.xShmUnmap = real.xShmUnmap ? forwarding<&sqlite3_io_methods::xShmUnmap> : nullptr;
  }
  if (m.iVersion >= 3) {
    m.xFetch = real.xFetch ? forwarding<&sqlite3_io_methods::xFetch> : nullptr;
    m.xUnfetch = real.xUnfetch ? forwarding<&sqlite3_io_methods::xUnfetch> : nullptr;
  }
  return m;
}

// --- vfs methods --------------------------------------------------------------------------------

int vfs_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = new (file) WrappedFile();
  f->base.pMethods = nullptr;  // SQLite calls xClose only when the open succeeded
  int rc = g_real->xOpen(g_real, name, f->real(), flags, out_flags);
  if (rc != SQLITE_OK || f->real()->pMethods == nullptr) {
    if (f->real()->pMethods) f->real()->pMethods->xClose(f->real());
    f->~WrappedFile();
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->methods = methods_like(*f->real()->pMethods);
  f->base.pMethods = &f->methods;
  if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
    f->db_name = name;
    std::lock_guard lock(g_registry_mutex);
    registry()[name] = f;
  } else if ((flags & SQLITE_OPEN_WAL) && name) {
    f->is_wal = true;
    std::lock_guard lock(g_registry_mutex);
    auto it = registry().find(sqlite3_filename_database(name));
    // Unlinked (not expected), the WAL writes straight through: nothing would flush it in
    // xShmBarrier.
    if (it != registry().end()) {
      f->db = it->second;
      it->second->wal = f;
    }
  }
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void vfs_dl_error(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_real->xDlSym(g_real, handle, symbol);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int vfs_sleep(sqlite3_vfs*, int micros) { return g_real->xSleep(g_real, micros); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int vfs_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError(g_real, n, out);
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_real->xCurrentTimeInt64(g_real, out);
}
int vfs_set_system_call(sqlite3_vfs*, const char* name, sqlite3_syscall_ptr call) {
  return g_real->xSetSystemCall(g_real, name, call);
}
sqlite3_syscall_ptr vfs_get_system_call(sqlite3_vfs*, const char* name) {
  return g_real->xGetSystemCall(g_real, name);
}
const char* vfs_next_system_call(sqlite3_vfs*, const char* name) {
  return g_real->xNextSystemCall(g_real, name);
}

int register_vfs() {
  g_real = sqlite3_vfs_find(nullptr);
  if (!g_real) return SQLITE_ERROR;
  g_vfs = sqlite3_vfs{};
  g_vfs.iVersion = std::min(g_real->iVersion, 3);
  g_vfs.szOsFile = static_cast<int>(sizeof(WrappedFile)) + g_real->szOsFile;
  g_vfs.mxPathname = g_real->mxPathname;
  g_vfs.zName = kVfsName;
  g_vfs.xOpen = vfs_open;
  g_vfs.xDelete = vfs_delete;
  g_vfs.xAccess = vfs_access;
  g_vfs.xFullPathname = vfs_full_pathname;
  g_vfs.xDlOpen = g_real->xDlOpen ? vfs_dl_open : nullptr;
  g_vfs.xDlError = g_real->xDlError ? vfs_dl_error : nullptr;
  g_vfs.xDlSym = g_real->xDlSym ? vfs_dl_sym : nullptr;
  g_vfs.xDlClose = g_real->xDlClose ? vfs_dl_close : nullptr;
  g_vfs.xRandomness = vfs_randomness;
  g_vfs.xSleep = vfs_sleep;
  g_vfs.xCurrentTime = vfs_current_time;
  g_vfs.xGetLastError = vfs_get_last_error;
  if (g_vfs.iVersion >= 2)
    g_vfs.xCurrentTimeInt64 = g_real->xCurrentTimeInt64 ? vfs_current_time_int64 : nullptr;
  if (g_vfs.iVersion >= 3) {
    g_vfs.xSetSystemCall = g_real->xSetSystemCall ? vfs_set_system_call : nullptr;
    g_vfs.xGetSystemCall = g_real->xGetSystemCall ? vfs_get_system_call : nullptr;
    g_vfs.xNextSystemCall = g_real->xNextSystemCall ? vfs_next_system_call : nullptr;
  }
  return sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
}

}  // namespace

const char* WalWriteBuffer::vfs_name() {
  static std::once_flag once;
  static int rc = SQLITE_OK;
  std::call_once(once, [] { rc = register_vfs(); });
  if (rc != SQLITE_OK)
    throw Error(ErrorKind::kInternal,
                std::string("cannot register the SQLite VFS '") + kVfsName +
                    "': " + sqlite3_errstr(rc));
  return kVfsName;
}

WalWriteBuffer::Stats WalWriteBuffer::stats() {
  return Stats{g_wal_writes.load(std::memory_order_relaxed),
               g_wal_real_writes.load(std::memory_order_relaxed)};
}

}  // namespace baton::sqlite
