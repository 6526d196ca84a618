// The I/O manager's side of IRPs it builds: each threaded IRP on its
// thread's IrpList (ETHREAD.IrpList, through Irp->ThreadListEntry, as
// IopQueueThreadIrp does), and the last part of completion
// (IopCompleteRequest) that IofCompleteRequest reaches once no completion
// routine stopped it. Everything is driven by the IRP's own fields as on
// Windows: IRP_BUFFERED_IO + IRP_INPUT_OPERATION copy Information bytes from
// the system buffer to UserBuffer, IRP_DEALLOCATE_BUFFER frees it, the MDL
// chain is unlocked and freed, UserIosb and UserEvent tell the caller.
#include <algorithm>
#include <optional>
#include <vector>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {
int32_t KeSetEvent(Kernel& k, GuestVa event, int32_t increment,
                   bool wait);          // ke/ke_sync_exports.cpp
void ExFreePool(Kernel& k, GuestVa p);  // ex/ex_exports.cpp
}  // namespace kemu::nt

namespace kemu::nt::io {

using layout::IRP;
using layout::LIST_ENTRY;

namespace {
constexpr uint32_t kIrpBufferedIo = 0x10;
constexpr uint32_t kIrpDeallocateBuffer = 0x20;
constexpr uint32_t kIrpInputOperation = 0x40;
// A chain of MDLs longer than this is a corrupted chain, not a request.
constexpr int kMaxMdlChain = 4096;
constexpr int kMaxThreadIrps = 1 << 16;

GuestVa thread_list_entry(GuestVa irp) {
  return irp + offsetof(IRP, ThreadListEntry);
}

// RemoveEntryList + InitializeListHead on the IRP's ThreadListEntry (IopDequeueThreadIrp).
void dequeue_thread_irp(emu::AddressSpace& mem, GuestVa irp) {
  GuestVa entry = thread_list_entry(irp);
  auto links = mem.read<LIST_ENTRY>(entry);
  if (links.Flink == entry.value) return;  // not queued
  mem.write<uint64_t>(GuestVa{links.Blink} + offsetof(LIST_ENTRY, Flink), links.Flink);
  mem.write<uint64_t>(GuestVa{links.Flink} + offsetof(LIST_ENTRY, Blink), links.Blink);
  mem.write(entry, LIST_ENTRY{entry.value, entry.value});
}

// The thread's IrpList head; a thread that never issued I/O gets it initialised here.
GuestVa irp_list_head(emu::AddressSpace& mem, GuestVa ethread) {
  GuestVa head = ethread + emu::kthread::kIrpList;
  if (mem.read<uint64_t>(head) == 0) mem.write(head, LIST_ENTRY{head.value, head.value});
  return head;
}
// Makes the user memory of the process of `thread` the one in view (as an
// APC queued to that thread would see it) until restore() or destruction.
class RequestorView {
 public:
  RequestorView(Kernel& k, GuestVa thread) : memory_(k.memory()) {
    current_ = k.machine().current_thread().process_id;
    const ps::ThreadRecord* t = thread ? k.ps().thread_by_ethread(thread) : nullptr;
    if (!t || t->pid == current_) return;
    requestor_ = t->pid;
    memory_.set_owner_visible(current_, false);
    memory_.set_owner_visible(t->pid, true);
  }
  ~RequestorView() { restore(); }
  void restore() {
    if (!requestor_) return;
    memory_.set_owner_visible(requestor_.value(), false);
    memory_.set_owner_visible(current_, true);
    requestor_.reset();
  }

