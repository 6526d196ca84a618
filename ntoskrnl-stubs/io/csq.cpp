// Cancel-safe IRP queues: IoCsqInitialize(Ex), IoCsqInsertIrp(Ex),
// IoCsqRemoveNextIrp, IoCsqRemoveIrp and the queue's own cancel routine,
// IopCsqCancelRoutine — a kernel routine the IRP holds in CancelRoutine,
// reached by IoCancelIrp like any driver's. The queue itself is the driver's:
// its IO_CSQ callbacks (insert, remove, peek, lock, unlock, complete a
// cancelled IRP) run as guest code, in the order Windows calls them. The
// routines keep their link to an IRP in Irp->Tail.Overlay.DriverContext[3]:
// the IO_CSQ_IRP_CONTEXT when the driver passed one, else the IO_CSQ.
#include <optional>
#include <vector>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/io_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

using layout::IO_CSQ;
using layout::IO_CSQ_IRP_CONTEXT;
using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {

constexpr uint8_t kSlPendingReturned = 0x01;
// Irp->Tail.Overlay.DriverContext[3].
constexpr uint64_t kCsqLink = offsetof(IRP, DriverContext) + 3 * sizeof(uint64_t);

// IoSetCancelRoutine: InterlockedExchangePointer(&Irp->CancelRoutine, routine).
uint64_t exchange_cancel_routine(Kernel& k, GuestVa irp, uint64_t routine) {
  GuestVa field = irp + offsetof(IRP, CancelRoutine);
  uint64_t old = k.memory().read<uint64_t>(field);
  k.memory().write<uint64_t>(field, routine);
  return old;
}

// IoMarkIrpPending: SL_PENDING_RETURNED in the current stack location.
void mark_irp_pending(Kernel& k, GuestVa irp) {
  GuestVa sl{k.memory().read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation))};
  GuestVa control = sl + offsetof(IO_STACK_LOCATION, Control);
  k.memory().write<uint8_t>(control, k.memory().read<uint8_t>(control) | kSlPendingReturned);
}

// The driver's queue callbacks, called as guest code. Each returns nullopt
// when the run stopped or an exception left the callback: the routine then
// does nothing more.
class CsqCallbacks {
 public:
  CsqCallbacks(Kernel& k, GuestVa csq)
      : k_(k),
        csq_(csq),
        q_(k.memory().read<IO_CSQ>(csq)),
        // The KIRQL the lock callback fills lives in the routine's frame,
        // below the trap's stack pointer and above the callbacks' frames.
        irql_slot_{(k.machine().cpu().rsp() - 0x80) & ~0xFull} {
    // ReservePointer = NULL on every call ("force drivers to be good citizens").
    k.memory().write<uint64_t>(csq + offsetof(IO_CSQ, ReservePointer), 0);
  }

  std::optional<uint8_t> acquire_lock() {
    if (!call(q_.CsqAcquireLock, {csq_.value, irql_slot_.value})) return std::nullopt;
    return k_.memory().read<uint8_t>(irql_slot_);
  }
  bool release_lock(uint8_t irql) {
    return call(q_.CsqReleaseLock, {csq_.value, irql}).has_value();
  }
  // CsqInsertIrp, or for IO_TYPE_CSQ_EX CsqInsertIrpEx with its status.
  std::optional<NtStatus> insert(GuestVa irp, GuestVa insert_context) {
    if (q_.Type == layout::kIoTypeCsqEx) {
      auto r = call(q_.CsqInsertIrp, {csq_.value, irp.value, insert_context.value});
      if (!r) return std::nullopt;
      return static_cast<NtStatus>(*r);
    }
    if (!call(q_.CsqInsertIrp, {csq_.value, irp.value})) return std::nullopt;
    return STATUS_SUCCESS;
  }
  bool remove(GuestVa irp) { return call(q_.CsqRemoveIrp, {csq_.value, irp.value}).has_value(); }
  std::optional<GuestVa> peek(GuestVa irp, GuestVa peek_context) {
    auto r = call(q_.CsqPeekNextIrp, {csq_.value, irp.value, peek_context.value});
    if (!r) return std::nullopt;
    return GuestVa{*r};
  }
  bool complete_canceled(GuestVa irp) {
    return call(q_.CsqCompleteCanceledIrp, {csq_.value, irp.value}).has_value();
  }

 private:
  std::optional<uint64_t> call(uint64_t routine, const std::vector<uint64_t>& args) {
    if (k_.machine().stopped()) return std::nullopt;
    return k_.machine().call(GuestVa{routine}, args);
  }

