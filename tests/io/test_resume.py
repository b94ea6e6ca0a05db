#!/usr/bin/python3
"""Checkpoint and resume (README, "Checkpoint and resume"): a run killed with
SIGKILL at several points, and one stopped by Slurm's warning signal
(SIGUSR1), continued with `fedhpc run --resume` after each, ends with a file
whose every dataset and attribute is bit for bit that of the same run left
alone. Every topology (and FedLAMA), at FEDHPC_TEST_RANKS ranks (1 or 2).

The kills come from the test-only hook FEDHPC_TEST_KILL_AT=ROUND:PHASE[:RANK
[:SIGNAL]]. One run of 5 rounds goes through five legs:
  1. SIGKILL in round 1 while its rows are being written (before the flush);
  2. SIGKILL in the middle of round 2 (trained and mixed, nothing written),
     at 2 ranks on rank 1, so one rank dies and Open MPI tears the job down;
     this leg runs with --checkpoint-every 2, so it leaves no checkpoint
     of its own and its file's config differs from the checkpoint's in
     that harmless option;
  3. SIGKILL in round 3 between writing the new checkpoint and renaming it
     over the old one (the old one must be used);
  4. SIGUSR1 while round 4 is written, with --checkpoint-every 3: the run
     stops before round 5, checkpoints round 4 itself, closes the file with
     status interrupted (moved to OUTPUT) and exits with 128 + 10;
  5. the resume that finishes it.
Leg 4 runs for centralized (adam server optimizer), gossip and fedlama.
Each resume must say which round it continues from. Ignored in the
comparison: the /timing datasets (wall times, peak memory) and the `output`
line of the stored config (the two runs write different files); nothing
else.
Also: resuming a finished run, or with an option that changes the result,
is an input error (exit 2, one line naming the option); and, at 2 ranks,
gossip's per-client rows, which the other ranks send to rank 0 for the
checkpoint, survive a rank killed half-way and resume on the other rank
count."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

BINARY = os.environ.get("FEDHPC_BINARY", "build-release/src/fedhpc")
MPIEXEC = os.environ.get("FEDHPC_MPIEXEC", "mpirun")
RANKS = int(os.environ.get("FEDHPC_TEST_RANKS", "1"))
SMALL = ["--dataset", "synthetic", "--synthetic-train-samples", "160", "--synthetic-test-samples", "40",
         "--synthetic-side", "6", "--model", "mlp", "--hidden", "4", "--clients", "4", "--rounds", "5",
         "--local-iterations", "2", "--lr", "0.3", "--save-weights", "clients"]
TOPOLOGIES = {
    "centralized": ["--topology", "centralized", "--server-optimizer", "adam", "--server-lr", "0.1"],
    "hierarchical": ["--topology", "hierarchical", "--edges", "2", "--monitor", "last", "--participation", "0.5"],
    "ring": ["--topology", "ring", "--rings", "2", "--dropout-rate", "0.3"],
    "clustered": ["--topology", "clustered", "--cluster-min-size", "2", "--recluster-every", "2"],
    "gossip": ["--topology", "gossip", "--dropout-rate", "0.3"],
    # FedLAMA: the intervals carry over rounds (one decision per round), and
    # with phi = 1 two decision rows per round are taken from the old file.
    "fedlama": ["--aggregator", "fedlama", "--lama-interval", "1", "--lama-phi", "2", "--participation", "0.5"],
    "fedlama-phi1": ["--aggregator", "fedlama", "--lama-interval", "1", "--lama-phi", "1", "--dropout-rate", "0.3"],
}
# Stopped by SIGUSR1 once (leg 4); the others go from leg 3 to leg 5.
SIGNALLED = ("centralized", "gossip", "fedlama")
IGNORED = ("/timing/",)


def command(args, ranks=RANKS):
    if ranks == 1:
        return [BINARY, "run", *args]
    return [MPIEXEC, "-n", str(ranks), "--oversubscribe", BINARY, "run", *args]


def run(args, kill_at=None, ranks=RANKS):
    env = dict(os.environ)
    # PMIx's munge security plugin retries a munge socket for ~2.4 s at
    # every start where munge is installed but not running; native is
    # enough on one machine.
    env.setdefault("PMIX_MCA_psec", "native")
    env.pop("FEDHPC_TEST_KILL_AT", None)
    if kill_at:
        env["FEDHPC_TEST_KILL_AT"] = kill_at
    return subprocess.run(command(args, ranks), capture_output=True, text=True, timeout=120, env=env)


def value(v):
    if isinstance(v, np.ndarray):
        return [str(x) for x in v.tolist()] if v.dtype == object else (str(v.dtype), v.tobytes())
    return v


def attributes(obj):
    out = {k: value(v) for k, v in obj.attrs.items()}
    if "config" in out:  # the two runs write to different names
        out["config"] = "\n".join(l for l in out["config"].splitlines() if not l.startswith("output = "))
    return out


def contents(path):
    """Every dataset's bytes, dtype and shape, and every attribute, by name."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = attributes(f)

        def visit(name, obj):
            key = "/" + name
            if isinstance(obj, h5py.Dataset):
                if key.startswith(IGNORED):
                    return
                out[key] = (str(obj.dtype), obj.shape, value(obj[()]), attributes(obj))
            else:
                out[key] = attributes(obj)

        f.visititems(visit)
    return out


