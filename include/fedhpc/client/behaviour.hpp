#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fedhpc/client/stragglers.hpp"

namespace fedhpc::client {

// How a faulty client corrupts what it hands over.
enum class Fault { None, SignFlip, Gaussian, Scale, LabelFlip, Random };

// --dropout-rate, --faulty-fraction, --fault, --fault-scale.
struct BehaviourOptions {
  double dropout_rate = 0.0;
  double faulty_fraction = 0.0;
  Fault fault = Fault::None;
  double fault_scale = 1.0;
  std::uint64_t seed = 0;
};

Fault parse_fault(const std::string& text);  // InputError naming --fault
std::string to_string(Fault fault);
// InputError naming the option when a value is out of range.
void validate(const BehaviourOptions& options);

// Clients that misbehave. Every draw is keyed by the client's stream key (its
// index in the original partition), never by the rank or the topology's
// renumbering:
// - dropout: a selected client drops out before upload with probability q,
//   drawn from stream (seed, Fault, key, round, 1);
// - faulty: round(f*N) clients, a seeded sample (stream (seed, Fault, 0, 0, 2))
//   fixed for the whole run.
class ClientBehaviour {
 public:
  // keys[id] = stream key of client id (the partition index).
  ClientBehaviour(BehaviourOptions options, std::vector<std::int64_t> keys);

  const BehaviourOptions& options() const { return options_; }
  bool any_dropout() const { return options_.dropout_rate > 0.0; }
  // One flag per client id: drops out in this round (selected clients only).
  std::vector<std::uint8_t> dropped(int round, const std::vector<std::uint8_t>& selected) const;
  // One flag per client id: faulty for the whole run.
  const std::vector<std::uint8_t>& faulty() const { return faulty_; }
  bool is_faulty(std::int64_t id) const { return faulty_[std::size_t(id)] != 0; }
  // Stragglers (--round-deadline): who is late and what a late client does.
  // Set once before the first round; inactive by default.
  void set_stragglers(Stragglers stragglers) { stragglers_ = std::move(stragglers); }
  const Stragglers& stragglers() const { return stragglers_; }
  // Turns a faulty client's update into what it hands over: params holds the
  // honest result of training from `start`; `step` tells apart several
  // corruptions within one round (local iterations). No-op for honest
  // clients and for label-flip (which corrupts the data instead):
  //   sign-flip: start - s (params - start)
  //   scale:     start + s (params - start)
  //   gaussian:  start + s N(0, 1) per coordinate
  //   random:    s U(-1, 1) per coordinate
  void corrupt(std::int64_t id, int round, int step, const float* start, float* params, std::int64_t n) const;

 private:
  BehaviourOptions options_;
  std::vector<std::int64_t> keys_;
  std::vector<std::uint8_t> faulty_;
  Stragglers stragglers_;
};

}  // namespace fedhpc::client
