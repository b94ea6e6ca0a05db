#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, separate from the gcc
# build; idempotent) and runs each for FEDHPC_FUZZ_SECONDS (default 60) over a
# copy of its seed corpus (tests/robustness/corpus/<target>), failing on any
# crash, sanitizer finding, leak, timeout or out-of-memory.
# Usage: tests/robustness/fuzz/run-fuzz.sh [idx|config|options ...]   (default: all)
# Environment: FEDHPC_FUZZ_SECONDS, FEDHPC_FUZZ_BUILD (default <repo>/build-fuzz).
# Exits 0 with a SKIP line when clang or the libFuzzer runtime is missing
# (Debian 12: apt-get install clang libclang-rt-14-dev).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="${FEDHPC_FUZZ_BUILD:-$root/build-fuzz}"
secs="${FEDHPC_FUZZ_SECONDS:-60}"
targets=("$@")
((${#targets[@]})) || targets=(idx config options)

skip() { echo "SKIP: fuzz tests not run: $*"; exit 0; }
command -v clang >/dev/null && command -v clang++ >/dev/null || skip "clang/clang++ not installed (apt-get install clang libclang-rt-14-dev)"
mkdir -p "$build"
probe="$build/probe"
if [[ ! -x $probe ]]; then
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$build/probe.cpp"
  clang++ -fsanitize=fuzzer,address,undefined "$build/probe.cpp" -o "$probe" >"$build/probe.log" 2>&1 ||
    skip "clang cannot link a libFuzzer program (libclang-rt-14-dev missing?): $(tail -1 "$build/probe.log")"
fi

# One configure+build at a time (ctest runs the targets in parallel).
(
  flock 9
  if [[ ! -f $build/CMakeCache.txt ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    CC=clang CXX=clang++ cmake -S "$here" -B "$build" "${generator[@]}" >/dev/null
  fi
  cmake --build "$build" -j"$(nproc)"
) 9>"$build/.lock"

status=0
for t in "${targets[@]}"; do
  bin="$build/fuzz_$t"
  [[ -x $bin ]] || { echo "unknown fuzz target '$t' (idx, config, options)"; exit 2; }
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp "$here/../corpus/$t/"* "$corpus/"
  export TMPDIR="$build/tmp/$t"   # the targets' scratch files; a killed run leaves them here
  rm -rf "$TMPDIR"
  mkdir -p "$TMPDIR"
  dict=()
  [[ -f $here/$t.dict ]] && dict=(-dict="$here/$t.dict")
  echo "== fuzz_$t for ${secs} s (corpus copy $corpus, crashes to $artifacts/)"
  if ! "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" > "$build/fuzz_$t.log" 2>&1; then
    status=1
    echo "FAIL: fuzz_$t found a problem; reproduce with: $bin <artifact>"
    grep -E "ERROR|FINDING|SUMMARY|Test unit written|==[0-9]+==|runtime error" "$build/fuzz_$t.log" | head -20 || true
    tail -5 "$build/fuzz_$t.log"
  else
    grep -E "^stat::number_of_executed_units|^Done" "$build/fuzz_$t.log" || true
    echo "ok: fuzz_$t"
  fi
done
exit $status
