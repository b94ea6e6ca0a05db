#include "fedhpc/aggregation/weighted_mean.hpp"

#include "fedhpc/mpi/exact_reduce.hpp"

namespace fedhpc::aggregation {

void WeightedMean::begin(std::int64_t num_params) {
  if (numerator_.size() != std::size_t(num_params)) numerator_ = ExactSum(std::size_t(num_params));
  else numerator_.clear();
  weight_ = 0;
}

void WeightedMean::add(std::int64_t, const float* params, std::int64_t weight) {
  numerator_.add_scaled(params, double(weight));
  weight_ += weight;
}

bool WeightedMean::finish(float* out, const mpi::Comm& comm) {
  weight_ = mpi::all_reduce(comm, weight_, mpi::Op::Sum, "MPI_Allreduce(weight)");
  if (weight_ == 0) return false;
  mpi::allreduce_divide(numerator_, double(weight_), out, comm);
  return true;
}

bool WeightedMean::finish_keeping_total(float* out, const mpi::Comm& comm) {
  mpi::allreduce(numerator_, comm);
  weight_ = mpi::all_reduce(comm, weight_, mpi::Op::Sum, "MPI_Allreduce(weight)");
  if (weight_ == 0) return false;
  numerator_.divide_into(out, double(weight_));
  return true;
}

}  // namespace fedhpc::aggregation
