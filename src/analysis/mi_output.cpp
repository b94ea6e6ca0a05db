#include "fedhpc/analysis/mi_output.hpp"

#include <cmath>

#include "fedhpc/core/version.hpp"
#include "fedhpc/io/hdf5.hpp"

namespace fedhpc::analysis {

namespace {
const char* const kTables[] = {"gaussian", "ksg", "d_euclidean", "d_manhattan", "d_chebyshev"};
}

struct MiWriter::Impl {
  h5::File file;
  MiFileHeader header;
};

MiWriter::MiWriter(const std::string& path, const MiFileHeader& h)
    : impl_(new Impl{h5::File::create(path, MPI_COMM_NULL, true), h}) {
  auto root = impl_->file.root();
  root.set_attribute("fedhpc_version", kVersion);
  root.set_attribute("config", h.config_ini);
  root.set_attribute("from", h.from);
  root.set_attribute("seed", std::int64_t(h.seed));
  root.set_attribute("status", "running");
  auto mi = root.create_group("mi");
  mi.set_attribute("samples", h.samples);
  mi.set_attribute("every", h.every);
  mi.set_attribute("iterations", h.iterations);
  mi.set_attribute("dims", h.dims);
  mi.set_attribute("layer", h.layer);
  mi.set_attribute("project", h.project);
  mi.set_attribute("ksg_k", std::int64_t(h.ksg_k));
  mi.set_attribute("ksg_noise", h.ksg_noise);
  mi.set_attribute("task", h.regression ? "regression" : "classification");
  mi.set_attribute("loss", h.regression ? "mse" : "cross-entropy");
  const auto starts = hsize_t(h.rounds_at.size()), its = hsize_t(h.iterations), np = hsize_t(h.pairs.size());
  h5::DataSetOptions fill;
  fill.fill = std::nan("");
  for (const char* name : kTables) {
    auto ds = mi.create_dataset<double>(name, {starts, its, np}, fill);
    ds.set_attribute("units", std::string(name).rfind("d_", 0) == 0 ? "sampled parameter units" : "nats");
    ds.set_attribute("dims", std::vector<std::string>{"start", "iteration", "pair"});
  }
  // The sampled clients' local test metrics at each recorded step, mean over the repeats.
  const auto nc = hsize_t(h.clients.size());
  auto loss = mi.create_dataset<double>("test_loss", {starts, its, nc}, fill);
  loss.set_attribute("units", h.regression ? "squared target units" : "nats");
  auto acc = mi.create_dataset<double>("test_accuracy", {starts, its, nc}, fill);
  acc.set_attribute("units", "fraction");
  for (auto* ds : {&loss, &acc}) ds->set_attribute("dims", std::vector<std::string>{"start", "iteration", "client"});
  std::vector<std::int64_t> pairs;
  for (const auto& [a, b] : h.pairs) {
    pairs.push_back(h.clients[std::size_t(a)]);
    pairs.push_back(h.clients[std::size_t(b)]);
  }
  mi.create_dataset<std::int64_t>("pairs", {np, 2}).write_all(pairs);
  mi.create_dataset<std::int64_t>("rounds_at", {starts}).write_all(h.rounds_at);
  mi.create_dataset<std::int64_t>("clients", {hsize_t(h.clients.size())}).write_all(h.clients);
  std::vector<std::int64_t> steps;
  for (std::int64_t t = 1; t <= h.iterations; ++t) steps.push_back(t * h.every);
  mi.create_dataset<std::int64_t>("steps", {its}).write_all(steps);
  if (h.save_samples)
    mi.create_dataset<double>("samples", {starts, hsize_t(h.clients.size()), hsize_t(h.samples), its, hsize_t(h.dims)},
                              fill);
  impl_->file.flush();
}

MiWriter::~MiWriter() { delete impl_; }

void MiWriter::write_start(std::int64_t s, const PairTables& t, const std::vector<double>& samples,
                           const std::vector<double>& metrics) {
  auto mi = impl_->file.root().group("mi");
  const auto& h = impl_->header;
  const auto its = hsize_t(h.iterations), np = hsize_t(h.pairs.size());
  const std::vector<double>* tables[] = {&t.gaussian, &t.ksg, &t.d_euclidean, &t.d_manhattan, &t.d_chebyshev};
  for (int i = 0; i < 5; ++i) mi.dataset(kTables[i]).write_slab<double>({hsize_t(s), 0, 0}, {1, its, np}, tables[i]->data());
  const auto nc = hsize_t(h.clients.size());
  std::vector<double> loss(std::size_t(its * nc)), acc(loss.size());
  for (std::size_t i = 0; i < loss.size(); ++i) loss[i] = metrics[2 * i], acc[i] = metrics[2 * i + 1];
  mi.dataset("test_loss").write_slab<double>({hsize_t(s), 0, 0}, {1, its, nc}, loss.data());
  mi.dataset("test_accuracy").write_slab<double>({hsize_t(s), 0, 0}, {1, its, nc}, acc.data());
  if (h.save_samples)
    mi.dataset("samples").write_slab<double>(
        {hsize_t(s), 0, 0, 0, 0}, {1, hsize_t(h.clients.size()), hsize_t(h.samples), its, hsize_t(h.dims)},
        samples.data());
  impl_->file.flush();
}

void MiWriter::close(const std::string& status, const std::string& error) {
  impl_->file.root().set_attribute("status", status);
  if (!error.empty()) impl_->file.root().set_attribute("error", error);
  impl_->file.close();
}

}  // namespace fedhpc::analysis
