#include "server/task_run_reader.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "baton/error.h"
#include "model/ids.h"

namespace baton::server {

namespace {
using nlohmann::json;

// What a SAX callback delivered, for type checks and messages.
enum class Kind { kNull, kBoolean, kInteger, kNumber, kString, kObject, kArray };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kInteger:
      return "integer";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kObject:
      return "object";
    case Kind::kArray:
      return "array";
  }
  return "value";
}

// The members of a TaskRun (schema "TaskRun") and of its State (schema "State").
enum class Field {
  kId,
  kFlowRunId,
  kTaskKey,
  kName,
  kDynamicKey,
  kCacheKey,
  kCacheExpiration,
  kTaskInputs,
  kRunCount,
  kStartTime,
  kEndTime,
  kExpectedStartTime,
  kTotalRunTime,
  kParameters,
  kTags,
  kEmpiricalPolicy,
  kState,
  kCreated,
  kUpdated,
  kStateType,
  kStateName,
  kStateMessage,
  kStateTimestamp,
  kStateDetails,
  kStateData,
  kOther,  // not declared: accepted and ignored (the schemas are not strict)
};

Field run_field(std::string_view k) {
  static constexpr std::pair<std::string_view, Field> kFields[] = {
      {"id", Field::kId},
      {"flow_run_id", Field::kFlowRunId},
      {"task_key", Field::kTaskKey},
      {"name", Field::kName},
      {"dynamic_key", Field::kDynamicKey},
      {"state", Field::kState},
      {"cache_key", Field::kCacheKey},
      {"cache_expiration", Field::kCacheExpiration},
      {"task_inputs", Field::kTaskInputs},
      {"run_count", Field::kRunCount},
      {"start_time", Field::kStartTime},
      {"end_time", Field::kEndTime},
      {"expected_start_time", Field::kExpectedStartTime},
      {"total_run_time", Field::kTotalRunTime},
      {"parameters", Field::kParameters},
      {"tags", Field::kTags},
      {"empirical_policy", Field::kEmpiricalPolicy},
      {"created", Field::kCreated},
      {"updated", Field::kUpdated}};
  for (const auto& [name, field] : kFields)
    if (name == k) return field;
  return Field::kOther;
}

Field state_field(std::string_view k) {
  static constexpr std::pair<std::string_view, Field> kFields[] = {
      {"type", Field::kStateType},
      {"name", Field::kStateName},
      {"message", Field::kStateMessage},
      {"timestamp", Field::kStateTimestamp},
      {"state_details", Field::kStateDetails},
      {"data", Field::kStateData}};
  for (const auto& [name, field] : kFields)
    if (name == k) return field;
  return Field::kOther;
}

constexpr const char* kStateTypes =
    "SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, CRASHED, PAUSED, CANCELLING";

// Builds a JSON value from SAX events, for the free-form members.
class Capture {
 public:
  void start(Field field) {
    field_ = field;
    root_ = json();
    stack_.clear();
  }
  Field field() const { return field_; }
  // Each returns true when the captured value is complete.
  bool value(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    add(std::move(v));
    return false;
  }
  void open(json container) {
    if (stack_.empty()) {
      root_ = std::move(container);
      stack_.push_back(&root_);
    } else {
      stack_.push_back(add(std::move(container)));
    }
  }
  bool close() {
    stack_.pop_back();
    return stack_.empty();
  }
  void key(std::string& k) { key_ = std::move(k); }
  json take() { return std::move(root_); }

 private:
  json* add(json v) {
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }

  Field field_ = Field::kOther;
  json root_;
  std::vector<json*> stack_;
  std::string key_;
};

// The parser's own message quotes the offending bytes, which may not be UTF-8 and could not be
// sent back in a JSON error body; the position is enough to find them.
Error not_json(std::size_t position) {
  return Error(ErrorKind::kMalformed,
               "the request body is not valid JSON (at byte " + std::to_string(position) + ")");
}

// Reads JSON without keeping anything: whether a refused body was JSON at all.
struct SyntaxCheck final : nlohmann::json_sax<json> {
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    throw not_json(position);
  }
};

class TaskRunSax final : public nlohmann::json_sax<json> {
 public:
  TaskRunSax(bool batch, size_t max_items) : batch_(batch), max_items_(max_items) {
    mode_ = Mode::kTop;
  }

  std::vector<TaskRunRecord> take() {
    if (batch_ && !seen_items_)
      throw invalid_argument("missing required member 'task_runs'", "task_runs");
    return std::move(runs_);
  }

