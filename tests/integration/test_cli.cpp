// The fedhpc binary under mpirun -n 2: bad input gives exit status 2 and one
// line from rank 0 naming the option or file; a run that fails part-way
// leaves a valid file with status=failed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using fedhpc::test::run_fedhpc;

namespace {

const std::string kSmall =
    " --dataset synthetic --synthetic-train-samples 400 --synthetic-test-samples 100 --synthetic-side 12"
    " --clients 4 --rounds 2 --model mlp --hidden 8 --quiet";

std::string temp_dir() {
  static std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("fedhpc-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

int count_lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  std::size_t at = 0;
  while ((at = text.find(needle, at)) != std::string::npos) {
    ++n;
    at += needle.size();
  }
  return n;
}

void expect_input_error(const std::string& args, const std::vector<std::string>& mentions) {
  auto r = run_fedhpc(2, args);
  EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
  EXPECT_EQ(count_lines_with(r.output, "fedhpc: error:"), 1) << r.output;
  for (const auto& m : mentions) EXPECT_NE(r.output.find(m), std::string::npos) << m << " not in: " << r.output;
}

}  // namespace

TEST(Cli, UnknownOptionOrValue) {
  expect_input_error("--bogus 1" + kSmall, {"--bogus"});
  expect_input_error("--partition weird" + kSmall, {"--partition", "iid"});
  expect_input_error("--model resnet --rounds 1", {"--model", "seed-cnn"});
  expect_input_error("--rounds many" + kSmall, {"--rounds"});
}

TEST(Cli, ImpossibleCombinations) {
  expect_input_error("--participation 1.5" + kSmall, {"--participation", "(0, 1]"});
  expect_input_error("--dataset synthetic --synthetic-train-samples 50 --clients 100 --quiet", {"--clients"});
  expect_input_error(kSmall + " --batch-size 200", {"--batch-size"});
}

TEST(Cli, MissingOrCorruptDatasetFiles) {
  expect_input_error("--data-dir /nonexistent-fedhpc --rounds 1",
                     {"/nonexistent-fedhpc/train-images-idx3-ubyte.gz", "dataset-fashion-mnist"});
  const std::string bad = temp_dir() + "/badfmnist";
  std::filesystem::create_directories(bad);
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"})
    std::ofstream(bad + "/" + name) << "this is not gzip data at all";
  expect_input_error("--data-dir " + bad + " --rounds 1", {bad + "/train-images-idx3-ubyte.gz"});
}

TEST(Cli, OutputProblems) {
  // Two missing levels: only the last folder is ever created.
  expect_input_error("--output /nonexistent-fedhpc-dir/sub/x.h5" + kSmall,
                     {"--output", "/nonexistent-fedhpc-dir", "does not exist"});
  const std::string out = temp_dir() + "/exists.h5";
  std::ofstream(out) << "keep me";
  expect_input_error("--output " + out + kSmall, {"--output", "exists", "--overwrite"});
  std::ifstream in(out);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST(Cli, OutputTemplatesAndNewFolder) {
  const std::string dir = temp_dir() + "/sweep-" + std::to_string(::getpid());
  auto r = run_fedhpc(2, "--output " + dir + "/run-{seed}-{topology}-{aggregator}-h{opt:hidden}.h5 --seed 5" + kSmall);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string out = dir + "/run-5-centralized-fedavg-h8.h5";
  EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out)) << r.output;
  expect_input_error("--output " + dir + "/run-{bogus}.h5" + kSmall, {"--output", "'{bogus}'", "{opt:NAME}"});
}

TEST(Cli, ConfigFileProblems) {
  expect_input_error("--config /nonexistent-fedhpc.ini", {"--config", "/nonexistent-fedhpc.ini"});
  const std::string ini = temp_dir() + "/bad.ini";
  std::ofstream(ini) << "clients = 4\nbogus-key = 3\n";
  expect_input_error("--config " + ini, {"bogus-key", ini});
}

