#include "ntoskrnl-stubs/ob/handle_table.h"

namespace kemu::nt::ob {

uint32_t HandleTable::insert(const HandleEntry& entry) {
  uint32_t index = 1;
  for (const auto& [used, e] : entries_) {
    if (used != index) break;
    ++index;
  }
  entries_[index] = entry;
  closed_.erase(index);
  return index;
}

HandleEntry* HandleTable::find(uint32_t index) {
  auto it = entries_.find(index);
  return it == entries_.end() ? nullptr : &it->second;
}

bool HandleTable::erase(uint32_t index) {
  if (!entries_.erase(index)) return false;
  closed_.insert(index);
  return true;
}

}  // namespace kemu::nt::ob
