// Stragglers (--compute-profile, --round-deadline, --late-policy): the speed
// draws and their errors, the simulated clock against hand-computed cases,
// and small runs: a deadline nobody misses changes no bit, drop leaves out
// exactly the slow clients of a crafted speed file, partial stops a late
// client after the steps it affords and aggregates FedNova-style (checked
// against an oracle built from the clients' handed-over models), and the
// world gives the same bits as one rank. Registered at 1, 2 and 4 ranks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "fedhpc/cli/run_command.hpp"
#include "fedhpc/cli/run_options.hpp"
#include "fedhpc/client/stragglers.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/io/hdf5.hpp"
#include "test_support.hpp"

using namespace fedhpc;
using fedhpc::test::expect_input_error;
using fedhpc::test::read;
using fedhpc::test::same_bits;

TEST(ComputeProfile, ParsesTheThreeKinds) {
  EXPECT_EQ(client::parse_compute_profile("none").kind, client::ComputeProfile::Kind::None);
  const auto lognormal = client::parse_compute_profile("lognormal:0.5");
  EXPECT_EQ(lognormal.kind, client::ComputeProfile::Kind::Lognormal);
  EXPECT_EQ(lognormal.sigma, 0.5);
  const auto uniform = client::parse_compute_profile("uniform:0.5:2");
  EXPECT_EQ(uniform.kind, client::ComputeProfile::Kind::Uniform);
  EXPECT_EQ(uniform.low, 0.5);
  EXPECT_EQ(uniform.high, 2.0);
  const auto file = client::parse_compute_profile("speeds.txt");
  EXPECT_EQ(file.kind, client::ComputeProfile::Kind::File);
  EXPECT_EQ(file.path, "speeds.txt");
}

TEST(ComputeProfile, BadValuesAreOneLineErrorsNamingTheOption) {
  expect_input_error([] { client::parse_compute_profile("lognormal:-1"); }, {"--compute-profile", "sigma"});
  expect_input_error([] { client::parse_compute_profile("lognormal:x"); }, {"--compute-profile"});
  expect_input_error([] { client::parse_compute_profile("uniform:0:1"); }, {"--compute-profile", "A must be > 0"});
  expect_input_error([] { client::parse_compute_profile("uniform:-1:1"); }, {"--compute-profile", "A must be > 0"});
  expect_input_error([] { client::parse_compute_profile("uniform:2:1"); }, {"--compute-profile", "B must be >= A"});
  expect_input_error([] { client::parse_compute_profile("uniform:1"); }, {"--compute-profile"});
  const auto missing = client::parse_compute_profile("/nonexistent/speeds.txt");
  expect_input_error([&] { client::client_speeds(missing, 1, {0, 1}); },
                     {"--compute-profile", "/nonexistent/speeds.txt"});
  expect_input_error([] { client::parse_late_policy("later"); }, {"--late-policy", "drop|partial"});
}

TEST(ComputeProfile, SpeedFileErrorsNameTheFileAndLine) {
  const auto dir = test::shared_temp_dir(MPI_COMM_SELF, "speedfile");
  const std::string path = dir + "/speeds.txt";
  std::ofstream(path) << "1\n0.5\n-2\n";
  const auto profile = client::parse_compute_profile(path);
  expect_input_error([&] { client::client_speeds(profile, 1, {0, 1, 2}); }, {"--compute-profile", path, "line 3"});
  std::ofstream(path) << "1\n0.5\n";
  expect_input_error([&] { client::client_speeds(profile, 1, {0, 1, 2}); }, {"--compute-profile", path, "2 speeds"});
  std::ofstream(path) << "1\n0.5\n4\n";
  // Line k is the client with partition index k, wherever the topology puts it.
  EXPECT_EQ(client::client_speeds(profile, 1, {2, 0, 1}), (std::vector<double>{4, 1, 0.5}));
}

