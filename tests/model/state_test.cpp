#include "baton/state.h"

#include <gtest/gtest.h>

#include "baton/error.h"

namespace baton {
namespace {

TEST(StateType, RoundTripsEveryTypeThroughItsName) {
  for (auto type : {StateType::kScheduled, StateType::kPending, StateType::kRunning,
                    StateType::kCompleted, StateType::kFailed, StateType::kCancelled,
                    StateType::kCrashed, StateType::kPaused, StateType::kCancelling}) {
    auto parsed = state_type_from_string(to_string(type));
    ASSERT_TRUE(parsed.has_value()) << to_string(type);
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_FALSE(state_type_from_string("SOMETIMES").has_value());
}

TEST(StateType, OnlyCompletedFailedCancelledCrashedAreTerminal) {
  EXPECT_TRUE(is_terminal(StateType::kCompleted));
  EXPECT_TRUE(is_terminal(StateType::kFailed));
  EXPECT_TRUE(is_terminal(StateType::kCancelled));
  EXPECT_TRUE(is_terminal(StateType::kCrashed));
  EXPECT_FALSE(is_terminal(StateType::kRunning));
  EXPECT_FALSE(is_terminal(StateType::kCancelling));
  EXPECT_FALSE(is_terminal(StateType::kPaused));
  EXPECT_FALSE(is_terminal(StateType::kScheduled));
}

TEST(State, FactoriesUseCanonicalNames) {
  EXPECT_EQ(State::late(now()).name, "Late");
  EXPECT_EQ(State::late(now()).type, StateType::kScheduled);
  EXPECT_EQ(State::awaiting_retry(now()).name, "AwaitingRetry");
  EXPECT_EQ(State::retrying().type, StateType::kRunning);
  EXPECT_EQ(State::cached(1).name, "Cached");
  EXPECT_EQ(State::cached(1).type, StateType::kCompleted);
  EXPECT_EQ(State::timed_out("x").type, StateType::kFailed);
  EXPECT_EQ(State::timed_out("x").name, "TimedOut");
}

TEST(State, JsonRoundTripKeepsEveryField) {
  State s = State::awaiting_retry(parse_time("2024-03-31T08:00:00Z"));
  s.message = "retry 1 of 3";
  s.result = nlohmann::json{{"a", 1}};
  s.cache_key = "k";
  s.retriable = false;
  nlohmann::json j = s;
  EXPECT_EQ(j["type"], "SCHEDULED");
  EXPECT_EQ(j["state_details"]["scheduled_time"], "2024-03-31T08:00:00Z");
  State back = j.get<State>();
  EXPECT_EQ(back.type, s.type);
  EXPECT_EQ(back.name, s.name);
  EXPECT_EQ(back.message, s.message);
  EXPECT_EQ(back.timestamp, s.timestamp);
  EXPECT_EQ(back.scheduled_time, s.scheduled_time);
  EXPECT_EQ(back.result, s.result);
  EXPECT_EQ(back.cache_key, "k");
  EXPECT_FALSE(back.retriable);
}

TEST(State, FromJsonNamesTheBadField) {
  try {
    nlohmann::json{{"type", "SOMETIMES"}}.get<State>();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(e.field(), "state.type");
    EXPECT_NE(std::string(e.what()).find("SOMETIMES"), std::string::npos);
  }
}

TEST(Time, ParsesOffsetsAndFormatsUtc) {
  EXPECT_EQ(format_time(parse_time("2024-03-31T09:00:00+01:00")), "2024-03-31T08:00:00Z");
  EXPECT_EQ(format_time(parse_time("2024-03-31T08:00:00.250Z")), "2024-03-31T08:00:00.250000Z");
  EXPECT_EQ(format_time(parse_time("2024-03-31T03:00:00-05:00")), "2024-03-31T08:00:00Z");
  EXPECT_THROW(parse_time("yesterday"), Error);
  EXPECT_THROW(parse_time("2024-13-45T00:00:00Z"), Error);
  EXPECT_THROW(parse_time("2024-03-31T08:00:00Zjunk"), Error);
  EXPECT_EQ(format_time(parse_time("2024-03-31 08:00:00")), "2024-03-31T08:00:00Z");
}

TEST(Time, FormatsEveryFieldWithItsWidth) {
  for (const char* text : {"1969-07-20T20:17:40Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                           "2000-02-29T23:59:59.999999Z", "2024-12-31T00:00:00.000001Z",
                           "9999-12-31T23:59:59Z"})
    EXPECT_EQ(format_time(parse_time(text)), text);
  EXPECT_EQ(format_time(TimePoint(std::chrono::microseconds(-1))), "1969-12-31T23:59:59.999999Z");
}

TEST(Time, GarbledInputIsRejectedNotMisread) {
  // Found by the schedule fuzzer: date::parse alone misread some of these.
  for (const char* text : {"2024-01-01T09:0ca", "2024-01-01T09:00:0", "2024-03-31T08:00:00+25:00",
                           "2024-03-31T08:00:00.1234567Z", "2024-03-31T08:00:00.Z",
                           "2024-03-31T08:00:00+0100", "24-03-31T08:00:00Z", ""}) {
    EXPECT_THROW(parse_time(text), Error) << text;
  }
}

}  // namespace
}  // namespace baton
