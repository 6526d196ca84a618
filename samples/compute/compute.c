/*
 * compute.sys - a pure compute loop (xorshift64 state mixed into an FNV-1a
 * style hash), no API call inside, then one DbgPrint of the result. Used to
 * measure emulated instructions per second.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

/* 10 million iterations: about 155 million instructions at -O2 (clang-14
 * unrolls the loop by two: 31 instructions per pair), so a run finishes under
 * kemu's default --max-instructions of 200,000,000. */
#define COMPUTE_ITERATIONS 10000000ULL
#define COMPUTE_SEED 0x2545F4914F6CDD1DULL
#define FNV64_OFFSET 0xCBF29CE484222325ULL
#define FNV64_PRIME 0x00000100000001B3ULL

/* volatile: the compiler cannot know the start values, so it cannot fold the
 * loop into a constant. */
static volatile ULONG64 Seed = COMPUTE_SEED;
static volatile ULONG64 Iterations = COMPUTE_ITERATIONS;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG64 x = Seed;
  ULONG64 n = Iterations;
  ULONG64 hash = FNV64_OFFSET;
  ULONG64 i;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  for (i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    hash = (hash ^ (x & 0xFF)) * FNV64_PRIME;
    hash ^= x >> 32;
  }

  DbgPrint("compute: %I64u iterations result 0x%016I64x\n", n, hash);
  return STATUS_SUCCESS;
}