  bool null() override { return scalar(Kind::kNull); }
  bool boolean(bool v) override {
    bool_ = v;
    return scalar(Kind::kBoolean);
  }
  bool number_integer(number_integer_t v) override {
    number_ = static_cast<double>(v);
    integer_ = v;
    return scalar(Kind::kInteger);
  }
  bool number_unsigned(number_unsigned_t v) override {
    number_ = static_cast<double>(v);
    integer_ = v > static_cast<number_unsigned_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
    return scalar(Kind::kInteger);
  }
  bool number_float(number_float_t v, const string_t&) override {
    number_ = v;
    // JSON Schema's "integer" accepts 3.0; the range check keeps the conversion defined.
    bool integral = v >= -9.2e18 && v <= 9.2e18 && std::trunc(v) == v;
    integer_ = integral ? static_cast<int64_t>(v) : 0;
    return scalar(integral ? Kind::kInteger : Kind::kNumber);
  }
  bool string(string_t& v) override {
    text_ = &v;
    return scalar(Kind::kString);
  }
  bool binary(binary_t&) override { return true; }  // JSON text has no binary values

  bool start_object(std::size_t) override {
    switch (mode_) {
      case Mode::kCapture:
        capture_.open(json::object());
        return true;
      case Mode::kTop:
        mode_ = batch_ ? Mode::kBatch : Mode::kRun;
        if (!batch_) begin_run();
        return true;
      case Mode::kItems:
        begin_item();
        return true;
      case Mode::kRun:
        switch (field_) {
          case Field::kState:
            begin_state();
            return true;
          case Field::kTaskInputs:
          case Field::kParameters:
          case Field::kEmpiricalPolicy:
          case Field::kOther:
            begin_capture(json::object());
            return true;
          default:
            return wrong(Kind::kObject);
        }
      case Mode::kState:
        if (field_ == Field::kStateDetails || field_ == Field::kStateData ||
            field_ == Field::kOther) {
          begin_capture(json::object());
          return true;
        }
        return wrong(Kind::kObject);
      case Mode::kBatch:  // "task_runs" must be an array
      case Mode::kTags:
        return wrong(Kind::kObject);
    }
    return true;
  }

  bool end_object() override {
    switch (mode_) {
      case Mode::kCapture:
        if (capture_.close()) end_capture();
        return true;
      case Mode::kState:
        end_state();
        return true;
      case Mode::kRun:
        end_run();
        mode_ = batch_ ? Mode::kItems : Mode::kTop;
        return true;
      default:
        mode_ = Mode::kTop;
        return true;
    }
  }

  bool start_array(std::size_t) override {
    switch (mode_) {
      case Mode::kCapture:
        capture_.open(json::array());
        return true;
      case Mode::kBatch:
        mode_ = Mode::kItems;
        seen_items_ = true;
        return true;
      case Mode::kRun:
        if (field_ == Field::kTags) {
          current_.tags.clear();
          mode_ = Mode::kTags;
          return true;
        }
        if (field_ == Field::kOther) {
          begin_capture(json::array());
          return true;
        }
        return wrong(Kind::kArray);
      case Mode::kState:
        if (field_ == Field::kStateData || field_ == Field::kOther) {
          begin_capture(json::array());
          return true;
        }
        return wrong(Kind::kArray);
      default:
        return wrong(Kind::kArray);
    }
  }

  bool end_array() override {
    switch (mode_) {
      case Mode::kCapture:
        if (capture_.close()) end_capture();
        return true;
      case Mode::kTags:
        mode_ = Mode::kRun;
        return true;
      case Mode::kItems:
        mode_ = Mode::kBatch;
        return true;
      default:
        return true;
    }
  }

  bool key(string_t& k) override {
    switch (mode_) {
      case Mode::kCapture:
        capture_.key(k);
        return true;
      case Mode::kBatch:
        if (k != "task_runs") throw invalid_argument("unknown member '" + k + "'", k);
        return true;
      case Mode::kRun:
        field_ = run_field(k);
        if (field_ == Field::kOther) other_key_ = k;
        return true;
      case Mode::kState:
        field_ = state_field(k);
        if (field_ == Field::kOther) other_key_ = k;
        return true;
      default:
        return true;
    }
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    throw not_json(position);
  }

 private:
  enum class Mode { kTop, kBatch, kItems, kRun, kState, kTags, kCapture };

  // --- where we are, for messages ---------------------------------------------------------------

