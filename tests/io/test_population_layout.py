#!/usr/bin/python3
"""The participants layout of --dataset synthetic-population (README, "Per-client
datasets of large populations"): /clients/round_clients [R, m] names the columns
of the per-client datasets, every dataset still describes itself, and the
README's h5py snippet for one client's history returns what the file holds.

Runs the fedhpc binary (FEDHPC_BINARY) on a small population, one rank."""
import os
import re
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BINARY = os.environ.get("FEDHPC_BINARY", "build-release/src/fedhpc")
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
N, M, ROUNDS, ITERATIONS = 300, 30, 4, 2


def readme_snippet():
    """The README's python block that starts with the history marker."""
    text = open(README, encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    marked = [b for b in blocks if b.startswith("# one client's history")]
    assert len(marked) == 1, "README must hold exactly one client-history snippet"
    return marked[0]


class PopulationLayout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fedhpc-population-")
        cls.path = os.path.join(cls.tmp.name, "pop.h5")
        done = subprocess.run([BINARY, "run", "--dataset", "synthetic-population", "--model", "logreg",
                               "--clients", str(N), "--participation", str(M / N), "--rounds", str(ROUNDS),
                               "--local-iterations", str(ITERATIONS), "--lr", "0.01", "--quiet",
                               "--output", cls.path], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"fedhpc failed ({done.returncode}): {done.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_columns_are_the_rounds_participants(self):
        with h5py.File(self.path, "r") as f:
            self.assertEqual(f["clients"].attrs["layout"], "participants")
            self.assertNotIn("participated", f["clients"])
            ids = f["clients/round_clients"][...]
            self.assertEqual(ids.shape, (ROUNDS, M))
            self.assertEqual(f["clients/train_loss"].shape, (ROUNDS, ITERATIONS, M))
            self.assertEqual(f["clients/local_test_loss"].shape, (ROUNDS, M))
            for row in ids:
                self.assertTrue(np.all(np.diff(row) > 0))      # ascending, distinct
                self.assertTrue(np.all((row >= 0) & (row < N)))
            self.assertFalse(np.isnan(f["clients/train_loss"][...]).any())
            self.assertEqual(f["data/train_offsets"].shape, (N + 1,))

    def test_every_dataset_names_its_axes(self):
        with h5py.File(self.path, "r") as f:
            def check(name, obj):
                if isinstance(obj, h5py.Dataset):
                    dims = obj.attrs["dims"].split(",")
                    self.assertEqual(len(dims), obj.ndim, name)
                    if name.startswith("clients/") and "first_round" in obj.attrs and name != "clients/faulty":
                        self.assertIn("participant", dims, name)
            f.visititems(check)

    def test_readme_snippet_gets_one_clients_history(self):
        scope = {}
        code = readme_snippet().replace('print(client_history("pop.h5", 123))', "")
        exec(compile(code, "README snippet", "exec"), scope)
        with h5py.File(self.path, "r") as f:
            ids = f["clients/round_clients"][...]
            loss = f["clients/train_loss"][...]
            acc = f["clients/local_test_accuracy"][...]
        seen = 0
        for client in sorted(set(ids.ravel().tolist()))[:12] + [N - 1]:
            rounds, losses, accuracies = scope["client_history"](self.path, client)
            expected = [r + 1 for r in range(ROUNDS) if client in ids[r]]
            self.assertEqual(rounds, expected)
            for r, l, a in zip(rounds, losses, accuracies):
                j = list(ids[r - 1]).index(client)
                self.assertEqual(l, float(loss[r - 1, -1, j]))
                self.assertEqual(a, float(acc[r - 1, j]))
            seen += len(rounds)
        self.assertGreater(seen, 12)

    def test_resume_after_kill_gives_the_same_file(self):
        """kill -9 inside round 3, then --resume: every per-round dataset of
        the participants layout equals the uninterrupted run's."""
        path = os.path.join(self.tmp.name, "killed.h5")
        args = [BINARY, "run", "--dataset", "synthetic-population", "--model", "logreg", "--clients", str(N),
                "--participation", str(M / N), "--rounds", str(ROUNDS), "--local-iterations", str(ITERATIONS),
                "--lr", "0.01", "--quiet", "--output", path]
        env = dict(os.environ, FEDHPC_TEST_KILL_AT="3:train")
        killed = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
        self.assertNotEqual(killed.returncode, 0)
        self.assertFalse(os.path.exists(path))
        done = subprocess.run([BINARY, "run", "--resume", "--quiet", "--output", path], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        with h5py.File(self.path, "r") as a, h5py.File(path, "r") as b:
            for name in ["global/weights", "global/test_loss", "global/aggregated_loss", "clients/round_clients",
                         "clients/train_loss", "clients/local_test_loss", "clients/local_test_accuracy",
                         "clients/dropped", "clients/nonfinite"]:
                self.assertEqual(a[name][...].tobytes(), b[name][...].tobytes(), name)


if __name__ == "__main__":
    unittest.main()