  Kernel& k_;
  GuestVa csq_;
  IO_CSQ q_;
  GuestVa irql_slot_;
};

GuestVa csq_cancel_routine(Kernel& k) {
  return k.modules().internal_routine("IopCsqCancelRoutine");
}

void write_queue(Kernel& k, GuestVa csq, uint32_t type, GuestVa insert, GuestVa remove,
                 GuestVa peek, GuestVa acquire, GuestVa release, GuestVa complete) {
  IO_CSQ q{};
  q.Type = type;
  q.CsqInsertIrp = insert.value;
  q.CsqRemoveIrp = remove.value;
  q.CsqPeekNextIrp = peek.value;
  q.CsqAcquireLock = acquire.value;
  q.CsqReleaseLock = release.value;
  q.CsqCompleteCanceledIrp = complete.value;
  q.ReservePointer = 0;
  k.memory().write(csq, q);
}

}  // namespace

// IoCsqInitialize: fills the IO_CSQ (Type IO_TYPE_CSQ) with the driver's callbacks.
NtStatus IoCsqInitialize(Kernel& k, GuestVa csq, GuestVa insert, GuestVa remove, GuestVa peek,
                         GuestVa acquire, GuestVa release, GuestVa complete) {
  write_queue(k, csq, layout::kIoTypeCsq, insert, remove, peek, acquire, release, complete);
  return STATUS_SUCCESS;
}

// IoCsqInitializeEx: the same with CsqInsertIrpEx (Type IO_TYPE_CSQ_EX),
// whose status IoCsqInsertIrpEx returns.
NtStatus IoCsqInitializeEx(Kernel& k, GuestVa csq, GuestVa insert_ex, GuestVa remove, GuestVa peek,
                           GuestVa acquire, GuestVa release, GuestVa complete) {
  write_queue(k, csq, layout::kIoTypeCsqEx, insert_ex, remove, peek, acquire, release, complete);
  return STATUS_SUCCESS;
}

// IoCsqInsertIrpEx(Csq, Irp, Context, InsertContext), in Windows' order:
// the context links the IRP (or the IRP links the queue) first; under the
// queue's lock the driver inserts it (an IO_TYPE_CSQ_EX insert that fails
// leaves it out and its status is returned), the IRP is marked pending and
// gets IopCsqCancelRoutine; an IRP already cancelled whose routine is still
// there is taken out again and handed to CsqCompleteCanceledIrp after the
// lock is released.
NtStatus IoCsqInsertIrpEx(Kernel& k, GuestVa csq, GuestVa irp, GuestVa context,
                          GuestVa insert_context) {
  auto& mem = k.memory();
  if (context) {
    mem.write(context, IO_CSQ_IRP_CONTEXT{layout::kIoTypeCsqIrpContext, 0, irp.value, csq.value});
    mem.write<uint64_t>(irp + kCsqLink, context.value);
  } else {
    mem.write<uint64_t>(irp + kCsqLink, csq.value);
  }
  CsqCallbacks cb(k, csq);
  auto irql = cb.acquire_lock();
  if (!irql) return STATUS_UNSUCCESSFUL;
  auto status = cb.insert(irp, insert_context);
  if (!status) return STATUS_UNSUCCESSFUL;
  if (!nt_success(*status)) {
    cb.release_lock(*irql);
    return *status;
  }
  mark_irp_pending(k, irp);
  exchange_cancel_routine(k, irp, csq_cancel_routine(k).value);
  if (mem.read<uint8_t>(irp + offsetof(IRP, Cancel)) && exchange_cancel_routine(k, irp, 0) != 0) {
    // Cancelled before the routine was in place, and IoCancelIrp did not call it.
    if (!cb.remove(irp)) return *status;
    if (context) mem.write<uint64_t>(context + offsetof(IO_CSQ_IRP_CONTEXT, Irp), 0);
    mem.write<uint64_t>(irp + kCsqLink, 0);
    if (!cb.release_lock(*irql)) return *status;
    cb.complete_canceled(irp);
    return *status;
  }
  cb.release_lock(*irql);
  return *status;
}

// IoCsqInsertIrp: IoCsqInsertIrpEx without an insert context.
void IoCsqInsertIrp(Kernel& k, GuestVa csq, GuestVa irp, GuestVa context) {
  IoCsqInsertIrpEx(k, csq, irp, context, GuestVa{});
}