TEST(Cli, SuccessfulRunAndOverwrite) {
  const std::string out = temp_dir() + "/ok.h5";
  auto r = run_fedhpc(2, "--output " + out + " --overwrite" + kSmall);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
  auto file = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().get_attribute_string("status"), "complete");
  EXPECT_EQ(file.root().get_attribute_int64("num_ranks"), 2);
  // The BLAS that ran is recorded; the reference-BLAS warning appears exactly
  // when that BLAS is the reference one.
  const auto blas = file.root().get_attribute_string("blas");
  EXPECT_FALSE(blas.empty());
  EXPECT_EQ(count_lines_with(r.output, "fedhpc: warning: LibTorch uses the reference BLAS"),
            blas.rfind("reference BLAS", 0) == 0 ? 1 : 0)
      << blas << "\n" << r.output;
}

// Under the reference BLAS (libblas3, put first with LD_LIBRARY_PATH) rank 0
// warns once, on stderr, how to switch, the run still succeeds, and the file
// names the reference BLAS.
TEST(Cli, ReferenceBlasWarnsOnceAndIsRecorded) {
  const std::string reference_dir = "/usr/lib/x86_64-linux-gnu/blas";
  if (!std::filesystem::exists(reference_dir + "/libblas.so.3"))
    GTEST_SKIP() << "no reference BLAS at " << reference_dir << " (Debian: libblas3)";
  const std::string out = temp_dir() + "/refblas.h5";
  const std::string err = temp_dir() + "/refblas.err";
  // In braces so run_command's own 2>&1 does not take stderr back.
  const auto r = fedhpc::test::run_command(
      "{ LD_LIBRARY_PATH=" + reference_dir + " " FEDHPC_MPIEXEC " -x LD_LIBRARY_PATH --oversubscribe -n 2 " FEDHPC_BINARY
      " run --output " + out + " --overwrite" + kSmall + " 2>" + err + "; }");
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(err);
  const std::string stderr_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(count_lines_with(stderr_text, "fedhpc: warning: LibTorch uses the reference BLAS"), 1) << stderr_text;
  EXPECT_NE(stderr_text.find("update-alternatives --set libblas.so.3-x86_64-linux-gnu "
                             "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"),
            std::string::npos)
      << stderr_text;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << "stdout: " << r.output;
  auto file = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
  EXPECT_EQ(file.root().get_attribute_string("status"), "complete");
  EXPECT_EQ(file.root().get_attribute_string("blas").rfind("reference BLAS (" + reference_dir, 0), 0u)
      << file.root().get_attribute_string("blas");
}

