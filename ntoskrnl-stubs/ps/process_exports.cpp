// Processes and threads as drivers reach them: lookups by id, opening by
// CLIENT_ID, termination, ZwQueryInformationProcess, attaching to another
// process's address space (the current handle table and user half switch
// with the attach), and the creation-notification registrations.
#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/ps/process_security.h"

namespace kemu::nt {

namespace {

namespace ep = emu::eprocess;
namespace kt = emu::kthread;

using ps::kProcessQueryInformation;
using ps::kProcessQueryLimitedInformation;
using ps::kProcessTerminate;
constexpr uint32_t kProcessNotifyLimit = 64;  // PSP_MAX_CREATE_PROCESS_NOTIFY
constexpr uint32_t kThreadNotifyLimit = 64;
constexpr uint32_t kImageNotifyLimit = 64;

struct CLIENT_ID {
  uint64_t UniqueProcess;
  uint64_t UniqueThread;
};

struct PROCESS_BASIC_INFORMATION {
  int32_t ExitStatus;
  uint32_t pad0;
  uint64_t PebBaseAddress;
  uint64_t AffinityMask;
  int32_t BasePriority;
  uint32_t pad1;
  uint64_t UniqueProcessId;
  uint64_t InheritedFromUniqueProcessId;
};
static_assert(sizeof(PROCESS_BASIC_INFORMATION) == 0x30);

enum ProcessInfoClass : uint32_t {
  kProcessBasicInformation = 0,
  kProcessSessionInformation = 24,
  kProcessWow64Information = 26,
  kProcessImageFileName = 27,
  kProcessBreakOnTermination = 29,
  kProcessImageFileNameWin32 = 43,
};

const ps::ProcessRecord* process_of_body(Kernel& k, GuestVa eprocess) { return k.ps().process_by_eprocess(eprocess); }

// The session a process runs in: services and the System process in 0, the
// interactive client in 1.
uint32_t session_of(const ps::ProcessRecord& p) { return p.pid == ps::kSystemPid ? 0 : 1; }

std::u16string nt_image_path(const ps::ProcessRecord& p) {
  if (p.pid == ps::kSystemPid) return u"";  // the System process has no image file
  return u"\\Device\\HarddiskVolume2\\kemu\\" + to_utf16(p.image_name);
}
std::u16string win32_image_path(const ps::ProcessRecord& p) {
  if (p.pid == ps::kSystemPid) return u"";
  return u"C:\\kemu\\" + to_utf16(p.image_name);
}

// A handle to `object` for NtOpenProcess/NtOpenThread: the access decisions
// of ps/process_security.h, then the handle value written for the caller.
NtStatus open_object(Kernel& k, ProcessorMode mode, ob::ObjectId object, uint32_t desired, uint32_t attributes,
                     GuestVa handle_out) {
  uint64_t handle = 0;
  if (NtStatus st = ps::open_process_object(k, object, desired, attributes, mode, &handle); !nt_success(st))
    return st;
  if (NtStatus st = caller::write<uint64_t>(k, mode, handle_out, handle); !nt_success(st)) {
    k.ob().close_handle(handle, ProcessorMode::KernelMode);
    return st;
  }
  return STATUS_SUCCESS;
}

// NtOpenProcess(ProcessHandle*, DesiredAccess, ObjectAttributes, ClientId*):
// processes and threads are opened by CLIENT_ID only; an ObjectName, or no
// CLIENT_ID, is STATUS_INVALID_PARAMETER_MIX (PsOpenProcess).
NtStatus open_process(Kernel& k, ProcessorMode mode, GuestVa handle_out, uint32_t desired, GuestVa oa,
                      GuestVa client_id, bool thread) {
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(handle_out, 8, 8); !nt_success(st)) return st;
  }
  ob::CapturedAttributes a;
  if (NtStatus st = ob::capture_object_attributes(k, mode, oa, &a); !nt_success(st)) return st;
  if (a.name.has_value() || !client_id) return STATUS_INVALID_PARAMETER_MIX;
  CLIENT_ID cid{};
  if (NtStatus st = caller::read(k, mode, client_id, &cid); !nt_success(st)) return st;
  ob::ObjectId object = ob::kNoObject;
  if (thread || cid.UniqueThread) {
    const ps::ThreadRecord* t = cid.UniqueThread >> 32 ? nullptr : k.ps().thread(static_cast<uint32_t>(cid.UniqueThread));
    if (!t || (cid.UniqueProcess && cid.UniqueProcess != t->pid)) return STATUS_INVALID_CID;
    object = thread ? t->object : k.ps().process(t->pid)->object;
  } else {
    const ps::ProcessRecord* p =
        cid.UniqueProcess >> 32 ? nullptr : k.ps().process(static_cast<uint32_t>(cid.UniqueProcess));
    if (!p) return STATUS_INVALID_CID;
    object = p->object;
  }
  return open_object(k, mode, object, desired, a.attributes, handle_out);
}