class Resume(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedhpc-resume-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check_identical(self, reference, resumed, rank_counts_differ=False):
        a, b = contents(reference), contents(resumed)
        if rank_counts_differ:  # the file records the rank count of its last leg
            a["/"].pop("num_ranks"), b["/"].pop("num_ranks")
        self.assertEqual(sorted(a), sorted(b))
        for key in a:
            self.assertTrue(a[key] == b[key], f"{key} differs between the uninterrupted and the resumed run")

    def resumed(self, done, round_):
        self.assertIn(f"from round {round_}", done.stdout, done.stdout + done.stderr)

    def test_every_topology(self):
        for name, extra in TOPOLOGIES.items():
            with self.subTest(topology=name):
                self.kill_and_resume(name, SMALL + extra)

    def kill_and_resume(self, name, args):
        reference = os.path.join(self.dir, name + "-ref.h5")
        out = os.path.join(self.dir, name + ".h5")
        done = run(args + ["--output", reference])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertFalse(os.path.exists(reference + ".ckpt"), "a finished run keeps no checkpoint")
        resume = args + ["--output", out, "--resume"]
        # 1. killed while round 1's rows are written: the round-0 checkpoint.
        done = run(args + ["--output", out], kill_at="1:write")
        self.assertNotEqual(done.returncode, 0)
        self.assertTrue(os.path.exists(out + ".partial") and os.path.exists(out + ".ckpt"))
        # 2. killed mid-round (one rank of two dies), with a harmless
        # option changed and no checkpoint of its own yet.
        done = run(resume + ["--checkpoint-every", "2"], kill_at=f"2:train:{RANKS - 1}")
        self.assertNotEqual(done.returncode, 0)
        self.resumed(done, 0)
        # 3. killed between writing checkpoint 3 and renaming it: 2 stands.
        done = run(resume + ["--checkpoint-every", "1"], kill_at="3:checkpoint")
        self.assertNotEqual(done.returncode, 0)
        self.resumed(done, 0)
        last = 2
        if name in SIGNALLED:
            # 4. Slurm's warning signal while round 4 is written.
            done = run(resume + ["--checkpoint-every", "3"], kill_at="4:write:0:USR1")
            self.assertEqual(done.returncode, 128 + 10, done.stderr)
            self.resumed(done, 2)
            self.assertIn("continues it from round 4", done.stderr)
            with h5py.File(out, "r") as f:
                self.assertEqual(f.attrs["status"], "interrupted")
                self.assertEqual(f.attrs["rounds_completed"], 4)
            last = 4
        # 5. to the end (--checkpoint-every back to the reference's value).
        done = run(resume + ["--checkpoint-every", "1"])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.resumed(done, last)
        self.assertFalse(os.path.exists(out + ".partial") or os.path.exists(out + ".ckpt"))
        self.check_identical(reference, out)

    def test_rows_written_by_every_rank(self):
        """Gossip's checkpoint rows: each rank sends its own clients' rows to
        rank 0, which writes them as they come. A rank killed before sending
        them leaves the previous checkpoint; the file two ranks wrote equals
        one rank's bit for bit, and either continues on the other rank
        count."""
        if RANKS != 2:
            self.skipTest("needs the 2-rank run")
        args = SMALL + TOPOLOGIES["gossip"]
        reference = os.path.join(self.dir, "rows-ref.h5")
        done = run(args + ["--output", reference])
        self.assertEqual(done.returncode, 0, done.stderr)
        one, two = os.path.join(self.dir, "rows-np1.h5"), os.path.join(self.dir, "rows-np2.h5")
        done = run(args + ["--output", one], kill_at="3:start", ranks=1)
        self.assertNotEqual(done.returncode, 0)
        # Rank 1 dies with checkpoint 3 half written: checkpoint 2 stands.
        done = run(args + ["--output", two], kill_at="3:checkpoint-rows:1")
        self.assertNotEqual(done.returncode, 0)
        with h5py.File(one + ".ckpt", "r") as a, h5py.File(two + ".ckpt", "r") as b:
            self.assertEqual(a.attrs["round"], 2)
            self.assertEqual(b.attrs["round"], 2)
            rows = b["topology/client_rows"]
            self.assertEqual(rows.shape[0], 4)
            self.assertEqual(rows[()].tobytes(), a["topology/client_rows"][()].tobytes())
            self.assertEqual(b["global"][()].tobytes(), a["global"][()].tobytes())
        for out, ranks in ((one, 2), (two, 1)):
            done = run(args + ["--output", out, "--resume"], ranks=ranks)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.resumed(done, 2)
            self.check_identical(reference, out, rank_counts_differ=True)

    def test_options_that_change_the_result(self):
        if RANKS != 1:
            self.skipTest("input checks run at one rank only")
        args = SMALL + TOPOLOGIES["centralized"]
        out = os.path.join(self.dir, "options.h5")
        done = run(args + ["--output", out], kill_at="2:start")
        self.assertNotEqual(done.returncode, 0)
        done = run(args + ["--output", out, "--resume", "--seed", "5"])
        self.assertEqual(done.returncode, 2)
        self.assertIn("--seed:", done.stderr)
        self.assertEqual(len([l for l in done.stderr.splitlines() if l.startswith("fedhpc")]), 1, done.stderr)
        # The same options again, plus harmless ones, are fine.
        done = run(args + ["--output", out, "--resume", "--threads", "1", "--quiet"])
        self.assertEqual(done.returncode, 0, done.stderr)
        # A finished run cannot be resumed.
        done = run(args + ["--output", out, "--resume"])
        self.assertEqual(done.returncode, 2)
        self.assertRegex(done.stderr, "^fedhpc: error: --resume: .* is a finished run")
        # Nothing to resume.
        done = run(["--output", os.path.join(self.dir, "none.h5"), "--resume"])
        self.assertEqual(done.returncode, 2)
        self.assertIn("--resume:", done.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
