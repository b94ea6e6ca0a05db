#pragma once
#include <string>
#include <vector>

#include "fedhpc/mpi/comm.hpp"

namespace fedhpc {

// `fedhpc pretrain`: trains LeNet-5 on Fashion-MNIST and writes it as a model
// file for --model lenet5-transfer --pretrained FILE.h5 (README, "LeNet-5
// transfer"). Rank 0 trains and writes; the others wait, so the file is the
// same at any rank count. Returns the exit status (0 ok, 2 bad input, 1 failed).
int pretrain_command(const std::vector<std::string>& args, const mpi::Comm& comm);

}  // namespace fedhpc
