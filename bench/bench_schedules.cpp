// Schedule iteration: the next 100 fire times of typical expressions, for W5 (plan the next runs of
// many deployments) and for every preview. Baselines measured in the same run:
// - naive_scan: the obvious cron algorithm, stepping minute by minute from the start, converting
//   each minute to local time with date/tz and testing it against the same parsed expression;
// - date_arith: 100 UTC -> local conversions with date/tz alone, the floor for producing 100 local
//   times.
// Prints, after Google Benchmark's own table, one line per workload:
//   SCHEDULES cron_next100 expr="*/15 * * * *" zone=America/New_York us=... naive_scan_us=...
//   speedup=...x date_arith_us=... ratio=...
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "baton/schedule.h"
#include "schedules/cron_expression.h"
#include "schedules/time_zone.h"

namespace {

using baton::Schedule;
using baton::TimePoint;
namespace sch = baton::schedules;

const TimePoint kStart = baton::parse_time("2024-03-01T00:00:00Z");

struct CronCase {
  const char* expr;
  const char* zone;
  bool naive;  // the minute scan is only affordable for expressions that fire often
};

const std::vector<CronCase> kCron = {
    {"*/15 * * * *", "America/New_York", true},
    {"0 * * * *", "Europe/London", true},
    {"0 9 * * MON-FRI", "America/New_York", true},
    {"30 2 * * *", "America/New_York", true},
    {"*/5 9-17 * * 1-5", "Australia/Lord_Howe", true},
    {"0 0 1 * *", "Europe/Berlin", false},
    {"0 10 * * 5L", "UTC", false},
    {"0 12 LW * *", "Asia/Kolkata", false},
};

std::map<std::string, double> g_us;  // benchmark name -> microseconds per iteration

class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Iteration && run.iterations > 0)
        g_us[run.benchmark_name()] = run.GetAdjustedRealTime() / 1000.0;  // ns -> us
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

std::vector<TimePoint> naive_scan(const sch::CronExpression& expr, const sch::TimeZone& zone,
                                  std::size_t n) {
  std::vector<TimePoint> out;
  sch::SysSeconds t = date::ceil<std::chrono::minutes>(date::floor<std::chrono::seconds>(kStart));
  while (out.size() < n) {
    const sch::LocalSeconds local = zone.to_local(t);
    if (expr.next_match(local, local + std::chrono::seconds(1))) {
      out.push_back(
          TimePoint(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch())));
    }
    t += std::chrono::minutes(1);
  }
  return out;
}

void register_all() {
  for (const auto& c : kCron) {
    const std::string key = std::string("cron_next100/") + c.expr + "/" + c.zone;
    benchmark::RegisterBenchmark(key.c_str(), [c](benchmark::State& state) {
      Schedule s = Schedule::cron(c.expr, c.zone);
      for (auto _ : state) benchmark::DoNotOptimize(s.next(100, kStart));
    });
    if (c.naive) {
      benchmark::RegisterBenchmark(("naive_scan/" + std::string(c.expr) + "/" + c.zone).c_str(),
                                   [c](benchmark::State& state) {
                                     sch::CronExpression expr(c.expr, true);
                                     sch::TimeZone zone(c.zone);
                                     for (auto _ : state)
                                       benchmark::DoNotOptimize(naive_scan(expr, zone, 100));
                                   });
    }
    benchmark::RegisterBenchmark(("date_arith/" + std::string(c.zone)).c_str(),
                                 [c](benchmark::State& state) {
                                   const date::time_zone* zone = date::locate_zone(c.zone);
                                   for (auto _ : state) {
                                     auto t = date::floor<std::chrono::seconds>(kStart);
                                     for (int i = 0; i < 100; ++i) {
                                       benchmark::DoNotOptimize(zone->to_local(t));
                                       t += std::chrono::minutes(15);
                                     }
                                   }
                                 });
  }
  benchmark::RegisterBenchmark("interval_next100/hourly", [](benchmark::State& state) {
    Schedule s = Schedule::interval(std::chrono::hours(1),
                                    baton::parse_time("2024-01-01T09:00:00Z"), "America/New_York");
    for (auto _ : state) benchmark::DoNotOptimize(s.next(100, kStart));
  });
  benchmark::RegisterBenchmark("interval_next100/daily", [](benchmark::State& state) {
    Schedule s = Schedule::interval(std::chrono::hours(24),
                                    baton::parse_time("2024-01-01T09:00:00Z"), "America/New_York");
    for (auto _ : state) benchmark::DoNotOptimize(s.next(100, kStart));
  });
  benchmark::RegisterBenchmark("rrule_next100/weekly_mo_we_fr", [](benchmark::State& state) {
    Schedule s = Schedule::rrule(
        "DTSTART;TZID=Europe/Berlin:20200101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR");
    for (auto _ : state) benchmark::DoNotOptimize(s.next(100, kStart));
  });
  benchmark::RegisterBenchmark("cron_parse/0 9 * * MON-FRI", [](benchmark::State& state) {
    for (auto _ : state)
      benchmark::DoNotOptimize(Schedule::cron("0 9 * * MON-FRI", "America/New_York"));
  });
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  for (const auto& c : kCron) {
    const double us = g_us[std::string("cron_next100/") + c.expr + "/" + c.zone];
    const double arith = g_us["date_arith/" + std::string(c.zone)];
    std::printf("SCHEDULES cron_next100 expr=\"%s\" zone=%s us=%.2f", c.expr, c.zone, us);
    if (c.naive) {
      const double naive = g_us["naive_scan/" + std::string(c.expr) + "/" + c.zone];
      std::printf(" naive_scan_us=%.1f speedup=%.0fx", naive, us > 0 ? naive / us : 0);
    }
    std::printf(" date_arith_us=%.2f ratio=%.2f\n", arith, arith > 0 ? us / arith : 0);
  }
  std::printf("SCHEDULES interval_next100 hourly_us=%.2f daily_us=%.2f\n",
              g_us["interval_next100/hourly"], g_us["interval_next100/daily"]);
  std::printf("SCHEDULES rrule_next100 weekly_us=%.2f\n", g_us["rrule_next100/weekly_mo_we_fr"]);
  std::printf("SCHEDULES cron_parse us=%.2f\n", g_us["cron_parse/0 9 * * MON-FRI"]);
  benchmark::Shutdown();
  return 0;
}
