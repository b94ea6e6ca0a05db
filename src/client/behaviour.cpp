#include "fedhpc/client/behaviour.hpp"

#include <cmath>
#include <numeric>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::client {

Fault parse_fault(const std::string& text) {
  if (text == "none") return Fault::None;
  if (text == "sign-flip") return Fault::SignFlip;
  if (text == "gaussian") return Fault::Gaussian;
  if (text == "scale") return Fault::Scale;
  if (text == "label-flip") return Fault::LabelFlip;
  if (text == "random") return Fault::Random;
  throw InputError("--fault: unknown value '" + text + "'; allowed: none|sign-flip|gaussian|scale|label-flip|random");
}

std::string to_string(Fault fault) {
  switch (fault) {
    case Fault::None: return "none";
    case Fault::SignFlip: return "sign-flip";
    case Fault::Gaussian: return "gaussian";
    case Fault::Scale: return "scale";
    case Fault::LabelFlip: return "label-flip";
    case Fault::Random: return "random";
  }
  return "?";
}

void validate(const BehaviourOptions& o) {
  if (!(o.dropout_rate >= 0.0 && o.dropout_rate < 1.0))
    throw InputError("--dropout-rate: must be in [0, 1), got " + std::to_string(o.dropout_rate));
  if (!(o.faulty_fraction >= 0.0 && o.faulty_fraction <= 1.0))
    throw InputError("--faulty-fraction: must be in [0, 1], got " + std::to_string(o.faulty_fraction));
  if (!(std::isfinite(o.fault_scale) && o.fault_scale >= 0.0))
    throw InputError("--fault-scale: must be a finite number >= 0, got " + std::to_string(o.fault_scale));
  if (o.faulty_fraction > 0.0 && o.fault == Fault::None)
    throw InputError("--fault: --faulty-fraction " + std::to_string(o.faulty_fraction) +
                     " needs a fault; allowed: sign-flip|gaussian|scale|label-flip|random");
  if (o.faulty_fraction == 0.0 && o.fault != Fault::None)
    throw InputError("--faulty-fraction: --fault " + to_string(o.fault) +
                     " needs a fraction of faulty clients in (0, 1]");
}

ClientBehaviour::ClientBehaviour(BehaviourOptions options, std::vector<std::int64_t> keys)
    : options_(options), keys_(std::move(keys)), faulty_(keys_.size(), 0) {
  const auto n = std::int64_t(keys_.size());
  const auto count = std::llround(options_.faulty_fraction * double(n));
  if (count <= 0) return;
  // Drawn over partition indices, then mapped to ids.
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto rng = stream(options_.seed, StreamKind::Fault, 0, 0, 2);
  shuffle(order.begin(), order.end(), rng);
  std::vector<std::uint8_t> by_key(std::size_t(n), 0);
  for (std::int64_t i = 0; i < count; ++i) by_key[std::size_t(order[std::size_t(i)])] = 1;
  for (std::int64_t id = 0; id < n; ++id) faulty_[std::size_t(id)] = by_key[std::size_t(keys_[std::size_t(id)])];
}

std::vector<std::uint8_t> ClientBehaviour::dropped(int round, const std::vector<std::uint8_t>& selected) const {
  std::vector<std::uint8_t> out(selected.size(), 0);
  if (!any_dropout()) return out;
  for (std::size_t id = 0; id < selected.size(); ++id) {
    if (!selected[id]) continue;
    auto rng = stream(options_.seed, StreamKind::Fault, std::uint64_t(keys_[id]), std::uint64_t(round), 1);
    out[id] = rng.uniform() < options_.dropout_rate;
  }
  return out;
}

void ClientBehaviour::corrupt(std::int64_t id, int round, int step, const float* start, float* params,
                              std::int64_t n) const {
  if (!is_faulty(id)) return;
  const double s = options_.fault_scale;
  auto rng = stream(options_.seed, StreamKind::Fault, std::uint64_t(keys_[std::size_t(id)]), std::uint64_t(round),
                    3 + std::uint64_t(step));
  switch (options_.fault) {
    case Fault::SignFlip:
      for (std::int64_t k = 0; k < n; ++k) params[k] = float(double(start[k]) - s * (double(params[k]) - start[k]));
      break;
    case Fault::Scale:
      for (std::int64_t k = 0; k < n; ++k) params[k] = float(double(start[k]) + s * (double(params[k]) - start[k]));
      break;
    case Fault::Gaussian:
      for (std::int64_t k = 0; k < n; ++k) params[k] = float(double(start[k]) + s * rng.normal());
      break;
    case Fault::Random:
      for (std::int64_t k = 0; k < n; ++k) params[k] = float(s * rng.uniform(-1.0, 1.0));
      break;
    case Fault::None:
    case Fault::LabelFlip:
      break;
  }
}

}  // namespace fedhpc::client
