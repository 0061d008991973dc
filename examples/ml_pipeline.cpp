// ML pipeline with a cached data load.
//
// load_dataset() is slow, so its result is cached for one hour, keyed by the task and its inputs.
// Run this program twice: the second run's load ends in state Cached without running the body,
// because the cache entry and the result (in $BATON_HOME/storage) outlive the first process.
// The number of epochs can be changed without touching the code through a variable
// (`baton variable set ml_epochs 5`), and each run publishes its metrics as a new version of the
// artifact "ml-model-report" (`baton artifact inspect ml-model-report`).
#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "baton/baton.h"

using namespace std::chrono_literals;

struct TrainParams {
  std::string dataset = "iris-v1";
  double learning_rate = 0.1;
  int epochs = 20;
};
BATON_PARAMS(TrainParams, dataset, learning_rate, epochs)

int main(int argc, char** argv) {
  auto load_dataset = baton::task("load_dataset", [](const std::string& name) {
                        std::this_thread::sleep_for(300ms);  // pretend to download
                        std::vector<double> xs(150);
                        for (std::size_t i = 0; i < xs.size(); ++i)
                          xs[i] = std::sin(static_cast<double>(i) + name.size());
                        return xs;
                      }).cache_expiration(1h);
  auto train = baton::task("train_model", [](const std::vector<double>& xs, double lr, int epochs) {
    double w = 0;
    for (int e = 0; e < epochs; ++e)
      for (double x : xs) w -= lr * (w - x) / static_cast<double>(xs.size());
    return w;
  });
  auto evaluate = baton::task("evaluate", [](double w, const std::vector<double>& xs) {
    double err = 0;
    for (double x : xs) err += (w - x) * (w - x);
    return err / static_cast<double>(xs.size());
  });

  auto pipeline = baton::flow("ml_pipeline", [&](const TrainParams& p) {
    auto data = load_dataset.submit(p.dataset);
    data.wait();
    std::string load_state = data.state().name;
    int epochs = baton::variables::get("ml_epochs", p.epochs);
    double w = train(data, p.learning_rate, epochs);
    double mse = evaluate(w, data.result());
    baton::create_markdown_artifact(
        "# Model\n\n| dataset | epochs | mse |\n| --- | --- | --- |\n| " + p.dataset + " | " +
            std::to_string(epochs) + " | " + std::to_string(mse) + " |",
        "ml-model-report", "Training metrics");
    return std::make_tuple(load_state, mse, epochs);
  });

  return baton::main(argc, argv, [&] {
    auto [load_state, mse, epochs] = pipeline(TrainParams{});
    std::cout << "ML pipeline: load_dataset finished in state " << load_state
              << (load_state == "Cached" ? " (served from the one-hour cache)"
                                         : " (cached for one hour: run me again)")
              << "; model mse=" << mse << " after " << epochs << " epochs\n";
    return 0;
  });
}