NtStatus terminate_process(Kernel& k, ProcessorMode mode, uint64_t handle, NtStatus exit_status) {
  NtStatus st = STATUS_SUCCESS;
  // NULL means the current process, after all its other threads.
  const ps::ProcessRecord* p = nullptr;
  st = ps::reference_process(k, handle ? handle : ob::kCurrentProcessHandle, kProcessTerminate, mode, &p);
  if (!p) return st;
  if (p->pid == ps::kSystemPid) {
    // CRITICAL_PROCESS_DIED: the System process cannot end.
    k.machine().bugcheck(0xEF, p->eprocess.value, 0, 0, 0, k.machine().call_site());
    return STATUS_SUCCESS;
  }
  if (p->terminated) return STATUS_PROCESS_IS_TERMINATING;
  k.ps().terminate_process(p->pid, exit_status);
  return STATUS_SUCCESS;
}

// Copies a fixed-size answer (exact length or STATUS_INFO_LENGTH_MISMATCH).
template <class T>
NtStatus answer_fixed(Kernel& k, ProcessorMode mode, const T& value, GuestVa buffer, uint32_t length,
                      GuestVa return_length) {
  if (length != sizeof(T)) return STATUS_INFO_LENGTH_MISMATCH;
  if (NtStatus st = caller::write(k, mode, buffer, value, 4); !nt_success(st)) return st;
  if (return_length) return caller::write<uint32_t>(k, mode, return_length, sizeof(T));
  return STATUS_SUCCESS;
}

// A UNICODE_STRING answer with its buffer right after it; too small reports the size needed.
NtStatus answer_string(Kernel& k, ProcessorMode mode, const std::u16string& text, GuestVa buffer, uint32_t length,
                       GuestVa return_length) {
  uint32_t needed = static_cast<uint32_t>(sizeof(layout::UNICODE_STRING) + (text.empty() ? 0 : text.size() * 2 + 2));
  if (length < needed) {
    if (return_length) caller::write<uint32_t>(k, mode, return_length, needed);
    return STATUS_INFO_LENGTH_MISMATCH;
  }
  std::vector<uint8_t> out(needed, 0);
  layout::UNICODE_STRING us{};
  if (!text.empty()) {
    us.Length = static_cast<uint16_t>(text.size() * 2);
    us.MaximumLength = static_cast<uint16_t>(text.size() * 2 + 2);
    us.Buffer = buffer.value + sizeof(us);
    std::memcpy(out.data() + sizeof(us), text.data(), text.size() * 2);
  }
  std::memcpy(out.data(), &us, sizeof(us));
  if (NtStatus st = caller::write_bytes(k, mode, buffer, out.data(), out.size(), 4); !nt_success(st)) return st;
  if (return_length) return caller::write<uint32_t>(k, mode, return_length, needed);
  return STATUS_SUCCESS;
}

