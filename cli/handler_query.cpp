#include "cli/handler_query.h"

#include "ntoskrnl-stubs/kernel.h"

namespace kemu::cli {

bool kemu_has_handler(std::string_view module, std::string_view name) {
  return nt::has_builtin_handler(module, name);
}

}  // namespace kemu::cli
