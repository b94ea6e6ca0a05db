#pragma once
#include <stdexcept>
#include <string>

namespace fedhpc {

// Bad user input (options, config, data files, HDF5 inputs). The CLI turns it
// into one line on rank 0 and exit status 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run that started but could not finish. Exit status 1.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace fedhpc
