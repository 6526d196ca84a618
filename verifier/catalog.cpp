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
      {"buffer.input-overread", "error", "read past InputBufferLength", "", "\"Failure to check buffer sizes\"",
       "", "", true},
      {"buffer.output-overflow", "error", "write past OutputBufferLength, the system buffer or the MDL", "",
       "same; 0xD6", "", "", true},
      {"buffer.null-mdl", "error", "NULL MdlAddress (zero-length direct I/O) dereferenced", "",
       "\"Errors in direct I/O\"", "", "", true},
      {"buffer.write-read-locked", "error", "write to pages locked for IoReadAccess", "",
       "Invariant MDL checking", "", "", true},
  };
  return kChecks;
}

const CheckInfo* find_check(std::string_view id) {
  for (const CheckInfo& c : catalog())
    if (c.id == id) return &c;
  return nullptr;
}

}  // namespace kemu::verifier
