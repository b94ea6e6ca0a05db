#!/usr/bin/env bash
# fedhpc against its Python peer (benchmarks/peer_pytorch.py: one reused
# nn.Module, clients in sequence, state dicts averaged, as Flower/FedML
# simulations run them) on the same machine, interleaved repeats
# (fedhpc 1 rank, fedhpc 2 ranks, peer; again ...), medians and ratios.
#
#   benchmarks/compare_peer.sh [--repeats N] [--workload quickstart|logreg|all]
#                              [--build DIR] [-- extra fedhpc run options]
#
# Workloads:
#  quickstart  jobs/configs/quickstart.ini (10 IID clients, 6000 Fashion-MNIST
#              samples, 20 % local test splits, seed-cnn, Adam, batch 16, 5 rounds,
#              per-tensor clip 1). Compared: end-to-end wall time of the whole
#              process (mpirun + fedhpc incl. the HDF5 file; python incl. import
#              torch and data loading), and the rounds alone (fedhpc: the sum
#              of /timing/round_seconds, the slowest rank; peer: its own clock).
#              Both evaluate the initial model and, every round, the 10,000 test
#              samples and every client's local test split.
#  logreg      logreg 784->10 on Fashion-MNIST (60,000 samples), 1000 IID clients
#              x 5 SGD steps of batch 10 per round, 3 rounds, no local test split,
#              1000 global test samples evaluated per round. Figure: microseconds
#              per client-step over the whole rounds (training, aggregation,
#              evaluation) = rounds' seconds / (rounds x 1000 x 5); fedhpc's
#              rounds' seconds are the sum of /timing/round_seconds (setup and
#              file writing excluded, as the peer's are).
# Extra fedhpc options after `--` go to every fedhpc run (e.g. --client-batch);
# the peer does not see them. Needs /usr/bin/python3 with python3-torch and
# python3-h5py (installed with apt-get when torch is missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
repeats=3
workload=all
build="$root/build-release"
extra=()
while (($#)); do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --workload) workload="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "compare_peer.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
fedhpc="$build/src/fedhpc"
[[ -x $fedhpc ]] || { echo "compare_peer.sh: no $fedhpc (build first)" >&2; exit 2; }
python=/usr/bin/python3
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "== installing python3-torch (the peer's PyTorch)"
  sudo_cmd=()
  [[ $EUID -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq python3-torch python3-h5py >/dev/null
fi
# shellcheck source=../cmake/mpi-env.sh
source "$root/cmake/mpi-env.sh"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fedhpc-peer.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.tsv"

load() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
round_seconds() {  # sum of /timing/round_seconds of an output file
  "$python" -c 'import h5py,sys; print("%.4f" % h5py.File(sys.argv[1])["timing/round_seconds"][...].sum())' "$1"
}

# run_fedhpc WORKLOAD RANKS REPEAT FEDHPC-ARGS...
run_fedhpc() {
  local w=$1 n=$2 r=$3; shift 3
  local out="$tmp/$w-np$n.h5" before t0 t1 wall rounds
  before=$(load)
  t0=$(now)
  mpirun -n "$n" --oversubscribe "$fedhpc" run "$@" --output "$out" --overwrite --quiet "${extra[@]}" \
    >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  t1=$(now)
  wall=$(echo "$t1 - $t0" | bc -l)
  rounds=$(round_seconds "$out")
  printf '%s\tfedhpc_np%s\t%s\t%.3f\t%s\t%s\n' "$w" "$n" "$r" "$wall" "$rounds" "$before" >>"$results"
  printf '%-10s rep %s  fedhpc -n %s  wall %7.2f s  rounds %7.2f s  load %s\n' "$w" "$r" "$n" "$wall" "$rounds" "$before"
}

# run_peer WORKLOAD REPEAT PEER-ARGS...
run_peer() {
  local w=$1 r=$2; shift 2
  local before t0 t1 wall rounds
  before=$(load)
  t0=$(now)
  "$python" "$here/peer_pytorch.py" "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  t1=$(now)
  wall=$(echo "$t1 - $t0" | bc -l)
  rounds=$(sed -n 's/.* rounds_s=\([0-9.]*\).*/\1/p' "$tmp/log")
  printf '%s\tpeer\t%s\t%.3f\t%s\t%s\n' "$w" "$r" "$wall" "$rounds" "$before" >>"$results"
  printf '%-10s rep %s  peer (python)  wall %7.2f s  rounds %7.2f s  load %s\n' "$w" "$r" "$wall" "$rounds" "$before"
}

quickstart_fedhpc=(--config "$root/jobs/configs/quickstart.ini")
quickstart_peer=(--model seed-cnn --clients 10 --max-train-samples 6000 --local-test-fraction 0.2 --rounds 5
  --optimizer adam --lr 0.001 --batch-size 16 --clip-norm 1 --leaky-slope 0.3)
logreg_common=(--model logreg --clients 1000 --local-test-fraction 0 --batch-size 10 --iteration-steps 5
  --local-iterations 1 --rounds 3 --optimizer sgd --lr 0.05 --clip-norm 0 --max-test-samples 1000)
logreg_fedhpc=(--dataset fashion-mnist --partition iid "${logreg_common[@]}")

echo "# compare_peer.sh $(date -u +%FT%TZ) $(lscpu | sed -n 's/^Model name: *//p') nproc=$(getconf _NPROCESSORS_ONLN) repeats=$repeats extra=[${extra[*]}]"
for r in $(seq 1 "$repeats"); do
  if [[ $workload == all || $workload == quickstart ]]; then
    run_fedhpc quickstart 1 "$r" "${quickstart_fedhpc[@]}"
    run_fedhpc quickstart 2 "$r" "${quickstart_fedhpc[@]}"
    run_peer quickstart "$r" "${quickstart_peer[@]}"
  fi
  if [[ $workload == all || $workload == logreg ]]; then
    run_fedhpc logreg 1 "$r" "${logreg_fedhpc[@]}"
    run_fedhpc logreg 2 "$r" "${logreg_fedhpc[@]}"
    run_peer logreg "$r" "${logreg_common[@]}"
  fi
done

# Medians per workload and side; ratios peer / fedhpc (> 1: fedhpc is faster).
"$python" - "$results" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
for w in dict.fromkeys(r[0] for r in rows):
    med = {}
    for side in ("fedhpc_np1", "fedhpc_np2", "peer"):
        sel = [r for r in rows if r[0] == w and r[1] == side]
        med[side] = (statistics.median(float(r[3]) for r in sel), statistics.median(float(r[4]) for r in sel),
                     statistics.median(float(r[5]) for r in sel))
    p = med["peer"]
    for side in ("fedhpc_np1", "fedhpc_np2"):
        f = med[side]
        if w == "logreg":
            steps = 3 * 1000 * 5
            print(f"{w} {side}: us_per_client_step fedhpc={1e6 * f[1] / steps:.1f} peer={1e6 * p[1] / steps:.1f} "
                  f"ratio={p[1] / f[1]:.2f}  wall fedhpc={f[0]:.2f}s peer={p[0]:.2f}s ratio={p[0] / f[0]:.2f}  "
                  f"median load fedhpc={f[2]:.2f} peer={p[2]:.2f}")
        else:
            print(f"{w} {side}: wall fedhpc={f[0]:.2f}s peer={p[0]:.2f}s ratio={p[0] / f[0]:.2f}  "
                  f"rounds fedhpc={f[1]:.2f}s peer={p[1]:.2f}s ratio={p[1] / f[1]:.2f}  "
                  f"median load fedhpc={f[2]:.2f} peer={p[2]:.2f}")
EOF
