#!/usr/bin/python3
"""Tests of fedhpc-plot's error handling and of incomplete runs (plain unittest).

Builds its own small fedhpc-like HDF5 files with h5py, so it needs no C++ build.
    FEDHPC_PLOT     the script under test (default: src/app/fedhpc-plot of this tree)
    FEDHPC_PLOT_RUN a real fedhpc output file to plot as well (optional; those tests skip without it)
Run with /usr/bin/python3 (h5py, numpy, matplotlib). Ends with "N passed, N failed".
"""
import concurrent.futures
import contextlib
import importlib.machinery
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.environ.get("FEDHPC_PLOT") or os.path.join(HERE, "..", "..", "src", "app", "fedhpc-plot")
PREFIX = "fedhpc-plot: error: "

try:
    import h5py
    import numpy as np
    import matplotlib  # noqa: F401 - the script needs it
    MISSING = None
except ImportError as error:
    MISSING = error.name

CONFIG = """# fedhpc run configuration (fully resolved)
scenario = {scenario}
topology = {topology}
monitor = {monitor}
clip-norm = 1
local-iterations = {iterations}
rounds = {rounds}
seed = {seed}
"""


def make_run(path, rounds=3, done=None, status=None, clients=4, monitor="every", iterations=2, topology="hierarchical",
             seed=0, chunked=False, initial=0.1, extra=None, traces=False, scenario="baseline"):
    """A small file with fedhpc's layout; rows of rounds not finished hold NaN, as the writer leaves them.
    `extra`: further options of the stored config, {name: value}. `traces`: also the datasets every
    real run has (local test loss, bytes) and the topology's (cluster count, consensus distance)."""
    done = rounds if done is None else done
    status = status or ("complete" if done == rounds else "failed")
    rng = np.random.default_rng(seed)
    layers = ["fc1.weight", "fc2.weight"]

    def put(f, name, data):
        data = np.asarray(data)
        full = np.full(data.shape, np.nan, dtype=data.dtype) if data.dtype.kind == "f" else np.zeros_like(data)
        if chunked:  # rows written so far only; the rest is the NaN fill value
            ds = f.create_dataset(name, shape=data.shape, dtype=data.dtype, chunks=(1,) + data.shape[1:],
                                  fillvalue=np.nan if data.dtype.kind == "f" else 0)
        else:
            ds = f.create_dataset(name, data=full)
        return ds

    with h5py.File(path, "w") as f:
        f.attrs["config"] = CONFIG.format(topology=topology, monitor=monitor, iterations=iterations, rounds=rounds,
                                          seed=seed, scenario=scenario)
        f.attrs["config"] += "".join(f"{k} = {v}\n" for k, v in (extra or {}).items())
        f.attrs.update({"fedhpc_version": "0.1.0", "num_ranks": 1, "num_clients": clients, "seed": seed,
                        "rounds": rounds, "rounds_completed": done, "status": status})
        if status == "failed":
            f.attrs["error"] = "injected failure"
        acc = np.concatenate([[initial], np.linspace(0.2, 0.8, rounds)])
        put(f, "global/test_accuracy", acc)[:done + 1] = acc[:done + 1]
        put(f, "global/test_loss", 2.3 - acc)[:done + 1] = (2.3 - acc)[:done + 1]
        agg = np.linspace(0.2, 0.8, rounds)
        put(f, "global/aggregated_accuracy", agg)[:done] = agg[:done]
        f.create_dataset("model/weight_layers", data=np.array(layers, dtype="S16"))
        if topology == "hierarchical":
            f.create_dataset("topology/edge_of_client", data=np.arange(clients) % 2)
        if topology == "clustered":  # rounds not reached: -1, which must not become a cluster
            clusters = np.full((rounds, clients), -1, dtype=np.int64)
            clusters[:done] = (np.arange(clients) + np.arange(done)[:, None]) % 2
            f.create_dataset("topology/cluster_of_client", data=clusters)
        if traces:
            loss = rng.uniform(0.5, 2.0, (rounds, clients)).astype(np.float32)
            put(f, "clients/local_test_loss", loss)[:done] = loss[:done]
            sent = np.tile([[1000.0, 0, 0, 0, 0]], (rounds, 1))
            put(f, "comm/bytes", sent)[:done] = sent[:done]
            if topology == "ring":
                f.create_dataset("topology/ring_of_client", data=np.arange(clients) % 2)
            if topology == "clustered":
                count = np.arange(1, rounds + 1, dtype=np.int64)
                put(f, "clusters/count", count)[:done] = count[:done]
            if topology == "gossip":
                distance = np.linspace(1.0, 0.1, rounds)
                put(f, "global/consensus_distance", distance)[:done] = distance[:done]
        if monitor != "off":
            slots = iterations if monitor == "every" else 1
            f.require_group("clients").attrs["monitored_iterations"] = np.arange(slots) if monitor == "every" else [iterations - 1]
            for name, shape in [("gsc", (rounds, slots, clients)), ("iteration_test_loss", (rounds, slots, clients)),
                                ("update_l1", (rounds, slots, clients)),
                                ("grad_mean_abs", (rounds, slots, clients, len(layers)))]:
                values = rng.uniform(0.01, 1.0, shape).astype(np.float32)
                put(f, "clients/" + name, values)[:done] = values[:done]


