// What the kernel tells the verifier (verifier/): typed events about what the
// driver does and what kemu decided. A listener observes; it never changes
// what the kernel does. Every event here comes from driver activity — a
// kernel routine the driver called, a request kemu sent it, its unload —
// never from kemu's own bookkeeping (checks.md ground rules: calls kemu's
// own kernel makes internally are not driver events).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {

struct ExportDesc;

// A kernel routine the driver called (before its handler runs, and after,
// with the value it returned in RAX).
struct ApiCall {
  const std::string* module = nullptr;   // "ntoskrnl.exe"
  const std::string* name = nullptr;     // "ZwClose"
  const ExportDesc* desc = nullptr;      // parameter types, when kemu knows the prototype
  std::vector<uint64_t> args;            // the Win64 arguments, as many as the prototype names
  GuestVa call_site;                     // the driver's call instruction
  uint64_t result = 0;                   // after the call: RAX
  bool raised = false;                   // after the call: the routine raised an exception into the caller
};

// A client request as the I/O manager sends it to the driver.
struct RequestStart {
  uint64_t id = 0;
  GuestVa irp;
  uint8_t major = 0;
  uint32_t ioctl = 0;  // IRP_MJ_(INTERNAL_)DEVICE_CONTROL only
  ProcessorMode requestor = ProcessorMode::KernelMode;
  uint32_t pid = 0;    // the requesting process
  // The bytes the caller controls, as they were when the request started:
  // the input buffer (METHOD_BUFFERED / direct: the system buffer's copy;
  // METHOD_NEITHER: the user's Type3InputBuffer), a write's data.
  std::vector<uint8_t> caller_bytes;
};

// A driver instruction read or wrote user memory (or a kernel scratch buffer
// kemu placed for the client, cli.md placement `kernel`) while a client
// request was in the driver. kemu's own accesses are never reported.
struct MemoryAccess {
  GuestVa rip;  // the accessing instruction
  GuestVa address;
  uint32_t size = 0;
  bool write = false;
};

// A handle entered a table on behalf of the driver (a Zw/Ob create or open it
// called) or of the client.
struct HandleCreated {
  uint64_t value = 0;
  uint32_t pid = 0;         // whose table (4: the kernel table)
  uint32_t attributes = 0;  // OBJ_* as asked
  uint64_t object = 0;      // ob::ObjectId
  bool by_driver = false;   // inside a kernel routine the driver called
};

struct HandleClosed {
  uint64_t value = 0;  // index * 4, without the kernel flag
  uint32_t pid = 0;
  uint64_t object = 0;
};

// A driver routine kemu's kernel calls on the driver's behalf: a dispatch
// routine (IofCallDriver), an IoCompletion routine, a DPC (queued or a
// timer's), a work item's routine. `irql` is the IRQL the routine starts at
// (callback_started) or left behind when it returned (callback_returned),
// before kemu restores anything. Routines of kemu's own (its file system's
// dispatch routines) are reported too: listeners filter by address.
enum class CallbackKind : uint8_t { Dispatch, Completion, Dpc, WorkItem };
struct DriverCallback {
  CallbackKind kind = CallbackKind::Dispatch;
  GuestVa routine;
  GuestVa object;  // the IRP (dispatch, completion), the KDPC, the work item
  uint8_t irql = 0;
};

class KernelListener {
 public:
  virtual ~KernelListener() = default;
  virtual void api_called(const ApiCall&) {}
  virtual void api_returned(const ApiCall&) {}
  virtual void request_started(const RequestStart&) {}
  // The dispatch routine returned (the request may still be pending).
  virtual void request_returned(uint64_t id, NtStatus status) {}
  virtual void memory_accessed(const MemoryAccess&) {}
  virtual void handle_created(const HandleCreated&) {}
  virtual void handle_closed(const HandleClosed&) {}
  virtual void callback_started(const DriverCallback&) {}
  virtual void callback_returned(const DriverCallback&) {}
};

}  // namespace kemu::nt
