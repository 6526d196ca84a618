#include "verifier/catalog.h"

namespace kemu::verifier {

namespace {

constexpr std::string_view kError = "error";
constexpr std::string_view kWarning = "warning";

// One entry per row of checks.md, in its order. `rule` names the Windows rule
// in kemu's words; `fix` says what the driver should do instead.
std::vector<CheckInfo> build_catalog() {
  return {
      // ------------------------------------------------------------------ crash
      {"crash.bugcheck", kError, "the driver crashed the emulated system",
       "any bugcheck: unhandled exception, bad kernel access, IRQL fault, KeBugCheckEx",
       "the bugcheck itself",
       "Kernel code must never fault on a kernel address, leave an exception unhandled or touch "
       "pageable memory at DISPATCH_LEVEL or above; Windows stops the whole machine with a bug "
       "check when it does.",
       "Read the faulting instruction and the stack: validate the pointer or length that reached "
       "it, guard user memory with __try/__except, and keep code and data used at raised IRQL "
       "nonpaged.",
       true},

      // ---------------------------------------------------------------- handles
      {"handle.user-handle-kernel-mode", kError,
       "handle from user mode referenced with AccessMode=KernelMode",
       "ObReferenceObjectByHandle(KernelMode) on a handle from a user process's table while the "
       "requestor is UserMode",
       "Verifier 0xC4/0xF6; CA C28126",
       "A handle that came from user mode must be referenced with the requestor's mode "
       "(Irp->RequestorMode or ExGetPreviousMode()) so the object manager checks the caller's "
       "access; KernelMode skips every check.",
       "Pass Irp->RequestorMode (or ExGetPreviousMode()) as AccessMode to "
       "ObReferenceObjectByHandle, together with the object type and the access the operation "
       "needs.",
       true},
      {"handle.kernel-handle-user-mode", kError, "kernel handle used with UserMode",
       "kernel-flagged handle referenced with AccessMode UserMode (the call gets "
       "STATUS_INVALID_HANDLE)",
       "0xC4/0xF7 (in the System process's context)",
       "A kernel handle (OBJ_KERNEL_HANDLE, from the System process's table) is only valid for "
       "KernelMode callers; with UserMode the object manager refuses it with "
       "STATUS_INVALID_HANDLE.",
       "Reference handles the driver created itself with KernelMode, and keep UserMode for handles "
       "that come from the caller.",
       true},
      {"handle.invalid", kError,
       "reference or close of a handle that does not exist (incl. NULL, closed, tag-bit games)",
       "lookup fails (NULL, closed, tag-bit games); a kernel-mode close of an invalid handle is "
       "bug check 0x93",
       "0xC4/0x3C, 0xF5; 0x93",
       "A handle must name an open entry of the table it is looked up in: closing or referencing a "
       "stale, NULL or made-up value is a bug, and closing one in kernel mode is bug check 0x93 "
       "INVALID_KERNEL_HANDLE.",
       "Check the status of the call that produced the handle, clear the variable when the handle "
       "is closed, and close each handle exactly once.",
       true},
      {"handle.no-object-type", kError, "caller-supplied handle referenced with ObjectType NULL",
       "ObReferenceObjectByHandle(Type=NULL) on a handle that came from the request",
       "\"Failure to validate object handles\"",
       "A handle supplied by the caller can name any kind of object; ObReferenceObjectByHandle "
       "checks the type only when ObjectType is given, so without it the driver may treat an event "
       "as a file.",
       "Pass the expected type (*IoFileObjectType, *ExEventObjectType, *PsProcessType, ...) as "
       "ObjectType so a handle of another type fails with STATUS_OBJECT_TYPE_MISMATCH.",
       true},
      {"handle.no-access-check", kWarning,
       "caller-supplied handle referenced with DesiredAccess 0 or with generic bits",
       "DesiredAccess 0 or generic bits with UserMode on a caller's handle",
       "ObReferenceObjectByHandle docs",
       "With UserMode the object manager tests exactly the DesiredAccess bits against the handle's "
       "granted access: 0 tests nothing, and generic bits are never granted (opens map them), so "
       "they fail for everyone.",
       "Ask for the specific rights the operation uses (for example FILE_READ_DATA or "
       "EVENT_MODIFY_STATE), never 0 or GENERIC_*.",
       true},
      {"handle.not-kernel-handle", kError,
       "driver-private handle created without OBJ_KERNEL_HANDLE in a user process context",
       "Zw/Ob create or open while the current process is not System and OBJ_KERNEL_HANDLE (0x200) "
       "is clear",
       "\"Object handles\" docs",
       "A handle a driver creates without OBJ_KERNEL_HANDLE goes into the current process's table, "
       "where that process can use, replace or close it while the driver still relies on it.",
       "Set OBJ_KERNEL_HANDLE in InitializeObjectAttributes (or the handle attributes) for every "
       "handle the driver creates for its own use.",
       true},
      {"handle.user-handle-to-zw", kError, "handle from the request passed to a ZwXxx routine",
       "handle value taken from request data reaches a Zw* routine (KernelMode, no access check)",
       "Verifier security checks",
       "A ZwXxx call sets PreviousMode to KernelMode, so a caller's handle passed to it is used "
       "without any access check; even ZwDuplicateObject looks the source up in kernel mode and "
       "can reach kernel handles.",
       "Reference the caller's handle with ObReferenceObjectByHandle(UserMode, type, access) first "
       "and work on the object, or open a kernel handle from it with "
       "ObOpenObjectByPointer(OBJ_KERNEL_HANDLE).",
       true},
      {"handle.leak", kError, "handles or references left at unload",
       "handle tables and pointer counts diffed at unload; a reference taken on an object whose "
       "count is 0",
       "misc checks; 0xC4/0x3F (the 0 → 1 case)",
       "Every handle a driver opens must be closed and every reference it takes dereferenced "
       "before it unloads; leaked ones keep objects alive, and referencing an object whose count "
       "reached 0 uses freed memory.",
       "Pair each open with ZwClose and each ObReference* with ObDereferenceObject on every path, "
       "including the error paths and DriverUnload.",
       true},
      {"handle.force-access-check-missing", kError,
       "object opened by a name or pointer that the caller controls without OBJ_FORCE_ACCESS_CHECK",
       "request-derived name or object opened by Zw/Ob routines in KernelMode",
       "IOCTLance/POPKORN class",
       "An open made from kernel mode skips the security check unless OBJ_FORCE_ACCESS_CHECK is "
       "set, so a name or object chosen by the caller is opened with rights the caller itself does "
       "not have.",
       "Set OBJ_FORCE_ACCESS_CHECK in the object attributes when the name or object comes from the "
       "caller (or open it with the requestor's mode).",
       true},

      // ------------------------------------------------------ pointers, probing
      {"probe.missing", kError, "user address dereferenced without a probe",
       "driver code reads or writes a user address not covered by an earlier successful probe of "
       "this request",
       "Verifier security checks; DevCtl",
       "A pointer that comes from user mode must be validated with ProbeForRead/ProbeForWrite (or "
       "locked with MmProbeAndLockPages) before it is used, or the caller can make the driver "
       "touch kernel memory.",
       "Call ProbeForRead or ProbeForWrite on the whole range, inside __try, before the first "
       "access (when Irp->RequestorMode is UserMode).",
       true},
      {"probe.outside-try", kError, "user memory touched outside a __try",
       "faulting-capable user access at an RIP not inside any .pdata scope of the active frames",
       "DevCtl buffer-protection tests",
       "User memory can be unmapped or protected by another thread at any moment, so every access "
       "to it, including the probe itself, must be inside a __try/__except that turns the fault "
       "into a status.",
       "Wrap the probe and every access to the user buffer in __try and return GetExceptionCode() "
       "from the __except block.",
       true},
      {"probe.kernel-address-accepted", kError,
       "a kernel address supplied as a \"user\" pointer was used",
       "request carries a kernel-half address as a user pointer and the driver reads or writes "
       "through it",
       "DevCtl zero-length tests",
       "A pointer from user mode must lie below MmUserProbeAddress; using a kernel address the "
       "caller chose lets the caller read or write kernel memory through the driver.",
       "Probe the pointer before using it: ProbeForRead/ProbeForWrite raise for a kernel address "
       "but do nothing for a length of 0, so refuse a zero length (or compare with "
       "MmUserProbeAddress) yourself.",
       true},
      {"probe.double-fetch", kError, "the same user bytes read twice in one request",
       "per-request read set over user memory; a second read of an overlapping range",
       "SDV DoubleFetch",
       "User memory can change between two reads, so a value that was checked and then read again "
       "from user memory is no longer the value that was checked.",
       "Copy the user data into kernel memory once (a local or pool buffer) and validate and use "
       "only that copy.",
       true},
      {"probe.embedded-pointer", kError,
       "pointer found inside a buffered request used without a probe",
       "pointer-sized value from the system buffer dereferenced as a user address",
       "\"Errors in referencing user-space addresses\" (embedded pointers)",
       "The I/O manager copies and checks only the buffer itself; a pointer stored inside a "
       "buffered request is an unchecked user address.",
       "Avoid pointers in request structures; if one is needed, probe it in the requestor's "
       "context inside __try and capture what it points to.",
       true},
      {"probe.user-pointer-to-zw", kError,
       "user address or malformed UNICODE_STRING passed to ZwXxx", "argument scan of Zw calls",
       "0xC4/0xE3, 0xE4",
       "ZwXxx routines run with PreviousMode KernelMode and trust their pointers; a user address "
       "or a caller-built UNICODE_STRING handed to them bypasses the probing the Nt entry point "
       "would do.",
       "Capture user data into kernel buffers (and build UNICODE_STRINGs that describe kernel "
       "memory) before passing it to a Zw routine.",
       true},
      {"probe.kernel-irp-user-buffer", kError, "KernelMode IRP carries a user address",
       "RequestorMode KernelMode and buffers below MmUserProbeAddress", "0xC4/0xE2",
       "An IRP with RequestorMode KernelMode promises that its buffers are trusted kernel memory; "
       "putting a user address in it makes the next driver skip the probes it needs.",
       "Build IRPs that carry user buffers with RequestorMode UserMode, or copy the data into "
       "kernel memory first.",
       true},

      // ---------------------------------------------------------------- buffers
      {"buffer.input-overread", kError, "read past InputBufferLength",
       "system buffer / Type3InputBuffer placed against a guard page and shadow bounds",
       "\"Failure to check buffer sizes\"",
       "A driver may read only InputBufferLength bytes of the input buffer; the size the caller "
       "declares is the only bound, whatever structure the driver expects.",
       "Compare InputBufferLength with the size of the structure before reading it, and fail with "
       "STATUS_BUFFER_TOO_SMALL or STATUS_INVALID_PARAMETER.",
       true},
      {"buffer.output-overflow", kError,
       "write past OutputBufferLength, the system buffer or the MDL",
       "shadow bounds on the system buffer and MDL mapping", "same; 0xD6",
       "A driver may write only OutputBufferLength bytes of the output buffer; the system buffer "
       "and the MDL end there, and writing further corrupts pool or other pages.",
       "Check OutputBufferLength before writing and return STATUS_BUFFER_TOO_SMALL (or "
       "STATUS_BUFFER_OVERFLOW with partial data) when it is too short.",
       true},
      {"buffer.information-too-large", kError, "IoStatus.Information > OutputBufferLength",
       "compared at completion", "0xC9/0x312",
       "For buffered I/O the I/O manager copies IoStatus.Information bytes back to the caller, so "
       "a count larger than the output buffer discloses kernel memory beyond it.",
       "Set Irp->IoStatus.Information to the number of bytes actually written, never more than "
       "OutputBufferLength.",
       true},
      {"buffer.uninitialized-output", kError, "output bytes returned that the driver never wrote",
       "METHOD_BUFFERED: bytes in [InputBufferLength, Information) that still hold the system "
       "buffer's fill (0xCD) when the request completes",
       "\"Failure to initialize output buffers\"",
       "Every byte a driver returns to user mode must have been written by it; reserved fields and "
       "padding left as they were leak old pool contents.",
       "Zero the output structure (RtlZeroMemory) before filling it, and report in Information "
       "only the bytes filled.",
       true},
      {"buffer.length-overflow", kError, "length arithmetic wraps before a size check",
       "request length fields (0xFFFFFFFF, header-1, 0x80000000) reach a copy with a wrapped size",
       "\"Failing to validate variable-length buffers\"",
       "Sizes computed from caller-supplied counts can wrap around, so a check on the wrapped sum "
       "or product passes and the copy that follows runs far past the buffer.",
       "Use the overflow-checked helpers (RtlULongAdd, RtlULongMult, RtlSizeTAdd from ntintsafe.h) "
       "or compare against limits by subtraction before computing the size.",
       true},
      {"buffer.null-mdl", kError, "NULL MdlAddress (zero-length direct I/O) dereferenced",
       "OutputBufferLength 0 on direct I/O; MmGetSystemAddressForMdlSafe(NULL) or use of its NULL "
       "result",
       "\"Errors in direct I/O\"",
       "With direct I/O a zero-length buffer gives Irp->MdlAddress NULL, and "
       "MmGetSystemAddressForMdlSafe can return NULL when the mapping fails.",
       "Check Irp->MdlAddress for NULL (or the length for 0) and the mapping for NULL, failing "
       "with STATUS_INSUFFICIENT_RESOURCES or STATUS_INVALID_PARAMETER.",
       true},
      {"buffer.write-read-locked", kError, "write to pages locked for IoReadAccess",
       "MDL pages mapped read-only in the system mapping", "Invariant MDL checking",
       "Pages locked with IoReadAccess may be read-only or shared; the driver promised not to "
       "write them.",
       "Lock the pages with IoWriteAccess (or IoModifyAccess) when the driver writes into the "
       "buffer, or do not write.",
       true},

      // ------------------------------------------------------ IRPs and dispatch
      {"irp.double-completion", kError, "IRP completed twice", "per-IRP state machine",
       "bugcheck 0x44",
       "An IRP belongs to the I/O manager again once IoCompleteRequest returns; completing it a "
       "second time is bug check 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS.",
       "Complete each IRP on exactly one path, and do not touch it after IoCompleteRequest or "
       "after passing it down with IoCallDriver.",
       true},
      {"irp.lost", kError, "dispatch returned without completing, pending or forwarding",
       "state at dispatch return", "0xC9/0x226",
       "A dispatch routine must complete the IRP, pass it to another driver, or mark it pending "
       "and return STATUS_PENDING; otherwise the request never finishes.",
       "End every path of the dispatch routine with IoCompleteRequest, IoCallDriver, or "
       "IoMarkIrpPending plus return STATUS_PENDING.",
       true},
      {"irp.pending-mismatch", kError,
       "STATUS_PENDING returned without IoMarkIrpPending, or the reverse",
       "state at dispatch return", "0xC9/0x23D, 0x23E; SDV MarkIrpPending, MarkIrpPending2",
       "A dispatch routine that returns STATUS_PENDING must have called IoMarkIrpPending, and one "
       "that marked the IRP pending must return STATUS_PENDING.",
       "Call IoMarkIrpPending right before queuing the IRP and return STATUS_PENDING on that path, "
       "and only there.",
       true},
      {"irp.status-mismatch", kError, "returned status differs from IoStatus.Status",
       "compared at dispatch return", "0xC9/0x224",
       "A dispatch routine that completes an IRP must return the same status it stored in "
       "Irp->IoStatus.Status.",
       "Keep the status in one variable, store it in Irp->IoStatus.Status, complete, and return "
       "that variable.",
       true},
      {"irp.bad-completion-status", kError,
       "completed with STATUS_PENDING or -1, or with a cancel routine set; dispatch returned -1",
       "at IoCompleteRequest and dispatch return", "0xC9/0x06, 0x07; 0xC9/0x225 (returned -1)",
       "An IRP must be completed with a final status (never STATUS_PENDING or -1) and with its "
       "cancel routine cleared.",
       "Clear the cancel routine (IoSetCancelRoutine(Irp, NULL)) and set a final status before "
       "calling IoCompleteRequest.",
       true},
      {"irp.unhandled-success", kError,
       "unknown IOCTL or unsupported request answered STATUS_SUCCESS",
       "control codes no driver defines and unset major functions must fail with Information 0",
       "\"Creating reliable kernel-mode drivers\"",
       "A driver must fail control codes and requests it does not implement "
       "(STATUS_INVALID_DEVICE_REQUEST or STATUS_NOT_SUPPORTED) with Information 0, not report "
       "success.",
       "Give the IOCTL switch a default case that completes with STATUS_INVALID_DEVICE_REQUEST and "
       "Information 0.",
       true},
      {"irp.ioctl-code-masked", kError, "dispatch ignores method/access bits of the control code",
       "the same function code with other method, access or device-type bits reaches the same "
       "handler",
       "\"Common driver reliability issues\": breaking apart IOCTL values",
       "The transfer method and required access are part of the control code; a driver that "
       "matches only the function bits lets a caller pick METHOD_NEITHER or FILE_ANY_ACCESS for "
       "the same operation.",
       "Compare IoControlCode with the whole CTL_CODE constant, never with the function number "
       "extracted from it.",
       true},
      {"irp.any-access-dangerous", kError, "FILE_ANY_ACCESS IOCTL reaches a dangerous primitive",
       "access bits 0 and a primitive.* finding in the handler", "\"Defining I/O control codes\"",
       "The I/O manager checks the handle's granted access only for the access bits of the control "
       "code; FILE_ANY_ACCESS lets anyone who can open the device run the operation.",
       "Define powerful IOCTLs with FILE_READ_ACCESS and/or FILE_WRITE_ACCESS and restrict the "
       "device with a security descriptor (IoCreateDeviceSecure).",
       true},
      {"irp.use-after-cleanup", kError, "driver frees per-file state in CLEANUP and uses it after",
       "request on the file object between CLEANUP and CLOSE hits freed memory",
       "\"Cleanup and close routines\"",
       "IRP_MJ_CLEANUP means the last handle is gone, not the last reference: requests can still "
       "arrive for the file object until IRP_MJ_CLOSE.",
       "Cancel outstanding work in IRP_MJ_CLEANUP but free per-file state (FsContext) only in "
       "IRP_MJ_CLOSE.",
       true},
      {"irp.insecure-open", kError, "namespace open succeeds without FILE_DEVICE_SECURE_OPEN",
       "open of \\Device\\X\\junk as an unprivileged user succeeds while the device's descriptor refuses "
       "that user \\Device\\X itself",
       "DevCtl sub-open tests",
       "Without FILE_DEVICE_SECURE_OPEN the I/O manager checks the device's security descriptor "
       "only for an open of the device itself, so \\Device\\X\\anything opens it past the ACL.",
       "Create the device with FILE_DEVICE_SECURE_OPEN in DeviceCharacteristics, or fail "
       "IRP_MJ_CREATE when FileObject->FileName is not empty.",
       true},
      {"irp.stack-copy", kWarning, "next stack location filled by copying the whole current one",
       "copy of IO_STACK_LOCATION including the completion routine",
       "\"Creating reliable kernel-mode drivers\"",
       "The next stack location must not inherit the current one's completion routine and context; "
       "copying the whole structure makes the lower driver's completion call this driver's routine "
       "twice.",
       "Use IoCopyCurrentIrpStackLocationToNext (or IoSkipCurrentIrpStackLocation), which leave "
       "the completion routine out.",
       true},

      // ------------------------------------------- pool, unload, IRQL, sections
      {"pool.leak", kError, "allocations not freed at unload", "per-tag bookkeeping at unload",
       "0xC4/0x60, 0x62",
       "Pool a driver allocates stays allocated after it unloads; everything must be freed by "
       "DriverUnload.",
       "Free each allocation on every path (error paths too) and everything still owned in "
       "DriverUnload; the tag in the finding names the allocation.",
       true},
      {"pool.overrun", kError, "access before/after an allocation",
       "allocations against guard pages and shadow bounds", "special pool 0xC1, 0xD6",
       "A driver may touch only the bytes it allocated; reading or writing past either end "
       "corrupts or leaks neighbouring allocations.",
       "Allocate the size the data needs (checked for overflow) and bound every index and copy by "
       "it.",
       true},
      {"pool.use-after-free", kError, "access to freed pool", "freed ranges quarantined", "0xD5",
       "Memory returned with ExFreePool belongs to the pool again and may already hold another "
       "allocation.",
       "Clear pointers when freeing, and free only when no other path (DPC, work item, completion "
       "routine) can still use the allocation.",
       true},
      {"pool.bad-free", kError, "double free, wrong tag, free of non-pool", "allocator metadata",
       "0xC2, 0xC4/0x10–0x14",
       "ExFreePool(WithTag) accepts only a live pool allocation, once, with the tag it was "
       "allocated with.",
       "Free each allocation exactly once with its own tag, and never free stack, image or mapped "
       "memory.",
       true},
      {"pool.must-succeed", kError, "NonPagedPoolMustSucceed or tag 0", "allocation arguments",
       "0xC2/0x9A, 0x9B",
       "NonPagedPoolMustSucceed is obsolete and drivers may not use it, and every allocation needs "
       "a non-zero tag to be accounted.",
       "Allocate from NonPagedPoolNx (or POOL_FLAG_NON_PAGED), handle a NULL result, and pass a "
       "four-letter tag.",
       true},
      {"pool.null-unchecked", kError, "allocation failure not handled",
       "low-resources simulation fails the Nth allocation; the NULL is dereferenced",
       "Verifier low resources simulation",
       "Pool and other allocations can fail at any time; the routines return NULL (or a failure "
       "status) and the driver must cope.",
       "Check every allocation's result and fail the operation with "
       "STATUS_INSUFFICIENT_RESOURCES.",
       true},
      {"unload.leftovers", kError,
       "devices, symbolic links, timers, DPCs, work items, threads, callbacks still live at unload",
       "object registry diffed at unload; a later callback into unloaded code", "0xCE, 0xC7, 0xD4",
       "After DriverUnload returns the image is unmapped: everything that can call back into it "
       "(timers, DPCs, work items, threads, callbacks) must be gone, and its devices and links "
       "deleted.",
       "In DriverUnload cancel timers (KeCancelTimer), flush DPCs (KeFlushQueuedDpcs), wait for "
       "work items and threads, unregister callbacks, and delete links and devices.",
       true},
      {"irql.api-level", kError, "routine called above its allowed IRQL",
       "per-API maximum IRQL table", "0xC4/0xE5, 0xE6",
       "Each kernel routine documents the highest IRQL it may be called at; above it the routine "
       "may touch pageable memory or wait, which is not allowed there.",
       "Call the routine at the IRQL its documentation allows: release spin locks first, or defer "
       "the work to a work item at PASSIVE_LEVEL.",
       true},
      {"irql.unbalanced", kError, "IRQL or spin locks not restored on return",
       "IRQL and lock state around dispatch, DPC, completion and work routines",
       "0xC9/0x05; 0xC4/0x30–0x42 (bad IRQL arguments, lock misuse)",
       "A routine must return at the IRQL it was called at, with every spin lock it acquired "
       "released.",
       "Pair each KeRaiseIrql/KeAcquireSpinLock with its lower/release on every path, including "
       "early returns.",
       true},
      {"irql.paged-at-dispatch", kError, "pageable code or paged pool touched at IRQL ≥ DISPATCH",
       "PAGE* sections and paged pool", "0xD1",
       "Page faults cannot be served at DISPATCH_LEVEL or above, so code in PAGE sections and "
       "paged pool may be used only below it.",
       "Move code that runs at raised IRQL out of #pragma alloc_text(PAGE) and allocate data it "
       "uses from nonpaged pool.",
       true},
      {"section.user-view-unsafe", kError,
       "section view shared with user mode created unsafely (user-supplied handle, caller-chosen "
       "offset/size, no kernel handle, view touched outside __try)",
       "section and view bookkeeping plus the probe checks (user handle, caller-chosen offset or "
       "size, no kernel handle, view touched outside __try)",
       "\"Security issues for section objects and views\"",
       "A view mapped into a user process is user memory the process can change or unmap at any "
       "time, and the section behind it must be chosen and sized by the driver, not by the caller.",
       "Create the section with a kernel handle, map it with a size and offset the driver chooses, "
       "in the requestor's context, access the view only inside __try, and unmap it in cleanup.",
       true},
      {"primitive.physical-memory", kError, "caller-controlled physical memory mapping",
       "request-derived address or size reaches MmMapIoSpace or a \\Device\\PhysicalMemory view",
       "POPKORN, IOCTLance",
       "Mapping physical memory at an address the caller chooses gives the caller read and write "
       "access to all of memory, including the kernel.",
       "Map only the device's own resources, found by the driver (CM_RESOURCE_LIST), never an "
       "address or size taken from a request.",
       true},
      {"primitive.msr-write", kError, "caller-controlled wrmsr",
       "emulated wrmsr with request-derived ecx or edx:eax", "IOCTLance, Eclypsium",
       "Writing a model-specific register the caller names (LSTAR, for example) hands the caller "
       "control of kernel execution.",
       "Do not expose MSR writes; if the hardware needs one, write a fixed register with a value "
       "the driver validates.",
       true},
      {"primitive.port-io", kError, "caller-controlled in/out",
       "emulated port I/O with a request-derived port", "IOCTLance",
       "Port I/O to a port the caller chooses reaches any device on the machine (disk controllers, "
       "PCI configuration).",
       "Restrict port I/O to the ports of the driver's own device, taken from its resources.",
       true},
      {"primitive.arbitrary-rw", kError, "caller-controlled kernel read/write",
       "request-derived address used for a kernel-half access", "IOCTLance",
       "A driver must never read or write kernel memory at an address taken from the request; it "
       "gives the caller the whole kernel.",
       "Remove the operation, or address only objects the driver owns (by index or handle), never "
       "by a raw pointer from the caller.",
       true},
      {"primitive.process-access", kError, "caller-controlled process opened/terminated",
       "request-derived pid or handle reaches ZwOpenProcess, ZwTerminateProcess or "
       "PsLookupProcessByProcessId plus an access",
       "IOCTLance, POPKORN",
       "Opening a process from kernel mode skips the access check, so a pid or handle from the "
       "caller lets it act on processes it could not open itself.",
       "Open the process with the caller's rights (ObOpenObjectByPointer with the requestor's "
       "mode, or OBJ_FORCE_ACCESS_CHECK) and restrict the device to administrators.",
       true},
  };
}

}  // namespace

const std::vector<CheckInfo>& catalog() {
  static const std::vector<CheckInfo> checks = build_catalog();
  return checks;
}

const CheckInfo* find_check(std::string_view id) {
  int i = check_index(id);
  return i < 0 ? nullptr : &catalog()[static_cast<size_t>(i)];
}

int check_index(std::string_view id) {
  const auto& all = catalog();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].id == id) return static_cast<int>(i);
  return -1;
}

int severity_rank(std::string_view severity) {
  if (severity == "error") return 0;
  if (severity == "warning") return 1;
  if (severity == "note") return 2;
  return 3;
}

}  // namespace kemu::verifier
