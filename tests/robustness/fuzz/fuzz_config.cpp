// Fuzzes the INI config reader: parse_run_options({"--config", FILE}) with the
// input as FILE's content, then validate() and to_ini() on what parsed.
#include <cstdint>
#include <string>

#include "fedhpc/cli/run_options.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::temp_dir() + "/fuzz.ini";
  fuzz::write_file(path, data, size);
  fuzz::expect_only_input_errors([&] {
    auto parsed = fedhpc::parse_run_options({"--config", path});
    if (parsed.help) return;
    fedhpc::validate(parsed.options);
    (void)fedhpc::to_ini(parsed.options);
  });
  return 0;
}
