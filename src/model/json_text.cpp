#include "model/json_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace baton {

namespace {

void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";  // what nlohmann writes for them
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_number(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_time(std::string& out, TimePoint t) {
  out += '"';
  out += format_time(t);
  out += '"';
}

void append_time(std::string& out, const std::optional<TimePoint>& t) {
  if (t)
    append_time(out, *t);
  else
    out += "null";
}

void append_string_or_null(std::string& out, const std::string& s) {
  if (s.empty())
    out += "null";
  else
    append_json_string(out, s);
}

// `values` as a JSON array, each element written by `append(out, element)`.
template <typename T, typename Append>
void append_array(std::string& out, const std::vector<T>& values, Append append) {
  out += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append(out, values[i]);
  }
  out += ']';
}

// Appends `"name":` with the separator that precedes every member but the first.
class Members {
 public:
  explicit Members(std::string& out) : out_(out) { out_ += '{'; }
  std::string& operator()(std::string_view name) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += name;
    out_ += "\":";
    return out_;
  }
  void close() { out_ += '}'; }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Text that is not plain ASCII goes through nlohmann, which replaces invalid UTF-8 (a stray byte
  // in an exception message, say) instead of writing JSON that cannot be read back.
  if (std::any_of(s.begin(), s.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    out += nlohmann::json(std::string(s))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t clean = 0;  // start of the stretch that needs no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + clean, i - clean);
    clean = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + clean, s.size() - clean);
  out += '"';
}

void append_json(std::string& out, const State& s) {
  Members m(out);
  m("type") += '"';
  out += to_string(s.type);
  out += '"';
  append_json_string(m("name"), s.name);
  append_json_string(m("message"), s.message);
  append_time(m("timestamp"), s.timestamp);
  Members details(m("state_details"));
  if (s.scheduled_time) append_time(details("scheduled_time"), *s.scheduled_time);
  if (!s.cache_key.empty()) append_json_string(details("cache_key"), s.cache_key);
  if (s.cache_expiration) append_time(details("cache_expiration"), *s.cache_expiration);
  if (!s.retriable) details("retriable") += "false";
  details.close();
  if (s.result.is_null())
    m("data") += "null";
  else
    m("data") += s.result.dump();
  m.close();
}

namespace {

void append_json(std::string& out, const RetryPolicy& p) {
  Members policy(out);
  append_number(policy("retries"), static_cast<int64_t>(p.retries));
  append_array(policy("retry_delay"), p.retry_delays_s,
               [](std::string& o, double delay) { append_number(o, delay); });
  append_number(policy("retry_jitter_factor"), p.retry_jitter_factor);
  policy.close();
}

void append_tags(std::string& out, const std::vector<std::string>& tags) {
  append_array(out, tags,
               [](std::string& o, const std::string& tag) { append_json_string(o, tag); });
}

// The members a run record has about its current state: state, state_type, state_name, run_count.
void append_state_members(Members& m, const State& state, int run_count) {
  append_json(m("state"), state);
  std::string& out = m("state_type");
  out += '"';
  out += to_string(state.type);
  out += '"';
  append_json_string(m("state_name"), state.name);
  append_number(m("run_count"), static_cast<int64_t>(run_count));
}

}  // namespace

void append_json(std::string& out, const TaskRunRecord& r) {
  Members m(out);
  append_json_string(m("id"), r.id);
  append_json_string(m("flow_run_id"), r.flow_run_id);
  append_json_string(m("task_key"), r.task_key);
  append_json_string(m("name"), r.name);
  append_json_string(m("dynamic_key"), r.dynamic_key);
  append_string_or_null(m("cache_key"), r.cache_key);
  append_time(m("cache_expiration"), r.cache_expiration);
  m("task_inputs") += r.task_inputs.dump();
  append_tags(m("tags"), r.tags);
  append_json(m("empirical_policy"), r.empirical_policy);
  append_state_members(m, r.state, r.run_count);
  append_time(m("created"), r.created);
  append_time(m("updated"), r.updated);
  append_time(m("expected_start_time"), r.expected_start_time);
  append_time(m("start_time"), r.start_time);
  append_time(m("end_time"), r.end_time);
  append_number(m("total_run_time"), r.total_run_time_s);
  m.close();
}

void append_json(std::string& out, const FlowRunRecord& r) {
  Members m(out);
  append_json_string(m("id"), r.id);
  append_json_string(m("flow_id"), r.flow_id);
  append_json_string(m("flow_name"), r.flow_name);
  append_json_string(m("name"), r.name);
  append_string_or_null(m("deployment_id"), r.deployment_id);
  append_string_or_null(m("parent_task_run_id"), r.parent_task_run_id);
  append_string_or_null(m("idempotency_key"), r.idempotency_key);
  m("parameters") += r.parameters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  append_tags(m("tags"), r.tags);
  append_json(m("empirical_policy"), r.empirical_policy);
  append_state_members(m, r.state, r.run_count);
  append_time(m("created"), r.created);
  append_time(m("updated"), r.updated);
  append_time(m("expected_start_time"), r.expected_start_time);
  append_time(m("next_scheduled_start_time"), r.next_scheduled_start_time);
  append_time(m("start_time"), r.start_time);
  append_time(m("end_time"), r.end_time);
  append_number(m("total_run_time"), r.total_run_time_s);
  append_string_or_null(m("infrastructure_pid"), r.infrastructure_pid);
  m.close();
}

}  // namespace baton
