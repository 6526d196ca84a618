/*
 * kemu_sample.h - shared prologue of kemu's sample drivers.
 *
 * The samples are real x64 kernel drivers, compiled by clang-14 for
 * x86_64-w64-windows-gnu against mingw-w64's DDK headers and linked by lld
 * against mingw's ntoskrnl/hal import libraries (cmake/KemuSampleDriver.cmake).
 * They must look like WDK-built drivers to kemu: same imports, same inline
 * code (CR8 for IRQL, KUSER_SHARED_DATA for time), same data-export access.
 */
#ifndef KEMU_SAMPLE_H
#define KEMU_SAMPLE_H

/*
 * mingw's winnt.h declares InterlockedBitTestAndSet/Reset as extern gnu_inline
 * intrinsics and its ddk/wdm.h then defines them again as "static __inline__";
 * the clash turns wdm.h's bodies into external definitions that land, unused,
 * in every driver's .text. Marking winnt.h's versions as already defined keeps
 * wdm.h's static (and dropped when unused); wdm.h then maps both names to the
 * _interlockedbittestand* compiler intrinsics anyway.
 */
#define __INTRINSIC_DEFINED_InterlockedBitTestAndSet
#define __INTRINSIC_DEFINED_InterlockedBitTestAndReset

/*
 * mingw's wdm.h declares DbgPrint without NTSYSAPI (dllimport), so clang would
 * call it through a "jmp [__imp_DbgPrint]" thunk. The WDK declares it NTSYSAPI
 * and WDK-built drivers call "call [__imp_DbgPrint]" directly; a dllimport
 * cannot be added on a redeclaration, so mingw's declaration is renamed out of
 * the way and the WDK one follows.
 */
#define DbgPrint KemuMingwDbgPrintDeclaration
#include <ntddk.h>
#include <ntimage.h> /* IMAGE_DOS_HEADER, IMAGE_NT_HEADERS (reloc) */
#undef DbgPrint

NTSYSAPI ULONG __cdecl DbgPrint(PCSTR Format, ...);

/*
 * Declares DriverEntry with the DRIVER_INITIALIZE prototype, as WDK drivers do
 * ("DRIVER_INITIALIZE DriverEntry;"), so a wrong signature is a compile error.
 * Usage:  KEMU_DRIVER_ENTRY;  then define
 *         NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
 */
#define KEMU_DRIVER_ENTRY DRIVER_INITIALIZE DriverEntry

/* All sample output goes through DbgPrint; kemu records every call (cli.md). */
#define KEMU_PRINT(...) DbgPrint(__VA_ARGS__)

/* Keeps a function out of line (user-memory accesses that must be caught by
 * SEH live in separate functions, see dependency-notes.md). */
#define KEMU_NOINLINE __attribute__((noinline))

#define KEMU_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Exported object-type variables (IoFileObjectType, PsProcessType, ...).
 *
 * In ntoskrnl each of these is a variable of type POBJECT_TYPE. The WDK
 * declares "extern POBJECT_TYPE *IoFileObjectType;" bound to the import slot,
 * so "*IoFileObjectType" is the variable's value: the code loads the slot
 * (the variable's address) and then the variable. mingw-w64 instead declares
 * "extern __declspec(dllimport) POBJECT_TYPE *IoFileObjectType;", which makes
 * the *variable itself* the POBJECT_TYPE*, so "*IoFileObjectType" would read
 * one level too deep (the first 8 bytes of the OBJECT_TYPE). Casting the mingw
 * expression yields exactly the WDK machine code: load slot, load variable.
 */
#define KEMU_OBJECT_TYPE(name) ((POBJECT_TYPE)(name))

/* NtBuildNumber is exported by ntoskrnl but declared by neither the WDK's
 * ntddk.h nor mingw's; drivers declare it themselves like this. */
extern NTSYSAPI ULONG NtBuildNumber;

#endif /* KEMU_SAMPLE_H */
