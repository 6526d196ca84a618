#include "ntoskrnl-stubs/api/kernel_modules.h"

#include "ntoskrnl-stubs/api/kernel_events.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

uint64_t align16(uint64_t v) { return (v + 15) & ~15ull; }

// Minimal but valid PE32+ headers for a synthesized module.
struct PeHeaderWriter {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(kPageSize, 0);
  template <class T>
  void put(size_t off, T v) {
    std::memcpy(bytes.data() + off, &v, sizeof(T));
  }
};

constexpr uint32_t kScnCode = 0x20, kScnData = 0x40, kScnExec = 0x20000000, kScnRead = 0x40000000,
                   kScnWrite = 0x80000000;

}  // namespace

KernelModules::KernelModules(Kernel& kernel, const Registry& registry,
                             const std::vector<ExportDesc>& exports)
    : kernel_(kernel), registry_(registry), exports_(exports) {}

void KernelModules::build(const std::vector<std::pair<std::string, HandlerFn>>& internal_routines) {
  std::vector<const ExportDesc*> nt, hal;
  for (const ExportDesc& d : exports_) {
    if (iequals(d.module, "ntoskrnl.exe")) nt.push_back(&d);
    else if (iequals(d.module, "hal.dll")) hal.push_back(&d);
  }
  auto by_name_order = [](const ExportDesc* a, const ExportDesc* b) { return a->name < b->name; };
  std::sort(nt.begin(), nt.end(), by_name_order);
  std::sort(hal.begin(), hal.end(), by_name_order);
  images_.reserve(2);
  images_.push_back(Image{"ntoskrnl.exe", kNtoskrnlBase});
  build_image(images_.back(), nt, internal_routines);
  images_.push_back(Image{"hal.dll", kHalBase});
  build_image(images_.back(), hal, {});
}

