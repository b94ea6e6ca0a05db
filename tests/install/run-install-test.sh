#!/usr/bin/env bash
# fedhpc as an installed library: installs the build tree <build-dir> into a
# temporary prefix, builds the out-of-tree example <example-dir> against it
# with find_package(fedhpc), and runs it at 2 ranks with the aggregator it
# registers ("geomedian").
#   tests/install/run-install-test.sh <build-dir> [<example-dir>]
# Environment: CMAKE (default cmake), FEDHPC_MPIEXEC (default mpirun),
# FEDHPC_KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_root=$(cd "$here/../.." && pwd)
build_dir=$(cd "${1:?usage: run-install-test.sh <build-dir> [<example-dir>]}" && pwd)
example_dir=$(cd "${2:-$here/custom-aggregator}" && pwd)
cmake=${CMAKE:-cmake}
mpiexec=${FEDHPC_MPIEXEC:-mpirun}
# shellcheck source=../../cmake/mpi-env.sh
source "$source_root/cmake/mpi-env.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fedhpc-install-test.XXXXXX")
if [[ ${FEDHPC_KEEP_TMP:-0} == 1 ]]; then
  echo "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
step() { printf '== %s (%ds)\n' "$*" "$SECONDS"; }

step "install $build_dir into $tmp/prefix"
"$cmake" --install "$build_dir" --prefix "$tmp/prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; exit 1; }
for f in lib/cmake/fedhpc/fedhpcConfig.cmake lib/cmake/fedhpc/fedhpcConfigVersion.cmake \
         lib/cmake/fedhpc/fedhpcTargets.cmake include/fedhpc/cli/main.hpp \
         include/fedhpc/core/version.hpp bin/fedhpc bin/fedhpc-plot; do
  [[ -e $tmp/prefix/$f ]] || { echo "FAIL: not installed: $f"; exit 1; }
done

step "configure and build the example against the installed package"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
"$cmake" -S "$example_dir" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${launcher[@]}"
"$cmake" --build "$tmp/build"
binary=$tmp/build/fedhpc-geomedian

step "run at 2 ranks with --aggregator geomedian"
"$mpiexec" --oversubscribe --bind-to none -n 2 "$binary" run --aggregator geomedian \
  --dataset synthetic --synthetic-train-samples 600 --synthetic-test-samples 100 --synthetic-side 12 \
  --clients 5 --rounds 2 --model mlp --save-weights global --output "$tmp/g.h5"
[[ -s $tmp/g.h5 ]] || { echo "FAIL: no output file $tmp/g.h5"; exit 1; }
h5dump -H "$tmp/g.h5" >"$tmp/g.header" || { echo "FAIL: h5dump -H $tmp/g.h5"; exit 1; }
# The run's aggregator is recorded as a root attribute where the writer has it.
if h5dump -a /aggregator "$tmp/g.h5" >"$tmp/g.aggregator" 2>/dev/null; then
  grep -q geomedian "$tmp/g.aggregator" || { echo "FAIL: /aggregator is not geomedian:"; cat "$tmp/g.aggregator"; exit 1; }
  echo "/aggregator = geomedian"
fi

step "the same run at 1 rank gives the same global weights"
"$mpiexec" --oversubscribe --bind-to none -n 1 "$binary" run --aggregator geomedian \
  --dataset synthetic --synthetic-train-samples 600 --synthetic-test-samples 100 --synthetic-side 12 \
  --clients 5 --rounds 2 --model mlp --save-weights global --output "$tmp/g1.h5" >/dev/null
h5diff -q "$tmp/g.h5" "$tmp/g1.h5" /global/weights /global/weights ||
  { echo "FAIL: /global/weights differ between 2 ranks and 1 rank"; exit 1; }

step "an unknown aggregator is still refused (exit 2)"
set +e
"$mpiexec" --oversubscribe --bind-to none -n 1 "$binary" run --aggregator no-such-aggregator \
  --dataset synthetic --output "$tmp/bad.h5" 2>"$tmp/bad.err"
rc=$?
set -e
[[ $rc == 2 ]] || { echo "FAIL: exit $rc for an unknown aggregator"; cat "$tmp/bad.err"; exit 1; }
grep -q "geomedian" "$tmp/bad.err" || { echo "FAIL: allowed list lacks geomedian:"; cat "$tmp/bad.err"; exit 1; }

step "PASS"
