#include "verifier/catalog.h"

namespace kemu::verifier {

const std::vector<CheckInfo>& catalog() {
  static const std::vector<CheckInfo> kChecks = {
      {"crash.bugcheck", "error", "the driver crashed the emulated system", "", "the bugcheck itself", "", "", true},
      {"handle.user-handle-kernel-mode", "error", "handle from user mode referenced with AccessMode=KernelMode", "",
       "Verifier 0xC4/0xF6; CA C28126", "", "", true},
      {"handle.kernel-handle-user-mode", "error", "kernel handle used with UserMode", "", "0xC4/0xF7", "", "", true},
      {"handle.invalid", "error", "reference or close of a handle that does not exist", "", "0xC4/0x3C, 0xF5; 0x93",
       "", "", true},
      {"handle.no-object-type", "error", "caller-supplied handle referenced with ObjectType NULL", "",
       "\"Failure to validate object handles\"", "", "", true},
      {"handle.no-access-check", "warning", "caller-supplied handle referenced with DesiredAccess 0 or with generic bits",
       "", "ObReferenceObjectByHandle docs", "", "", true},
      {"handle.not-kernel-handle", "error",
       "driver-private handle created without OBJ_KERNEL_HANDLE in a user process context", "", "\"Object handles\" docs",
       "", "", true},
      {"handle.user-handle-to-zw", "error", "handle from the request passed to a ZwXxx routine", "",
       "Verifier security checks", "", "", true},
      {"handle.leak", "error", "handles or references left at unload", "", "misc checks; 0xC4/0x3F", "", "", true},
      {"handle.force-access-check-missing", "error",
       "object opened by a name or pointer that the caller controls without OBJ_FORCE_ACCESS_CHECK", "",
       "IOCTLance/POPKORN class", "", "", true},
      {"probe.missing", "error", "user address dereferenced without a probe", "", "Verifier security checks; DevCtl",
       "", "", true},
      {"probe.outside-try", "error", "user memory touched outside a __try", "", "DevCtl buffer-protection tests", "",
       "", true},
      {"probe.kernel-address-accepted", "error", "a kernel address supplied as a \"user\" pointer was used", "",
       "DevCtl zero-length tests", "", "", true},
      {"probe.double-fetch", "error", "the same user bytes read twice in one request", "", "SDV DoubleFetch", "", "",
       true},
      {"probe.embedded-pointer", "error", "pointer found inside a buffered request used without a probe", "",
       "\"Errors in referencing user-space addresses\" (embedded pointers)", "", "", true},
      {"probe.user-pointer-to-zw", "error", "user address or malformed UNICODE_STRING passed to ZwXxx", "",
       "0xC4/0xE3, 0xE4", "", "", true},
      {"probe.kernel-irp-user-buffer", "error", "KernelMode IRP carries a user address", "", "0xC4/0xE2", "", "",
       true},
  };
  return kChecks;
}

const CheckInfo* find_check(std::string_view id) {
  for (const CheckInfo& c : catalog())
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace kemu::verifier