void KernelModules::build_image(Image& image, const std::vector<const ExportDesc*>& exports,
                                const std::vector<std::pair<std::string, HandlerFn>>& internal) {
  emu::Machine& m = kernel_.machine();
  emu::AddressSpace& mem = m.memory();

  size_t functions = internal.size(), data_bytes = 0;
  for (const ExportDesc* d : exports) {
    if (d->kind == ExportKind::Function) ++functions;
    else data_bytes += align16(std::max<uint32_t>(d->data_size, 8));
  }
  const uint32_t text_rva = kPageSize;
  const uint32_t text_size = static_cast<uint32_t>(page_up(std::max<size_t>(functions, 1) * emu::Machine::kThunkSize));
  const uint32_t data_rva = text_rva + text_size;
  const uint32_t data_size = static_cast<uint32_t>(page_up(std::max<size_t>(data_bytes, 1)));
  const uint32_t edata_rva = data_rva + data_size;
  size_t n = exports.size();
  size_t names_bytes = image.name.size() + 1;
  for (const ExportDesc* d : exports) names_bytes += d->name.size() + 1;
  const uint32_t edata_raw = static_cast<uint32_t>(40 + 4 * n + 4 * n + 2 * n + names_bytes);
  const uint32_t edata_size = static_cast<uint32_t>(page_up(edata_raw));
  image.size = edata_rva + edata_size;

  emu::Region& region = mem.map(image.base, image.size, Prot::Read, emu::RegionKind::KernelImage, image.name);
  mem.protect(image.base + text_rva, text_size, Prot::ReadExec);
  mem.protect(image.base + data_rva, data_size, Prot::ReadWrite);
  uint8_t* host = region.host;

  // --- headers --------------------------------------------------------------
  PeHeaderWriter h;
  h.put<uint16_t>(0, 0x5A4D);   // "MZ"
  h.put<uint32_t>(0x3C, 0x80);  // e_lfanew
  h.put<uint32_t>(0x80, 0x00004550);  // "PE\0\0"
  size_t fh = 0x84;
  h.put<uint16_t>(fh + 0, 0x8664);  // AMD64
  h.put<uint16_t>(fh + 2, 3);       // sections
  h.put<uint32_t>(fh + 4, 0x5F3E1A2B);
  h.put<uint16_t>(fh + 16, 0xF0);   // SizeOfOptionalHeader
  h.put<uint16_t>(fh + 18, 0x2022);  // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
  size_t oh = fh + 20;
  h.put<uint16_t>(oh + 0, 0x20B);
  h.put<uint32_t>(oh + 4, text_size);
  h.put<uint32_t>(oh + 8, data_size + edata_size);
  h.put<uint32_t>(oh + 20, text_rva);
  h.put<uint64_t>(oh + 24, image.base.value);
  h.put<uint32_t>(oh + 32, kPageSize);  // SectionAlignment
  h.put<uint32_t>(oh + 36, 0x200);      // FileAlignment
  h.put<uint16_t>(oh + 40, 10);         // OS version 10.0
  h.put<uint16_t>(oh + 48, 10);         // subsystem version 10.0
  h.put<uint32_t>(oh + 56, static_cast<uint32_t>(image.size));
  h.put<uint32_t>(oh + 60, kPageSize);  // SizeOfHeaders
  h.put<uint16_t>(oh + 68, 1);          // IMAGE_SUBSYSTEM_NATIVE
  h.put<uint16_t>(oh + 70, 0x160);
  h.put<uint32_t>(oh + 108, 16);        // NumberOfRvaAndSizes
  h.put<uint32_t>(oh + 112, edata_rva);  // export directory
  h.put<uint32_t>(oh + 116, edata_raw);
  size_t sh = oh + 0xF0;
  auto section = [&](int i, const char* name, uint32_t rva, uint32_t size, uint32_t chars) {
    size_t s = sh + 40 * i;
    std::memcpy(h.bytes.data() + s, name, std::strlen(name));
    h.put<uint32_t>(s + 8, size);
    h.put<uint32_t>(s + 12, rva);
    h.put<uint32_t>(s + 16, size);
    h.put<uint32_t>(s + 20, rva);
    h.put<uint32_t>(s + 36, chars);
  };
  section(0, ".text", text_rva, text_size, kScnCode | kScnExec | kScnRead);
  section(1, ".data", data_rva, data_size, kScnData | kScnRead | kScnWrite);
  section(2, ".edata", edata_rva, edata_size, kScnData | kScnRead);
  std::memcpy(host, h.bytes.data(), h.bytes.size());

  // --- thunks, variables and the export directory ---------------------------
  emu::Module module;
  module.name = image.name;
  module.base = image.base;
  module.size = image.size;
  uint32_t next_thunk = text_rva, next_var = data_rva;
  uint32_t funcs_rva = edata_rva + 40, names_rva = funcs_rva + 4 * n, ords_rva = names_rva + 4 * n;
  uint32_t strings_rva = ords_rva + 2 * static_cast<uint32_t>(n);
  auto put_string = [&](const std::string& s) {
    uint32_t at = strings_rva;
    std::memcpy(host + at, s.c_str(), s.size() + 1);
    strings_rva += static_cast<uint32_t>(s.size() + 1);
    return at;
  };
  uint32_t module_name_rva = put_string(image.name);
  for (size_t i = 0; i < n; ++i) {
    const ExportDesc* d = exports[i];
    ApiEntry e;
    e.module = image.name;
    e.name = d->name;
    e.desc = d;
    uint32_t rva;
    if (d->kind == ExportKind::Function) {
      rva = next_thunk;
      next_thunk += emu::Machine::kThunkSize;
      emu::Machine::write_thunk(host + rva);
      if (const Registry::Handler* hd = registry_.handler(d->name)) e.handler = hd->fn;
    } else {
      rva = next_var;
      next_var += static_cast<uint32_t>(align16(std::max<uint32_t>(d->data_size, 8)));
    }
    e.address = image.base + rva;
    uint32_t index = static_cast<uint32_t>(entries_.size());
    if (d->kind == ExportKind::Function) m.bind_trap(e.address, this, index);
    entries_.push_back(std::move(e));
    image.ordinal_to_entry.push_back(index);
    image.by_name[d->name] = index;
    std::memcpy(host + funcs_rva + 4 * i, &rva, 4);
    uint32_t name_rva = put_string(d->name);
    std::memcpy(host + names_rva + 4 * i, &name_rva, 4);
    uint16_t ord = static_cast<uint16_t>(i);
    std::memcpy(host + ords_rva + 2 * i, &ord, 2);
    module.symbols.emplace_back(rva, d->name);
  }
  for (const auto& [name, fn] : internal) {
    uint32_t rva = next_thunk;
    next_thunk += emu::Machine::kThunkSize;
    emu::Machine::write_thunk(host + rva);
    ApiEntry e;
    e.module = image.name;
    e.name = name;
    e.handler = fn;
    e.internal = true;
    e.address = image.base + rva;
    m.bind_trap(e.address, this, static_cast<uint32_t>(entries_.size()));
    internal_[name] = e.address;
    entries_.push_back(std::move(e));
    module.symbols.emplace_back(rva, name);
  }
  // IMAGE_EXPORT_DIRECTORY
  uint8_t* dir = host + edata_rva;
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(dir + off, &v, 4); };
  put32(4, 0x5F3E1A2B);  // TimeDateStamp
  put32(12, module_name_rva);
  put32(16, 1);  // Base: ordinals start at 1
  put32(20, static_cast<uint32_t>(n));
  put32(24, static_cast<uint32_t>(n));
  put32(28, funcs_rva);
  put32(32, names_rva);
  put32(36, ords_rva);
  m.add_module(std::move(module));
}

