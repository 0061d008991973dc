// A program built with Baton is a deployment entrypoint.
//
//   int main(int argc, char** argv) {
//     return baton::main(argc, argv, [] { etl(EtlParams{}); return 0; });
//   }
//
// baton::main looks at the command line and the environment:
//   --flow-run-id ID, or BATON_FLOW_RUN_ID=ID   run that existing flow run (created by a server,
//                                               a scheduler, `baton deployment run`, ...): read its
//                                               flow name and parameters, validate them, run the
//                                               registered flow of that name and report its states
//   --flow NAME [--params JSON]                 create and run a new run of a registered flow
//   --list-flows                                print the registered flows and their parameter
//                                               schemas as JSON
//   anything else                               call `otherwise` (the program's normal main)
//
// Returns the process exit code: 0 when the run Completed, 1 when it ended otherwise, 2 for bad
// input (unknown flow run id, unknown flow name, invalid parameters, which also fail the run with
// a message naming the field). Errors are printed as one line on stderr.
#pragma once

#include <functional>

namespace baton {

int main(int argc, char** argv, std::function<int()> otherwise = {});

}  // namespace baton