NtStatus query_process(Kernel& k, ProcessorMode mode, uint64_t handle, uint32_t info_class, GuestVa buffer,
                       uint32_t length, GuestVa return_length) {
  NtStatus st = STATUS_SUCCESS;
  uint32_t access = info_class == kProcessBasicInformation || info_class == kProcessImageFileName ||
                            info_class == kProcessImageFileNameWin32 || info_class == kProcessSessionInformation
                        ? kProcessQueryLimitedInformation
                        : kProcessQueryInformation;
  const ps::ProcessRecord* p = nullptr;
  st = ps::reference_process(k, handle, access, mode, &p);
  if (!p) return st;
  switch (info_class) {
    case kProcessBasicInformation: {
      PROCESS_BASIC_INFORMATION b{};
      b.ExitStatus = static_cast<int32_t>(p->exit_status);
      b.PebBaseAddress = 0;  // kemu's processes have no PEB
      b.AffinityMask = 1;    // one processor
      b.BasePriority = 8;
      b.UniqueProcessId = p->pid;
      b.InheritedFromUniqueProcessId = p->parent_pid;
      return answer_fixed(k, mode, b, buffer, length, return_length);
    }
    case kProcessSessionInformation:
      return answer_fixed<uint32_t>(k, mode, session_of(*p), buffer, length, return_length);
    case kProcessWow64Information:
      return answer_fixed<uint64_t>(k, mode, 0, buffer, length, return_length);  // a native 64-bit process
    case kProcessBreakOnTermination:
      return answer_fixed<uint32_t>(k, mode, p->pid == ps::kSystemPid ? 1 : 0, buffer, length, return_length);
    case kProcessImageFileName:
      return answer_string(k, mode, nt_image_path(*p), buffer, length, return_length);
    case kProcessImageFileNameWin32:
      return answer_string(k, mode, win32_image_path(*p), buffer, length, return_length);
    default:
      k.modules().unimplemented_case("ZwQueryInformationProcess", "ProcessInformationClass " + std::to_string(info_class));
      return STATUS_INVALID_INFO_CLASS;
  }
}

// Host-side KeAttachProcess state per thread (KTHREAD.SavedApcState).
struct AttachState {
  uint32_t pid = 0;
  GuestVa eprocess;
};
// KeAttachProcess's saved state by thread id.
struct SavedAttach {
  std::map<uint32_t, AttachState> by_thread;
};

AttachState current_space(Kernel& k) {
  emu::Machine& m = k.machine();
  return {m.current_thread().space_process_id,
          GuestVa{k.memory().read<uint64_t>(m.current_thread().ethread + kt::kApcStateProcess)}};
}

void attach(Kernel& k, GuestVa eprocess) {
  const ps::ProcessRecord* p = process_of_body(k, eprocess);
  if (!p) {
    // INVALID_PROCESS_ATTACH_ATTEMPT: not a process.
    k.machine().bugcheck(0x5, eprocess.value, 0, 0, 0, k.machine().call_site());
    return;
  }
  k.machine().attach_current_thread(p->pid, p->eprocess);
}

// Registers or removes a routine in a notify list (limit: STATUS_INSUFFICIENT_RESOURCES).
NtStatus set_routine(std::vector<GuestVa>& list, GuestVa routine, bool remove, uint32_t limit) {
  auto it = std::find(list.begin(), list.end(), routine);
  if (remove) {
    if (it == list.end()) return STATUS_PROCEDURE_NOT_FOUND;
    list.erase(it);
    return STATUS_SUCCESS;
  }
  if (it != list.end()) return STATUS_INVALID_PARAMETER;  // already registered
  if (list.size() >= limit) return STATUS_INSUFFICIENT_RESOURCES;
  list.push_back(routine);
  return STATUS_SUCCESS;
}

}  // namespace

// --- lookups -------------------------------------------------------------------------
NtStatus PsLookupProcessByProcessId(Kernel& k, uint64_t pid, GuestVa process_out) {
  const ps::ProcessRecord* p = pid >> 32 ? nullptr : k.ps().process(static_cast<uint32_t>(pid));
  if (!p) return STATUS_INVALID_PARAMETER;
  k.ob().reference(p->object);
  k.memory().write<uint64_t>(process_out, p->eprocess.value);
  return STATUS_SUCCESS;
}

NtStatus PsLookupThreadByThreadId(Kernel& k, uint64_t tid, GuestVa thread_out) {
  const ps::ThreadRecord* t = tid >> 32 ? nullptr : k.ps().thread(static_cast<uint32_t>(tid));
  if (!t) return STATUS_INVALID_PARAMETER;
  k.ob().reference(t->object);
  k.memory().write<uint64_t>(thread_out, t->ethread.value);
  return STATUS_SUCCESS;
}

