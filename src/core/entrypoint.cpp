// baton::main: a program built with Baton as a deployment entrypoint.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "baton/engine.h"
#include "baton/error.h"
#include "baton/main.h"
#include "core/runtime.h"

namespace baton {

namespace {
int report(const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  if (const auto* be = dynamic_cast<const Error*>(&e)) return exit_code(be->kind());
  return 1;
}

int run_registered(const std::string& flow_name, const std::string& flow_run_id,
                   const nlohmann::json* params) {
  auto flow = engine::find_flow(flow_name);
  if (!flow) {
    std::string known;
    for (const auto& f : engine::registered_flows())
      known += (known.empty() ? "" : ", ") + f.definition->name;
    throw not_found("no flow named '" + flow_name +
                    "' in this program; it has: " + (known.empty() ? "(none)" : known));
  }
  auto call = flow->factory();
  if (params) call->set_parameters(*params);
  State final_state = engine::run_flow(flow->definition, *call, flow_run_id, false);
  return final_state.type == StateType::kCompleted ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv, std::function<int()> otherwise) {
  std::string flow_run_id, flow_name, params_text;
  bool list = false, have_params = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      std::string prefix = std::string(flag) + "=";
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
      if (i + 1 >= argc) throw invalid_argument(std::string(flag) + " needs a value", flag);
      return argv[++i];
    };
    try {
      if (arg == "--flow-run-id" || arg.rfind("--flow-run-id=", 0) == 0) {
        flow_run_id = value("--flow-run-id");
      } else if (arg == "--flow" || arg.rfind("--flow=", 0) == 0) {
        flow_name = value("--flow");
      } else if (arg == "--params" || arg.rfind("--params=", 0) == 0) {
        params_text = value("--params");
        have_params = true;
      } else if (arg == "--list-flows") {
        list = true;
      }
    } catch (const std::exception& e) {
      return report(e);
    }
  }
  if (flow_run_id.empty() && flow_name.empty()) {
    if (const char* env = std::getenv("BATON_FLOW_RUN_ID"); env && *env) flow_run_id = env;
  }

  try {
    if (list) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& f : engine::registered_flows())
        out.push_back({{"name", f.definition->name},
                       {"description", f.definition->description},
                       {"tags", f.definition->tags},
                       {"parameter_schema", f.definition->parameter_schema}});
      std::cout << out.dump(2) << std::endl;
      return 0;
    }
    if (!flow_run_id.empty()) {
      auto run = core::Runtime::get().client().read_flow_run(flow_run_id);
      if (!run) throw not_found("flow run '" + flow_run_id + "' not found");
      return run_registered(run->flow_name, flow_run_id, nullptr);
    }
    if (!flow_name.empty()) {
      nlohmann::json params = nlohmann::json::object();
      if (have_params) {
        try {
          params = nlohmann::json::parse(params_text);
        } catch (const nlohmann::json::exception& e) {
          throw Error(ErrorKind::kMalformed, std::string("--params is not valid JSON: ") + e.what(),
                      "--params");
        }
      }
      return run_registered(flow_name, {}, &params);
    }
    if (otherwise) return otherwise();
    std::fprintf(stderr,
                 "usage: %s [--flow-run-id ID | --flow NAME [--params JSON] | --list-flows]\n"
                 "       (or set BATON_FLOW_RUN_ID)\n",
                 argc > 0 ? argv[0] : "program");
    return 2;
  } catch (const std::exception& e) {
    return report(e);
  }
}

}  // namespace baton