void KernelModules::initialize_data() {
  for (const ApiEntry& e : entries_) {
    if (!e.desc || e.desc->kind != ExportKind::Data) continue;
    if (const DataInit* init = registry_.data(e.name)) (*init)(kernel_, e.address);
  }
}

const KernelModules::Image* KernelModules::find_image(std::string_view module) const {
  for (const Image& i : images_)
    if (iequals(i.name, module)) return &i;
  return nullptr;
}

std::optional<GuestVa> KernelModules::routine_address(std::string_view name) const {
  for (const Image& i : images_) {
    auto it = i.by_name.find(name);
    if (it != i.by_name.end()) return entries_[it->second].address;
  }
  return std::nullopt;
}

std::optional<GuestVa> KernelModules::data_export(std::string_view name) const {
  for (const Image& i : images_) {
    auto it = i.by_name.find(name);
    if (it != i.by_name.end() && entries_[it->second].desc->kind == ExportKind::Data)
      return entries_[it->second].address;
  }
  return std::nullopt;
}

GuestVa KernelModules::internal_routine(std::string_view name) const {
  auto it = internal_.find(name);
  if (it == internal_.end()) throw std::logic_error("no internal routine " + std::string(name));
  return it->second;
}

bool KernelModules::has_handler(std::string_view module, std::string_view name) const {
  const Image* image = find_image(module);
  if (!image) return false;
  auto it = image->by_name.find(name);
  if (it == image->by_name.end()) return false;
  const ApiEntry& e = entries_[it->second];
  return e.handler != nullptr || (e.desc && e.desc->kind == ExportKind::Data && registry_.data(e.name));
}

std::optional<GuestVa> KernelModules::by_name(std::string_view module, std::string_view name) {
  const Image* image = find_image(module);
  if (!image) return std::nullopt;
  auto it = image->by_name.find(name);
  if (it == image->by_name.end()) return std::nullopt;
  return entries_[it->second].address;
}

std::optional<GuestVa> KernelModules::by_ordinal(std::string_view module, uint16_t ordinal) {
  const Image* image = find_image(module);
  if (!image || ordinal == 0 || ordinal > image->ordinal_to_entry.size()) return std::nullopt;
  return entries_[image->ordinal_to_entry[ordinal - 1]].address;
}

std::optional<GuestVa> KernelModules::bind_unknown(std::string_view module, std::string_view name,
                                                   std::optional<uint16_t> ordinal) {
  // --strict-imports: refuse the load, as Windows does (STATUS_PROCEDURE_NOT_FOUND).
  if (kernel_.options().strict_imports) return std::nullopt;
  std::string label = name.empty() ? fmt::format("#{}", ordinal.value_or(0)) : std::string(name);
  std::string key = fmt::format("{}!{}", module, label);
  if (auto it = unknown_by_key_.find(key); it != unknown_by_key_.end()) return entries_[it->second].address;
  if (unknown_used_ >= kUnknownImportCapacity) return std::nullopt;
  emu::Machine& m = kernel_.machine();
  if (unknown_used_ == 0) {
    m.memory().map(kUnknownImportThunks, kUnknownImportCapacity * emu::Machine::kThunkSize,
                   Prot::ReadExec, emu::RegionKind::KernelImage, "kemu unknown imports");
    m.add_module(emu::Module{"unknown-imports", kUnknownImportThunks,
                             kUnknownImportCapacity * emu::Machine::kThunkSize, {}, {}, {}});
  }
  GuestVa thunk = kUnknownImportThunks + unknown_used_ * emu::Machine::kThunkSize;
  ++unknown_used_;
  emu::Machine::write_thunk(m.memory().host(thunk, emu::Machine::kThunkSize));
  ApiEntry e;
  e.module = std::string(module);
  e.name = label;
  e.address = thunk;
  e.unknown_import = true;
  uint32_t index = static_cast<uint32_t>(entries_.size());
  m.bind_trap(thunk, this, index);
  entries_.push_back(std::move(e));
  unknown_by_key_[key] = index;
  return thunk;
}

