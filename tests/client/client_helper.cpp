// A small program the multi-process tests start several times at once. It talks to whatever
// make_client() picks from its environment (BATON_HOME, or BATON_API_URL for the remote transport).
//
//   baton_client_helper write <flow> <flow_runs> <task_runs_per_flow_run>
//       creates the runs, takes each through Pending -> Running -> Completed with its task runs
//       (three states each) and one log line per task run; exit 0 when all were accepted.
//   baton_client_helper crash <flow>
//       creates a flow run, sets it Running with one Running task run, flushes, prints
//       "<flow_run_id> <task_run_id>" and kills itself with SIGKILL.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "baton/error.h"
#include "client/orchestration_client.h"
#include "model/ids.h"

namespace {
using namespace baton;

TaskRunRecord task(const std::string& flow_run_id, const std::string& id, int i, State s,
                   int run_count) {
  TaskRunRecord t;
  t.id = id;
  t.flow_run_id = flow_run_id;
  t.task_key = "work-0001";
  t.name = "work-" + std::to_string(i);
  t.state = std::move(s);
  t.run_count = run_count;
  return t;
}

int write(const std::string& flow, int flow_runs, int task_runs) {
  auto client = make_client();
  for (int r = 0; r < flow_runs; ++r) {
    FlowRunRecord run;
    run.flow_name = flow;
    run = client->create_flow_run(run);
    if (client->set_flow_run_state(run.id, State::running()).status != SetStateStatus::kAccept)
      return 3;
    for (int i = 0; i < task_runs; ++i) {
      std::string id = new_id();
      client->record_task_run(task(run.id, id, i, State::pending(), 0));
      client->record_task_run(task(run.id, id, i, State::running(), 1));
      client->record_task_run(task(run.id, id, i, State::completed(i), 1));
      client->write_logs({LogRecord{{}, run.id, id, "baton.task_runs", 20, "done", now()}});
    }
    client->flush();
    if (client->set_flow_run_state(run.id, State::completed()).status != SetStateStatus::kAccept)
      return 4;
  }
  return 0;
}

int crash(const std::string& flow) {
  auto client = make_client();
  FlowRunRecord run;
  run.flow_name = flow;
  run = client->create_flow_run(run);
  client->set_flow_run_state(run.id, State::running());
  std::string id = new_id();
  client->record_task_run(task(run.id, id, 0, State::running(), 1));
  client->flush();
  std::cout << run.id << " " << id << std::endl;
  std::raise(SIGKILL);
  return 5;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "write" && argc == 5) return write(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
    if (mode == "crash" && argc == 3) return crash(argv[2]);
    std::cerr << "usage: baton_client_helper write <flow> <runs> <tasks> | crash <flow>\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "baton_client_helper: " << e.what() << "\n";
    return 1;
  }
}