def load_script():
    loader = importlib.machinery.SourceFileLoader("fedhpc_plot", SCRIPT)
    spec = importlib.util.spec_from_loader("fedhpc_plot", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class PlotTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fedhpc-plot-test-")
        self.out = os.path.join(self.dir, "plots")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def plot(self, *args, warnings_as_errors=True):
        """Run the script. By default numpy and matplotlib warnings become errors, so a warning
        the script would otherwise hide (it silences them as a safety net) fails the test."""
        env = dict(os.environ, MPLBACKEND="Agg")
        if warnings_as_errors:
            env["PYTHONWARNINGS"] = "error::RuntimeWarning,error::UserWarning"
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)

    def assert_error(self, result, *needles):
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"want one line on stderr, got:\n{result.stderr}")
        self.assertTrue(lines[0].startswith(PREFIX), lines[0])
        self.assertNotIn("Traceback", result.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        return lines[0]

    def assert_figures(self, result, *names):
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertNotIn("Warning", result.stderr)
        for name in names:
            path = os.path.join(self.out, name)
            self.assertTrue(os.path.isfile(path), f"{path} missing; stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
            self.assertGreater(os.path.getsize(path), 1000, path)
            self.assertIn(path, result.stdout.splitlines())

    def written(self):
        return sorted(os.listdir(self.out)) if os.path.isdir(self.out) else []


MONITOR_FIGURES = ["accuracy.png", "gsc-by-scenario.png", "loss-per-edge-hierarchical-baseline-clip1.png",
                   "weight-difference-per-edge-hierarchical-baseline-clip1.png",
                   "mean-gradient-per-layer-hierarchical-baseline-clip1.png"]


class BadInput(PlotTest):
    def test_missing_file(self):
        missing = self.path("nope.h5")
        self.assert_error(self.plot(missing, "-o", self.out), missing, "no such file")
        self.assertFalse(os.path.exists(self.out), "no output folder for bad input")

    def test_text_file(self):
        with open(self.path("notes.txt"), "w") as f:
            f.write("not hdf5\n")
        self.assert_error(self.plot(self.path("notes.txt"), "-o", self.out), "notes.txt", "not an HDF5 file")

    def test_empty_file(self):
        open(self.path("empty.h5"), "w").close()
        self.assert_error(self.plot(self.path("empty.h5"), "-o", self.out), "empty.h5", "empty")

    def test_dev_null(self):
        self.assert_error(self.plot("/dev/null", "-o", self.out), "/dev/null")

    def test_directory(self):
        self.assert_error(self.plot(self.dir, "-o", self.out), self.dir, "directory")

    def test_hdf5_without_fedhpc_data(self):
        with h5py.File(self.path("random.h5"), "w") as f:
            f["x"] = np.arange(5)
        self.assert_error(self.plot(self.path("random.h5"), "-o", self.out), "random.h5", "config")

    def test_missing_test_accuracy(self):
        make_run(self.path("run.h5"))
        with h5py.File(self.path("run.h5"), "a") as f:
            del f["global/test_accuracy"]
        self.assert_error(self.plot(self.path("run.h5"), "-o", self.out), "run.h5", "/global/test_accuracy")

    def test_test_accuracy_of_wrong_shape(self):
        make_run(self.path("run.h5"))
        with h5py.File(self.path("run.h5"), "a") as f:
            del f["global/test_accuracy"]
            f["global/test_accuracy"] = np.zeros((2, 2))
        self.assert_error(self.plot(self.path("run.h5"), "-o", self.out), "run.h5", "/global/test_accuracy")

    def config_of(self, value):
        make_run(self.path("run.h5"))
        with h5py.File(self.path("run.h5"), "a") as f:
            f.attrs["config"] = value
        self.assert_error(self.plot(self.path("run.h5"), "-o", self.out), "run.h5", "'config'", "string")

    def test_config_is_an_int(self):
        self.config_of(7)

    def test_config_is_an_array(self):
        self.config_of(np.arange(3))

    def test_rounds_not_an_integer(self):
        make_run(self.path("run.h5"))
        with h5py.File(self.path("run.h5"), "a") as f:
            f.attrs["rounds_completed"] = "three"
        self.assert_error(self.plot(self.path("run.h5"), "-o", self.out), "run.h5", "rounds_completed")

    def test_bad_file_among_good_ones(self):
        make_run(self.path("good.h5"))
        self.assert_error(self.plot(self.path("good.h5"), self.path("gone.h5"), "-o", self.out), "gone.h5")

    def test_output_is_a_file(self):
        make_run(self.path("run.h5"))
        self.assert_error(self.plot(self.path("run.h5"), "-o", self.path("run.h5")), "-o", "run.h5", "not a folder")

    def test_output_in_proc(self):
        make_run(self.path("run.h5"))
        self.assert_error(self.plot(self.path("run.h5"), "-o", "/proc/fedhpc-plot-test"), "-o /proc/fedhpc-plot-test")

    def test_output_under_a_regular_file(self):
        make_run(self.path("run.h5"))
        with open(self.path("file"), "w") as f:
            f.write("x")
        target = self.path("file") + "/sub"
        self.assert_error(self.plot(self.path("run.h5"), "-o", target), "-o " + target)

    def test_unknown_option(self):
        make_run(self.path("run.h5"))
        self.assert_error(self.plot(self.path("run.h5"), "--frobnicate"), "--frobnicate")

    def test_no_files(self):
        self.assert_error(self.plot(), "files")

    def test_unexpected_exception_is_one_line(self):
        module = load_script()

        def boom(argv):
            raise RuntimeError("first line\nsecond line")

        module.plot = boom
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = module.main([])
        self.assertEqual(status, 2)
        lines = stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1, stderr.getvalue())
        self.assertTrue(lines[0].startswith(PREFIX), lines[0])
        self.assertIn("RuntimeError", lines[0])
        self.assertIn("first line second line", lines[0])


class CompleteRuns(PlotTest):
    def test_monitored_run(self):
        make_run(self.path("run.h5"))
        result = self.plot(self.path("run.h5"), "-o", self.out, "--svg")
        self.assert_figures(result, *MONITOR_FIGURES, "accuracy.svg")
        self.assertEqual(result.stderr, "")

    def test_seeds_share_a_figure_and_monitor_last(self):
        for seed in range(3):
            make_run(self.path(f"s{seed}.h5"), seed=seed, monitor="last", topology="centralized")
        result = self.plot(*[self.path(f"s{seed}.h5") for seed in range(3)], "-o", self.out)
        self.assert_figures(result, "accuracy.png", "gsc-by-scenario.png",
                            "loss-per-all-clients-centralized-baseline-clip1.png")
        self.assertEqual(result.stderr, "")

    def test_unmonitored_run(self):
        make_run(self.path("run.h5"), monitor="off")
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, "accuracy.png")
        self.assertEqual(self.written(), ["accuracy.png"])

    def test_one_round(self):
        make_run(self.path("run.h5"), rounds=1)
        self.assert_figures(self.plot(self.path("run.h5"), "-o", self.out), *MONITOR_FIGURES)

    def test_list(self):
        make_run(self.path("run.h5"))
        result = self.plot("--list", self.path("run.h5"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("/clients/gsc ", result.stdout)
        self.assertIn("status=complete", result.stdout)

    def test_list_shows_dims_and_units(self):
        make_run(self.path("run.h5"))
        with h5py.File(self.path("run.h5"), "a") as f:
            f["clients/gsc"].attrs["dims"] = "round,monitored_iteration,client"
            f["global/test_loss"].attrs.update({"dims": "round", "units": "nats"})
        result = self.plot("--list", self.path("run.h5"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("/clients/gsc float32 [3, 2, 4] (round,monitored_iteration,client)", result.stdout)
        self.assertIn("/global/test_loss float64 [4] (round; nats)", result.stdout)


class Follow(PlotTest):
    """--follow: redraws while a run goes, follows NAME.partial to NAME, stops when every run has ended."""

    def test_an_ended_run_is_drawn_once(self):
        make_run(self.path("run.h5"))
        result = self.plot("--follow", "--interval", "0.1", self.path("run.h5"), "-o", self.out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.count("fedhpc-plot: drew "), 1, result.stdout)
        self.assertIn("accuracy.png", self.written())

    def test_follows_a_running_file_until_it_completes(self):
        final = self.path("live.h5")
        make_run(final + ".partial", rounds=4, done=1, status="running", monitor="off")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        proc = subprocess.Popen([sys.executable, SCRIPT, "--follow", "--interval", "0.2", final, "-o", self.out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.time() + 60
            while not os.path.exists(os.path.join(self.out, "accuracy.png")) and time.time() < deadline:
                self.assertIsNone(proc.poll(), "--follow ended while the run was still running")
                time.sleep(0.1)
            self.assertTrue(os.path.exists(os.path.join(self.out, "accuracy.png")))
            self.assertIsNone(proc.poll(), "--follow ended while the run was still running")
            # The run finishes: the writer renames NAME.partial to NAME with status complete.
            make_run(final + ".tmp", rounds=4, monitor="off")
            os.replace(final + ".tmp", final)
            os.remove(final + ".partial")
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("1/4 rounds, running", out)
        self.assertIn(f"{final} (4/4 rounds, complete)", out)
        self.assertTrue(out.rstrip().endswith("complete)"), out)

    def test_bad_input_still_fails_at_once(self):
        with open(self.path("junk.h5"), "w") as f:
            f.write("not hdf5")
        result = self.plot("--follow", "--interval", "0.1", self.path("junk.h5"), "-o", self.out)
        self.assertEqual(result.returncode, 2)
        self.assertIn("not an HDF5 file", result.stderr)
        result = self.plot("--follow", "--interval", "0.1", self.path("no-folder/run.h5"), "-o", self.out)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no-folder/run.h5: no such file, and its folder", result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)

    def test_waits_for_a_run_that_has_not_started(self):
        final = self.path("later.h5")
        proc = subprocess.Popen([sys.executable, SCRIPT, "--follow", "--interval", "0.1", final, "-o", self.out],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its first line, whenever it starts up
                first = pool.submit(proc.stderr.readline).result(timeout=60)
            self.assertIn("waiting for", first)
            self.assertIsNone(proc.poll(), "--follow gave up on a file that does not exist yet")
            make_run(final + ".tmp", monitor="off")  # then renamed, as the writer does
            os.replace(final + ".tmp", final)
            out, err = proc.communicate(timeout=60)
            err = first + err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err.count("waiting for"), 1, err)
        self.assertIn("(3/3 rounds, complete)", out)


class IncompleteRuns(PlotTest):
    def note(self, name, status, done, rounds):
        return (f"fedhpc-plot: note: {self.path(name)} is incomplete (status {status}, {done} of {rounds} rounds); "
                "plotting what exists")

    def test_failed_after_one_round(self):
        make_run(self.path("run.h5"), rounds=3, done=1)
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, *MONITOR_FIGURES)
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5", "failed", 1, 3)])

    def test_failed_before_any_round_draws_the_initial_accuracy(self):
        make_run(self.path("run.h5"), rounds=3, done=0)
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, "accuracy.png")
        self.assertEqual(self.written(), ["accuracy.png"], "no empty monitoring figures")
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5", "failed", 0, 3)])

    def test_nothing_at_all_to_plot(self):
        make_run(self.path("run.h5"), rounds=3, done=0, initial=np.nan)
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stderr.splitlines()
        self.assertEqual(lines[0], self.note("run.h5", "failed", 0, 3))
        self.assertEqual(len(lines), 2, result.stderr)
        self.assertTrue(lines[1].startswith(PREFIX + "nothing to plot: "), lines[1])
        self.assertIn("run.h5", lines[1])
        self.assertEqual(self.written(), [])

    def test_interrupted_partial_file(self):
        make_run(self.path("run.h5.partial"), rounds=4, done=2, status="interrupted", chunked=True)
        result = self.plot(self.path("run.h5.partial"), "-o", self.out)
        self.assert_figures(result, *MONITOR_FIGURES)
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5.partial", "interrupted", 2, 4)])

    def test_running_with_nan_filled_chunks(self):
        make_run(self.path("run.h5"), rounds=5, done=3, status="running", chunked=True)
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, *MONITOR_FIGURES)
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5", "running", 3, 5)])

    def test_complete_status_but_fewer_rounds(self):
        make_run(self.path("run.h5"), rounds=3, done=2, status="complete")
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, "accuracy.png")
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5", "complete", 2, 3)])

    def test_clustered_failed_run(self):
        make_run(self.path("run.h5"), rounds=4, done=2, topology="clustered")
        result = self.plot(self.path("run.h5"), "-o", self.out)
        self.assert_figures(result, "accuracy.png", "loss-per-cluster-clustered-baseline-clip1.png",
                            "weight-difference-per-cluster-clustered-baseline-clip1.png")
        self.assertEqual(result.stderr.splitlines(), [self.note("run.h5", "failed", 2, 4)])

    def test_seeds_of_different_length_share_a_figure(self):
        make_run(self.path("s0.h5"), seed=0)
        make_run(self.path("s1.h5"), seed=1, done=1)
        make_run(self.path("s2.h5"), seed=2, done=0)
        result = self.plot(self.path("s0.h5"), self.path("s1.h5"), self.path("s2.h5"), "-o", self.out)
        self.assert_figures(result, *MONITOR_FIGURES)
        self.assertEqual(result.stderr.splitlines(),
                         [self.note("s1.h5", "failed", 1, 3), self.note("s2.h5", "failed", 0, 3)])

    def test_no_warnings_reach_the_output_by_default(self):
        make_run(self.path("run.h5"), rounds=3, done=1)
        result = self.plot(self.path("run.h5"), "-o", self.out, warnings_as_errors=False)
        self.assert_figures(result, *MONITOR_FIGURES)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)


# Runs the script in a child process with its save() replaced, and prints what
# every figure holds as JSON: the figures stay inspectable, and the tests'
# threads never share matplotlib's global state.
INSPECT = r"""
import importlib.machinery, importlib.util, json, sys
loader = importlib.machinery.SourceFileLoader("fedhpc_plot", sys.argv[1])
spec = importlib.util.spec_from_loader("fedhpc_plot", loader)
module = importlib.util.module_from_spec(spec)
loader.exec_module(module)
figures = {}
def capture(fig, out_dir, name, formats):
    axes = []
    for ax in fig.axes:
        handles, labels = ax.get_legend_handles_labels()
        lines = [l for l in ax.get_lines() if len(l.get_xdata()) and l.get_linestyle() != ":"]
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "labels": labels, "lines": len(lines), "texts": [t.get_text() for t in ax.texts],
                     "xmax": max([float(max(l.get_xdata())) for l in lines], default=None)})
    figures[name] = {"suptitle": fig._suptitle.get_text() if fig._suptitle else "", "axes": axes}
    return [name]
module.save = capture
status = module.main(sys.argv[2:])
print(json.dumps({"status": status, "figures": figures}))
"""


class Experiments(PlotTest):
    """Runs are merged (mean and band) only when their configurations differ in nothing but the seed."""

    def inspect(self, *names, monitor="every", extra=None):
        import json
        args = [self.path(n) for n in names]
        result = subprocess.run([sys.executable, "-c", INSPECT, SCRIPT, *args, "-o", self.out], capture_output=True,
                                text=True, env=dict(os.environ, MPLBACKEND="Agg"), timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        report = json.loads(result.stdout.splitlines()[-1])
        self.assertEqual(report["status"], 0, result.stderr)
        return report["figures"], result.stderr

    def test_different_dirichlet_alpha_is_never_merged(self):
        make_run(self.path("a03.h5"), extra={"partition": "dirichlet", "dirichlet-alpha": "0.3"})
        make_run(self.path("a01.h5"), extra={"partition": "dirichlet", "dirichlet-alpha": "0.1"})
        figures, _ = self.inspect("a03.h5", "a01.h5")
        for axes in figures["accuracy"]["axes"]:
            self.assertEqual(axes["lines"], 2, axes)  # two lines, not one mean
        self.assertEqual(sorted(figures["accuracy"]["axes"][1]["labels"]),
                         ["dirichlet-alpha=0.1", "dirichlet-alpha=0.3"])
        # Per-experiment figures: one each, named and titled by the difference.
        for alpha in ("0.1", "0.3"):
            name = f"loss-per-edge-hierarchical-baseline-clip1-dirichlet-alpha{alpha}"
            self.assertIn(name, figures)
            self.assertIn(f"dirichlet-alpha={alpha}", figures[name]["axes"][0]["title"])
        self.assertEqual(len([n for n in figures if n.startswith("loss-per-edge")]), 2)

    def test_different_seeds_are_merged(self):
        for seed in (0, 1):
            make_run(self.path(f"s{seed}.h5"), seed=seed, extra={"partition": "dirichlet", "dirichlet-alpha": "0.3"})
        figures, stderr = self.inspect("s0.h5", "s1.h5")
        self.assertEqual(stderr, "")
        for axes in figures["accuracy"]["axes"]:
            self.assertEqual(axes["lines"], 1, axes)
        self.assertEqual(figures["accuracy"]["axes"][1]["labels"], ["hierarchical baseline clip=1"])
        self.assertEqual([n for n in figures if n.startswith("loss-per-edge")],
                         ["loss-per-edge-hierarchical-baseline-clip1"])
        self.assertIn("seeds 0, 1", figures["loss-per-edge-hierarchical-baseline-clip1"]["axes"][0]["title"])

    def test_unit_grouping_by_full_configuration(self):
        module = load_script()
        runs = []
        for name, seed, extra in [("a.h5", 0, {"dirichlet-alpha": "0.3"}), ("b.h5", 1, {"dirichlet-alpha": "0.3"}),
                                  ("c.h5", 0, {"dirichlet-alpha": "0.1"}), ("d.h5", 0, {"lr": "0.1"})]:
            make_run(self.path(name), seed=seed, extra={"output": name, **extra})
            runs.append(module.Run(self.path(name)))
        groups = list(module.group_runs(runs).values())
        self.assertEqual([[os.path.basename(r.path) for r in g] for g in groups], [["a.h5", "b.h5"], ["c.h5"], ["d.h5"]])
        self.assertEqual(groups[0].line_label, "dirichlet-alpha=0.3, lr=-")

    def test_scenario_sweeps_keep_their_figure_names(self):
        """What a scenario resolves (its initialisation) is told by the scenario: docs/monitoring's names."""
        for scenario, init in (("baseline", "glorot"), ("exploding", "uniform:0:1")):
            for seed in (0, 1):
                make_run(self.path(f"{scenario}{seed}.h5"), scenario=scenario, seed=seed, extra={"conv-init": init})
        figures, _ = self.inspect("baseline0.h5", "baseline1.h5", "exploding0.h5", "exploding1.h5")
        for scenario in ("baseline", "exploding"):
            self.assertIn(f"mean-gradient-per-layer-hierarchical-{scenario}-clip1", figures)
        self.assertEqual(sorted(figures["accuracy"]["axes"][0]["labels"]), ["scenario=baseline", "scenario=exploding"])

    def test_runs_of_different_lengths_share_their_common_rounds(self):
        make_run(self.path("r4.h5"), rounds=4)
        make_run(self.path("r5.h5"), rounds=5)
        figures, stderr = self.inspect("r4.h5", "r5.h5")
        self.assertEqual(stderr.splitlines(),
                         ["fedhpc-plot: note: the runs have 4, 5 rounds; drawing their common rounds 1..4"])
        self.assertEqual(sorted(figures["accuracy"]["axes"][1]["labels"]), ["rounds=4", "rounds=5"])
        self.assertEqual(figures["accuracy"]["axes"][0]["xmax"], 4)
        self.assertEqual(figures["gsc-by-scenario"]["axes"][-1]["xmax"], 4)

    def test_every_figure_has_labelled_axes_and_a_title_naming_the_run(self):
        make_run(self.path("every.h5"), monitor="every", topology="hierarchical", traces=True)
        make_run(self.path("last.h5"), monitor="last", topology="clustered", traces=True)
        make_run(self.path("plain.h5"), monitor="off", topology="centralized", traces=True)
        make_run(self.path("gossip.h5"), monitor="off", topology="gossip", traces=True)
        names = ("every.h5", "last.h5", "plain.h5", "gossip.h5")
        figures, _ = self.inspect(*names)
        self.assertGreaterEqual(len(figures), 14, sorted(figures))
        for name, figure in figures.items():
            titles = figure["suptitle"] + " ".join(a["title"] for a in figure["axes"])
            self.assertTrue(any(f in titles for f in names), (name, titles))
            for axes in figure["axes"]:
                if axes["lines"]:
                    self.assertTrue(axes["xlabel"] and axes["ylabel"] and axes["title"], (name, axes))
            for axes in figure["axes"]:
                self.assertNotIn("all clients 0", axes["labels"])
                self.assertNotIn("per all clients", axes["title"])

    def test_runs_without_monitoring_get_loss_bytes_and_topology_figures(self):
        for topology in ("ring", "clustered", "gossip"):
            make_run(self.path(f"{topology}.h5"), monitor="off", topology=topology, traces=True)
        figures, stderr = self.inspect("ring.h5", "clustered.h5", "gossip.h5")
        self.assertEqual(stderr, "")
        expected = {"accuracy", "accuracy-vs-bytes", "round-loss-per-ring-ring-baseline-clip1",
                    "round-loss-per-cluster-clustered-baseline-clip1", "round-loss-per-all-clients-gossip-baseline-clip1",
                    "cluster-count-clustered-baseline-clip1", "consensus-distance-gossip-baseline-clip1"}
        self.assertEqual(set(figures), expected)
        self.assertEqual(figures["accuracy-vs-bytes"]["axes"][0]["xmax"], 3000)  # 3 rounds of 1000 bytes
        self.assertIn("bytes", figures["accuracy-vs-bytes"]["axes"][0]["xlabel"])
        self.assertEqual(figures["round-loss-per-ring-ring-baseline-clip1"]["axes"][0]["labels"], ["ring 0", "ring 1"])
        self.assertEqual(figures["round-loss-per-all-clients-gossip-baseline-clip1"]["axes"][0]["labels"],
                         ["all clients"])
        self.assertIn("clusters", figures["cluster-count-clustered-baseline-clip1"]["axes"][0]["ylabel"])

    def test_fedlama_against_fedavg_over_bytes_draws_whole_runs(self):
        """FedLAMA (2 seeds, 3 rounds, a round --eval-every skipped) against FedAvg at interval tau'
        (6 rounds): one line each over the client-server bytes, FedAvg not cut to the common rounds."""
        lama = {"aggregator": "fedlama", "lama-interval": "5", "lama-phi": "2"}
        for seed in (0, 1):
            make_run(self.path(f"lama{seed}.h5"), rounds=3, seed=seed, monitor="off", topology="centralized",
                     traces=True, extra=lama)
            with h5py.File(self.path(f"lama{seed}.h5"), "a") as f:
                f["global/test_accuracy"][2] = np.nan
        make_run(self.path("fedavg.h5"), rounds=6, monitor="off", topology="centralized", traces=True,
                 extra={"aggregator": "fedavg"})
        figures, _ = self.inspect("lama0.h5", "lama1.h5", "fedavg.h5")
        axes = figures["fedlama-accuracy-vs-bytes"]["axes"][0]
        self.assertEqual(axes["lines"], 2, axes)
        self.assertEqual(len(axes["labels"]), 2, axes)
        self.assertIn("FedLAMA phi=2, tau'=5 (2 seeds)", axes["labels"])
        self.assertIn("fedavg, 2 local iterations per round (1 seed)", axes["labels"])
        self.assertAlmostEqual(axes["xmax"], 6000 / 1e9)  # the whole FedAvg run: 6 rounds of 1000 bytes
        self.assertIn("bytes", axes["xlabel"])
        self.assertIn("FedLAMA", axes["title"])
        # Without a fedlama run there is no such figure.
        figures, _ = self.inspect("fedavg.h5")
        self.assertNotIn("fedlama-accuracy-vs-bytes", figures)

    def test_fedlama_bytes_of_a_hierarchical_run_add_both_levels(self):
        """Hierarchical FedLAMA moves no client-server bytes: its curve runs over client-edge plus
        edge-server bytes (3 rounds of 800 + 200)."""
        lama = {"aggregator": "fedlama", "lama-interval": "5", "lama-phi": "2"}
        make_run(self.path("hier.h5"), rounds=3, monitor="off", topology="hierarchical", traces=True, extra=lama)
        make_run(self.path("hier-fedavg.h5"), rounds=3, monitor="off", topology="hierarchical", traces=True,
                 extra={"aggregator": "fedavg", "edge-interval": "5"})
        for name in ("hier.h5", "hier-fedavg.h5"):
            with h5py.File(self.path(name), "a") as f:
                f["comm/bytes"][...] = np.tile([[0.0, 800.0, 200.0, 0, 0]], (3, 1))
        figures, _ = self.inspect("hier.h5", "hier-fedavg.h5")
        axes = figures["fedlama-accuracy-vs-bytes"]["axes"][0]
        self.assertAlmostEqual(axes["xmax"], 3000 / 1e9)
        self.assertIn("all levels", axes["xlabel"])
        self.assertIn("fedavg, 2 local iterations per round, edge interval 5 (1 seed)", axes["labels"])

    def test_fedgma_against_fedavg_draws_both_accuracies_and_the_mask(self):
        """FedGMA (2 seeds) against FedAvg (1 seed): in-distribution and out-of-distribution
        accuracy per round, one line each, and the size-weighted mask fraction of FedGMA alone."""
        gma = {"aggregator": "fedgma", "gma-threshold": "0.8", "server-lr": "0.5"}
        for seed in (0, 1):
            make_run(self.path(f"gma{seed}.h5"), rounds=3, seed=seed, monitor="off", topology="centralized",
                     extra=gma)
            with h5py.File(self.path(f"gma{seed}.h5"), "a") as f:
                # Tensors of 30 and 10 coordinates: 0.1 and 0.5 kept is 0.2 of all coordinates.
                f["model/layer_offsets"] = np.array([0, 30, 40], dtype=np.int64)
                f["fedgma/mask_fraction"] = np.tile([[0.1, 0.5]], (3, 1))
        make_run(self.path("fedavg.h5"), rounds=3, monitor="off", topology="centralized",
                 extra={"aggregator": "fedavg"})
        figures, _ = self.inspect("gma0.h5", "gma1.h5", "fedavg.h5")
        inside, outside, mask = figures["fedgma-accuracy"]["axes"]
        self.assertIn("in-distribution", inside["title"])
        self.assertIn("out-of-distribution", outside["title"])
        self.assertEqual(inside["lines"], 2, inside)
        self.assertEqual(outside["lines"], 2, outside)
        self.assertEqual(sorted(outside["labels"]),
                         ["FedAvg (1 seed)", "fedgma (workshop), p=0.8, server lr 0.5 (2 seeds)"])
        self.assertEqual(outside["xmax"], 3)  # rounds 0..3 of the global test set
        self.assertEqual(inside["xmax"], 3)   # rounds 1..3 of the local test splits
        self.assertEqual(mask["lines"], 1, mask)
        self.assertIn("mask fraction", mask["title"])
        module = load_script()
        run = module.Run(self.path("gma0.h5"))
        rounds, kept = module.mask_curve(run)
        run.close()
        self.assertEqual(list(rounds), [1, 2, 3])
        np.testing.assert_allclose(kept, [0.2, 0.2, 0.2])
        # Without a fedgma run there is no such figure.
        figures, _ = self.inspect("fedavg.h5")
        self.assertNotIn("fedgma-accuracy", figures)

    def test_accuracy_per_tier_mix_merges_federation_sizes(self):
        """Runs with --client-tiers: one line per tier mix. Strong-only runs that differ only in the
        seed and the federation's size (--clients, --max-train-samples) share a line."""
        mixed = {"client-tiers": "strong:0.5,weak:0.5", "tier-trainable": "moderate:2,weak:1"}
        for seed in (0, 1):
            make_run(self.path(f"mixed{seed}.h5"), clients=4, seed=seed, monitor="off", topology="centralized",
                     extra=dict(mixed, clients="4"))
            with h5py.File(self.path(f"mixed{seed}.h5"), "a") as f:
                f["clients/tier"] = np.array([0, 2, 2, 0] if seed == 0 else [0, 0, 0, 2], dtype=np.int64)
            make_run(self.path(f"strong{seed}.h5"), clients=2 + seed, seed=seed, monitor="off",
                     topology="centralized", initial=0.3,
                     extra={"client-tiers": "none", "clients": str(2 + seed), "max-train-samples": str(600 + seed)})
        figures, _ = self.inspect("mixed0.h5", "mixed1.h5", "strong0.h5", "strong1.h5")
        curves, final = figures["tier-accuracy"]["axes"]
        self.assertEqual(curves["lines"], 2, curves)
        self.assertEqual(curves["labels"], [
            "mix 1: strong:0.5,weak:0.5 (trainable weak:1) - clients: 2.5 strong, 1.5 weak (mean over runs), 2 runs",
            "mix 2: no tiers (all strong) - clients: 2.5 strong (mean over runs), 2 runs"])
        self.assertEqual(final["lines"], 2, final)  # the final accuracies: one set of dots per mix
        # Without --client-tiers anywhere there is no such figure.
        figures, _ = self.inspect("strong0.h5", "strong1.h5")
        self.assertNotIn("tier-accuracy", figures)

    def test_monitor_last_alone_gets_one_filled_gsc_panel(self):
        make_run(self.path("last.h5"), monitor="last", topology="centralized")
        figures, _ = self.inspect("last.h5")
        panels = figures["gsc-by-scenario"]["axes"]
        self.assertEqual(len(panels), 1, panels)
        self.assertEqual(panels[0]["lines"], 1)
        self.assertIn("last local iteration", panels[0]["title"])
        self.assertTrue(panels[0]["ylabel"].startswith("GSC"))


@unittest.skipUnless(os.environ.get("FEDHPC_PLOT_RUN"), "FEDHPC_PLOT_RUN (a real fedhpc output file) not set")
class RealRun(PlotTest):
    def test_real_file(self):
        result = self.plot(os.environ["FEDHPC_PLOT_RUN"], "-o", self.out)
        self.assert_figures(result, "accuracy.png")

    def test_real_file_cut_to_one_round(self):
        path = self.path("cut.h5.partial")
        shutil.copyfile(os.environ["FEDHPC_PLOT_RUN"], path)
        with h5py.File(path, "a") as f:
            rounds = int(f.attrs["rounds"])
            f.attrs["status"] = "interrupted"
            f.attrs["rounds_completed"] = min(1, rounds)

            def blank(name, obj):  # what the writer leaves for rounds not reached
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and obj.ndim >= 1:
                    first = 2 if obj.shape[0] == rounds + 1 else 1 if obj.shape[0] == rounds else None
                    if first is not None and obj.shape[0] > first:
                        obj[first:] = np.nan

            f.visititems(blank)
        result = self.plot(path, "-o", self.out)
        self.assert_figures(result, "accuracy.png")
        self.assertIn(f"{path} is incomplete (status interrupted, {min(1, rounds)} of {rounds} rounds)", result.stderr)


def make_landscape(path, runs=2, rounds=4, local_round=0, client=None, directions_seed=0, grid=9):
    """A `fedhpc landscape` output: a bowl L = 0.3 + a^2 + 2 b^2 (a client's bowl shifted right),
    straight trajectories into the centre, and for the local scope 4 clients (client 2 sat out)."""
    xs = np.linspace(-1, 1, grid)
    shift = 0.5 if client is not None else 0.0
    a, b = np.meshgrid(xs, xs, indexing="ij")
    loss = 0.3 + (a - shift) ** 2 + 2 * b ** 2
    trajectory = np.zeros((runs, rounds + 1, 2))
    for r in range(runs):
        trajectory[r, :, 0] = np.linspace(0.9 - 0.2 * r, 0, rounds + 1)
        trajectory[r, :, 1] = np.linspace(-0.8 + 0.3 * r, 0, rounds + 1)
    trajectory[runs - 1, rounds, :] = np.nan  # a shorter run
    with h5py.File(path, "w") as f:
        g = f.create_group("landscape")
        g["loss"], g["accuracy"] = loss, 1 - loss / loss.max()
        g["axes"] = np.stack([xs, xs])
        g["trajectory"] = trajectory
        g["directions"] = np.random.default_rng(directions_seed).normal(size=(2, 20)).astype(np.float32)
        g["explained_variance"] = np.array([0.7, 0.2])
        g.attrs.update({"directions_kind": "pca", "local_round": local_round, "centre_round": rounds,
                        "evaluated_on": "all clients' training data" if client is None
                        else f"client {client}'s training data", "eval_samples": 100})
        g.attrs["runs"] = [f"run{r}.h5" for r in range(runs)]
        if local_round:
            g["local"] = np.array([[0.4, 0.1], [0.2, -0.3], [np.nan, np.nan], [-0.3, 0.2]])
            g["local_global"] = np.array([[0.5, 0.5], [0.0, 0.0]])


def make_interpolation(path, barrier=0.4, b="a0.1.h5"):
    s = np.linspace(-0.25, 1.25, 7)
    loss = 0.3 + barrier * 4 * s * (1 - s)
    with h5py.File(path, "w") as f:
        g = f.create_group("interpolation")
        g["s"], g["loss"], g["accuracy"] = s, loss, 1 - loss / 3
        g.attrs.update({"barrier_height": barrier, "run_a": "iid.h5", "run_b": b})


class Landscapes(PlotTest):
    def test_global_scope_contours_with_trajectories(self):
        make_landscape(self.path("pca.h5"))
        result = self.plot(self.path("pca.h5"), "-o", self.out)
        self.assert_figures(result, "landscape-pca.png")

    def test_local_scope_overlay_of_the_global_and_one_clients_loss(self):
        make_landscape(self.path("local.h5"), runs=1, local_round=3)
        make_landscape(self.path("local-c1.h5"), runs=1, local_round=3, client=1)
        make_landscape(self.path("other-plane.h5"), runs=1, local_round=3, client=1, directions_seed=5)
        result = self.plot(self.path("local.h5"), self.path("local-c1.h5"), self.path("other-plane.h5"), "-o", self.out)
        self.assert_figures(result, "landscape-local.png", "landscape-local-c1.png",
                            "landscape-overlay-local-local-c1.png")
        # Only surfaces on one plane are overlaid.
        self.assertEqual([n for n in self.written() if "overlay" in n], ["landscape-overlay-local-local-c1.png"])

    def test_interpolation_curves_and_runs_together(self):
        make_interpolation(self.path("interp-a0.1.h5"), 0.4)
        make_interpolation(self.path("interp-warm-a0.1.h5"), 0.05)
        make_run(self.path("run.h5"))
        result = self.plot(self.path("interp-a0.1.h5"), self.path("interp-warm-a0.1.h5"), self.path("run.h5"),
                           "-o", self.out)
        self.assert_figures(result, "interpolation.png", "accuracy.png")

    def test_what_is_read_and_drawn(self):
        script = load_script()
        make_landscape(self.path("local.h5"), runs=1, local_round=3)
        make_landscape(self.path("local-c1.h5"), runs=1, local_round=3, client=1)
        surfaces = [script.Surface(self.path(n)) for n in ("local.h5", "local-c1.h5")]
        self.assertEqual(surfaces[0].title().splitlines()[0], "local scope, round 3: all clients' training data")
        self.assertIn("70.0% + 20.0% of the variance", surfaces[0].title())
        self.assertEqual(script.client_of(surfaces[1]), 1)
        pairs = script.overlay_pairs(surfaces)
        self.assertEqual([(g.path, c.path) for g, c in pairs], [(surfaces[0].path, surfaces[1].path)])
        levels = script.loss_levels(surfaces[0].loss)
        self.assertAlmostEqual(levels[0], 0.3)
        self.assertAlmostEqual(levels[-1], float(np.percentile(surfaces[0].loss, 90)))

    def test_a_broken_landscape_file_is_one_line(self):
        with h5py.File(self.path("bad.h5"), "w") as f:
            f.create_group("landscape")["axes"] = np.zeros((2, 3))
        self.assert_error(self.plot(self.path("bad.h5"), "-o", self.out), "bad.h5", "/landscape has no loss")
        make_landscape(self.path("pca.h5"))
        self.assert_error(self.plot("--list", self.path("pca.h5")), "--list")


def make_mi(path, starts=(0, 2), iterations=5, clients=(0, 1, 2), loss="mse", status="complete", unfinished=()):
    """A small `fedhpc mi` file: [starts, iterations, pairs] tables, pairs, steps and local test metrics."""
    pairs = [(a, b) for i, a in enumerate(clients) for b in clients[i + 1:]]
    shape = (len(starts), iterations, len(pairs))
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        f.attrs["config"] = "[run]\ndataset = signal\nmodel = rnn\nksg-k = 3\n"
        f.attrs["status"] = status
        mi = f.create_group("mi")
        mi.attrs.update({"samples": 50, "every": 2, "iterations": iterations, "dims": 4, "layer": "",
                         "project": 4, "ksg_k": 3, "loss": loss})
        for name in ("gaussian", "ksg", "d_euclidean", "d_manhattan", "d_chebyshev"):
            data = np.cumsum(rng.uniform(0.0, 0.2, shape), axis=1)
            for s in unfinished:
                data[s] = np.nan
            mi.create_dataset(name, data=data)
        mi.create_dataset("pairs", data=np.array(pairs, dtype=np.int64))
        mi.create_dataset("steps", data=np.arange(1, iterations + 1, dtype=np.int64) * 2)
        mi.create_dataset("rounds_at", data=np.array(starts, dtype=np.int64))
        mi.create_dataset("clients", data=np.array(clients, dtype=np.int64))
        metric = rng.uniform(0.1, 1.0, (len(starts), iterations, len(clients)))
        mi.create_dataset("test_loss", data=metric)
        mi.create_dataset("test_accuracy", data=np.full(metric.shape, np.nan) if loss == "mse" else metric)


class MiFiles(PlotTest):
    """`fedhpc mi` files: paper 001's figures 1-4 per starting point."""

    def test_regression_figures(self):
        make_mi(self.path("signal.h5"))
        result = self.plot(self.path("signal.h5"), "-o", self.out)
        self.assert_figures(result, "mi-signal-r0.png", "mi-signal-r2.png", "mi-distances-signal-r0.png",
                            "mi-distances-signal-r2.png")
        self.assertEqual(self.written(), ["mi-distances-signal-r0.png", "mi-distances-signal-r2.png",
                                          "mi-signal-r0.png", "mi-signal-r2.png"])
        self.assertEqual(result.stderr, "")

    def test_classification_and_unfinished_start(self):
        make_mi(self.path("fm.h5"), loss="cross-entropy", status="interrupted", unfinished=(1,))
        result = self.plot(self.path("fm.h5"), "-o", self.out)
        self.assert_figures(result, "mi-fm-r0.png", "mi-distances-fm-r0.png")
        self.assertNotIn("mi-fm-r2.png", self.written())
        self.assertIn("note:", result.stderr)

    def test_bits_and_panels(self):
        """The MI panels are in bits: nats / ln 2."""
        make_mi(self.path("signal.h5"))
        module = load_script()
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        run = module.MiRun(self.path("signal.h5"))
        fig, ax = plt.subplots()
        module.mi_pair_panel(ax, run, 0, "ksg", "bits", True)
        y = ax.get_lines()[0].get_ydata()
        np.testing.assert_allclose(y, run.tables["ksg"][0][:, 0] / np.log(2.0))
        self.assertEqual(len([l for l in ax.get_lines() if l.get_label().startswith("client")]), 3)
        plt.close(fig)

    def test_mixed_with_run_files_is_an_error(self):
        make_mi(self.path("signal.h5"))
        make_run(self.path("run.h5"))
        self.assert_error(self.plot(self.path("signal.h5"), self.path("run.h5"), "-o", self.out), "cannot mix")

    def test_list(self):
        make_mi(self.path("signal.h5"))
        result = self.plot("--list", self.path("signal.h5"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("pairs [(0, 1), (0, 2), (1, 2)]", result.stdout)


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def main():
    if MISSING:
        print(f"skipped: {MISSING} is missing for {sys.executable} (Debian: python3-h5py python3-matplotlib)")
        print("0 passed, 0 failed")
        return 0
    # Each test runs the script in its own process and folder: run them side by side.
    tests = list(flatten(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])))

    def run(test):
        result = unittest.TestResult()
        test(result)
        return test, result

    workers = max(2, min(8, 2 * (os.cpu_count() or 1)))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(run, tests))
    passed = failed = skipped = 0
    for test, result in outcomes:
        problems = result.failures + result.errors
        if problems:
            failed += 1
            print(f"FAIL {test.id()}")
            for _, trace in problems:
                print("    " + trace.rstrip().replace("\n", "\n    "))
        elif result.skipped:
            skipped += 1
            print(f"skip {test.id()}: {result.skipped[0][1]}")
        else:
            passed += 1
            print(f"ok   {test.id()}")
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