TEST(ComputeProfile, DrawsAreKeyedBySeedAndClientOnly) {
  const auto lognormal = client::parse_compute_profile("lognormal:1");
  const auto a = client::client_speeds(lognormal, 7, {0, 1, 2, 3, 4, 5});
  const auto b = client::client_speeds(lognormal, 7, {5, 4, 3, 2, 1, 0});  // another placement of the same clients
  for (std::size_t id = 0; id < 6; ++id) {
    EXPECT_EQ(a[id], b[5 - id]);
    auto rng = stream(7, StreamKind::Fault, id, 0, client::kSpeedStream);
    EXPECT_EQ(a[id], std::exp(rng.normal()));
  }
  EXPECT_NE(a, client::client_speeds(lognormal, 8, {0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(client::client_speeds(client::parse_compute_profile("lognormal:0"), 7, {0, 1, 2}),
            (std::vector<double>{1, 1, 1}));
  // Median 1: about half the clients are slower than the reference.
  std::vector<std::int64_t> keys(2000);
  for (std::size_t k = 0; k < keys.size(); ++k) keys[k] = std::int64_t(k);
  int slower = 0;
  for (double v : client::client_speeds(lognormal, 3, keys)) slower += v < 1.0;
  EXPECT_NEAR(slower, 1000, 100);
  for (double v : client::client_speeds(client::parse_compute_profile("uniform:0.5:2"), 3, keys)) {
    EXPECT_GE(v, 0.5);
    EXPECT_LT(v, 2.0);
  }
}

namespace {

// Reference 128 samples/s, 16 samples a step: a speed-1 step takes 1/8 s,
// and every figure below is exact in binary.
client::Stragglers crafted(client::LatePolicy policy) {
  std::vector<double> speeds = {1, 0.5, 0.25, 0.125, 2};
  std::vector<client::ClientWork> work(5, client::ClientWork{6, 16, 100});
  work[4].train_samples = 300;
  return client::Stragglers(speeds, work, 0.75, policy, 128);
}

}  // namespace

TEST(Stragglers, TheClockAgainstAHandComputedCase) {
  // Steps afforded by 0.75 s: speed * 128 / 16 * 0.75 = 6, 3, 1.5, 0.75, 12 -> 6, 3, 1, 0, 6.
  const auto drop = crafted(client::LatePolicy::Drop);
  const auto partial = crafted(client::LatePolicy::Partial);
  const std::vector<bool> late = {false, true, true, true, false};
  const std::vector<std::int64_t> partial_steps = {6, 3, 1, 0, 6};
  for (std::int64_t c = 0; c < 5; ++c) {
    EXPECT_EQ(drop.late(c), late[std::size_t(c)]) << c;
    EXPECT_EQ(drop.steps(c), late[std::size_t(c)] ? 0 : 6) << c;
    EXPECT_EQ(partial.steps(c), partial_steps[std::size_t(c)]) << c;
    EXPECT_EQ(partial.uploads(c), partial_steps[std::size_t(c)] > 0) << c;
  }
  EXPECT_EQ(partial.seconds(0), 0.75);
  EXPECT_EQ(partial.seconds(1), 0.75);   // 3 steps at 4 steps/s
  EXPECT_EQ(partial.seconds(2), 0.5);    // 1 step at 2 steps/s
  EXPECT_EQ(partial.seconds(4), 0.375);  // 6 steps at 16 steps/s
  EXPECT_EQ(partial.step_limits(), (std::vector<std::int64_t>{-1, 3, 1, 0, -1}));
  EXPECT_TRUE(drop.step_limits().empty());
  const std::vector<std::uint8_t> all(5, 1);
  std::vector<std::uint8_t> dropped = {0, 1, 1, 1, 0};
  EXPECT_EQ(drop.round_seconds(all, dropped), 0.75);
  EXPECT_EQ(drop.round_seconds({0, 1, 1, 1, 1}, dropped), 0.375);
  EXPECT_EQ(drop.round_seconds(all, {1, 1, 1, 1, 1}), 0.75);  // nobody made it: the server waited until the deadline
  EXPECT_TRUE(drop.nova_scales(all, dropped).empty());
  // Partial: client 3 has no step and drops; tau_eff = (100*6 + 100*3 + 100*1 + 300*6) / 600 = 2800/600.
  dropped = {0, 0, 0, 1, 0};
  const auto scales = partial.nova_scales(all, dropped);
  const double tau_eff = 2800.0 / 600.0;
  ASSERT_EQ(scales.size(), 5u);
  EXPECT_EQ(scales[0], tau_eff / 6);
  EXPECT_EQ(scales[1], tau_eff / 3);
  EXPECT_EQ(scales[2], tau_eff / 1);
  EXPECT_EQ(scales[3], 1.0);
  EXPECT_EQ(scales[4], tau_eff / 6);
  // A round whose aggregated clients are all on time needs no normalisation.
  EXPECT_TRUE(partial.nova_scales({1, 0, 0, 0, 1}, dropped).empty());
  EXPECT_FALSE(client::Stragglers().active());
}

namespace {

RunOptions tiny_run(const std::string& dir, const std::string& name) {
  RunOptions o = test::synthetic_run(dir + "/" + name + ".h5", 480, 96);
  o.model = "logreg";
  o.clients = 6;
  o.rounds = 2;
  o.batch_size = 16;
  o.optimizer = "sgd";
  o.lr = 0.05;
  o.local_iterations = 2;
  o.iteration_steps = 3;  // 6 steps a round: 0.75 s at speed 1 and 128 samples/s
  o.client_batch = 1;
  return o;
}

class StragglerRun : public testing::Test {
 protected:
  void SetUp() override {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    dir_ = test::shared_temp_dir(MPI_COMM_WORLD, "stragglers");
    speeds_ = dir_ + "/speeds.txt";
    if (rank_ == 0) std::ofstream(speeds_) << "1\n0.5\n1\n0.25\n2\n0.125\n";
    MPI_Barrier(MPI_COMM_WORLD);
  }
  // Crafted speeds against a 0.75 s deadline: clients 1, 3 and 5 are late;
  // under partial they afford 3, 1 and 0 steps.
  RunOptions crafted(const std::string& name, const std::string& policy) {
    auto o = tiny_run(dir_, name);
    o.compute_profile = speeds_;
    o.round_deadline = 0.75;
    o.late_policy = policy;
    o.reference_samples_per_second = 128;
    return o;
  }
  std::vector<float> weights(const RunOptions& o) { return read<float>(o.output, "global/weights"); }
  int rank_ = 0;
  std::string dir_, speeds_;
};

}  // namespace

TEST_F(StragglerRun, ADeadlineNobodyMissesChangesNoBit) {
  auto plain = tiny_run(dir_, "plain");
  run_simulation(plain, mpi::Comm::world());
  for (const char* policy : {"drop", "partial"}) {
    auto o = tiny_run(dir_, std::string("roomy-") + policy);
    o.compute_profile = "lognormal:1";
    o.round_deadline = 1e6;
    o.late_policy = policy;
    o.reference_samples_per_second = 128;
    run_simulation(o, mpi::Comm::world());
    if (rank_ != 0) continue;
    EXPECT_TRUE(same_bits(weights(plain), weights(o))) << policy;
    EXPECT_TRUE(same_bits(read<double>(plain.output, "global/test_loss"), read<double>(o.output, "global/test_loss")));
    for (auto late : read<std::uint8_t>(o.output, "clients/late")) EXPECT_EQ(late, 0);
    const auto speeds = read<double>(o.output, "clients/speed");
    ASSERT_EQ(speeds.size(), 6u);
    // The slowest client's 6 steps of 16 samples at speed v * 128 samples/s.
    double slowest = 0.0;
    for (double v : speeds) slowest = std::max(slowest, 6.0 * 16.0 / (v * 128.0));
    for (double s : read<double>(o.output, "timing/simulated_seconds")) EXPECT_DOUBLE_EQ(s, slowest);
  }
}

TEST_F(StragglerRun, DropLeavesOutExactlyTheLateClients) {
  auto o = crafted("drop", "drop");
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  const std::vector<std::uint8_t> expected = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/late"), expected);
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/dropped"), expected);
  EXPECT_EQ(read<double>(o.output, "clients/speed"), (std::vector<double>{1, 0.5, 1, 0.25, 2, 0.125}));
  EXPECT_EQ(read<double>(o.output, "timing/simulated_seconds"), (std::vector<double>{0.75, 0.75}));
  // Leaving them out changes the model; the world and one rank agree.
  auto plain = tiny_run(dir_, "drop-alone");
  run_simulation(plain, mpi::Comm::self());
  EXPECT_FALSE(same_bits(weights(plain), weights(o)));
  auto alone = o;
  alone.output = dir_ + "/drop-self.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(weights(o), weights(alone)));
}

TEST_F(StragglerRun, NobodyMakingTheDeadlineKeepsTheGlobalModel) {
  for (const char* policy : {"drop", "partial"}) {
    auto o = crafted(std::string("hopeless-") + policy, policy);
    o.round_deadline = 0.01;  // under one step for every client (the fastest needs 1/16 s)
    run_simulation(o, mpi::Comm::world());
    if (rank_ != 0) continue;
    const auto w = weights(o);
    const std::size_t P = w.size() / 3;
    EXPECT_TRUE(same_bits(std::vector<float>(w.begin(), w.begin() + P), std::vector<float>(w.begin() + 2 * P, w.end())));
    for (auto d : read<std::uint8_t>(o.output, "clients/dropped")) EXPECT_EQ(d, 1);
    for (auto late : read<std::uint8_t>(o.output, "clients/late")) EXPECT_EQ(late, 1);
    EXPECT_EQ(read<double>(o.output, "timing/simulated_seconds"), (std::vector<double>{0.01, 0.01}));
  }
}

TEST_F(StragglerRun, PartialStopsLateClientsAndNormalisesTheirUpdates) {
  auto o = crafted("partial", "partial");
  o.save_weights = "clients";
  run_simulation(o, mpi::Comm::world());
  // Clients doing 3 steps and 1 step in one iteration, without a deadline:
  // their first round's models are those partial's late clients hand over.
  auto three = tiny_run(dir_, "three-steps");
  three.local_iterations = 1;
  three.save_weights = "clients";
  run_simulation(three, mpi::Comm::world());
  auto one = three;
  one.iteration_steps = 1;
  one.output = dir_ + "/one-step.h5";
  run_simulation(one, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/late"),
            (std::vector<std::uint8_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/dropped"),  // client 5 affords no step
            (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(read<double>(o.output, "timing/simulated_seconds"), (std::vector<double>{0.75, 0.75}));
  // Iterations a late client never reached have no loss: [R, I, N].
  const auto loss = read<float>(o.output, "clients/train_loss");
  EXPECT_TRUE(std::isfinite(loss[1]));   // round 1, iteration 0, client 1 (3 steps)
  EXPECT_TRUE(std::isnan(loss[6 + 1]));  // iteration 1, client 1
  EXPECT_TRUE(std::isnan(loss[6 + 3]));
  EXPECT_TRUE(std::isfinite(loss[6 + 0]));
  const auto global = weights(o);
  const auto clients = read<float>(o.output, "clients/weights");  // [R, N, P]
  const std::size_t P = global.size() / 3;
  const auto handed = [&](std::size_t c) { return std::vector<float>(clients.begin() + c * P, clients.begin() + (c + 1) * P); };
  const auto first = [&](const std::vector<float>& all, std::size_t c) {
    return std::vector<float>(all.begin() + c * P, all.begin() + (c + 1) * P);
  };
  const auto three_models = read<float>(three.output, "clients/weights");
  const auto one_models = read<float>(one.output, "clients/weights");
  EXPECT_TRUE(same_bits(handed(1), first(three_models, 1)));
  EXPECT_TRUE(same_bits(handed(3), first(one_models, 3)));
  // Oracle of round 1: w + sum_i p_i s_i (w_i - w), s_i = tau_eff / tau_i,
  // over clients 0..4 (client 5 dropped), p_i = n_i / sum n.
  const auto offsets = read<std::int64_t>(o.output, "data/train_offsets");
  const std::vector<double> tau = {6, 3, 6, 1, 6};
  double samples = 0.0, weighted = 0.0;
  for (std::size_t c = 0; c < 5; ++c) {
    const double n = double(offsets[c + 1] - offsets[c]);
    samples += n;
    weighted += n * tau[c];
  }
  const double tau_eff = weighted / samples;
  for (std::size_t k = 0; k < P; ++k) {
    const double w = global[k];
    double step = 0.0;
    for (std::size_t c = 0; c < 5; ++c) {
      const double n = double(offsets[c + 1] - offsets[c]);
      step += n / samples * tau_eff / tau[c] * (double(clients[c * P + k]) - w);
    }
    EXPECT_NEAR(global[P + k], w + step, 1e-6) << k;
  }
  // The same bits on one rank.
  auto alone = o;
  alone.output = dir_ + "/partial-self.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(global, weights(alone)));
  EXPECT_TRUE(same_bits(clients, read<float>(alone.output, "clients/weights")));
}

TEST_F(StragglerRun, ALognormalProfileGivesTheSameBitsOnEveryRankCount) {
  auto o = tiny_run(dir_, "lognormal");
  o.compute_profile = "lognormal:1";
  o.round_deadline = 0.75;
  o.late_policy = "partial";
  o.reference_samples_per_second = 128;
  o.participation = 0.7;
  run_simulation(o, mpi::Comm::world());
  if (rank_ != 0) return;
  auto alone = o;
  alone.output = dir_ + "/lognormal-self.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(weights(o), weights(alone)));
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/late"), read<std::uint8_t>(alone.output, "clients/late"));
  EXPECT_TRUE(same_bits(read<double>(o.output, "timing/simulated_seconds"),
                        read<double>(alone.output, "timing/simulated_seconds")));
}

// The client-batched path (--client-batch 0: automatic) takes the step caps
// too: the same late and dropped clients, the per-client weights within 1e-6
// relative, and the same bits on every rank count.
TEST_F(StragglerRun, PartialTrainsClientBatched) {
  auto batched = crafted("partial-batched", "partial");
  batched.client_batch = 0;
  run_simulation(batched, mpi::Comm::world());
  auto one = crafted("partial-one", "partial");
  run_simulation(one, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_EQ(read<std::uint8_t>(batched.output, "clients/late"), read<std::uint8_t>(one.output, "clients/late"));
  EXPECT_EQ(read<std::uint8_t>(batched.output, "clients/dropped"), read<std::uint8_t>(one.output, "clients/dropped"));
  const auto a = weights(batched), b = weights(one);
  ASSERT_EQ(a.size(), b.size());
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  EXPECT_LE(diff, 1e-6 * scale);
  auto alone = batched;
  alone.output = dir_ + "/partial-batched-self.h5";
  run_simulation(alone, mpi::Comm::self());
  EXPECT_TRUE(same_bits(a, weights(alone)));
}

TEST_F(StragglerRun, TheStoredConfigRepeatsACalibratedRun) {
  // No --reference-samples-per-second: rank 0 measures it, and the stored
  // configuration keeps the figure, so running that configuration again
  // cuts the same clients and gives the same bits.
  auto o = tiny_run(dir_, "calibrated");
  o.compute_profile = "lognormal:1";
  o.round_deadline = 0.75;
  o.late_policy = "partial";
  run_simulation(o, mpi::Comm::world());
  const std::string ini = dir_ + "/calibrated.ini";
  if (rank_ == 0) {
    auto file = h5::File::open(o.output, MPI_COMM_NULL, false);
    const auto config = file.root().get_attribute_string("config");
    EXPECT_EQ(config.find("\nreference-samples-per-second = 0\n"), std::string::npos) << config;
    EXPECT_NE(config.find("\nround-deadline = 0.75\n"), std::string::npos) << config;
    std::ofstream(ini) << config;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto again = parse_run_options({"--config", ini, "--output", dir_ + "/calibrated-again.h5", "--overwrite"}).options;
  EXPECT_GT(again.reference_samples_per_second, 0.0);
  run_simulation(again, mpi::Comm::world());
  if (rank_ != 0) return;
  EXPECT_TRUE(same_bits(weights(o), weights(again)));
  EXPECT_EQ(read<std::uint8_t>(o.output, "clients/late"), read<std::uint8_t>(again.output, "clients/late"));
}

TEST_F(StragglerRun, BadCombinationsAreOneLineErrorsNamingTheOption) {
  const auto parse = [](std::vector<std::string> args) { validate(parse_run_options(args).options); };
  expect_input_error([&] { parse({"--late-policy", "partial"}); }, {"--late-policy", "--round-deadline"});
  expect_input_error([&] { parse({"--reference-samples-per-second", "100"}); },
                     {"--reference-samples-per-second", "--round-deadline"});
  expect_input_error([&] { parse({"--round-deadline", "-1"}); }, {"--round-deadline"});
  expect_input_error([&] { parse({"--round-deadline", "0"}); }, {"--round-deadline", "> 0"});
  expect_input_error([&] { parse({"--compute-profile", "lognormal:-0.5"}); }, {"--compute-profile"});
  expect_input_error([&] { parse({"--compute-profile", "uniform:0:1"}); }, {"--compute-profile"});
  expect_input_error([&] { parse({"--compute-profile", "uniform:2:1"}); }, {"--compute-profile"});
  expect_input_error([&] { parse({"--round-deadline", "1", "--late-policy", "never"}); }, {"--late-policy"});
  expect_input_error([&] { parse({"--round-deadline", "1", "--topology", "ring"}); },
                     {"--round-deadline", "centralized"});
  auto o = tiny_run(dir_, "missing");
  o.compute_profile = dir_ + "/no-such-file.txt";
  expect_input_error([&] { run_simulation(o, mpi::Comm::world()); }, {"--compute-profile", "no-such-file.txt"});
}