// IoCsqRemoveNextIrp(Csq, PeekContext): under the lock, walks the queue with
// CsqPeekNextIrp (from the head, then from each IRP found) and takes the
// first IRP whose cancel routine it can still clear — one IoCancelIrp is
// already cancelling is skipped — out with CsqRemoveIrp; NULL when none.
GuestVa IoCsqRemoveNextIrp(Kernel& k, GuestVa csq, GuestVa peek_context) {
  auto& mem = k.memory();
  CsqCallbacks cb(k, csq);
  auto irql = cb.acquire_lock();
  if (!irql) return GuestVa{};
  auto irp = cb.peek(GuestVa{}, peek_context);
  for (int guard = 0; irp && *irp && guard < (1 << 20); ++guard) {
    if (exchange_cancel_routine(k, *irp, 0) != 0) break;
    irp = cb.peek(*irp, peek_context);
  }
  if (!irp) return GuestVa{};
  if (!*irp) {
    cb.release_lock(*irql);
    return GuestVa{};
  }
  if (!cb.remove(*irp)) return GuestVa{};
  GuestVa link{mem.read<uint64_t>(*irp + kCsqLink)};
  if (link && mem.read<uint32_t>(link) == layout::kIoTypeCsqIrpContext)
    mem.write<uint64_t>(link + offsetof(IO_CSQ_IRP_CONTEXT, Irp), 0);
  mem.write<uint64_t>(*irp + kCsqLink, 0);
  cb.release_lock(*irql);
  return *irp;
}

// IoCsqRemoveIrp(Csq, Context): the IRP the context still names, taken out
// under the lock if its cancel routine can still be cleared; NULL when the
// context names none any more or the IRP is being cancelled.
GuestVa IoCsqRemoveIrp(Kernel& k, GuestVa csq, GuestVa context) {
  auto& mem = k.memory();
  CsqCallbacks cb(k, csq);
  auto irql = cb.acquire_lock();
  if (!irql) return GuestVa{};
  GuestVa irp{mem.read<uint64_t>(context + offsetof(IO_CSQ_IRP_CONTEXT, Irp))};
  if (!irp || exchange_cancel_routine(k, irp, 0) == 0) {
    cb.release_lock(*irql);
    return GuestVa{};
  }
  if (!cb.remove(irp)) return GuestVa{};
  mem.write<uint64_t>(context + offsetof(IO_CSQ_IRP_CONTEXT, Irp), 0);
  mem.write<uint64_t>(irp + kCsqLink, 0);
  cb.release_lock(*irql);
  return irp;
}

// IopCsqCancelRoutine: the cancel routine IoCsqInsertIrp(Ex) gives each
// queued IRP. Called by IoCancelIrp with the cancel spin lock held, it
// releases it, finds the queue through DriverContext[3], takes the IRP out
// under the queue's lock (breaking the context's link) and hands it to the
// driver's CsqCompleteCanceledIrp.
void IopCsqCancelRoutine(Kernel& k, GuestVa device, GuestVa irp) {
  (void)device;
  auto& mem = k.memory();
  IoReleaseCancelSpinLock(k, mem.read<uint8_t>(irp + offsetof(IRP, CancelIrql)));
  GuestVa link{mem.read<uint64_t>(irp + kCsqLink)};
  if (!link) return;
  uint32_t type = mem.read<uint32_t>(link);
  GuestVa csq;
  if (type == layout::kIoTypeCsqIrpContext) {
    csq = GuestVa{mem.read<uint64_t>(link + offsetof(IO_CSQ_IRP_CONTEXT, Csq))};
  } else if (type == layout::kIoTypeCsq || type == layout::kIoTypeCsqEx) {
    csq = link;
  } else {
    return;  // not a CSQ link: Windows only asserts
  }
  CsqCallbacks cb(k, csq);
  auto irql = cb.acquire_lock();
  if (!irql || !cb.remove(irp)) return;
  if (link != csq) {
    mem.write<uint64_t>(link + offsetof(IO_CSQ_IRP_CONTEXT, Irp), 0);
    mem.write<uint64_t>(irp + kCsqLink, 0);
  }
  if (!cb.release_lock(*irql)) return;
  cb.complete_canceled(irp);
}

void register_csq_exports(Registry& r) {
  KEMU_EXPORT(r, IoCsqInitialize);
  KEMU_EXPORT(r, IoCsqInitializeEx);
  KEMU_EXPORT(r, IoCsqInsertIrp);
  KEMU_EXPORT(r, IoCsqInsertIrpEx);
  KEMU_EXPORT(r, IoCsqRemoveNextIrp);
  KEMU_EXPORT(r, IoCsqRemoveIrp);
}

}  // namespace kemu::nt
