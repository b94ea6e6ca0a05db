#!/usr/bin/python3
"""The run file describes itself (README, "HDF5 output"): every dataset has
`dims` (one name per axis) and, where it applies, `units`; strings read as
str in h5py; the stored config loads in Python's configparser and, written
back by configparser, reruns bit for bit; fedhpc_version names the commit.

Runs the fedhpc binary (FEDHPC_BINARY) on tiny synthetic runs, one rank."""
import configparser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

BINARY = os.environ.get("FEDHPC_BINARY", "build-release/src/fedhpc")
CMAKE = os.environ.get("CMAKE", "cmake")
SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SMALL = ["--dataset", "synthetic", "--synthetic-train-samples", "240", "--synthetic-test-samples", "60",
         "--synthetic-side", "12", "--model", "mlp", "--hidden", "8", "--clients", "6", "--rounds", "2",
         "--local-iterations", "2", "--lr", "0.3", "--quiet", "--overwrite"]
# Every topology, with every optional dataset somewhere.
RUNS = {
    "clustered": ["--topology", "clustered", "--monitor", "every", "--save-weights", "clients",
                  "--save-gradients", "--cluster-min-size", "2"],
    "hierarchical": ["--topology", "hierarchical", "--edges", "2", "--monitor", "last"],
    "ring": ["--topology", "ring", "--rings", "2"],
    "gossip": ["--topology", "gossip", "--save-weights", "none", "--concept-shift", "2"],
    "centralized": ["--topology", "centralized", "--aggregator", "fedgma"],
}
UNITS = {"seconds", "bytes", "nats", "fraction", "clients", "clusters"}
VERSION = re.compile(r"^\d+\.\d+\.\d+\+git\.([0-9a-f]{7,}(-\d+-g[0-9a-f]+)?|v?[\w.-]+|unknown)(\.dirty)?$")


def run(*args):
    done = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"fedhpc {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


