// Process lifetime and the notification routines drivers register
// (PsSetCreateProcessNotifyRoutine(Ex), PsSetCreateThreadNotifyRoutine,
// PsSetLoadImageNotifyRoutine): called when kemu creates a process, a thread
// or maps a process's image, and when a process ends.
#include <cstring>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::ps {

namespace {
constexpr uint32_t kNotifyTag = 0x6F4E7350;  // 'PsNo'
// Where kemu maps a user process's image header (what ImageInfo->ImageBase names).
constexpr uint64_t kUserImageBase = 0x7FF6'0000'0000ull;

// PS_CREATE_NOTIFY_INFO (x64).
struct PS_CREATE_NOTIFY_INFO {
  uint64_t Size;
  uint32_t Flags;
  uint32_t pad;
  uint64_t ParentProcessId;
  uint64_t CreatingThreadId[2];  // CLIENT_ID
  uint64_t FileObject;
  uint64_t ImageFileName;  // PCUNICODE_STRING
  uint64_t CommandLine;    // PCUNICODE_STRING
  int32_t CreationStatus;
  uint32_t pad2;
};
static_assert(sizeof(PS_CREATE_NOTIFY_INFO) == 0x48);

// IMAGE_INFO (x64).
struct IMAGE_INFO {
  uint32_t Properties;
  uint32_t pad;
  uint64_t ImageBase;
  uint32_t ImageSelector;
  uint32_t pad2;
  uint64_t ImageSize;
  uint32_t ImageSectionNumber;
  uint32_t pad3;
};
static_assert(sizeof(IMAGE_INFO) == 0x28);

std::u16string image_path(const std::string& image_name) {
  return u"\\Device\\HarddiskVolume2\\kemu\\" + to_utf16(image_name);
}
}  // namespace

std::vector<uint32_t> ProcessManager::process_ids() const {
  std::vector<uint32_t> out;
  for (auto& [pid, p] : processes_) out.push_back(pid);
  return out;
}

std::vector<uint32_t> ProcessManager::thread_ids() const {
  std::vector<uint32_t> out;
  for (auto& [tid, t] : threads_) out.push_back(tid);
  return out;
}

void ProcessManager::notify_process(const ProcessRecord& p, bool create) {
  emu::Machine& m = kernel_.machine();
  // Copies: a routine may register or remove routines while it runs.
  auto plain = notify_.process;
  for (GuestVa routine : plain) {
    m.call(routine, {create ? p.parent_pid : 0ull, p.pid, create ? 1ull : 0ull});
    if (m.stopped()) return;
  }
  auto extended = notify_.process_ex;
  for (GuestVa routine : extended) {
    GuestVa info{};
    if (create) {
      auto block = m.pool().allocate(sizeof(PS_CREATE_NOTIFY_INFO) + 2 * sizeof(layout::UNICODE_STRING), 0,
                                     kNotifyTag, GuestVa{});
      if (!block) return;
      info = *block;
      GuestVa name = kernel_.new_unicode_string(image_path(p.image_name), 0, kNotifyTag);
      GuestVa command = kernel_.new_unicode_string(to_utf16(p.image_name), 0, kNotifyTag);
      PS_CREATE_NOTIFY_INFO ci{};
      ci.Size = sizeof(ci);
      ci.ParentProcessId = p.parent_pid;
      ci.CreatingThreadId[0] = m.current_thread().process_id;
      ci.CreatingThreadId[1] = m.current_thread().id;
      ci.ImageFileName = name.value;
      ci.CommandLine = command.value;
      ci.CreationStatus = static_cast<int32_t>(STATUS_SUCCESS);
      kernel_.memory().write(info, ci);
      m.call(routine, {p.eprocess.value, p.pid, info.value});
      // A routine may refuse the creation by setting CreationStatus.
      NtStatus verdict = static_cast<NtStatus>(kernel_.memory().read<int32_t>(info + offsetof(PS_CREATE_NOTIFY_INFO, CreationStatus)));
      m.pool().free(info, std::nullopt);
      m.pool().free(name, std::nullopt);
      m.pool().free(command, std::nullopt);
      if (m.stopped()) return;
      if (!nt_success(verdict)) {
        terminate_process(p.pid, verdict);
        return;
      }
    } else {
      m.call(routine, {p.eprocess.value, p.pid, 0});
      if (m.stopped()) return;
    }
  }
}