TEST(Cli, HelpListsOptionsAndExitsZero) {
  auto r = run_fedhpc(2, "--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(count_lines_with(r.output, "Usage: fedhpc run"), 1) << r.output;
  EXPECT_NE(r.output.find("--participation arg (=1)"), std::string::npos);
}

TEST(Cli, FailedRunLeavesValidFileWithStatusFailed) {
  const std::string out = temp_dir() + "/failed.h5";
  auto r = run_fedhpc(2, "--output " + out + " --overwrite --fail-at-round 2" + kSmall);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(count_lines_with(r.output, "run failed: injected failure in round 2"), 1) << r.output;
  auto file = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
  auto root = file.root();
  EXPECT_EQ(root.get_attribute_string("status"), "failed");
  EXPECT_EQ(root.get_attribute_int64("rounds_completed"), 1);
  EXPECT_NE(root.get_attribute_string("error").find("round 2"), std::string::npos);
  auto acc = root.dataset("global/test_accuracy").read_all<double>();
  EXPECT_FALSE(std::isnan(acc[1]));  // round 1 is kept
  EXPECT_TRUE(std::isnan(acc[2]));   // round 2 never finished
}

// The same run launched as 1, 2, 3 and 4 real MPI processes writes
// bit-identical global models (Adam, partial participation, several rounds).
TEST(Cli, GlobalWeightsAreBitIdenticalAt1To4Ranks) {
  const std::string args =
      " --overwrite --dataset synthetic --synthetic-train-samples 700 --synthetic-test-samples 100"
      " --synthetic-side 12 --clients 9 --rounds 3 --local-iterations 2 --participation 0.7 --batch-size 8"
      " --optimizer adam --lr 0.005 --model seed-cnn --quiet";
  std::vector<std::vector<float>> weights;
  for (int ranks = 1; ranks <= 4; ++ranks) {
    const std::string out = temp_dir() + "/ranks" + std::to_string(ranks) + ".h5";
    auto r = run_fedhpc(ranks, "--output " + out + args);
    ASSERT_EQ(r.status, 0) << r.output;
    auto file = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
    weights.push_back(file.root().dataset("global/weights").read_all<float>());
  }
  for (int k = 1; k < 4; ++k) {
    ASSERT_EQ(weights[k].size(), weights[0].size());
    EXPECT_EQ(std::memcmp(weights[k].data(), weights[0].data(), weights[0].size() * sizeof(float)), 0)
        << "ranks=" << k + 1;
  }
}

// fedhpc-plot on a small monitored hierarchical run writes non-empty PNGs.
TEST(Cli, PlotScriptWritesTheFigures) {
  if (fedhpc::test::run_command("/usr/bin/python3 -c 'import matplotlib, h5py'").status != 0)
    GTEST_SKIP() << "matplotlib or h5py is missing for /usr/bin/python3 (Debian: python3-matplotlib python3-h5py)";
  const std::string out = temp_dir() + "/plot.h5";
  auto r = run_fedhpc(2, "--output " + out + " --overwrite --monitor every --topology hierarchical --edges 2" + kSmall);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string dir = temp_dir() + "/plots";
  auto p = fedhpc::test::run_command("/usr/bin/python3 " FEDHPC_PLOT " " + out + " -o " + dir + " --svg");
  ASSERT_EQ(p.status, 0) << p.output;
  for (const char* name : {"accuracy.png", "accuracy.svg", "gsc-by-scenario.png", "loss-per-edge-hierarchical-baseline-clip1.png",
                           "weight-difference-per-edge-hierarchical-baseline-clip1.png",
                           "mean-gradient-per-layer-hierarchical-baseline-clip1.png"}) {
    const auto path = dir + "/" + name;
    ASSERT_TRUE(std::filesystem::exists(path)) << path << "\n" << p.output;
    EXPECT_GT(std::filesystem::file_size(path), 1000u) << path;
  }
  auto listing = fedhpc::test::run_command("/usr/bin/python3 " FEDHPC_PLOT " --list " + out);
  EXPECT_EQ(listing.status, 0);
  EXPECT_NE(listing.output.find("/clients/gsc "), std::string::npos) << listing.output;
  auto bad = fedhpc::test::run_command("/usr/bin/python3 " FEDHPC_PLOT " /nonexistent.h5 -o " + dir);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("/nonexistent.h5"), std::string::npos) << bad.output;
}

