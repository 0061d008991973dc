// A flow mapping a task, built against an installed Baton (find_package(baton), baton::sdk).
#include <iostream>
#include <vector>

#include "baton/baton.h"

int main(int argc, char** argv) {
  auto square = baton::task("square", [](int x) { return x * x; });
  auto flow = baton::flow("installed_consumer", [&](const std::vector<int>& xs) {
    int sum = 0;
    for (int v : square.map(xs).results()) sum += v;
    return sum;
  });
  return baton::main(argc, argv, [&] {
    std::cout << "sum of squares: " << flow(std::vector<int>{1, 2, 3, 4}) << "\n";
    return 0;
  });
}
