// One gtest main for every test binary. It initialises MPI, lets only rank 0
// print, and makes a test fail on every rank when it failed on any rank, so
// the exit status of mpirun is the verdict of the whole job.
#include <gtest/gtest.h>
#include <mpi.h>

namespace {

class SilentListener : public testing::EmptyTestEventListener {};

class MpiEnvironment : public testing::Environment {
 public:
  void TearDown() override {}
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new SilentListener);
  }
  testing::AddGlobalTestEnvironment(new MpiEnvironment);
  int local = RUN_ALL_TESTS();
  int global = 0;
  MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && global != local) std::fprintf(stderr, "[mpi] a test failed on another rank\n");
  MPI_Finalize();
  return global;
}