void KernelModules::on_trap(emu::Machine& machine, uint32_t id) {
  ApiEntry& e = entries_[id];
  ++e.calls;
  if (kernel_.options().trace) trace_call(machine, e, true);
  calls_.push_back(&e);
  struct Pop {
    std::vector<const ApiEntry*>& calls;
    ~Pop() { calls.pop_back(); }
  } pop{calls_};
  if (trigger_ && e.name == trigger_routine_) {
    auto fire = std::move(trigger_);
    trigger_ = nullptr;
    fire();
    if (machine.stopped()) return;
  }
  bool fail = (fail_nth_ || fail_rate_) && should_fail(machine, e);
  std::optional<ApiCall> event;
  uint64_t raises = kernel_.raises();
  if (kernel_.observed()) {
    event.emplace(describe_call(machine, e));
    kernel_.publish([&](KernelListener& l) { l.api_called(*event); });
  }
  try {
    if (fail) {
      machine.set_return(0);  // the routine's documented failure: NULL, nothing allocated
    } else if (e.handler) {
      e.handler(kernel_);
    } else {
      unimplemented_call(machine, e);
    }
  } catch (const emu::GuestAccessError&) {
    // The routine touched a bad address for the driver: the machine raises
    // (or bugchecks) in the driver; the listeners see the call end first.
    if (event && !machine.stopped()) {
      event->raised = true;
      kernel_.publish([&](KernelListener& l) { l.api_returned(*event); });
    }
    throw;
  }
  if (event && !machine.stopped()) {
    event->result = machine.cpu().reg(UC_X86_REG_RAX);
    event->raised = kernel_.raises() != raises;
    kernel_.publish([&](KernelListener& l) { l.api_returned(*event); });
  }
  if (kernel_.options().trace) trace_call(machine, e, false);
}

