#pragma once
// Client tiers (InclusiveFL-style weak clients; algorithms.md section 12):
// a weaker client trains only the output-side weight layers of the model and
// runs the others forward only.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fedhpc/core/param_layout.hpp"

namespace fedhpc::client {

enum class Tier : int { Strong = 0, Moderate = 1, Weak = 2 };
inline constexpr int kTiers = 3;
// Index = the value stored in /clients/tier.
inline constexpr std::array<const char*, kTiers> kTierNames = {"strong", "moderate", "weak"};

// --client-tiers and --tier-trainable. A "weight layer" is a weight tensor
// together with the tensors after it up to the next weight tensor (its bias):
// the units of ParamLayout::weight_layers().
struct TierSpec {
  bool enabled = false;                       // --client-tiers none = off
  std::array<double, kTiers> fraction = {1.0, 0.0, 0.0};
  std::array<int, kTiers> trainable = {0, 2, 1};  // output-side weight layers; 0 (strong) = all
};

// Parses "strong:0.5,moderate:0.25,weak:0.25" (or "none") and
// "moderate:2,weak:1"; a bad spec is an InputError naming the option.
TierSpec parse_tiers(const std::string& tiers, const std::string& trainable);

// Every tier that can be drawn needs a trainable count in [1, weight_layers];
// InputError naming --tier-trainable otherwise.
void check_trainable(const TierSpec& spec, int weight_layers, const std::string& model);

// The tier of every client: one uniform draw from the stream (seed, Tier,
// key) of each client, compared with the cumulative fractions. keys[c] is
// client c's stream key (its partition index).
std::vector<Tier> draw_tiers(const TierSpec& spec, std::uint64_t seed, const std::vector<std::int64_t>& keys);

// Weight layers a tier trains (all of them for strong).
int trained_layers(const TierSpec& spec, Tier tier, int weight_layers);

// The first flat-buffer offset a client of `trained` output-side weight
// layers trains: it trains [offset, total) and leaves [0, offset) frozen.
std::int64_t first_trained_offset(const ParamLayout& layout, int trained);

// first_trained_offset of every client (all 0 when tiers are off).
std::vector<std::int64_t> trained_offsets(const TierSpec& spec, const std::vector<Tier>& tiers,
                                          const ParamLayout& layout);

}  // namespace fedhpc::client
