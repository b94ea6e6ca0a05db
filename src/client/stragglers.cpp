#include "fedhpc/client/stragglers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"
#include "fedhpc/data/partition.hpp"

namespace fedhpc::client {

namespace {

const char* kProfileChoices = "none|lognormal:SIGMA|uniform:A:B|FILE";

bool parse_double(const std::string& text, double& out) {
  const auto end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return !text.empty() && ec == std::errc() && ptr == end && std::isfinite(out);
}

[[noreturn]] void bad_profile(const std::string& text, const std::string& why) {
  throw InputError("--compute-profile: " + why + " in '" + text + "'; allowed: " + kProfileChoices);
}

// One speed per line; trailing blanks and a final newline are fine.
std::vector<double> read_speed_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("--compute-profile: cannot open speed file '" + path + "'");
  std::vector<double> speeds;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    double v = 0.0;
    if (!parse_double(line, v) || !(v > 0.0))
      throw InputError("--compute-profile: '" + path + "' line " + std::to_string(n) +
                       ": expected one positive speed, got '" + line.substr(0, 40) + "'");
    speeds.push_back(v);
  }
  return speeds;
}

}  // namespace

ComputeProfile parse_compute_profile(const std::string& text) {
  ComputeProfile p;
  if (text == "none") return p;
  if (text.rfind("lognormal:", 0) == 0) {
    p.kind = ComputeProfile::Kind::Lognormal;
    if (!parse_double(text.substr(10), p.sigma)) bad_profile(text, "sigma is not a number");
    if (!(p.sigma >= 0.0 && p.sigma <= 10.0)) bad_profile(text, "sigma must be in [0, 10]");
    return p;
  }
  if (text.rfind("uniform:", 0) == 0) {
    p.kind = ComputeProfile::Kind::Uniform;
    const auto rest = text.substr(8);
    const auto colon = rest.find(':');
    if (colon == std::string::npos || !parse_double(rest.substr(0, colon), p.low) ||
        !parse_double(rest.substr(colon + 1), p.high))
      bad_profile(text, "expected uniform:A:B with two numbers");
    if (!(p.low > 0.0)) bad_profile(text, "A must be > 0");
    if (!(p.high >= p.low)) bad_profile(text, "B must be >= A");
    return p;
  }
  if (text.empty()) bad_profile(text, "empty value");
  p.kind = ComputeProfile::Kind::File;
  p.path = text;
  return p;
}

std::vector<double> client_speeds(const ComputeProfile& profile, std::uint64_t seed,
                                  const std::vector<std::int64_t>& keys) {
  std::vector<double> speeds(keys.size(), 1.0);
  std::vector<double> by_key;
  if (profile.kind == ComputeProfile::Kind::File) {
    by_key = read_speed_file(profile.path);
    if (by_key.size() != keys.size())
      throw InputError("--compute-profile: '" + profile.path + "' has " + std::to_string(by_key.size()) +
                       " speeds; expected one line per client (" + std::to_string(keys.size()) + ")");
  }
  for (std::size_t id = 0; id < keys.size(); ++id) {
    const auto key = std::uint64_t(keys[id]);
    auto rng = stream(seed, StreamKind::Fault, key, 0, kSpeedStream);
    switch (profile.kind) {
      case ComputeProfile::Kind::None: break;
      case ComputeProfile::Kind::Lognormal: speeds[id] = std::exp(profile.sigma * rng.normal()); break;
      case ComputeProfile::Kind::Uniform: speeds[id] = rng.uniform(profile.low, profile.high); break;
      case ComputeProfile::Kind::File: speeds[id] = by_key[key]; break;
    }
  }
  return speeds;
}

LatePolicy parse_late_policy(const std::string& text) {
  if (text == "drop") return LatePolicy::Drop;
  if (text == "partial") return LatePolicy::Partial;
  throw InputError("--late-policy: unknown value '" + text + "'; allowed: drop|partial");
}

std::string to_string(LatePolicy policy) { return policy == LatePolicy::Drop ? "drop" : "partial"; }

