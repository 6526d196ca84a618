// Stand-in for kemu_has_handler until the export table can answer it.
// TODO(lead): replace this file with one that asks ntoskrnl-stubs' export
// table. The definition is weak so a strong one in an object file linked into
// `kemu` wins; a strong one inside a static library would not be pulled in
// (this weak one already satisfies the reference), so replace the file then.
#include "cli/handler_query.h"

namespace kemu::cli {

__attribute__((weak)) bool kemu_has_handler(std::string_view /*module*/,
                                            std::string_view /*name*/) {
  return false;
}

}  // namespace kemu::cli