class SelfDescribing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fedhpc-selfdesc-")
        cls.files = {}
        for name, extra in RUNS.items():
            path = os.path.join(cls.tmp.name, f"{name}.h5")
            run("run", *SMALL, *extra, "--output", path)
            cls.files[name] = path
        # Client tiers (a centralized FedAvg run; kept out of RUNS, whose keys are the topologies).
        cls.tiers_file = os.path.join(cls.tmp.name, "tiers.h5")
        run("run", *SMALL, "--client-tiers", "strong:0.5,weak:0.5", "--output", cls.tiers_file)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def each_dataset(self, f):
        found = []
        f.visititems(lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        self.assertGreater(len(found), 10)
        return found

    def test_every_dataset_names_its_axes(self):
        for topology, path in self.files.items():
            with h5py.File(path, "r") as f:
                rounds = int(f.attrs["rounds"])
                for name, ds in self.each_dataset(f):
                    with self.subTest(topology=topology, dataset=name):
                        self.assertIn("dims", ds.attrs)
                        dims = ds.attrs["dims"]
                        self.assertIsInstance(dims, str)
                        axes = dims.split(",")
                        self.assertEqual(len(axes), ds.ndim, dims)
                        self.assertTrue(all(re.fullmatch(r"[a-z_]+", a) for a in axes), dims)
                        if "units" in ds.attrs:
                            self.assertIn(ds.attrs["units"], UNITS)
                        if axes[0] == "round":
                            first = int(ds.attrs["first_round"])
                            self.assertEqual(ds.shape[0], rounds + 1 - first)
                        else:
                            self.assertNotIn("first_round", ds.attrs)

    def test_units_where_they_apply(self):
        with h5py.File(self.files["clustered"], "r") as f:
            expected = {"timing/round_seconds": "seconds", "timing/phases": "seconds", "comm/bytes": "bytes",
                        "timing/peak_rss_bytes": "bytes", "clients/train_loss": "nats",
                        "global/test_loss": "nats", "global/test_accuracy": "fraction"}
            self.assertEqual(f["timing/phases"].attrs["dims"], "round,phase")
            for name, units in expected.items():
                self.assertEqual(f[name].attrs["units"], units, name)
            self.assertEqual(f["clients/train_loss"].attrs["dims"], "round,iteration,client")
            self.assertEqual(f["clients/gsc_profile"].attrs["dims"], "round,monitored_iteration,client,weight_layer")
            self.assertNotIn("units", f["clients/gsc"].attrs)

    def test_fedgma_mask_is_described(self):
        with h5py.File(self.files["centralized"], "r") as f:
            mask = f["fedgma/mask_fraction"]
            self.assertEqual(mask.attrs["dims"], "round,layer")
            self.assertEqual(mask.attrs["units"], "fraction")
            self.assertEqual(mask.shape[1], f["model/layer_names"].shape[0])

    def test_client_tiers_are_described(self):
        with h5py.File(self.tiers_file, "r") as f:
            tier = f["clients/tier"]
            self.assertEqual(tier.attrs["dims"], "client")
            self.assertEqual(tier.attrs["names"], "strong,moderate,weak")
            self.assertEqual(tier.shape, (6,))
            cost = f["clients/tier_cost"]
            self.assertEqual(cost.attrs["dims"], "tier,cost")
            self.assertEqual(cost.attrs["columns"], "trained_weight_layers,flops,activation_bytes")
            self.assertEqual(cost.shape, (3, 3))
            self.assertEqual(list(cost[:, 0]), [2.0, 2.0, 1.0])  # mlp: strong all 2, moderate 2, weak 1

    def test_level_and_phase_names_sit_on_their_datasets(self):
        with h5py.File(self.files["hierarchical"], "r") as f:
            levels = list(f["comm/bytes"].attrs["level_names"])
            self.assertEqual(levels, ["client_server", "client_edge", "edge_server", "ring_hop", "gossip"])
            self.assertEqual(len(levels), f["comm/bytes"].shape[1])
            self.assertTrue(all(isinstance(n, str) for n in levels))
            self.assertEqual(len(f["timing/phases"].attrs["names"]), f["timing/phases"].shape[1])

    def test_client_labels_concept_groups_and_gossip_graph_are_stored(self):
        for topology, path in self.files.items():
            with h5py.File(path, "r") as f:
                for split in ("train", "test"):
                    labels, indices = f[f"data/{split}_labels"][...], f[f"data/{split}_indices"][...]
                    self.assertEqual(labels.shape, indices.shape)
                    self.assertTrue(np.all((labels >= 0) & (labels < int(f["data"].attrs["num_classes"]))))
                self.assertGreater(len(np.unique(f["data/train_labels"][...])), 1)
                self.assertEqual("concept_group" in f["clients"], topology == "gossip")
        with h5py.File(self.files["gossip"], "r") as f:  # 6 clients, --concept-shift 2, ring graph
            self.assertEqual(sorted(f["clients/concept_group"][...]), [0, 0, 0, 1, 1, 1])
            maps = f["clients/concept_label_maps"][...]
            self.assertEqual(maps.shape, (2, 10))
            self.assertEqual(list(maps[0]), list(range(10)))
            self.assertEqual(sorted(maps[1]), list(range(10)))
            self.assertNotEqual(list(maps[1]), list(range(10)))
            offsets, neighbours = f["topology/gossip_offsets"][...], f["topology/gossip_neighbours"][...]
            self.assertEqual(list(offsets), [0, 2, 4, 6, 8, 10, 12])
            graph = {c: set(neighbours[offsets[c]:offsets[c + 1]]) for c in range(6)}
            for c in range(6):
                self.assertEqual(graph[c], {(c - 1) % 6, (c + 1) % 6})

    def test_monitored_iterations_count_from_zero(self):
        with h5py.File(self.files["clustered"], "r") as f:
            self.assertEqual(int(f["clients"].attrs["monitored_iterations_base"]), 0)
            self.assertEqual(list(f["clients"].attrs["monitored_iterations"]), [0, 1])
        with h5py.File(self.files["hierarchical"], "r") as f:  # --monitor last, 2 local iterations
            self.assertEqual(list(f["clients"].attrs["monitored_iterations"]), [1])

    def test_strings_read_as_str(self):
        with h5py.File(self.files["clustered"], "r") as f:
            for name in ("fedhpc_version", "config", "status", "blas", "aggregator"):
                self.assertIsInstance(f.attrs[name], str, name)
            self.assertIsInstance(f["topology"].attrs["kind"], str)
            self.assertIsInstance(f["data"].attrs["dataset"], str)
            for name in ("model/layer_names", "model/weight_layers"):
                info = h5py.check_string_dtype(f[name].dtype)
                self.assertEqual(info.encoding, "utf-8", name)
                self.assertTrue(all(isinstance(s, str) for s in f[name].asstr()[...]), name)

    def test_version_names_the_commit(self):
        printed = run("version").strip()
        self.assertTrue(printed.startswith("fedhpc "), printed)
        version = printed[len("fedhpc "):]
        self.assertRegex(version, VERSION)
        with h5py.File(self.files["ring"], "r") as f:
            self.assertEqual(f.attrs["fedhpc_version"], version)

    def version_of_sources_in(self, source, ceiling):
        out = os.path.join(ceiling, "v.cpp")
        subprocess.run([CMAKE, f"-DSOURCE_DIR={source}", f"-DOUT={out}", "-DVERSION=9.8.7",
                        "-P", os.path.join(SOURCE_DIR, "cmake", "git-version.cmake")],
                       check=True, capture_output=True, env={**os.environ, "GIT_CEILING_DIRECTORIES": ceiling})
        with open(out) as text:
            return text.read()

    def test_version_outside_a_git_checkout_is_unknown(self):
        with tempfile.TemporaryDirectory() as bare:
            self.assertIn('"9.8.7+git.unknown"', self.version_of_sources_in(bare, bare))

    @unittest.skipUnless(shutil.which("git"), "git is not installed")
    def test_version_of_sources_unpacked_inside_another_repository_is_unknown(self):
        with tempfile.TemporaryDirectory() as outer:
            subprocess.run(["git", "init", "-q", outer], check=True, capture_output=True)
            inner = os.path.join(outer, "fedhpc-0.1.0")
            os.makedirs(inner)
            self.assertIn('"9.8.7+git.unknown"', self.version_of_sources_in(inner, os.path.dirname(outer)))

    def test_config_loads_in_configparser_with_shortest_floats(self):
        for topology, path in self.files.items():
            with h5py.File(path, "r") as f:
                text = f.attrs["config"]
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(text)
            self.assertEqual(parser.sections(), ["run"])
            self.assertEqual(parser["run"]["topology"], topology)
            self.assertEqual(parser["run"]["lr"], "0.3")
            for key, value in parser["run"].items():
                with self.subTest(topology=topology, key=key):
                    try:
                        number = float(value)
                    except ValueError:
                        continue
                    if np.isfinite(number) and not re.fullmatch(r"-?\d+", value):
                        self.assertLessEqual(len(value), len(repr(number)) + 1, value)  # 0.3, not 0.29999999999999999

    def test_config_written_by_configparser_reruns_bit_for_bit(self):
        first = self.files["clustered"]
        with h5py.File(first, "r") as f:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read_string(f.attrs["config"])
            weights = f["clients/weights"][...]
        ini = os.path.join(self.tmp.name, "from-configparser.ini")
        with open(ini, "w") as out:
            parser.write(out)
        second = os.path.join(self.tmp.name, "rerun.h5")
        run("run", "--config", ini, "--output", second, "--overwrite")
        with h5py.File(second, "r") as f:
            self.assertTrue(np.array_equal(f["clients/weights"][...].view(np.uint32), weights.view(np.uint32)))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
