// --explain: one plain sentence per handle-table and previous-mode decision
// (whose table, which object, which access was granted or checked and why),
// recorded in order and tagged with the client step that caused it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kemu::nt {

class Explainer {
 public:
  struct Line {
    int64_t step = -1;  // index of the client step, -1 before the first (load, DriverEntry)
    std::string text;
  };

  bool enabled() const { return enabled_; }
  void enable(bool on) { enabled_ = on; }
  // The client step whose request runs now (Session sets it before each step).
  void set_step(int64_t step) { step_ = step; }
  void say(std::string sentence) {
    if (enabled_) lines_.push_back({step_, std::move(sentence)});
  }
  const std::vector<Line>& lines() const { return lines_; }

 private:
  bool enabled_ = false;
  int64_t step_ = -1;
  std::vector<Line> lines_;
};

}  // namespace kemu::nt
