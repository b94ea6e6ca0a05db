#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fedhpc/core/error.hpp"

namespace fedhpc {

// String-keyed registry of factories for one kind of pluggable part.
// Registering a name twice is a programming error; asking for an unknown
// name is a user error that lists the allowed names.
template <class Factory>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  void add(const std::string& name, Factory factory) {
    if (!entries_.emplace(name, std::move(factory)).second)
      throw std::logic_error(kind_ + " '" + name + "' is registered twice");
  }

  bool contains(const std::string& name) const { return entries_.count(name) != 0; }

  const Factory& get(const std::string& name, const std::string& option = "") const {
    auto it = entries_.find(name);
    if (it == entries_.end())
      throw InputError((option.empty() ? kind_ : "--" + option) + ": unknown value '" + name +
                       "'; allowed: " + allowed());
    return it->second;
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.first);
    return out;
  }

  std::string allowed() const {
    std::string s;
    for (const auto& e : entries_) s += (s.empty() ? "" : "|") + e.first;
    return s;
  }

 private:
  std::string kind_;
  std::map<std::string, Factory> entries_;
};

}  // namespace fedhpc
