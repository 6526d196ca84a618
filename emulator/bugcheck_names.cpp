#include "emulator/bugcheck_names.h"

namespace kemu::emu {

std::string_view bugcheck_name(uint32_t code) {
  switch (code) {
    case 0x0A: return "IRQL_NOT_LESS_OR_EQUAL";
    case 0x18: return "REFERENCE_BY_POINTER";
    case 0x19: return "BAD_POOL_HEADER";
    case 0x1E: return "KMODE_EXCEPTION_NOT_HANDLED";
    case 0x3B: return "SYSTEM_SERVICE_EXCEPTION";
    case 0x44: return "MULTIPLE_IRP_COMPLETE_REQUESTS";
    case 0x4A: return "IRQL_GT_ZERO_AT_SYSTEM_SERVICE";
    case 0x50: return "PAGE_FAULT_IN_NONPAGED_AREA";
    case 0x7E: return "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED";
    case 0x7F: return "UNEXPECTED_KERNEL_MODE_TRAP";
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

}  // namespace kemu::emu