namespace {

std::vector<double> read_doubles(const std::string& file, const std::string& path) {
  auto f = fedhpc::h5::File::open(file, MPI_COMM_NULL, false);
  return f.root().dataset(path).read_all<double>();
}

std::vector<float> read_floats(const std::string& file, const std::string& path) {
  auto f = fedhpc::h5::File::open(file, MPI_COMM_NULL, false);
  return f.root().dataset(path).read_all<float>();
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

// --eval-every 2 over 5 rounds evaluates rounds 2, 4 and 5 (always the last):
// those rows equal a run with every round evaluated, bit for bit; the others
// stay NaN, and the progress line shows "-" for them.
TEST(Cli, EvalEveryLeavesSkippedRoundsNaN) {
  const std::string args =
      " --overwrite --dataset synthetic --synthetic-train-samples 400 --synthetic-test-samples 100"
      " --synthetic-side 12 --clients 4 --rounds 5 --model mlp --hidden 8";
  const std::string every = temp_dir() + "/eval-every1.h5", thinned = temp_dir() + "/eval-every2.h5";
  ASSERT_EQ(run_fedhpc(2, "--output " + every + args + " --quiet").status, 0);
  auto r = run_fedhpc(2, "--output " + thinned + args + " --eval-every 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count_lines_with(r.output, "test_acc -  agg_acc -  agg_loss -"), 2) << r.output;
  for (const char* path : {"global/test_loss", "global/test_accuracy"}) {
    const auto a = read_doubles(every, path), b = read_doubles(thinned, path);
    ASSERT_EQ(a.size(), 6u);
    ASSERT_EQ(b.size(), 6u);
    for (int row : {0, 2, 4, 5}) EXPECT_TRUE(same_bits(a[row], b[row])) << path << " row " << row;
    for (int row : {1, 3}) EXPECT_TRUE(std::isnan(b[row])) << path << " row " << row;
  }
  for (const char* path : {"global/aggregated_loss", "global/aggregated_accuracy"}) {
    const auto a = read_doubles(every, path), b = read_doubles(thinned, path);
    for (int row : {1, 3, 4}) EXPECT_TRUE(same_bits(a[row], b[row])) << path << " row " << row;
    for (int row : {0, 2}) EXPECT_TRUE(std::isnan(b[row])) << path << " row " << row;
  }
  for (const char* path : {"clients/local_test_loss", "clients/local_test_accuracy"}) {
    const auto a = read_floats(every, path), b = read_floats(thinned, path);
    ASSERT_EQ(a.size(), b.size());
    const std::size_t n = a.size() / 5;  // [R, N]
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto row = i / n;
      if (row == 1 || row == 3 || row == 4) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0) << path << " " << i;
      else EXPECT_TRUE(std::isnan(b[i])) << path << " " << i;
    }
  }
  // Training does not depend on evaluation.
  const auto wa = read_floats(every, "global/weights"), wb = read_floats(thinned, "global/weights");
  EXPECT_EQ(std::memcmp(wa.data(), wb.data(), wa.size() * sizeof(float)), 0);
}

// /timing/phases [R, 5]: named columns, finite non-negative seconds; the
// engine's four phases fit inside the round's time; the progress line names
// the two largest.
TEST(Cli, PhaseTimesPerRound) {
  const std::string out = temp_dir() + "/phases.h5";
  auto r = run_fedhpc(2, "--output " + out + " --overwrite --rounds 3" +
                             std::string(" --dataset synthetic --synthetic-train-samples 400 --synthetic-test-samples 100"
                                         " --synthetic-side 12 --clients 4 --model mlp --hidden 8"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(count_lines_with(r.output, " s, "), 3) << r.output;
  auto f = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
  auto phases = f.root().dataset("timing/phases");
  EXPECT_EQ(phases.dims(), (fedhpc::h5::Dims{3, 5}));
  EXPECT_EQ(phases.attribute("names").read_strings(),
            (std::vector<std::string>{"select", "train", "aggregate", "evaluate", "write"}));
  const auto t = phases.read_all<double>();
  const auto seconds = f.root().dataset("timing/round_seconds").read_all<double>();
  for (int row = 0; row < 3; ++row) {
    double engine = 0.0;
    for (int k = 0; k < 5; ++k) {
      const double v = t[std::size_t(row * 5 + k)];
      EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << row << "," << k << ": " << v;
      if (k < 4) engine += v;
    }
    EXPECT_GT(t[std::size_t(row * 5 + 1)], 0.0);  // training takes time
    EXPECT_LE(engine, seconds[std::size_t(row)] * (1 + 1e-9) + 1e-6) << "round " << row + 1;
  }
}

namespace {

// test_acc, agg_acc and agg_loss of the first "round 5/5" line of text.
std::vector<double> final_metrics(const std::string& text) {
  const auto at = text.find("round 5/5  test_acc ");
  if (at == std::string::npos) return {};
  double test_acc = 0, agg_acc = 0, agg_loss = 0;
  if (std::sscanf(text.c_str() + at, "round 5/5  test_acc %lf  agg_acc %lf  agg_loss %lf", &test_acc, &agg_acc,
                  &agg_loss) != 3)
    return {};
  return {test_acc, agg_acc, agg_loss};
}

}  // namespace

// The README's quickstart example line is what the quickstart config prints.
// Exact on the machine that wrote it; another CPU's convolution kernels or
// BLAS may round differently, hence the tolerance (far below the 0.02 that
// separates the rounds of the example).
TEST(Cli, ReadmeQuickstartLineIsTrue) {
  std::ifstream readme(std::string(FEDHPC_SOURCE_DIR) + "/README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  const auto documented = final_metrics(text);
  ASSERT_EQ(documented.size(), 3u) << "README.md has no 'round 5/5  test_acc ...' example line";
  const std::string out = temp_dir() + "/quickstart.h5";
  auto r = run_fedhpc(2, "--config " + std::string(FEDHPC_SOURCE_DIR) + "/jobs/configs/quickstart.ini --output " +
                             out + " --overwrite");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("start: 2 ranks, 5 clients per rank (10 clients)"), std::string::npos) << r.output;
  const auto measured = final_metrics(r.output);
  ASSERT_EQ(measured.size(), 3u) << r.output;
  for (std::size_t k = 0; k < 3; ++k)
    EXPECT_NEAR(measured[k], documented[k], 0.005) << "metric " << k << " of the README's quickstart line\n" << r.output;
}

// A user's own HDF5 data with its own clients, end to end at 2 ranks: the
// partition stored in the output is the file's /train/client.
TEST(Cli, OwnHdf5DataWithNaturalClients) {
  const std::string data = temp_dir() + "/own-data.h5";
  {
    auto file = fedhpc::h5::File::create(data, MPI_COMM_NULL, true);
    auto root = file.root();
    std::vector<float> x(40 * 16), tx(12 * 16);
    std::vector<std::int64_t> y(40), ty(12), client(40);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 11) / 11.0f;
    for (std::size_t i = 0; i < tx.size(); ++i) tx[i] = float((i * 13) % 7) / 7.0f;
    for (std::size_t i = 0; i < 40; ++i) {
      y[i] = std::int64_t(i % 3);
      client[i] = std::int64_t(i % 4);
    }
    for (std::size_t i = 0; i < 12; ++i) ty[i] = std::int64_t(i % 3);
    root.create_dataset<float>("train/x", {40, 16}).write_all(x);
    root.create_dataset<std::int64_t>("train/y", {40}).write_all(y);
    root.create_dataset<std::int64_t>("train/client", {40}).write_all(client);
    root.create_dataset<float>("test/x", {12, 16}).write_all(tx);
    root.create_dataset<std::int64_t>("test/y", {12}).write_all(ty);
  }
  const std::string out = temp_dir() + "/own-run.h5";
  const std::string args = "--dataset hdf5:" + data +
                           " --partition natural --clients 4 --model mlp --hidden 4 --rounds 2 --batch-size 4 --quiet";
  auto r = run_fedhpc(2, args + " --output " + out + " --overwrite");
  ASSERT_EQ(r.status, 0) << r.output;
  auto file = fedhpc::h5::File::open(out, MPI_COMM_NULL, false);
  const auto indices = file.root().dataset("data/train_indices").read_all<std::int64_t>();
  const auto offsets = file.root().dataset("data/train_offsets").read_all<std::int64_t>();
  ASSERT_EQ(offsets.size(), 5u);
  for (std::size_t c = 0; c < 4; ++c)
    for (auto k = offsets[c]; k < offsets[c + 1]; ++k)
      EXPECT_EQ(indices[std::size_t(k)] % 4, std::int64_t(c)) << "client " << c;
  expect_input_error("--dataset hdf5:" + data + " --partition natural --clients 5 --model mlp --rounds 1",
                     {"--clients 5", "4 clients"});
  expect_input_error("--dataset hdf5:" + temp_dir() + "/none.h5 --model mlp --rounds 1", {"none.h5", "cannot open"});
}
