#include "ntoskrnl-stubs/api/registry.h"

#include <stdexcept>

namespace kemu::nt {

void Registry::add(std::string_view name, HandlerFn fn, size_t arity) {
  auto [it, inserted] = handlers_.emplace(std::string(name), Handler{fn, arity});
  if (!inserted) throw std::logic_error("duplicate handler for " + std::string(name));
}

void Registry::add_data(std::string_view name, DataInit init) {
  auto [it, inserted] = data_.emplace(std::string(name), std::move(init));
  if (!inserted) throw std::logic_error("duplicate data export " + std::string(name));
}

const Registry::Handler* Registry::handler(std::string_view name) const {
  auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : &it->second;
}

const DataInit* Registry::data(std::string_view name) const {
  auto it = data_.find(name);
  return it == data_.end() ? nullptr : &it->second;
}

}  // namespace kemu::nt