namespace {
// Whether a call of `name` with these arguments is allocation-like for the
// low-resources simulation: the routine returns NULL when it cannot get the
// memory (a variant that raises or bugchecks instead does not count).
bool allocation_like(std::string_view name, emu::Machine& m) {
  if (name == "ExAllocatePool" || name == "ExAllocatePoolWithTag" || name == "ExAllocatePoolWithTagPriority")
    return (m.arg(0) & 3) != 2;  // a MustSucceed type never returns NULL (BAD_POOL_CALLER 0x9A)
  if (name == "ExAllocatePool2" || name == "ExAllocatePool3")
    return (m.arg(0) & 0x20) == 0;  // POOL_FLAG_RAISE_ON_FAILURE raises instead
  if (name == "IoAllocateIrp" || name == "IoAllocateMdl" || name == "IoAllocateWorkItem") return true;
  // MmGetSystemAddressForMdlSafe (a wdm.h macro) calls it with KernelMode and
  // BugCheckOnFailure FALSE: only that form returns NULL.
  if (name == "MmMapLockedPagesSpecifyCache") return m.arg(1) == 0 && (m.arg(4) & 0xFFFFFFFF) == 0;
  return false;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

void KernelModules::simulate_low_resources(std::optional<uint64_t> nth, std::optional<double> rate, uint64_t seed) {
  fail_nth_ = nth;
  fail_rate_ = rate;
  fail_state_ = seed;
}

bool KernelModules::should_fail(emu::Machine& machine, const ApiEntry& e) {
  // Only the driver's own calls: the return address is in a driver image
  // (kemu's nested calls, e.g. a lookaside list's Allocate, return to kemu).
  const emu::Region* caller = machine.memory().find(machine.return_address());
  if (!caller || caller->kind != emu::RegionKind::DriverImage) return false;
  try {
    if (!allocation_like(e.name, machine)) return false;
  } catch (const emu::GuestAccessError&) {
    return false;
  }
  uint64_t number = ++allocation_calls_;
  bool fail = false;
  if (fail_nth_) {
    fail = number == *fail_nth_;
  } else if (fail_rate_) {
    // A 53-bit uniform draw in [0, 1) per counted call.
    double draw = static_cast<double>(splitmix64(fail_state_) >> 11) * 0x1.0p-53;
    fail = draw < *fail_rate_;
  }
  if (fail) {
    FailedAllocation f{number, e.name, machine.call_site(), {}, 0, {}};
    if (auto s = machine.symbolize(f.call_site)) {
      f.module = s->module;
      f.offset = s->offset;
      f.symbol = s->symbol;
    }
    failed_.push_back(std::move(f));
  }
  return fail;
}

ApiCall KernelModules::describe_call(emu::Machine& machine, const ApiEntry& e) const {
  ApiCall call;
  call.module = &e.module;
  call.name = &e.name;
  call.desc = e.desc;
  call.call_site = machine.call_site();
  size_t count = e.desc && e.desc->prototype_known ? e.desc->parameters.size() : 4;
  for (size_t i = 0; i < count && i < 16; ++i) {
    uint64_t value = 0;
    try {
      value = machine.arg(static_cast<unsigned>(i));
    } catch (const emu::GuestAccessError&) {
    }
    call.args.push_back(value);
  }
  return call;
}

void KernelModules::unimplemented_call(emu::Machine& machine, ApiEntry& e) {
  if (kernel_.options().unimplemented == UnimplementedPolicy::Stop) {
    GuestVa site = machine.call_site();
    auto where = machine.symbolize(site);
    machine.request_stop({emu::StopKind::Unimplemented,
                          fmt::format("{}!{} has no handler in kemu (called from {})", e.module, e.name,
                                      where ? where->text() : site.hex()),
                          {}});
    return;
  }
  // The failure value the prototype implies: STATUS_NOT_IMPLEMENTED for an
  // NTSTATUS routine, 0 (FALSE / NULL) for everything else.
  ReturnClass rc = e.desc ? e.desc->return_class : ReturnClass::Unknown;
  if (rc == ReturnClass::Status) machine.set_return(STATUS_NOT_IMPLEMENTED);
  else if (rc != ReturnClass::Void) machine.set_return(0);
}

void KernelModules::trace_call(emu::Machine& machine, const ApiEntry& e, bool before) {
  if (!before) {
    if (!e.desc || e.desc->return_class != ReturnClass::Void)
      std::fprintf(stderr, "[kemu]   -> %#llx\n",
                   static_cast<unsigned long long>(machine.cpu().reg(UC_X86_REG_RAX)));
    return;
  }
  GuestVa site = machine.call_site();
  auto where = machine.symbolize(site);
  std::string args;
  size_t count = e.desc ? e.desc->parameters.size() : 4;
  if (e.desc && e.desc->kind == ExportKind::Function && !e.desc->prototype_known) count = 4;
  for (size_t i = 0; i < count && i < 12; ++i) {
    std::string name = fmt::format("arg{}", i);
    if (e.desc && i < e.desc->parameters.size()) {
      const std::string& p = e.desc->parameters[i];
      auto space = p.find_last_of(" *");
      if (space != std::string::npos) name = p.substr(space + 1);
    }
    uint64_t value = 0;
    try {
      value = machine.arg(static_cast<unsigned>(i));
    } catch (const emu::GuestAccessError&) {
    }
    args += fmt::format("{}{}={:#x}", i ? ", " : "", name, value);
  }
  std::fprintf(stderr, "[kemu] %s: %s!%s(%s)%s\n", where ? where->text().c_str() : site.hex().c_str(),
               e.module.c_str(), e.name.c_str(), args.c_str(), e.handler ? "" : " [no handler]");
}

void KernelModules::unimplemented_case(std::string_view routine, std::string_view detail) {
  std::string what = fmt::format("ntoskrnl.exe!{} ({})", routine, detail);
  ++unimplemented_cases_[what];
  if (kernel_.options().unimplemented == UnimplementedPolicy::Stop) {
    emu::Machine& machine = kernel_.machine();
    GuestVa site = machine.call_site();
    auto where = machine.symbolize(site);
    machine.request_stop({emu::StopKind::Unimplemented,
                          fmt::format("{} is not modelled by kemu (called from {})", what,
                                      where ? where->text() : site.hex()),
                          {}});
  }
}

std::vector<UnimplementedRecord> KernelModules::unimplemented() const {
  std::vector<UnimplementedRecord> out;
  for (const ApiEntry& e : entries_) {
    if (e.calls == 0 || e.handler) continue;
    out.push_back({fmt::format("{}!{}", e.module, e.name), e.calls, e.unknown_import});
  }
  for (auto& [what, calls] : unimplemented_cases_) out.push_back({what, calls, false});
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.api < b.api; });
  return out;
}

}  // namespace kemu::nt
