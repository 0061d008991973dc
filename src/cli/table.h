// A plain-text table for the CLI's human output: columns sized to their widest cell, no borders,
// one header row. Values are printed as given (no truncation), so nothing is hidden from a user
// who pipes the output somewhere.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace baton::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace baton::cli
