// The export set of kemu's synthesized kernel modules (ntoskrnl.exe, hal.dll):
// every name with its kind and prototype, generated from mingw-w64's import
// libraries and DDK headers by scripts/gen-exports.py (exports/exports.tsv).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kemu::nt {

enum class ExportKind : uint8_t { Function, Data };

// What a routine returns, which decides the failure value an unimplemented
// one gives: STATUS_NOT_IMPLEMENTED for NTSTATUS, 0/FALSE/NULL otherwise.
enum class ReturnClass : uint8_t { Status, Void, Bool, Pointer, Integer, Unknown };
const char* to_string(ReturnClass c);

struct ExportDesc {
  std::string module;  // "ntoskrnl.exe" or "hal.dll"
  std::string name;
  ExportKind kind = ExportKind::Function;
  ReturnClass return_class = ReturnClass::Unknown;
  std::string return_type;              // as in the headers, "?" when unknown
  std::vector<std::string> parameters;  // "TYPE NAME" each; for data: the variable's type
  bool variadic = false;
  bool prototype_known = false;
  uint32_t data_size = 0;
};

// Parses the embedded table once. Throws std::runtime_error on a malformed row.
const std::vector<ExportDesc>& builtin_exports();
std::vector<ExportDesc> parse_export_table(std::string_view tsv);

}  // namespace kemu::nt
