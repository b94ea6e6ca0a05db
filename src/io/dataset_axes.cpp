#include "fedhpc/io/dataset_axes.hpp"

#include <map>

namespace fedhpc::io {

namespace {

// One row per dataset of README's schema table, in its axis order.
const std::map<std::string, DatasetAxes>& table() {
  static const std::map<std::string, DatasetAxes> axes = {
      {"model/layer_names", {"layer", "", -1}},
      {"model/weight_layers", {"weight_layer", "", -1}},
      {"model/layer_shapes", {"layer,axis", "", -1}},
      {"model/layer_offsets", {"layer_boundary", "", -1}},
      {"data/train_indices", {"index", "", -1}},
      {"data/train_offsets", {"client_boundary", "", -1}},
      {"data/test_indices", {"index", "", -1}},
      {"data/test_offsets", {"client_boundary", "", -1}},
      {"data/train_labels", {"index", "", -1}},
      {"data/test_labels", {"index", "", -1}},
      {"clients/concept_group", {"client", "", -1}},
      {"clients/concept_label_maps", {"concept_group,class", "", -1}},
      {"global/weights", {"round,parameter", "", 0}},
      {"global/test_loss", {"round", "nats", 0}},
      {"global/test_accuracy", {"round", "fraction", 0}},
      {"global/aggregated_loss", {"round", "nats", 1}},
      {"global/aggregated_accuracy", {"round", "fraction", 1}},
      {"global/nonfinite_skipped", {"round", "clients", 1}},
      {"global/consensus_distance", {"round", "", 1}},
      {"clients/train_loss", {"round,iteration,client", "nats", 1}},
      {"clients/local_test_loss", {"round,client", "nats", 1}},
      {"clients/local_test_accuracy", {"round,client", "fraction", 1}},
      {"clients/participated", {"round,client", "", 1}},
      {"clients/round_clients", {"round,participant", "", 1}},
      {"clients/weights", {"round,client,parameter", "", 1}},
      {"clients/nonfinite", {"round,client", "", 1}},
      {"clients/dropped", {"round,client", "", 1}},
      {"clients/faulty", {"client", "", -1}},
      {"clients/late", {"round,client", "", 1}},
      {"clients/speed", {"client", "", -1}},
      {"clients/tier", {"client", "", -1}},
      {"clients/tier_cost", {"tier,cost", "", -1}},
      {"clients/gsc", {"round,monitored_iteration,client", "", 1}},
      {"clients/input_grad_rms", {"round,monitored_iteration,client", "", 1}},
      {"clients/update_sum", {"round,monitored_iteration,client", "", 1}},
      {"clients/update_l1", {"round,monitored_iteration,client", "", 1}},
      {"clients/iteration_test_loss", {"round,monitored_iteration,client", "nats", 1}},
      {"clients/gsc_profile", {"round,monitored_iteration,client,weight_layer", "", 1}},
      {"clients/grad_mean_abs", {"round,monitored_iteration,client,weight_layer", "", 1}},
      {"clients/grad_l2", {"round,monitored_iteration,client,weight_layer", "", 1}},
      {"clients/gradients", {"round,client,parameter", "", 1}},
      {"topology/partition_client", {"client", "", -1}},
      {"topology/edge_of_client", {"client", "", -1}},
      {"topology/ring_of_client", {"client", "", -1}},
      {"topology/ring_position", {"client", "", -1}},
      {"topology/cluster_of_client", {"round,client", "", 1}},
      {"topology/gossip_offsets", {"client_boundary", "", -1}},
      {"topology/gossip_neighbours", {"index", "", -1}},
      {"clusters/count", {"round", "clusters", 1}},
      {"clusters/threshold", {"round", "", 1}},
      {"clusters/weights", {"round,cluster,parameter", "", 1}},
      {"comm/bytes", {"round,level", "bytes", 1}},
      {"fedgma/mask_fraction", {"round,layer", "fraction", 1}},
      {"fedlama/interval", {"decision,layer", "local iterations", 1}},
      {"fedlama/discrepancy", {"decision,layer", "", 1}},
      {"comm/layer_bytes", {"round,layer", "bytes", 1}},
      {"comm/fedavg_bytes", {"round", "bytes", 1}},
      {"comm/ratio_to_fedavg", {"round", "", 1}},
      {"timing/round_seconds", {"round", "seconds", 1}},
      {"timing/phases", {"round,phase", "seconds", 1}},
      {"timing/simulated_seconds", {"round", "simulated seconds", 1}},
      {"timing/peak_rss_bytes", {"rank", "bytes", -1}},
  };
  return axes;
}

}  // namespace

std::optional<DatasetAxes> dataset_axes(const std::string& path) {
  const auto key = !path.empty() && path[0] == '/' ? path.substr(1) : path;
  const auto it = table().find(key);
  if (it == table().end()) return std::nullopt;
  return it->second;
}

}  // namespace fedhpc::io
