#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace fedhpc::topology {

// Sizes of the per-round buffers of one rank.
struct RecordShape {
  std::int64_t block = 0;
  int iterations = 1;
  std::int64_t params = 0;
  bool keep_weights = false;
  int monitored = 0;          // I' = I (every), 1 (last), 0 (off)
  int weight_layers = 0;      // Lw
  bool keep_gradients = false;
};

// What one round leaves on this rank for its block of clients. Slots of
// clients that did not train stay NaN (0 for the flags).
struct RoundRecord {
  std::vector<float> train_loss;            // [I][block]
  std::vector<float> client_weights;        // [block][P] when kept: the model each client handed over
  std::vector<std::uint8_t> participated;   // [block]
  std::vector<std::uint8_t> dropped;        // [block]: trained, then dropped out before upload
  std::vector<std::uint8_t> nonfinite;      // [block]
  std::vector<float> gsc;                   // [I'][block]
  std::vector<float> input_grad_rms;        // [I'][block]
  std::vector<float> gsc_profile;           // [I'][block][Lw]
  std::vector<float> grad_mean_abs;         // [I'][block][Lw]
  std::vector<float> grad_l2;               // [I'][block][Lw]
  std::vector<float> update_sum;            // [I'][block]
  std::vector<float> update_l1;             // [I'][block]
  std::vector<float> gradients;             // [block][P] when kept
  std::vector<float> iteration_test_loss;   // [I'][block]
  std::int64_t nonfinite_skipped = 0;       // this rank's clients; the engine sums over ranks
  // Same on every rank:
  std::array<double, 5> comm_bytes{};       // per level, see kCommLevels
  double consensus_distance = 0.0;          // gossip
  void reset(const RecordShape& shape);
};

// Levels of the communication accounting (/comm/bytes columns): model bytes
// moved between the parties of the topology in one round.
inline const std::array<const char*, 5> kCommLevels = {"client_server", "client_edge", "edge_server", "ring_hop",
                                                       "gossip"};
enum CommLevel { kClientServer = 0, kClientEdge = 1, kEdgeServer = 2, kRingHop = 3, kGossip = 4 };

// Phases of a round (/timing/phases columns). The engine times the first
// four; the caller that writes the round times "write".
inline const std::array<const char*, 5> kPhaseNames = {"select", "train", "aggregate", "evaluate", "write"};
enum Phase { kSelect = 0, kTrain = 1, kAggregate = 2, kEvaluate = 3, kWrite = 4 };

// Everything one round produces. The topology fills global, record,
// client_models and the cluster fields; the engine adds the evaluation.
struct RoundResult {
  int round = 0;
  std::vector<float> global;                  // the new global model (P)
  RoundRecord record;                         // per-client outcomes of this rank's block
  // Per client of the block: the model its local test split is evaluated on
  // (owned by the topology, valid until its next round).
  std::vector<const float*> client_models;
  std::vector<std::int64_t> cluster_of_client;  // clustered: all N, else empty
  std::vector<float> cluster_models;            // clustered: K x P, else empty
  double cluster_threshold = 0.0;               // clustered: lambda of this round's re-clustering, NaN if none
  std::vector<std::uint8_t> gma_mask;           // fedgma(-soft): 1 where the mask kept the coordinate (P), else empty
  // fedlama, else empty: per decision point of the round (every phi*tau'
  // iterations) the interval each tensor gets next and its discrepancy d_l,
  // [D][L] each; the bytes each tensor moved in the round [L]; and what
  // FedAvg at interval tau' would have moved (same clients and iterations).
  std::vector<std::int64_t> lama_interval;
  std::vector<double> lama_discrepancy;
  std::vector<double> layer_bytes;
  double fedavg_bytes = 0.0;
  // Filled by the engine. Rounds that --eval-every skips are not evaluated:
  // the losses and accuracies below are NaN.
  bool evaluated = true;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  double aggregated_loss = 0.0;
  double aggregated_accuracy = 0.0;
  std::vector<float> local_test_loss;      // per client of the block
  std::vector<float> local_test_accuracy;  // per client of the block
  double seconds = 0.0;
  // Wall seconds per phase (kPhaseNames) on the rank that trained longest,
  // the same on every rank; select..evaluate add up to that rank's round
  // time (<= seconds). kWrite stays 0 here.
  std::array<double, 5> phase_seconds{};
};

}  // namespace fedhpc::topology