  std::string run_path() const {
    return batch_ ? "task_runs." + std::to_string(runs_.size()) : std::string();
  }
  std::string join(const std::string& base, std::string_view member) const {
    return base.empty() ? std::string(member) : base + "." + std::string(member);
  }
  static std::string_view field_name(Field f) {
    switch (f) {
      case Field::kId:
        return "id";
      case Field::kFlowRunId:
        return "flow_run_id";
      case Field::kTaskKey:
        return "task_key";
      case Field::kName:
        return "name";
      case Field::kDynamicKey:
        return "dynamic_key";
      case Field::kCacheKey:
        return "cache_key";
      case Field::kCacheExpiration:
        return "cache_expiration";
      case Field::kTaskInputs:
        return "task_inputs";
      case Field::kRunCount:
        return "run_count";
      case Field::kStartTime:
        return "start_time";
      case Field::kEndTime:
        return "end_time";
      case Field::kExpectedStartTime:
        return "expected_start_time";
      case Field::kTotalRunTime:
        return "total_run_time";
      case Field::kParameters:
        return "parameters";
      case Field::kTags:
        return "tags";
      case Field::kEmpiricalPolicy:
        return "empirical_policy";
      case Field::kState:
        return "state";
      case Field::kCreated:
        return "created";
      case Field::kUpdated:
        return "updated";
      case Field::kStateType:
        return "type";
      case Field::kStateName:
        return "name";
      case Field::kStateMessage:
        return "message";
      case Field::kStateTimestamp:
        return "timestamp";
      case Field::kStateDetails:
        return "state_details";
      case Field::kStateData:
        return "data";
      case Field::kOther:
        return "";
    }
    return "";
  }
  // The dotted path of the member being read.
  std::string path() const {
    std::string base = run_path();
    switch (mode_) {
      case Mode::kTop:
      case Mode::kBatch:
        return "task_runs";
      case Mode::kItems:
        return base;
      case Mode::kTags:
        return join(join(base, "tags"), std::to_string(current_.tags.size()));
      case Mode::kState:
        return join(join(base, "state"),
                    field_ == Field::kOther ? other_key_ : std::string(field_name(field_)));
      default:
        return join(base, field_ == Field::kOther ? other_key_ : std::string(field_name(field_)));
    }
  }

  [[noreturn]] void fail(const std::string& expected, Kind got) const {
    std::string where = path();
    throw invalid_argument((where.empty() ? std::string("the body") : "'" + where + "'") +
                               " must be " + expected + ", got " + kind_name(got),
                           where);
  }
  [[noreturn]] bool wrong(Kind got) const {
    switch (mode_) {
      case Mode::kTop:
        throw invalid_argument("the body must be object, got " + std::string(kind_name(got)));
      case Mode::kBatch:
        fail("array", got);
      case Mode::kItems:
        fail("object", got);
      case Mode::kTags:
        fail("string", got);
      default:
        break;
    }
    fail(expected(), got);
  }
  // What the current member accepts, in the schema's words.
  std::string expected() const {
    switch (field_) {
      case Field::kId:
      case Field::kTaskKey:
        return "string";
      case Field::kFlowRunId:
      case Field::kName:
      case Field::kDynamicKey:
      case Field::kCacheKey:
      case Field::kStateName:
      case Field::kStateMessage:
        return "string or null";
      case Field::kCacheExpiration:
      case Field::kStartTime:
      case Field::kEndTime:
      case Field::kExpectedStartTime:
      case Field::kCreated:
      case Field::kUpdated:
      case Field::kStateTimestamp:
        return "string or null";
      case Field::kTaskInputs:
      case Field::kParameters:
      case Field::kEmpiricalPolicy:
      case Field::kStateDetails:
        return "object or null";
      case Field::kState:
        return "object";
      case Field::kRunCount:
        return "integer or null";
      case Field::kTotalRunTime:
        return "number or null";
      case Field::kTags:
        return "array or null";
      case Field::kStateType:
        return "one of " + std::string(kStateTypes);
      default:
        return "a JSON value";
    }
  }

  // --- items
  // --------------------------------------------------------------------------------------

