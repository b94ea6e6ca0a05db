#include "fedhpc/cli/components.hpp"

#include "fedhpc/client/local_trainer.hpp"
#include "fedhpc/core/policies.hpp"
#include "fedhpc/model/model.hpp"

namespace fedhpc {

aggregation::AggregatorOptions aggregator_options(const RunOptions& o, const std::string& name) {
  aggregation::AggregatorOptions a;
  a.name = name;
  a.trim_fraction = o.trim_fraction;
  a.byzantine = o.byzantine;
  a.krum_select = o.krum_select;
  a.gma_threshold = o.gma_threshold;
  a.gma_server_lr = o.server_lr;
  return a;
}

topology::TopologyOptions topology_options(const RunOptions& o) {
  topology::TopologyOptions t;
  t.name = o.topology;
  t.clients = o.clients;
  t.seed = o.seed;
  t.local_iterations = o.local_iterations;
  t.edges = o.edges;
  t.edge_assignment = o.edge_assignment;
  t.edge_interval = o.edge_interval;
  t.rings = o.rings;
  t.ring_grouping = o.ring_grouping;
  t.recluster_every = o.recluster_every;
  t.cluster_threshold = o.cluster_threshold;
  t.cluster_min_size = o.cluster_min_size;
  t.gossip_graph = o.gossip_graph;
  t.gossip_k = o.gossip_k;
  t.max_memory_gb = o.max_memory_gb;
  t.on_nonfinite = parse_nonfinite_policy(o.on_nonfinite);
  t.monitor = parse_monitor_mode(o.monitor);
  t.save_gradients = o.save_gradients;
  t.aggregator = aggregator_options(o, o.aggregator);
  t.lama_interval = o.lama_interval;
  t.lama_phi = o.lama_phi;
  t.edge_aggregator = aggregator_options(o, o.edge_aggregator == "same" ? o.aggregator : o.edge_aggregator);
  t.server_optimizer = !aggregation::is_identity(server_optimizer_options(o));
  t.prox = o.prox_mu > 0.0;
  return t;
}

client::BehaviourOptions behaviour_options(const RunOptions& o) {
  client::BehaviourOptions b;
  b.dropout_rate = o.dropout_rate;
  b.faulty_fraction = o.faulty_fraction;
  b.fault = client::parse_fault(o.fault);
  b.fault_scale = o.fault_scale;
  b.seed = o.seed;
  return b;
}

engine::EngineOptions engine_options(const RunOptions& o) {
  engine::EngineOptions e;
  e.rounds = o.rounds;
  e.clients = o.clients;
  e.participation = o.participation;
  e.seed = o.seed;
  e.eval_batch_size = o.eval_batch_size;
  e.eval_every = o.eval_every;
  e.fail_at_round = o.fail_at_round;
  return e;
}

model::ScenarioOptions scenario_options(const RunOptions& o) {
  model::ScenarioOptions s;
  s.scenario = o.scenario;
  s.activation = o.activation;
  s.conv_init = o.conv_init;
  s.conv_bias_init = o.conv_bias_init;
  s.clip_norm = o.clip_norm;
  return s;
}

aggregation::ServerOptimizerOptions server_optimizer_options(const RunOptions& o) {
  aggregation::ServerOptimizerOptions s;
  s.name = o.server_optimizer;
  // fedgma applies --server-lr in its own update; the server optimizer then
  // copies the aggregate.
  s.lr = o.aggregator == "fedgma" ? 1.0 : o.server_lr;
  s.momentum = o.server_momentum;
  s.beta1 = o.server_beta1;
  s.beta2 = o.server_beta2;
  s.eps = o.server_eps;
  return s;
}

client::TrainOptions train_options(const RunOptions& o, double clip_norm) {
  client::TrainOptions t;
  t.optimizer = o.optimizer;
  t.lr = o.lr;
  t.momentum = o.momentum;
  t.beta1 = o.beta1;
  t.beta2 = o.beta2;
  t.eps = o.eps;
  t.clip_norm = clip_norm;
  t.batch_size = o.batch_size;
  t.local_iterations = o.local_iterations;
  t.iteration_steps = o.iteration_steps;
  t.client_batch = o.client_batch;
  t.eval_batch_size = o.eval_batch_size;
  t.seed = o.seed;
  t.monitor = o.monitor;
  // Aggregators that take the clients' gradients (fedgma) get them from the trainer.
  t.save_gradients = o.save_gradients || aggregation::make_aggregator(aggregator_options(o, o.aggregator))->needs_gradients();
  t.prox_mu = o.prox_mu;
  return t;
}

data::DatasetOptions dataset_options(const RunOptions& o) {
  data::DatasetOptions d;
  d.name = o.dataset;
  d.data_dir = o.data_dir;
  d.max_train_samples = o.max_train_samples;
  d.max_test_samples = o.max_test_samples;
  d.normalize = o.normalize;
  d.seed = o.seed;
  d.synthetic_train_samples = o.synthetic_train_samples;
  d.synthetic_test_samples = o.synthetic_test_samples;
  d.synthetic_classes = o.synthetic_classes;
  d.synthetic_side = o.synthetic_side;
  d.synthetic_noise = o.synthetic_noise;
  d.color_task = o.color_task;
  d.clients = o.clients;
  d.signal_samples = o.signal_samples;
  d.signal_test_samples = o.signal_test_samples;
  d.signal_length = o.signal_length;
  d.augment = o.augment;
  d.augment_rotation = o.augment_rotation;
  d.augment_zoom = o.augment_zoom;
  d.augment_shift = o.augment_shift;
  return d;
}

data::PopulationOptions population_options(const RunOptions& o) {
  data::PopulationOptions p;
  p.clients = o.clients;
  p.seed = o.seed;
  p.alpha = o.population_alpha;
  p.beta = o.population_beta;
  p.min_samples = o.population_min_samples;
  p.mean_samples = o.population_mean_samples;
  p.local_test_fraction = o.local_test_fraction;
  return p;
}

data::PartitionOptions partition_options(const RunOptions& o) {
  data::PartitionOptions p;
  p.method = o.partition;
  p.num_clients = o.clients;
  p.seed = o.seed;
  p.dirichlet_alpha = o.dirichlet_alpha;
  p.dirichlet_min_samples = o.dirichlet_min_samples;
  p.shards_per_client = o.shards_per_client;
  p.local_test_fraction = o.local_test_fraction;
  return p;
}

model::ModelOptions model_options(const RunOptions& o, const data::Dataset& dataset,
                                  const model::ScenarioSettings& scenario) {
  model::ModelOptions m;
  m.name = o.model;
  m.channels = dataset.train.channels;
  m.height = dataset.train.height;
  m.width = dataset.train.width;
  m.classes = dataset.num_classes;
  m.hidden = o.hidden;
  m.activation = scenario.activation;
  m.leaky_slope = o.leaky_slope;
  m.conv_init = scenario.conv_init;
  m.pretrained = o.pretrained;
  m.dropout = o.rnn_dropout;
  return m;
}

}  // namespace fedhpc
