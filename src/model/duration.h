// Durations as operators write them in options and environment variables: "7d", "12h", "30m",
// "3600s", "1w", a plain number of seconds ("3600"), or several parts added up ("1d12h").
//
//   auto keep = baton::parse_duration("7d", "--events-retention");  // 604800 s
//   baton::format_duration(keep);                                    // "7d"
//
// Errors: parse_duration throws baton::Error (invalid argument) naming `field` and saying what is
// accepted, for empty text, an unknown unit, a sign, a fraction, or more than 100 years.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace baton {

// Whole seconds; units s, m, h, d (24 h) and w (7 d); a number without a unit is seconds.
std::chrono::seconds parse_duration(std::string_view text, std::string_view field);

// A text parse_duration reads back as `d`, in days, hours, minutes and seconds: "7d", "1d12h",
// "1m30s", "0s".
std::string format_duration(std::chrono::seconds d);

}  // namespace baton