  void begin_item() {
    if (runs_.size() >= max_items_)
      throw invalid_argument(
          "'task_runs' must have at most " + std::to_string(max_items_) + " items", "task_runs");
    mode_ = Mode::kRun;
    begin_run();
  }
  void begin_run() {
    current_ = TaskRunRecord{};
    has_id_ = has_task_key_ = has_state_ = false;
  }
  void end_run() {
    const char* missing = !has_id_         ? "id"
                          : !has_task_key_ ? "task_key"
                          : !has_state_    ? "state"
                                           : nullptr;
    if (missing)
      throw invalid_argument("missing required member '" + std::string(missing) + "'",
                             join(run_path(), missing));
    runs_.push_back(std::move(current_));
  }
  void begin_state() {
    mode_ = Mode::kState;
    current_.state = State{};
    has_state_type_ = false;
    has_state_ = true;
  }
  void end_state() {
    if (!has_state_type_)
      throw invalid_argument(std::string("missing state type; expected one of ") + kStateTypes,
                             join(join(run_path(), "state"), "type"));
    State& s = current_.state;
    if (s.name.empty()) s.name = std::string(default_name(s.type));
    if (s.timestamp == TimePoint{}) s.timestamp = now();
    mode_ = Mode::kRun;
  }

  void begin_capture(json container) {
    parent_ = mode_;
    mode_ = Mode::kCapture;
    capture_.start(field_);
    capture_.open(std::move(container));
  }
  void end_capture() {
    mode_ = parent_;
    json value = capture_.take();
    switch (capture_.field()) {
      case Field::kTaskInputs:
        current_.task_inputs = std::move(value);
        break;
      case Field::kEmpiricalPolicy:
        try {
          from_json(value, current_.empirical_policy);
        } catch (const json::exception& e) {
          throw invalid_argument("'" + path() + "' is not a retry policy: " + e.what(), path());
        }
        break;
      case Field::kStateData:
        current_.state.result = std::move(value);
        break;
      case Field::kStateDetails:
        read_state_details(value);
        break;
      default:
        break;  // parameters (a task run has none of its own) and undeclared members
    }
  }

  void read_state_details(const json& d) {
    State& s = current_.state;
    std::string base = join(join(run_path(), "state"), "state_details");
    if (auto t = d.find("scheduled_time"); t != d.end() && t->is_string())
      s.scheduled_time = parse_time(t->get_ref<const std::string&>(), join(base, "scheduled_time"));
    if (auto t = d.find("cache_key"); t != d.end() && t->is_string())
      s.cache_key = t->get<std::string>();
    if (auto t = d.find("cache_expiration"); t != d.end() && t->is_string())
      s.cache_expiration =
          parse_time(t->get_ref<const std::string&>(), join(base, "cache_expiration"));
    if (auto t = d.find("retriable"); t != d.end() && t->is_boolean()) s.retriable = t->get<bool>();
  }

  // --- scalar members
  // -------------------------------------------------------------------------------

  bool scalar(Kind k) {
    switch (mode_) {
      case Mode::kCapture:
        if (capture_.value(scalar_json(k))) end_capture();
        return true;
      case Mode::kRun:
        run_scalar(k);
        return true;
      case Mode::kState:
        state_scalar(k);
        return true;
      case Mode::kTags:
        if (k != Kind::kString) wrong(k);
        current_.tags.push_back(std::move(*text_));
        return true;
      default:
        return wrong(k);
    }
  }

  json scalar_json(Kind k) {
    switch (k) {
      case Kind::kNull:
        return nullptr;
      case Kind::kBoolean:
        return bool_;
      case Kind::kInteger:
        return integer_;
      case Kind::kNumber:
        return number_;
      case Kind::kString:
        return std::move(*text_);
      default:
        return nullptr;
    }
  }

  // A nullable string member: empty when null.
  void text(Kind k, std::string& out) {
    if (k == Kind::kNull) {
      out.clear();
      return;
    }
    if (k != Kind::kString) wrong(k);
    out = std::move(*text_);
  }
  void time(Kind k, std::optional<TimePoint>& out) {
    if (k == Kind::kNull) {
      out.reset();
      return;
    }
    if (k != Kind::kString) wrong(k);
    out = parse_time(*text_, path());
  }
  void uuid(Kind k, std::string& out) {
    if (k != Kind::kString) wrong(k);
    if (!is_uuid(*text_)) {
      std::string where = path();
      throw invalid_argument("'" + where + "' is '" + *text_ + "', not a UUID", where);
    }
    out = std::move(*text_);
  }

