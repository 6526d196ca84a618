#include "emulator/bugcheck_names.h"

namespace kemu::emu {

std::string_view bugcheck_name(uint32_t code) {
  switch (code) {
    case 0x05: return "INVALID_PROCESS_ATTACH_ATTEMPT";
    case 0x0A: return "IRQL_NOT_LESS_OR_EQUAL";
    case 0x0C: return "MAXIMUM_WAIT_OBJECTS_EXCEEDED";
    case 0x18: return "REFERENCE_BY_POINTER";
    case 0x19: return "BAD_POOL_HEADER";
    case 0x1A: return "MEMORY_MANAGEMENT";
    case 0x1E: return "KMODE_EXCEPTION_NOT_HANDLED";
    case 0x35: return "NO_MORE_IRP_STACK_LOCATIONS";
    case 0x3B: return "SYSTEM_SERVICE_EXCEPTION";
    case 0x3F: return "NO_MORE_SYSTEM_PTES";
    case 0x44: return "MULTIPLE_IRP_COMPLETE_REQUESTS";
    case 0x48: return "CANCEL_STATE_IN_COMPLETED_IRP";
    case 0x4A: return "IRQL_GT_ZERO_AT_SYSTEM_SERVICE";
    case 0x50: return "PAGE_FAULT_IN_NONPAGED_AREA";
    case 0x7E: return "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED";
    case 0x7F: return "UNEXPECTED_KERNEL_MODE_TRAP";
    case 0x81: return "DRIVER_UNMAPPING_INVALID_VIEW";
    case 0x93: return "INVALID_KERNEL_HANDLE";
    case 0xBE: return "ATTEMPTED_WRITE_TO_READONLY_MEMORY";
    case 0xC1: return "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION";
    case 0xC2: return "BAD_POOL_CALLER";
    case 0xC4: return "DRIVER_VERIFIER_DETECTED_VIOLATION";
    case 0xC7: return "TIMER_OR_DPC_INVALID";
    case 0xC9: return "DRIVER_VERIFIER_IOMANAGER_VIOLATION";
    case 0xCE: return "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS";
    case 0xD1: return "DRIVER_IRQL_NOT_LESS_OR_EQUAL";
    case 0xD4: return "SYSTEM_SCAN_AT_RAISED_IRQL_CAUGHT_IMPROPER_DRIVER_UNLOAD";
    case 0xD5: return "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL";
    case 0xD6: return "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION";
    case 0xDA: return "SYSTEM_PTE_MISUSE";
    case 0xE1: return "WORKER_THREAD_RETURNED_AT_BAD_IRQL";
    case 0xE2: return "MANUALLY_INITIATED_CRASH";
    case 0xE3: return "RESOURCE_NOT_OWNED";
    case 0xEF: return "CRITICAL_PROCESS_DIED";
    case 0xF7: return "DRIVER_OVERRAN_STACK_BUFFER";
    case 0xFC: return "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY";
    case 0x109: return "CRITICAL_STRUCTURE_CORRUPTION";
    case 0x139: return "KERNEL_SECURITY_CHECK_FAILURE";
    case 0xDEADDEAD: return "MANUALLY_INITIATED_CRASH1";
    default: return "";
  }
}

std::string_view bugcheck_meaning(uint32_t code) {
  switch (code) {
    case 0x05: return "a thread attached to a process while already attached to one, or detached when it was "
                      "not attached";
    case 0x0C: return "a thread waited on more objects than KeWaitForMultipleObjects allows without a wait block "
                      "array";
    case 0x18: return "an object's reference count went wrong (a dereference of an object with no reference left)";
    case 0x1A: return "the memory manager found its own state corrupted (a page, list or mapping), often by a "
                      "driver's bad call";
    case 0x1E: return "kernel code raised an exception (an access violation, for one) that no handler took";
    case 0x35: return "a driver passed an IRP on with IoCallDriver when it had no stack location left";
    case 0x3B: return "a system service raised an exception that no handler took";
    case 0x3F: return "the system ran out of page table entries for mappings, typically a driver leaking its "
                      "mappings";
    case 0x44: return "a driver completed an IRP that had already been completed";
    case 0x48: return "a driver set or ran a cancel routine on an IRP that was already completed";
    case 0x4A: return "a thread went back to user mode from a system call at an IRQL above PASSIVE_LEVEL";
    case 0x50: return "kernel code referenced an address that no valid memory backs (unmapped, freed or a bad pointer)";
    case 0x7E: return "a system thread raised an exception that no handler took";
    case 0x7F: return "the processor raised a trap the kernel does not survive, such as a double fault from a "
                      "kernel stack overflow";
    case 0x81: return "a driver unmapped a system-space view at an address that starts no view";
    case 0x93: return "a kernel handle that is not valid was passed to a routine that needs one (NtClose, for one)";
    case 0xBE: return "kernel code wrote to memory that is mapped read-only";
    case 0xC2: return "a driver made a bad pool request: a wrong IRQL, a bad size or tag, or freeing memory twice or "
                      "that pool never gave out";
    case 0xC7: return "a kernel timer or DPC was found in memory being freed, or queued twice, while still in use";
    case 0xCE: return "a driver unloaded while timers, DPCs, worker threads or other pending operations still pointed "
                      "into its code";
    case 0xD1: return "a driver touched pageable or invalid memory at DISPATCH_LEVEL or above";
    case 0xDA: return "a driver misused system page table entries (freeing or unmapping a mapping it does not own)";
    case 0xE1: return "a work item routine returned at an IRQL above PASSIVE_LEVEL";
    case 0xE3: return "a thread released an executive resource it did not own";
    case 0xEF: return "a process the system cannot run without was terminated";
    case 0xFC: return "kernel code tried to execute memory that is not executable";
    case 0x109: return "kernel code modified a critical kernel structure (a processor register or table PatchGuard "
                       "protects)";
    case 0x139: return "kernel code detected a corrupted structure (a __fastfail, such as a broken list entry)";
    default: return "";
  }
}

}  // namespace kemu::emu
