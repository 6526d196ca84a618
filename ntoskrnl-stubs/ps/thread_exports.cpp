// System threads and work items.
#include "emulator/ntstatus.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

namespace {
constexpr uint32_t kWorkItemTag = 0x6B576F49;  // 'IoWk'
constexpr uint64_t kIoWorkItemSize = 0x58;      // IoSizeofWorkItem on x64
constexpr uint32_t kThreadAllAccess = 0x1FFFFF;
}  // namespace

// PsCreateSystemThread(ThreadHandle*, DesiredAccess, ObjectAttributes, ProcessHandle,
//                      ClientId*, StartRoutine, StartContext)
// The thread belongs to the System process unless a process handle is given;
// it starts running when the creator waits or returns (one CPU).
NtStatus PsCreateSystemThread(Kernel& k, GuestVa handle_out, uint32_t desired_access, GuestVa object_attributes,
                              uint64_t process_handle, GuestVa client_id, GuestVa start, GuestVa context) {
  auto& mem = k.memory();
  uint32_t pid = ps::kSystemPid;
  if (process_handle) {
    ob::ObjectId process = ob::kNoObject;
    NtStatus st = k.ob().reference_by_handle(process_handle, 0x2 /* PROCESS_CREATE_THREAD */,
                                             ob::TypeIndex::Process, k.machine().previous_mode(), &process, nullptr);
    if (!nt_success(st)) return st;
    const ps::ProcessRecord* p = k.ps().process_by_eprocess(k.ob().get(process)->body);
    if (p) pid = p->pid;
    k.ob().dereference(process);
  }
  uint32_t attributes = 0;
  if (object_attributes) attributes = mem.read<uint32_t>(object_attributes + 0x18);  // OBJECT_ATTRIBUTES.Attributes
  uint32_t tid = k.scheduler().create_system_thread(pid, start, context.value);
  const ps::ThreadRecord* t = k.ps().thread(tid);
  uint64_t handle = k.ob().create_handle(t->object, desired_access ? desired_access : kThreadAllAccess, attributes);
  mem.write<uint64_t>(handle_out, handle);
  if (client_id) {
    mem.write<uint64_t>(client_id, pid);
    mem.write<uint64_t>(client_id + 8, tid);
  }
  return STATUS_SUCCESS;
}

NtStatus PsTerminateSystemThread(Kernel& k, uint32_t status) {
  k.scheduler().terminate_current(status);
  return STATUS_SUCCESS;
}

// --- work items ---------------------------------------------------------------------
GuestVa IoAllocateWorkItem(Kernel& k, GuestVa device_object) {
  auto block = k.machine().pool().allocate(kIoWorkItemSize, 0, kWorkItemTag, k.machine().return_address());
  if (!block) return GuestVa{};
  std::vector<uint8_t> zero(kIoWorkItemSize, 0);
  k.memory().write(*block, zero.data(), zero.size());
  k.memory().write<uint64_t>(*block + 0x28, device_object.value);  // the IoObject
  return *block;
}

void IoFreeWorkItem(Kernel& k, GuestVa item) { k.machine().pool().free(item, std::nullopt); }

uint32_t IoSizeofWorkItem(Kernel& k) { return static_cast<uint32_t>(kIoWorkItemSize); }

void IoInitializeWorkItem(Kernel& k, GuestVa io_object, GuestVa item) {
  std::vector<uint8_t> zero(kIoWorkItemSize, 0);
  k.memory().write(item, zero.data(), zero.size());
  k.memory().write<uint64_t>(item + 0x28, io_object.value);
}

void IoUninitializeWorkItem(Kernel& k, GuestVa item) {}

// IoQueueWorkItem: WorkerRoutine(DeviceObject, Context) on a system worker
// thread; the device object stays referenced until the routine returns.
void IoQueueWorkItem(Kernel& k, GuestVa item, GuestVa routine, uint32_t queue_type, GuestVa context) {
  GuestVa device{k.memory().read<uint64_t>(item + 0x28)};
  k.scheduler().queue_work({routine, {device.value, context.value}, device, item});
}

// IoQueueWorkItemEx: WorkerRoutine(IoObject, Context, IoWorkItem).
void IoQueueWorkItemEx(Kernel& k, GuestVa item, GuestVa routine, uint32_t queue_type, GuestVa context) {
  GuestVa object{k.memory().read<uint64_t>(item + 0x28)};
  k.scheduler().queue_work({routine, {object.value, context.value, item.value}, object, item});
}

// ExQueueWorkItem(WORK_QUEUE_ITEM*): WorkerRoutine at +0x10 gets Parameter (+0x18).
void ExQueueWorkItem(Kernel& k, GuestVa item, uint32_t queue_type) {
  GuestVa routine{k.memory().read<uint64_t>(item + 0x10)};
  uint64_t parameter = k.memory().read<uint64_t>(item + 0x18);
  k.scheduler().queue_work({routine, {parameter}, GuestVa{}, item});
}

void register_thread_exports(Registry& r) {
  KEMU_EXPORT(r, PsCreateSystemThread);
  KEMU_EXPORT(r, PsTerminateSystemThread);
  KEMU_EXPORT(r, IoAllocateWorkItem);
  KEMU_EXPORT(r, IoFreeWorkItem);
  KEMU_EXPORT(r, IoSizeofWorkItem);
  KEMU_EXPORT(r, IoInitializeWorkItem);
  KEMU_EXPORT(r, IoUninitializeWorkItem);
  KEMU_EXPORT(r, IoQueueWorkItem);
  KEMU_EXPORT(r, IoQueueWorkItemEx);
  KEMU_EXPORT(r, ExQueueWorkItem);
}

}  // namespace kemu::nt