GuestVa PsGetProcessImageFileName(Kernel& k, GuestVa process) { return process + ep::kImageFileName; }
GuestVa PsGetThreadProcess(Kernel& k, GuestVa thread) { return GuestVa{k.memory().read<uint64_t>(thread + kt::kProcess)}; }
uint64_t PsGetThreadId(Kernel& k, GuestVa thread) { return k.memory().read<uint64_t>(thread + kt::kCidUniqueThread); }
uint64_t PsGetThreadProcessId(Kernel& k, GuestVa thread) {
  return k.memory().read<uint64_t>(thread + kt::kCidUniqueProcess);
}
GuestVa PsGetProcessWow64Process(Kernel& k, GuestVa process) { return GuestVa{}; }  // native 64-bit processes only
NtStatus PsGetProcessExitStatus(Kernel& k, GuestVa process) {
  const ps::ProcessRecord* p = process_of_body(k, process);
  return p ? p->exit_status : STATUS_PENDING;
}
uint64_t PsGetProcessInheritedFromUniqueProcessId(Kernel& k, GuestVa process) {
  const ps::ProcessRecord* p = process_of_body(k, process);
  return p ? p->parent_pid : 0;
}
uint32_t PsGetProcessSessionId(Kernel& k, GuestVa process) {
  const ps::ProcessRecord* p = process_of_body(k, process);
  return p ? session_of(*p) : 0;
}
uint32_t PsGetCurrentProcessSessionId(Kernel& k) {
  return PsGetProcessSessionId(k, GuestVa{k.memory().read<uint64_t>(k.machine().current_thread().ethread + kt::kApcStateProcess)});
}
uint8_t PsIsProcessBeingDebugged(Kernel& k, GuestVa process) { return 0; }
// PsIsProtectedProcess: EPROCESS.Protection.Type is not PsProtectedTypeNone.
uint8_t PsIsProtectedProcess(Kernel& k, GuestVa process) {
  return (k.memory().read<uint8_t>(process + ep::kProtection) & 7) != 0;
}

// --- opening, terminating, querying ------------------------------------------------------
NtStatus NtOpenProcess(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa client_id) {
  return open_process(k, k.machine().previous_mode(), handle_out, desired, oa, client_id, false);
}
NtStatus ZwOpenProcess(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa client_id) {
  return as_kernel_caller(k, [&] { return NtOpenProcess(k, handle_out, desired, oa, client_id); });
}
NtStatus NtOpenThread(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa client_id) {
  return open_process(k, k.machine().previous_mode(), handle_out, desired, oa, client_id, true);
}
NtStatus ZwOpenThread(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa client_id) {
  return as_kernel_caller(k, [&] { return NtOpenThread(k, handle_out, desired, oa, client_id); });
}
NtStatus ZwTerminateProcess(Kernel& k, uint64_t handle, uint32_t exit_status) {
  return as_kernel_caller(k, [&] { return terminate_process(k, ProcessorMode::KernelMode, handle, exit_status); });
}
NtStatus NtQueryInformationProcess(Kernel& k, uint64_t handle, uint32_t info_class, GuestVa buffer, uint32_t length,
                                   GuestVa return_length) {
  return query_process(k, k.machine().previous_mode(), handle, info_class, buffer, length, return_length);
}
NtStatus ZwQueryInformationProcess(Kernel& k, uint64_t handle, uint32_t info_class, GuestVa buffer, uint32_t length,
                                   GuestVa return_length) {
  return as_kernel_caller(k, [&] { return NtQueryInformationProcess(k, handle, info_class, buffer, length, return_length); });
}

// --- attaching ---------------------------------------------------------------------
// KeStackAttachProcess(Process, ApcState*): the previous address space is
// saved in the caller's KAPC_STATE (its Process field) for the matching detach.
void KeStackAttachProcess(Kernel& k, GuestVa process, GuestVa apc_state) {
  AttachState was = current_space(k);
  k.memory().write<uint64_t>(apc_state + 0x20, was.eprocess.value);  // KAPC_STATE.Process
  k.memory().write<uint64_t>(apc_state + 0x28, was.pid);              // kemu's note: the previous space's pid
  attach(k, process);
}

void KeUnstackDetachProcess(Kernel& k, GuestVa apc_state) {
  GuestVa eprocess{k.memory().read<uint64_t>(apc_state + 0x20)};
  uint32_t pid = static_cast<uint32_t>(k.memory().read<uint64_t>(apc_state + 0x28));
  k.machine().attach_current_thread(pid, eprocess);
}