  void run_scalar(Kind k) {
    TaskRunRecord& r = current_;
    switch (field_) {
      case Field::kId:
        uuid(k, r.id);
        has_id_ = true;
        return;
      case Field::kFlowRunId:
        // A UUID, or empty or null for a task called outside any flow.
        if (k == Kind::kNull || (k == Kind::kString && text_->empty())) {
          r.flow_run_id.clear();
          return;
        }
        uuid(k, r.flow_run_id);
        return;
      case Field::kTaskKey:
        if (k != Kind::kString) wrong(k);
        r.task_key = std::move(*text_);
        has_task_key_ = true;
        return;
      case Field::kName:
        text(k, r.name);
        return;
      case Field::kDynamicKey:
        text(k, r.dynamic_key);
        return;
      case Field::kCacheKey:
        text(k, r.cache_key);
        return;
      case Field::kCacheExpiration:
        time(k, r.cache_expiration);
        return;
      case Field::kStartTime:
        time(k, r.start_time);
        return;
      case Field::kEndTime:
        time(k, r.end_time);
        return;
      case Field::kExpectedStartTime:
        time(k, r.expected_start_time);
        return;
      case Field::kCreated:
      case Field::kUpdated: {
        std::optional<TimePoint> t;
        time(k, t);
        (field_ == Field::kCreated ? r.created : r.updated) = t.value_or(TimePoint{});
        return;
      }
      case Field::kRunCount:
        if (k == Kind::kNull) return;
        if (k != Kind::kInteger) wrong(k);
        if (integer_ < 0 || integer_ > INT32_MAX) {
          std::string where = path();
          throw invalid_argument("'" + where + "' must be between 0 and 2147483647", where);
        }
        r.run_count = static_cast<int>(integer_);
        return;
      case Field::kTotalRunTime:
        if (k == Kind::kNull) return;
        if (k != Kind::kInteger && k != Kind::kNumber) wrong(k);
        r.total_run_time_s = number_;
        return;
      case Field::kTaskInputs:
      case Field::kParameters:
      case Field::kEmpiricalPolicy:
      case Field::kTags:
        if (k != Kind::kNull) wrong(k);
        return;
      case Field::kState:
        wrong(k);
      default:
        return;  // an undeclared member
    }
  }

  void state_scalar(Kind k) {
    State& s = current_.state;
    switch (field_) {
      case Field::kStateType: {
        if (k != Kind::kString) wrong(k);
        auto type = state_type_from_string(*text_);
        if (!type) {
          std::string where = path();
          throw invalid_argument(
              "unknown state type '" + *text_ + "'; expected one of " + kStateTypes, where);
        }
        s.type = *type;
        has_state_type_ = true;
        return;
      }
      case Field::kStateName:
        text(k, s.name);
        return;
      case Field::kStateMessage:
        text(k, s.message);
        return;
      case Field::kStateTimestamp: {
        std::optional<TimePoint> t;
        time(k, t);
        s.timestamp = t.value_or(TimePoint{});
        return;
      }
      case Field::kStateDetails:
        if (k != Kind::kNull) wrong(k);
        return;
      case Field::kStateData:
        s.result = scalar_json(k);
        return;
      default:
        return;
    }
  }

  const bool batch_;
  const size_t max_items_;
  Mode mode_;
  Mode parent_ = Mode::kRun;  // where a capture returns to
  Field field_ = Field::kOther;
  std::string other_key_;
  bool seen_items_ = false;
  bool has_id_ = false, has_task_key_ = false, has_state_ = false, has_state_type_ = false;
  TaskRunRecord current_;
  std::vector<TaskRunRecord> runs_;
  Capture capture_;
  // The scalar being delivered.
  bool bool_ = false;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string* text_ = nullptr;
};

std::vector<TaskRunRecord> read(std::string_view body, bool batch, size_t max_items) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (batch) throw invalid_argument("missing required member 'task_runs'", "task_runs");
    throw invalid_argument("missing required member 'id'", "id");
  }
  TaskRunSax sax(batch, max_items);
  try {
    json::sax_parse(body.begin(), body.end(), &sax);
    return sax.take();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kMalformed) throw;
    // A member was refused before the reader reached the end: text that is not JSON at all is
    // still a 400, whatever its start looked like.
    SyntaxCheck check;
    json::sax_parse(body.begin(), body.end(), &check);
    throw;
  }
}
}  // namespace

std::vector<TaskRunRecord> read_task_run_batch(std::string_view body, size_t max_items) {
  return read(body, true, max_items);
}

TaskRunRecord read_task_run(std::string_view body) {
  auto runs = read(body, false, 1);
  if (runs.empty()) throw invalid_argument("the body must be a task run object");
  return std::move(runs.front());
}

}  // namespace baton::server
