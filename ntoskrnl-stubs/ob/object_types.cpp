#include "ntoskrnl-stubs/ob/object_types.h"

#include <stdexcept>

namespace kemu::nt::ob {

namespace {
// GENERIC_MAPPINGs and valid access masks as Windows 10 reports them
// (e.g. `!object \ObjectTypes\File` in a kernel debugger).
constexpr TypeDescriptor kTypes[] = {
    {TypeIndex::Type, u"Type", "", {0x20000, 0x20000, 0x20000, 0xF0001}, 0x1F0001, 0},
    {TypeIndex::Directory, u"Directory", "", {0x20003, 0x2000C, 0x20003, 0xF000F}, 0xF000F, 1},
    {TypeIndex::SymbolicLink, u"SymbolicLink", "", {0x20001, 0x20000, 0x20001, 0xF0001}, 0x1F0001, 1},
    {TypeIndex::Token, u"Token", "SeTokenObjectType", {0x20008, 0x200E0, 0x20000, 0xF01FF}, 0x1F01FF, 1},
    {TypeIndex::Job, u"Job", "PsJobType", {0x20004, 0x2000B, 0x120000, 0x1F003F}, 0x1F003F, 0},
    {TypeIndex::Process, u"Process", "PsProcessType", {0x20410, 0x20BEA, 0x121001, 0x1FFFFF}, 0x1FFFFF, 0},
    {TypeIndex::Thread, u"Thread", "PsThreadType", {0x20048, 0x20437, 0x121800, 0x1FFFFF}, 0x1FFFFF, 0},
    {TypeIndex::Event, u"Event", "ExEventObjectType", {0x20001, 0x20002, 0x120000, 0x1F0003}, 0x1F0003, 0},
    {TypeIndex::Mutant, u"Mutant", "", {0x20001, 0x20000, 0x120000, 0x1F0001}, 0x1F0001, 0},
    {TypeIndex::Callback, u"Callback", "ExCallbackObjectType", {0x20001, 0x20000, 0x120000, 0x1F0001}, 0x1F0001, 0},
    {TypeIndex::Semaphore, u"Semaphore", "ExSemaphoreObjectType", {0x20001, 0x20002, 0x120000, 0x1F0003}, 0x1F0003, 0},
    {TypeIndex::Timer, u"Timer", "", {0x20001, 0x20002, 0x120000, 0x1F0003}, 0x1F0003, 0},
    {TypeIndex::Adapter, u"Adapter", "IoAdapterObjectType", {0x120089, 0x120116, 0x1200A0, 0x1F01FF}, 0x1F01FF, 0},
    {TypeIndex::Controller, u"Controller", "", {0x120089, 0x120116, 0x1200A0, 0x1F01FF}, 0x1F01FF, 0},
    {TypeIndex::Device, u"Device", "IoDeviceObjectType", {0x120089, 0x120116, 0x1200A0, 0x1F01FF}, 0x1F01FF, 0},
    {TypeIndex::Driver, u"Driver", "IoDriverObjectType", {0x20000, 0x20000, 0x20000, 0x1F01FF}, 0x1F01FF, 0},
    {TypeIndex::IoCompletion, u"IoCompletion", "", {0x20001, 0x20002, 0x120000, 0x1F0003}, 0x1F0003, 0},
    {TypeIndex::File, u"File", "IoFileObjectType", {0x120089, 0x120116, 0x1200A0, 0x1F01FF}, 0x1F01FF, 0},
    {TypeIndex::Section, u"Section", "MmSectionObjectType", {0x20005, 0x20002, 0x20008, 0xF001F}, 0x1F001F, 1},
    {TypeIndex::Session, u"Session", "", {0x20001, 0x20000, 0x20000, 0xF0003}, 0x1F0003, 0},
    {TypeIndex::Key, u"Key", "CmKeyObjectType", {0x20019, 0x20006, 0x20019, 0xF003F}, 0x1F003F, 1},
};
}  // namespace

std::span<const TypeDescriptor> all_types() { return kTypes; }

const TypeDescriptor& descriptor(TypeIndex index) {
  for (const auto& t : kTypes)
    if (t.index == index) return t;
  throw std::invalid_argument("unknown object type index");
}

uint32_t map_generic(uint32_t access, const layout::GENERIC_MAPPING& m) {
  uint32_t out = access & ~(kGenericRead | kGenericWrite | kGenericExecute | kGenericAll);
  if (access & kGenericRead) out |= m.GenericRead;
  if (access & kGenericWrite) out |= m.GenericWrite;
  if (access & kGenericExecute) out |= m.GenericExecute;
  if (access & kGenericAll) out |= m.GenericAll;
  return out;
}

}  // namespace kemu::nt::ob