void ProcessManager::notify_thread(const ThreadRecord& t, bool create) {
  emu::Machine& m = kernel_.machine();
  auto routines = notify_.thread;
  for (GuestVa routine : routines) {
    m.call(routine, {t.pid, t.tid, create ? 1ull : 0ull});
    if (m.stopped()) return;
  }
}

// The main image of a new user process is mapped into it (a header page at
// kUserImageBase) and the load-image routines run in that process's context.
void ProcessManager::notify_image(const ProcessRecord& p) {
  emu::Machine& m = kernel_.machine();
  auto& mem = kernel_.memory();
  // Each process's user half is its own; kemu keeps them apart by address.
  GuestVa base{kUserImageBase + static_cast<uint64_t>(p.pid) * 0x10000};
  if (!mem.find(base)) {
    mem.map(base, kPageSize, Prot::Read, emu::RegionKind::UserMemory, p.image_name + " image header", p.pid);
    uint8_t header[0x100] = {};
    header[0] = 'M';
    header[1] = 'Z';
    header[0x3C] = 0x40;  // e_lfanew
    std::memcpy(header + 0x40, "PE\0\0", 4);
    header[0x44] = 0x64;  // IMAGE_FILE_MACHINE_AMD64
    header[0x45] = 0x86;
    mem.write(base, header, sizeof(header));
  }
  auto routines = notify_.image;
  if (routines.empty()) return;
  auto block = m.pool().allocate(sizeof(IMAGE_INFO), 0, kNotifyTag, GuestVa{});
  if (!block) return;
  IMAGE_INFO info{};
  info.ImageBase = base.value;
  info.ImageSize = kPageSize;
  mem.write(*block, info);
  GuestVa name = kernel_.new_unicode_string(image_path(p.image_name), 0, kNotifyTag);
  GuestVa previous{mem.read<uint64_t>(m.current_thread().ethread + emu::kthread::kApcStateProcess)};
  uint32_t previous_pid = m.current_thread().space_process_id;
  m.attach_current_thread(p.pid, p.eprocess);
  for (GuestVa routine : routines) {
    m.call(routine, {name.value, p.pid, block->value});
    if (m.stopped()) break;
  }
  m.attach_current_thread(previous_pid, previous);
  m.pool().free(*block, std::nullopt);
  m.pool().free(name, std::nullopt);
}

bool ProcessManager::terminate_process(uint32_t pid, NtStatus status) {
  auto it = processes_.find(pid);
  if (it == processes_.end() || it->second.terminated) return false;
  ProcessRecord& p = it->second;
  p.terminated = true;
  p.exit_status = status;
  // The process's handles close as its handle table is destroyed.
  auto& table = kernel_.ob().table(pid);
  std::vector<uint64_t> handles;
  for (auto& [index, entry] : table.entries()) handles.push_back(static_cast<uint64_t>(index) * 4);
  emu::Machine& m = kernel_.machine();
  GuestVa previous{kernel_.memory().read<uint64_t>(m.current_thread().ethread + emu::kthread::kApcStateProcess)};
  uint32_t previous_pid = m.current_thread().space_process_id;
  m.attach_current_thread(pid, p.eprocess);
  for (uint64_t h : handles) {
    if (table.entries().contains(static_cast<uint32_t>(h / 4))) kernel_.ob().close_handle(h, ProcessorMode::KernelMode);
    if (m.stopped()) break;
  }
  m.attach_current_thread(previous_pid, previous);
  // Its address space goes (MmCleanProcessAddressSpace): the views it mapped.
  mm::unmap_process_views(kernel_, pid);
  // Its threads end; the process object is signalled (waiters on it wake).
  for (auto& [tid, t] : threads_) {
    if (t.pid != pid) continue;
    if (emu::Thread* mt = m.find_thread(tid)) mt->terminated = true;
  }
  kernel_.memory().write<int32_t>(p.eprocess + offsetof(layout::DISPATCHER_HEADER, SignalState), 1);
  if (!m.stopped()) notify_process(p, false);
  return true;
}

}  // namespace kemu::nt::ps
