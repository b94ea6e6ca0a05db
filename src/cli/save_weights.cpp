#include "fedhpc/cli/save_weights.hpp"

#include <algorithm>
#include <charconv>

#include "fedhpc/core/error.hpp"
#include "fedhpc/cli/run_options.hpp"

namespace fedhpc {

namespace {

[[noreturn]] void fail(const std::string& text, const std::string& why) {
  throw InputError("--save-weights: " + why + "; got " + quote_input(text));
}

// "1,5,10" -> {1, 5, 10}, each a round of the run.
std::vector<std::int64_t> parse_rounds(const std::string& text, const std::string& list, std::int64_t rounds) {
  std::vector<std::int64_t> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    std::int64_t r = 0;
    const char* first = list.data() + start;
    const char* last = list.data() + end;
    const auto [ptr, ec] = std::from_chars(first, last, r);
    if (first == last || ec != std::errc() || ptr != last)
      fail(text, "clients:ROUNDS needs a comma-separated list of round numbers");
    if (r < 1 || r > rounds)
      fail(text, "round " + std::to_string(r) + " is not a round of this run (1.." + std::to_string(rounds) + ")");
    out.push_back(r);
    start = end + 1;
  }
  // The order and repeats the user typed do not matter: rows are kept by round.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

WeightSaving parse_save_weights(const std::string& text, std::int64_t rounds) {
  if (text == "none" || text == "global" || text == "clients") return {text, {}};
  const std::string prefix = "clients:";
  if (text.rfind(prefix, 0) != 0) fail(text, "allowed: none|global|clients|clients:ROUNDS (e.g. clients:1,5,10)");
  return {"clients", parse_rounds(text, text.substr(prefix.size()), rounds)};
}

}  // namespace fedhpc
