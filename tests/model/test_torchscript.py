#!/usr/bin/python3
"""--model torchscript:FILE.pt (README, "Your own model").

- The seed CNN exported from Python (jobs/models/export_seed_cnn.py) with a
  seed-cnn run's initial weights trains like the built-in seed-cnn: the same
  initial model bit for bit, and after each of 2 rounds the global weights
  within 1e-4 of the built-in's (relative L2 norm; the built-in convolves
  in channels-last memory order, so the sums round differently).
- A TorchScript run is bit-identical at 1, 2 and 4 ranks (hierarchical,
  monitoring every iteration), and at 1 and 2 ranks on centralized, ring,
  clustered and gossip (monitoring the last iteration).
- A traced nn.Sequential trains; its layer table is its named_parameters.
- The example ConvNet (jobs/models/export_convnet.py) trains on ring.
- Bad files are one line naming --model and the file, exit 2.

Needs /usr/bin/python3 with torch (Debian python3-torch, in
cmake/setup-debian.sh) and h5py; FEDHPC_BINARY, FEDHPC_MPIEXEC from ctest."""
import os
import subprocess
import sys
import tempfile
import unittest

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("test_torchscript needs torch for /usr/bin/python3: apt-get install python3-torch "
             "(cmake/setup-debian.sh installs it)")
import h5py
import numpy as np

BINARY = os.environ.get("FEDHPC_BINARY", "build-release/src/fedhpc")
MPIEXEC = os.environ.get("FEDHPC_MPIEXEC", "mpirun")
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXPORT = os.path.join(SOURCE_DIR, "jobs", "models", "export_seed_cnn.py")
# Fashion-MNIST, plain SGD: Adam divides by the root of tiny second moments
# and lets the channels-last rounding grow faster (2.7e-4 after 2 rounds).
EQUIVALENCE = ["--max-train-samples", "800", "--max-test-samples", "200", "--clients", "4", "--rounds", "2",
               "--local-iterations", "2", "--iteration-steps", "4", "--batch-size", "32", "--optimizer", "sgd",
               "--lr", "0.02", "--quiet", "--overwrite"]
SMALL = ["--dataset", "synthetic", "--synthetic-train-samples", "300", "--synthetic-test-samples", "60",
         "--clients", "5", "--rounds", "2", "--local-iterations", "2", "--quiet", "--overwrite"]


def fedhpc(*args, ranks=1):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", BINARY, "run", *args] if ranks > 1 else [BINARY, "run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def run_ok(*args, ranks=1):
    done = fedhpc(*args, ranks=ranks)
    if done.returncode != 0:
        raise AssertionError(f"fedhpc run {' '.join(args)} at {ranks} ranks failed ({done.returncode}): {done.stderr}")


def export(*args):
    subprocess.run(["/usr/bin/python3", EXPORT, *args], check=True, capture_output=True, timeout=120)


def relative(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(a.astype(np.float64)))


class TorchScriptModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fedhpc-torchscript-")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_matches_built_in_seed_cnn(self):
        builtin, model, scripted = self.path("seed.h5"), self.path("seed_cnn.pt"), self.path("scripted.h5")
        run_ok(*EQUIVALENCE, "--model", "seed-cnn", "--output", builtin)
        export(model, "--init-from", builtin, "--init-round", "0")
        run_ok(*EQUIVALENCE, "--model", f"torchscript:{model}", "--output", scripted)
        with h5py.File(builtin) as a, h5py.File(scripted) as b:
            self.assertEqual(list(a["model/layer_names"].asstr()[()]), list(b["model/layer_names"].asstr()[()]))
            np.testing.assert_array_equal(a["model/layer_offsets"][()], b["model/layer_offsets"][()])
            wa, wb = a["global/weights"][()], b["global/weights"][()]
            self.assertEqual(wa.shape, (3, 34826))
            np.testing.assert_array_equal(wa[0], wb[0])  # the exported initial model
            for r in (1, 2):
                self.assertLess(relative(wa[r], wb[r]), 1e-4, f"global weights after round {r}")
            self.assertFalse(np.array_equal(wa[2], wa[0]), "the runs trained")
            np.testing.assert_allclose(a["global/test_loss"][()], b["global/test_loss"][()], rtol=1e-4)

    def test_rank_invariant_with_monitoring(self):
        model = self.path("rank_cnn.pt")
        export(model, "--seed", "3")
        args = [*SMALL, "--model", f"torchscript:{model}", "--topology", "hierarchical", "--edges", "2",
                "--monitor", "every"]
        files = {n: self.path(f"ranks{n}.h5") for n in (1, 2, 4)}
        for n, out in files.items():
            run_ok(*args, "--output", out, ranks=n)
        with h5py.File(files[1]) as ref:
            self.assertTrue(np.isfinite(ref["clients/gsc"][()]).all(), "the GSC needs only the input gradient")
            self.assertTrue(np.isnan(ref["clients/gsc_profile"][()]).all(), "no per-layer taps")
            self.assertTrue(np.isfinite(ref["clients/grad_l2"][()]).all(), "per-layer gradients")
            for n in (2, 4):
                with h5py.File(files[n]) as other:
                    def same(name, obj):
                        if isinstance(obj, h5py.Dataset) and not name.startswith("timing") and obj.dtype.kind in "fiu":
                            np.testing.assert_array_equal(obj[()], other[name][()], err_msg=f"{name} at {n} ranks")
                    ref.visititems(same)

    def test_every_topology_rank_invariant(self):
        """The other four topologies, with monitoring, at 1 and 2 ranks (hierarchical: above, also 4)."""
        model = self.path("topo_cnn.pt")
        export(model, "--seed", "4")
        for topology in (["centralized"], ["ring", "--rings", "2"], ["clustered", "--cluster-min-size", "2"],
                         ["gossip"]):
            args = [*SMALL, "--model", f"torchscript:{model}", "--topology", *topology, "--monitor", "last"]
            files = {n: self.path(f"{topology[0]}-ranks{n}.h5") for n in (1, 2)}
            for n, out in files.items():
                run_ok(*args, "--output", out, ranks=n)
            with h5py.File(files[1]) as ref, h5py.File(files[2]) as other:
                self.assertTrue(np.isfinite(ref["global/weights"][()]).all(), topology[0])
                self.assertFalse(np.array_equal(ref["global/weights"][-1], ref["global/weights"][0]), topology[0])

                def same(name, obj):
                    if isinstance(obj, h5py.Dataset) and not name.startswith("timing") and obj.dtype.kind in "fiu":
                        np.testing.assert_array_equal(obj[()], other[name][()],
                                                      err_msg=f"{topology[0]}: {name} at 2 ranks")
                ref.visititems(same)

    def test_traced_sequential_trains(self):
        model = self.path("traced.pt")
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 10))
        torch.jit.trace(net.eval(), torch.zeros(2, 1, 28, 28)).save(model)
        out = self.path("traced.h5")
        run_ok(*SMALL, "--model", f"torchscript:{model}", "--seed", "7", "--output", out)
        with h5py.File(out) as f:
            names = list(f["model/layer_names"].asstr()[()])
            self.assertEqual(names, [n for n, _ in net.named_parameters()])
            self.assertEqual(list(f["model/weight_layers"].asstr()[()]), ["1.weight", "4.weight"])
            w = f["global/weights"][()]
            start = np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])
            np.testing.assert_array_equal(w[0], start)  # the module's weights, whatever --seed
            self.assertFalse(np.array_equal(w[-1], w[0]))
            self.assertTrue(np.isfinite(w).all())

    def test_example_convnet_trains(self):
        model, out = self.path("convnet.pt"), self.path("convnet.h5")
        subprocess.run(["/usr/bin/python3", os.path.join(SOURCE_DIR, "jobs", "models", "export_convnet.py"), model,
                        "--base-width", "4"], check=True, capture_output=True, timeout=120)
        run_ok(*SMALL, "--model", f"torchscript:{model}", "--topology", "ring", "--rings", "2", "--output", out)
        with h5py.File(out) as f:
            self.assertEqual(len(f["model/weight_layers"]), 8)  # 6 conv + 2 dense
            w = f["global/weights"][()]
            self.assertTrue(np.isfinite(w).all())
            self.assertFalse(np.array_equal(w[-1], w[0]))

    def test_bad_files(self):
        junk, empty, wrong = self.path("junk.pt"), self.path("empty.pt"), self.path("wrong.pt")
        with open(junk, "w") as f:
            f.write("not a zip archive\n")
        torch.jit.script(nn.Flatten()).save(empty)
        torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(784, 7))).save(wrong)
        cases = {
            self.path("missing.pt"): "cannot open the file",
            junk: "not a TorchScript archive",
            empty: "no parameters",
            wrong: "gave [2, 7], not [2, 10] logits",
        }
        for path, why in cases.items():
            done = fedhpc(*SMALL, "--model", f"torchscript:{path}", "--output", self.path("bad.h5"))
            self.assertEqual(done.returncode, 2, done.stderr)
            lines = done.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, done.stderr)
            self.assertIn(f"--model torchscript:{path}", lines[0])
            self.assertIn(why, lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