std::vector<ClientWork> client_work(const data::Partition& partition, std::int64_t batch_size, int local_iterations,
                                    std::int64_t iteration_steps) {
  std::vector<ClientWork> work(std::size_t(partition.num_clients()));
  for (std::int64_t c = 0; c < partition.num_clients(); ++c) {
    const std::int64_t n = partition.train_count(c);
    const std::int64_t b = batch_size == 0 ? n : std::min(batch_size, n);
    const std::int64_t per_iteration = iteration_steps > 0 ? iteration_steps : (n + b - 1) / std::max<std::int64_t>(1, b);
    work[std::size_t(c)] = {per_iteration * local_iterations, b, n};
  }
  return work;
}

Stragglers::Stragglers(std::vector<double> speeds, std::vector<ClientWork> work, double deadline, LatePolicy policy,
                       double reference_samples_per_second)
    : speeds_(std::move(speeds)), work_(std::move(work)), deadline_(deadline), policy_(policy),
      reference_(reference_samples_per_second) {}

// floor(deadline * speed * reference / step_samples), capped at the full
// work: one formula decides both lateness and the partial step count, so they
// never disagree by a rounding.
std::int64_t Stragglers::affordable_steps(std::int64_t id) const {
  const auto& w = work_[std::size_t(id)];
  const double rate = speeds_[std::size_t(id)] * reference_ / double(std::max<std::int64_t>(1, w.step_samples));
  const double k = std::floor(deadline_ * rate);
  return k >= double(w.steps) ? w.steps : std::int64_t(k);
}

bool Stragglers::late(std::int64_t id) const {
  return active() && affordable_steps(id) < work_[std::size_t(id)].steps;
}

std::int64_t Stragglers::steps(std::int64_t id) const {
  if (!late(id)) return work_[std::size_t(id)].steps;
  return policy_ == LatePolicy::Partial ? affordable_steps(id) : 0;
}

bool Stragglers::uploads(std::int64_t id) const { return steps(id) > 0; }

double Stragglers::seconds(std::int64_t id) const {
  const auto& w = work_[std::size_t(id)];
  const std::int64_t k = late(id) && policy_ == LatePolicy::Partial ? affordable_steps(id) : w.steps;
  return double(k) * double(w.step_samples) / (speeds_[std::size_t(id)] * reference_);
}

std::vector<std::int64_t> Stragglers::step_limits() const {
  if (!active() || policy_ != LatePolicy::Partial) return {};
  std::vector<std::int64_t> limits(work_.size(), -1);
  bool any = false;
  for (std::size_t id = 0; id < work_.size(); ++id)
    if (late(std::int64_t(id))) limits[id] = steps(std::int64_t(id)), any = true;
  if (!any) limits.clear();
  return limits;
}

double Stragglers::round_seconds(const std::vector<std::uint8_t>& selected,
                                 const std::vector<std::uint8_t>& dropped) const {
  double slowest = -1.0;
  for (std::size_t id = 0; id < selected.size(); ++id)
    if (selected[id] && !dropped[id]) slowest = std::max(slowest, seconds(std::int64_t(id)));
  return slowest < 0.0 ? deadline_ : std::min(slowest, deadline_);
}

std::vector<double> Stragglers::nova_scales(const std::vector<std::uint8_t>& selected,
                                            const std::vector<std::uint8_t>& dropped) const {
  if (!active() || policy_ != LatePolicy::Partial) return {};
  // Integer sums: with equal tau_i, tau_eff is exactly tau_i and s_i exactly 1.
  std::int64_t samples = 0, weighted_steps = 0;
  bool any_late = false;
  for (std::size_t id = 0; id < selected.size(); ++id) {
    if (!selected[id] || dropped[id]) continue;
    const auto n = work_[id].train_samples;
    samples += n;
    weighted_steps += n * steps(std::int64_t(id));
    any_late = any_late || late(std::int64_t(id));
  }
  if (!any_late || samples == 0) return {};
  const double tau_eff = double(weighted_steps) / double(samples);
  std::vector<double> scales(selected.size(), 1.0);
  for (std::size_t id = 0; id < selected.size(); ++id)
    if (selected[id] && !dropped[id]) scales[id] = tau_eff / double(steps(std::int64_t(id)));
  return scales;
}

}  // namespace fedhpc::client