// KeAttachProcess(Process): one level only; attaching again while attached
// bugchecks INVALID_PROCESS_ATTACH_ATTEMPT (0x5).
void KeAttachProcess(Kernel& k, GuestVa process) {
  emu::Machine& m = k.machine();
  auto& saved = k.state<SavedAttach>().by_thread;
  uint32_t key = m.current_thread().id;
  if (saved.contains(key)) {
    m.bugcheck(0x5, process.value, 0, 0, 0, m.call_site());
    return;
  }
  saved[key] = current_space(k);
  attach(k, process);
}

void KeDetachProcess(Kernel& k) {
  emu::Machine& m = k.machine();
  auto& saved = k.state<SavedAttach>().by_thread;
  auto it = saved.find(m.current_thread().id);
  if (it == saved.end()) return;  // not attached: nothing to do
  m.attach_current_thread(it->second.pid, it->second.eprocess);
  saved.erase(it);
}

// --- notification routines -----------------------------------------------------------
NtStatus PsSetCreateProcessNotifyRoutine(Kernel& k, GuestVa routine, uint8_t remove) {
  return set_routine(k.ps().notify_routines().process, routine, remove, kProcessNotifyLimit);
}
NtStatus PsSetCreateProcessNotifyRoutineEx(Kernel& k, GuestVa routine, uint8_t remove) {
  return set_routine(k.ps().notify_routines().process_ex, routine, remove, kProcessNotifyLimit);
}
NtStatus PsSetCreateThreadNotifyRoutine(Kernel& k, GuestVa routine) {
  return set_routine(k.ps().notify_routines().thread, routine, false, kThreadNotifyLimit);
}
NtStatus PsRemoveCreateThreadNotifyRoutine(Kernel& k, GuestVa routine) {
  return set_routine(k.ps().notify_routines().thread, routine, true, kThreadNotifyLimit);
}
NtStatus PsSetLoadImageNotifyRoutine(Kernel& k, GuestVa routine) {
  return set_routine(k.ps().notify_routines().image, routine, false, kImageNotifyLimit);
}
NtStatus PsRemoveLoadImageNotifyRoutine(Kernel& k, GuestVa routine) {
  return set_routine(k.ps().notify_routines().image, routine, true, kImageNotifyLimit);
}

void register_process_exports(Registry& r) {
  KEMU_EXPORT(r, PsLookupProcessByProcessId);
  KEMU_EXPORT(r, PsLookupThreadByThreadId);
  KEMU_EXPORT(r, PsGetProcessImageFileName);
  KEMU_EXPORT(r, PsGetThreadProcess);
  KEMU_EXPORT(r, PsGetThreadId);
  KEMU_EXPORT(r, PsGetThreadProcessId);
  KEMU_EXPORT(r, PsGetProcessWow64Process);
  KEMU_EXPORT(r, PsGetProcessExitStatus);
  KEMU_EXPORT(r, PsGetProcessInheritedFromUniqueProcessId);
  KEMU_EXPORT(r, PsGetProcessSessionId);
  KEMU_EXPORT(r, PsGetCurrentProcessSessionId);
  KEMU_EXPORT(r, PsIsProcessBeingDebugged);
  KEMU_EXPORT(r, PsIsProtectedProcess);
  KEMU_EXPORT(r, NtOpenProcess);
  KEMU_EXPORT(r, ZwOpenProcess);
  KEMU_EXPORT(r, NtOpenThread);
  KEMU_EXPORT(r, ZwOpenThread);
  KEMU_EXPORT(r, ZwTerminateProcess);
  KEMU_EXPORT(r, NtQueryInformationProcess);
  KEMU_EXPORT(r, ZwQueryInformationProcess);
  KEMU_EXPORT(r, KeStackAttachProcess);
  KEMU_EXPORT(r, KeUnstackDetachProcess);
  KEMU_EXPORT(r, KeAttachProcess);
  KEMU_EXPORT(r, KeDetachProcess);
  KEMU_EXPORT(r, PsSetCreateProcessNotifyRoutine);
  KEMU_EXPORT(r, PsSetCreateProcessNotifyRoutineEx);
  KEMU_EXPORT(r, PsSetCreateThreadNotifyRoutine);
  KEMU_EXPORT(r, PsRemoveCreateThreadNotifyRoutine);
  KEMU_EXPORT(r, PsSetLoadImageNotifyRoutine);
  KEMU_EXPORT(r, PsRemoveLoadImageNotifyRoutine);
}

}  // namespace kemu::nt
