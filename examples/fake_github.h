// A stand-in for the GitHub REST API on 127.0.0.1, for the github_stars example and its test:
// GET /repos/<owner>/<name> answers {"full_name": ..., "stargazers_count": N} for a few known
// repositories and 404 otherwise. Never the internet.
#pragma once

#include <memory>

namespace examples {

class FakeGithub {
 public:
  // Listens on 127.0.0.1:`port` (0: any free port) and serves from a background thread until
  // destroyed, or until `max_requests` requests have been answered.
  explicit FakeGithub(unsigned short port = 0, int max_requests = 1000);
  ~FakeGithub();
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace examples
