#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fedhpc::data {
struct Partition;
}

namespace fedhpc::client {

// --compute-profile: each client's relative speed (1 = the reference).
struct ComputeProfile {
  enum class Kind { None, Lognormal, Uniform, File };
  Kind kind = Kind::None;
  double sigma = 0.0;        // lognormal: speed = exp(sigma N(0, 1)), median 1
  double low = 1.0;          // uniform: speed in [low, high)
  double high = 1.0;
  std::string path;          // file: one positive speed per line, line k = client k
};

// "none" | "lognormal:SIGMA" | "uniform:A:B" | FILE. InputError naming
// --compute-profile for a bad value (negative sigma, a <= 0, b < a).
ComputeProfile parse_compute_profile(const std::string& text);

// The speed of every client id; keys[id] is its partition index. Lognormal
// and uniform draw from the stream (seed, Fault, key, 0, kSpeedStream), so a
// client's speed depends on neither the rank count nor its placement; a file's
// line k is partition index k (InputError naming the file and line).
std::vector<double> client_speeds(const ComputeProfile& profile, std::uint64_t seed,
                                  const std::vector<std::int64_t>& keys);

// The Fault stream's `extra` of the speed draw: far above the small numbers
// the dropout (1), faulty-set (2) and corruption (3 + step) draws use.
inline constexpr std::uint64_t kSpeedStream = std::uint64_t(1) << 40;

enum class LatePolicy { Drop, Partial };
LatePolicy parse_late_policy(const std::string& text);  // InputError naming --late-policy
std::string to_string(LatePolicy policy);

// What one client does per round without a deadline: its optimizer steps
// (local iterations x steps per iteration) and the samples of one step.
struct ClientWork {
  std::int64_t steps = 0;
  std::int64_t step_samples = 0;
  std::int64_t train_samples = 0;  // n_i, the client's aggregation weight
};

// Per client id, from the partition and the local-training options (the same
// walk LocalTrainer::for_each_batch takes: batch 0 = the whole split).
std::vector<ClientWork> client_work(const data::Partition& partition, std::int64_t batch_size, int local_iterations,
                                    std::int64_t iteration_steps);

// The simulated round clock (README, "Stragglers"). A client with speed v
// needs k * step_samples / (v * reference) simulated seconds for k steps.
// Everything here is a pure function of the speeds, the work, the deadline
// and the reference rate, so it is the same on every rank and every run that
// fixes them. Without a deadline nothing is late and there is no clock.
class Stragglers {
 public:
  Stragglers() = default;  // inactive: no deadline
  Stragglers(std::vector<double> speeds, std::vector<ClientWork> work, double deadline, LatePolicy policy,
             double reference_samples_per_second);

  bool active() const { return deadline_ > 0.0; }
  LatePolicy policy() const { return policy_; }
  double deadline() const { return deadline_; }
  // Whether client id cannot finish its round's steps by the deadline.
  bool late(std::int64_t id) const;
  // The steps the client does: all of them, or under partial those it
  // finishes by the deadline (0 for a late client under drop: none count).
  std::int64_t steps(std::int64_t id) const;
  // Whether the client's model reaches aggregation when it is not dropped
  // otherwise: on time, or partial with at least one finished step.
  bool uploads(std::int64_t id) const;
  // Simulated seconds of the work the client hands over (<= the deadline
  // for every uploading client).
  double seconds(std::int64_t id) const;
  // Per client id, the step cap for LocalTrainer::set_step_limits: under
  // partial the late clients' steps(id), -1 (no cap) elsewhere; empty when
  // no client is capped.
  std::vector<std::int64_t> step_limits() const;
  // The round's simulated time: the slowest client that reaches aggregation
  // (selected, not dropped), or the deadline when none does (the server
  // waited for it).
  double round_seconds(const std::vector<std::uint8_t>& selected, const std::vector<std::uint8_t>& dropped) const;
  // FedNova normalisation (partial, in a round where an aggregated client is
  // late): per client id the factor s_i = tau_eff / tau_i its update
  // (w_i - w) is multiplied by, tau_eff = sum n_i tau_i / sum n_i over the
  // aggregated clients. Empty when the round needs none (then every factor
  // would be 1 and the plain aggregation runs, bit for bit).
  std::vector<double> nova_scales(const std::vector<std::uint8_t>& selected,
                                  const std::vector<std::uint8_t>& dropped) const;
  const std::vector<double>& speeds() const { return speeds_; }
  double reference_samples_per_second() const { return reference_; }

 private:
  std::int64_t affordable_steps(std::int64_t id) const;
  std::vector<double> speeds_;
  std::vector<ClientWork> work_;
  double deadline_ = 0.0;
  LatePolicy policy_ = LatePolicy::Drop;
  double reference_ = 0.0;
};

}  // namespace fedhpc::client
