#include "fedhpc/client/tiers.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "fedhpc/core/error.hpp"
#include "fedhpc/core/rng.hpp"

namespace fedhpc::client {

namespace {

// The user's text in a message: at most 40 characters, non-printable ones as '?'.
std::string shown(const std::string& text) {
  std::string out = text.substr(0, 40);
  for (auto& ch : out)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) == 0x7f) ch = '?';
  return "'" + out + (text.size() > 40 ? "...'" : "'");
}

[[noreturn]] void fail(const std::string& option, const std::string& message) {
  throw InputError("--" + option + ": " + message);
}

int tier_index(const std::string& name, const std::string& option) {
  for (int t = 0; t < kTiers; ++t)
    if (name == kTierNames[std::size_t(t)]) return t;
  fail(option, "unknown tier " + shown(name) + "; allowed: strong, moderate, weak");
}

// "name:value,name:value": calls fn(tier, value text) for each entry, once per tier.
template <class Fn>
void for_each_entry(const std::string& text, const std::string& option, Fn&& fn) {
  std::array<bool, kTiers> seen{};
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    const std::string entry = text.substr(pos, comma - pos);
    const auto colon = entry.find(':');
    if (colon == std::string::npos)
      fail(option, "expected tier:value entries separated by commas; got " + shown(entry));
    const int t = tier_index(entry.substr(0, colon), option);
    if (seen[std::size_t(t)]) fail(option, std::string("tier ") + kTierNames[std::size_t(t)] + " is given twice");
    seen[std::size_t(t)] = true;
    fn(t, entry.substr(colon + 1));
    pos = comma + 1;
  }
}

double parse_fraction(const std::string& text, const std::string& option) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !(v >= 0.0 && v <= 1.0))
    fail(option, "a tier's fraction must be a number in [0, 1]; got " + shown(text));
  return v;
}

int parse_count(const std::string& text, const std::string& option) {
  int v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 1)
    fail(option, "a tier's trainable layer count must be an integer >= 1; got " + shown(text));
  return v;
}

}  // namespace

TierSpec parse_tiers(const std::string& tiers, const std::string& trainable) {
  TierSpec spec;
  if (tiers == "none") return spec;
  spec.enabled = true;
  spec.fraction = {0.0, 0.0, 0.0};
  for_each_entry(tiers, "client-tiers", [&](int t, const std::string& v) {
    spec.fraction[std::size_t(t)] = parse_fraction(v, "client-tiers");
  });
  const double sum = spec.fraction[0] + spec.fraction[1] + spec.fraction[2];
  if (std::fabs(sum - 1.0) > 1e-9) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.9g", sum);
    fail("client-tiers", std::string("the fractions must sum to 1; they sum to ") + buf);
  }
  for_each_entry(trainable, "tier-trainable", [&](int t, const std::string& v) {
    if (t == int(Tier::Strong)) fail("tier-trainable", "strong clients train every layer; give moderate and weak only");
    spec.trainable[std::size_t(t)] = parse_count(v, "tier-trainable");
  });
  return spec;
}

void check_trainable(const TierSpec& spec, int weight_layers, const std::string& model) {
  if (!spec.enabled) return;
  for (int t = 1; t < kTiers; ++t) {
    if (spec.fraction[std::size_t(t)] == 0.0) continue;
    const int n = spec.trainable[std::size_t(t)];
    if (n < 1 || n > weight_layers)
      fail("tier-trainable", std::string(kTierNames[std::size_t(t)]) + ":" + std::to_string(n) +
                                 " is out of range; " + model + " has " + std::to_string(weight_layers) +
                                 " weight layers, so allowed: 1.." + std::to_string(weight_layers));
  }
}

std::vector<Tier> draw_tiers(const TierSpec& spec, std::uint64_t seed, const std::vector<std::int64_t>& keys) {
  std::vector<Tier> out(keys.size(), Tier::Strong);
  if (!spec.enabled) return out;
  for (std::size_t c = 0; c < keys.size(); ++c) {
    auto rng = stream(seed, StreamKind::Tier, std::uint64_t(keys[c]));
    const double u = rng.uniform();
    // The last tier with a positive fraction takes what rounding leaves above the cumulative sum.
    double cumulative = 0.0;
    int chosen = -1;
    for (int t = 0; t < kTiers; ++t) {
      if (spec.fraction[std::size_t(t)] == 0.0) continue;
      chosen = t;
      cumulative += spec.fraction[std::size_t(t)];
      if (u < cumulative) break;
    }
    out[c] = Tier(chosen);
  }
  return out;
}

int trained_layers(const TierSpec& spec, Tier tier, int weight_layers) {
  return tier == Tier::Strong ? weight_layers : spec.trainable[std::size_t(tier)];
}

std::int64_t first_trained_offset(const ParamLayout& layout, int trained) {
  const auto weights = layout.weight_layers();
  if (trained >= int(weights.size())) return 0;
  return layout.layers()[weights[weights.size() - std::size_t(trained)]].offset;
}

std::vector<std::int64_t> trained_offsets(const TierSpec& spec, const std::vector<Tier>& tiers,
                                          const ParamLayout& layout) {
  const int lw = int(layout.weight_layers().size());
  std::vector<std::int64_t> out;
  out.reserve(tiers.size());
  for (auto t : tiers) out.push_back(first_trained_offset(layout, trained_layers(spec, t, lw)));
  return out;
}

}  // namespace fedhpc::client
