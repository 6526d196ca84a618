// The per-routine maximum IRQL table (verifier/irql_table.h) covers every
// kernel routine kemu implements: a routine that gains a handler without an
// entry fails here.
#include <gtest/gtest.h>

#include "ntoskrnl-stubs/api/export_table.h"
#include "ntoskrnl-stubs/kernel.h"
#include "verifier/irql_table.h"

namespace {

namespace it = kemu::verifier::irql_table;
using kemu::nt::ExportKind;

TEST(IrqlTable, EveryRoutineWithAHandlerHasAnEntry) {
  size_t routines = 0;
  for (const kemu::nt::ExportDesc& d : kemu::nt::builtin_exports()) {
    if (d.kind != ExportKind::Function || !kemu::nt::has_builtin_handler(d.module, d.name)) continue;
    ++routines;
    EXPECT_NE(it::find(d.name), nullptr) << d.module << "!" << d.name << " has a handler but no maximum IRQL";
  }
  EXPECT_GE(routines, 500u);
}

TEST(IrqlTable, DocumentedLimits) {
  auto limit = [](std::string_view name) { return it::find(name)->max_irql; };
  EXPECT_EQ(limit("ZwCreateFile"), it::kPassive);
  EXPECT_EQ(limit("ZwClose"), it::kPassive);
  EXPECT_EQ(limit("IoDeleteDevice"), it::kPassive);
  EXPECT_EQ(limit("ExAcquireFastMutex"), it::kApc);
  EXPECT_EQ(limit("ProbeForRead"), it::kApc);
  EXPECT_EQ(limit("KeReleaseSpinLock"), it::kSynch);
  EXPECT_EQ(limit("KeAcquireSpinLockAtDpcLevel"), it::kHigh);
  EXPECT_EQ(limit("IofCompleteRequest"), it::kDispatch);
  EXPECT_EQ(limit("KeAcquireSpinLockRaiseToSynch"), it::kSynch);
  EXPECT_EQ(limit("KeInsertQueueDpc"), it::kHigh);
  EXPECT_EQ(limit("memcpy"), it::kHigh);
  EXPECT_EQ(it::find("ExAllocatePoolWithTag")->rule, it::Rule::PoolTypeArg0);
  EXPECT_EQ(it::find("ExAllocatePool2")->rule, it::Rule::PoolFlagsArg0);
  EXPECT_EQ(it::find("KeWaitForSingleObject")->rule, it::Rule::WaitTimeoutArg4);
  EXPECT_EQ(it::find("NoSuchRoutine"), nullptr);
  EXPECT_EQ(it::level_name(2), "DISPATCH_LEVEL");
}

}  // namespace
