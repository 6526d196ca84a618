// Spin locks, queued spin locks, critical regions, fast and guarded mutexes,
// executive resources, lookaside lists and interlocked lists.
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

void register_lock_exports(Registry& r) {}

}  // namespace kemu::nt
