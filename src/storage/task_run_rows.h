// Task-run snapshots encoded as the rows Storage::write_task_runs binds, one row per run.
//
// A snapshot is encoded once, when it is added: its state gets its id (new_id()) and its history
// line (state_history.h), its JSON columns their text. Every column lives in one text buffer the
// object owns, so adding a snapshot allocates nothing once the buffers have grown, and the
// writer that binds the rows only binds and steps.
//
// Snapshots of a run already present coalesce: the newest added becomes the row's current state
// (the storage still keeps a stored state that is newer, see docs/storage.md) and its history
// line is appended to the row's, so a run whose Pending, Running and Completed states are added
// before the rows are written costs one row write, and every state stays in its history in the
// order added.
//
// Encoding (encode(), or add() of a record) throws baton::Error kInvalidArgument naming
// "task_run.id" for a snapshot without an id, and what nlohmann::json::dump throws for a result
// that is not valid UTF-8; nothing is added then.
//
// Thread-safety: none; one object per thread or under the owner's lock. encode() into a
// Snapshot of one's own needs no lock, so producers can do the text work before taking one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/state.h"
#include "model/records.h"

namespace baton::storage {

// One row as the storage binds it: views into the TaskRunRows it came from, valid until that
// object is next changed. Optional times are nullopt for SQL NULL; `created`/`updated` nullopt
// mean "the time of the write".
struct TaskRunRow {
  std::string_view id;
  std::string_view flow_run_id;  // empty: NULL
  std::string_view task_key;
  std::string_view name;
  std::string_view dynamic_key;
  std::string_view cache_key;  // the current state's, else the run's; empty: NULL
  std::optional<int64_t> cache_expiration;
  std::string_view task_inputs;       // JSON text
  std::string_view tags;              // JSON text
  std::string_view empirical_policy;  // JSON text
  std::string_view state_id;
  StateType state_type = StateType::kPending;
  std::string_view state_name;
  int64_t state_timestamp = 0;
  int run_count = 0;
  std::optional<int64_t> created;
  std::optional<int64_t> updated;
  std::optional<int64_t> expected_start_time;
  std::optional<int64_t> start_time;
  std::optional<int64_t> end_time;
  double total_run_time_s = 0;
  std::string_view history;  // the lines of this row's states, to append to the stored history
};

class TaskRunRows {
 public:
  // A snapshot encoded but not yet added (see encode()).
  class Snapshot {
   private:
    friend class TaskRunRows;
    struct Span {
      uint32_t begin = 0, size = 0;
    };
    struct Columns {
      Span id, flow_run_id, task_key, name, dynamic_key, cache_key, task_inputs, tags,
          empirical_policy, state_id, state_name, history;
      std::optional<int64_t> cache_expiration, created, updated, expected_start_time, start_time,
          end_time;
      int64_t state_timestamp = 0;
      double total_run_time_s = 0;
      int run_count = 0;
      StateType state_type = StateType::kPending;
      uint8_t holds = 0;  // batches this row has been held back for
      uint64_t hash = 0;  // hash_id of the run's id
    };
    Columns columns_;
    std::string text_;
  };

  // Encodes `run` into `out` (reusing its buffer). Throws as the header says.
  static void encode(const TaskRunRecord& run, Snapshot& out);

  // Adds an encoded snapshot, coalescing it into its run's row when there is one.
  void add(const Snapshot& snapshot);
  // encode() then add().
  void add(const TaskRunRecord& run);
  // Copies row `i` of `other` as a row of its own (to write it alone).
  void add_row(const TaskRunRows& other, size_t i);
  // True when a row for run `id` (of the snapshot's run) is present: an add() of it would not
  // make a row.
  bool contains(std::string_view id);
  bool contains(const Snapshot& snapshot);

  // Holding rows back (BatchWriter): moves every row whose current state is not terminal and
  // that was held back fewer than `max_holds` times into `out` (counting this time), keeping the
  // others in order. Returns the largest count among the rows moved (0: none moved).
  int hold_back_unfinished(TaskRunRows& out, int max_holds);
  // Takes back rows held back: a run present here gets `earlier`'s history lines before its own
  // (its current state stays this object's, the newer); another run gets `earlier`'s row. Every
  // row concerned keeps `earlier`'s count of holds. Snapshots are not counted again.
  void merge_earlier(const TaskRunRows& earlier);

  size_t size() const noexcept { return rows_.size(); }
  bool empty() const noexcept { return rows_.empty(); }
  // Snapshots added, coalesced or not.
  uint64_t snapshots() const noexcept { return snapshots_; }
  TaskRunRow row(size_t i) const;

  // Empties the rows, keeping the memory for the next ones.
  void clear() noexcept;
  void swap(TaskRunRows& other) noexcept;

 private:
  using Span = Snapshot::Span;
  using Columns = Snapshot::Columns;
  std::string_view view(Span s) const { return {text_.data() + s.begin, s.size}; }
  static constexpr Span Columns::*kSpans[] = {
      &Columns::id,          &Columns::flow_run_id, &Columns::task_key,
      &Columns::name,        &Columns::dynamic_key, &Columns::cache_key,
      &Columns::task_inputs, &Columns::tags,        &Columns::empirical_policy,
      &Columns::state_id,    &Columns::state_name,  &Columns::history};
  // The first kRunColumns of kSpans are the run's own columns (id to dynamic_key), one block of
  // text in that order in a snapshot and in a row; the others change with the run's state.
  static constexpr size_t kRunColumns = 5;
  // Copies row `i` of `other` (not this object; its run not present here) as a row of its own.
  // `index`: make it findable now; otherwise the lookup slots are rebuilt when next needed.
  void append_row(const TaskRunRows& other, size_t i, bool index);
  // The lookup hash of a run id, computed once per snapshot (on the producer's thread).
  static uint64_t hash_id(std::string_view id) noexcept;
  // Index into slots_ where `id` (whose hash_id is `hash`) is, or the empty slot where it would
  // go.
  size_t find_slot(std::string_view id, uint64_t hash) const;
  void grow_slots();
  void rebuild_slots();

  std::vector<Columns> rows_;
  std::string text_;
  // Open addressing: row index + 1 per slot, 0 = empty; capacity a power of two.
  std::vector<uint32_t> slots_;
  uint64_t snapshots_ = 0;
  bool slots_stale_ = false;  // rows were removed: slots_ must be rebuilt before a lookup
  Snapshot scratch_;          // add_row's
};

}  // namespace baton::storage