 private:
  emu::AddressSpace& memory_;
  uint32_t current_ = 0;
  std::optional<uint32_t> requestor_;
};
}  // namespace

void IoManager::track_irp(GuestVa irp, ThreadedIrp record) {
  auto& mem = kernel_.memory();
  if (record.threaded) {
    // IopQueueThreadIrp: InsertHeadList(&Thread->IrpList, &Irp->ThreadListEntry).
    GuestVa thread{mem.read<uint64_t>(irp + offsetof(IRP, Thread))};
    if (thread) {
      GuestVa head = irp_list_head(mem, thread);
      GuestVa entry = thread_list_entry(irp);
      uint64_t first = mem.read<uint64_t>(head);
      mem.write(entry, LIST_ENTRY{first, head.value});
      mem.write<uint64_t>(GuestVa{first} + offsetof(LIST_ENTRY, Blink), entry.value);
      mem.write<uint64_t>(head, entry.value);
    }
  }
  threaded_irps_[irp.value] = record;
}

std::vector<GuestVa> IoManager::thread_irps(GuestVa ethread) {
  auto& mem = kernel_.memory();
  std::vector<GuestVa> out;
  GuestVa head = irp_list_head(mem, ethread);
  uint64_t entry = mem.read<uint64_t>(head);
  for (int n = 0; entry != head.value && n < kMaxThreadIrps; ++n) {
    out.push_back(GuestVa{entry - offsetof(IRP, ThreadListEntry)});
    entry = mem.read<uint64_t>(GuestVa{entry});
  }
  return out;
}

bool IoManager::finish_irp(GuestVa irp) {
  auto it = threaded_irps_.find(irp.value);
  if (it == threaded_irps_.end()) return false;
  ThreadedIrp record = it->second;
  threaded_irps_.erase(it);
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  IRP h = mem.read<IRP>(irp);

  // IofCompleteRequest: the pages every MDL of the IRP describes are unlocked.
  GuestVa mdl{h.MdlAddress};
  for (int n = 0; mdl && n < kMaxMdlChain; ++n) {
    auto d = mem.read<layout::MDL>(mdl);
    if (d.MdlFlags & mm::kMdlPagesLocked) MmUnlockPages(kernel_, mdl);
    if (m.stopped()) return true;
    mdl = GuestVa{d.Next};
  }

  // The rest is IopCompleteRequest, an APC in the requesting thread: its
  // process's user memory (the caller's buffer and IO_STATUS_BLOCK) is the
  // one in view while it runs.
  RequestorView view(kernel_, GuestVa{h.Thread});

  // Buffered output goes back to the caller's buffer (Information bytes, not
  // clamped) unless the status is an error; a fault there becomes the
  // request's status, as the routine's exception filter does.
  NtStatus status = static_cast<NtStatus>(h.IoStatus.Status);
  if (h.Flags & kIrpBufferedIo) {
    GuestVa system_buffer{h.AssociatedIrp};
    if ((h.Flags & kIrpInputOperation) && !nt_error(status) && h.UserBuffer && system_buffer &&
        h.IoStatus.Information) {
      std::vector<uint8_t> bytes(std::min<uint64_t>(h.IoStatus.Information, 1u << 24));
      GuestVa user{h.UserBuffer};
      if (!mem.read(system_buffer, bytes.data(), bytes.size()) ||
          !mem.accessible(user, bytes.size(), Prot::Write) ||
          !mem.write(user, bytes.data(), bytes.size())) {
        h.IoStatus.Status = static_cast<uint32_t>(STATUS_ACCESS_VIOLATION);
        mem.write<uint64_t>(irp + offsetof(IRP, IoStatus), h.IoStatus.Status);
      }
    }
    if ((h.Flags & kIrpDeallocateBuffer) && system_buffer) {
      ExFreePool(kernel_, system_buffer);
      if (m.stopped()) return true;
    }
  }
  // The MDLs themselves are freed.
  mdl = GuestVa{h.MdlAddress};
  for (int n = 0; mdl && n < kMaxMdlChain; ++n) {
    GuestVa next{mem.read<uint64_t>(mdl + offsetof(layout::MDL, Next))};
    IoFreeMdl(kernel_, mdl);
    if (m.stopped()) return true;
    mdl = next;
  }
  mem.write<uint64_t>(irp + offsetof(IRP, MdlAddress), 0);

  // The caller learns the outcome: its IO_STATUS_BLOCK, then its event.
  if (h.UserIosb) mem.write(GuestVa{h.UserIosb}, h.IoStatus);
  view.restore();
  if (h.UserEvent) KeSetEvent(kernel_, GuestVa{h.UserEvent}, 0, false);
  if (record.threaded) dequeue_thread_irp(mem, irp);
  // IoFreeIrp: Type cleared, so completing the freed IRP again bugchecks 0x44.
  mem.write<int16_t>(irp + offsetof(IRP, Type), 0);
  m.pool().free(irp, std::nullopt);
  // The request's reference to its file object goes last (IRP_MJ_CLOSE may follow).
  if (record.file_reference != ob::kNoObject && kernel_.ob().get(record.file_reference))
    kernel_.ob().dereference(record.file_reference);
  return true;
}

std::optional<IoResult> IoManager::request_outcome(uint64_t request) {
  auto it = client_requests_.find(request);
  if (it == client_requests_.end()) return std::nullopt;
  auto& mem = kernel_.memory();
  GuestVa iosb = it->second.scratch;
  GuestVa event = iosb + sizeof(layout::IO_STATUS_BLOCK);
  if (mem.read<layout::DISPATCHER_HEADER>(event).SignalState == 0) return std::nullopt;
  auto io = mem.read<layout::IO_STATUS_BLOCK>(iosb);
  kernel_.machine().pool().free(iosb, std::nullopt);
  client_requests_.erase(it);
  return IoResult{static_cast<NtStatus>(io.Status), io.Information, false, 0};
}

}  // namespace kemu::nt::io
