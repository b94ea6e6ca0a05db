// Fuzzes option parsing and validation: the input, split at NUL bytes and
// newlines, is the argument vector of `fedhpc run`; then validate() and
// to_ini(). Inputs naming --config are skipped (reading arbitrary paths such
// as /dev/zero is fuzz_config's and the robustness table's business).
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/cli/run_options.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; ++i) {
    const char c = char(data[i]);
    if (c == '\0' || c == '\n') {
      if (args.size() >= 64) break;
      args.emplace_back();
    } else {
      args.back() += c;
    }
  }
  if (args.back().empty()) args.pop_back();
  for (const auto& a : args)
    if (a.find("config") != std::string::npos) return 0;
  fuzz::expect_only_input_errors([&] {
    auto parsed = fedhpc::parse_run_options(args);
    if (parsed.help) return;
    fedhpc::validate(parsed.options);
    (void)fedhpc::to_ini(parsed.options);
  });
  return 0;
}
