// fedhpc command-line program; the logic lives in the library
// (fedhpc::cli::main) so programs that add their own parts can reuse it.
#include "fedhpc/cli/main.hpp"

int main(int argc, char** argv) { return fedhpc::cli::main(argc, argv); }
