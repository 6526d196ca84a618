// Guest structures drivers touch directly, at their real x64 offsets
// (mingw-w64 ddk headers, Windows 10 19045). Read and write them through
// AddressSpace::read<T>/write<T> or GuestRef<T>; never with ad-hoc offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::nt::layout {

struct UNICODE_STRING {
  uint16_t Length;  // bytes, without a terminating NUL
  uint16_t MaximumLength;
  uint32_t pad;
  uint64_t Buffer;
};
static_assert(sizeof(UNICODE_STRING) == 0x10 && offsetof(UNICODE_STRING, Buffer) == 8);
using ANSI_STRING = UNICODE_STRING;  // same layout, PCHAR Buffer

struct LIST_ENTRY {
  uint64_t Flink;
  uint64_t Blink;
};

struct DISPATCHER_HEADER {
  uint8_t Type;
  uint8_t Signalling;
  uint8_t Size;  // in 4-byte units for most objects
  uint8_t Reserved1;
  int32_t SignalState;
  LIST_ENTRY WaitListHead;
};
static_assert(sizeof(DISPATCHER_HEADER) == 0x18);

struct KEVENT {
  DISPATCHER_HEADER Header;
};

// EVENT_TYPE values (the DISPATCHER_HEADER.Type of a KEVENT).
constexpr uint8_t kNotificationEvent = 0;
constexpr uint8_t kSynchronizationEvent = 1;

// A KEVENT as KeInitializeEvent leaves it, for the event at guest `address`
// (its wait list head points at itself).
constexpr KEVENT make_event(uint64_t address, uint8_t type, bool signaled) {
  KEVENT e{};
  e.Header.Type = type;
  e.Header.Size = sizeof(KEVENT) / 4;
  e.Header.SignalState = signaled ? 1 : 0;
  e.Header.WaitListHead = {address + offsetof(DISPATCHER_HEADER, WaitListHead),
                           address + offsetof(DISPATCHER_HEADER, WaitListHead)};
  return e;
}

// OBJECT_HEADER precedes every object body (Body at +0x30).
struct OBJECT_HEADER {
  int64_t PointerCount;
  int64_t HandleCount;
  uint64_t Lock;
  uint8_t TypeIndex;
  uint8_t TraceFlags;
  uint8_t InfoMask;
  uint8_t Flags;
  uint32_t Reserved;
  uint64_t ObjectCreateInfo;
  uint64_t SecurityDescriptor;
};
static_assert(sizeof(OBJECT_HEADER) == 0x30);

struct GENERIC_MAPPING {
  uint32_t GenericRead;
  uint32_t GenericWrite;
  uint32_t GenericExecute;
  uint32_t GenericAll;
};

// OBJECT_TYPE (the body of an object of type "Type").
struct OBJECT_TYPE {
  LIST_ENTRY TypeList;
  UNICODE_STRING Name;
  uint64_t DefaultObject;
  uint8_t Index;
  uint8_t pad0[3];
  uint32_t TotalNumberOfObjects;
  uint32_t TotalNumberOfHandles;
  uint32_t HighWaterNumberOfObjects;
  uint32_t HighWaterNumberOfHandles;
  uint32_t pad1;
  // OBJECT_TYPE_INITIALIZER (0x78 bytes); the fields kemu fills:
  uint16_t TypeInfoLength;
  uint8_t ObjectTypeFlags;
  uint8_t pad2;
  uint32_t ObjectTypeCode;
  uint32_t InvalidAttributes;
  GENERIC_MAPPING GenericMapping;
  uint32_t ValidAccessMask;
  uint32_t RetainAccess;
  uint32_t PoolType;
  uint32_t DefaultPagedPoolCharge;
  uint32_t DefaultNonPagedPoolCharge;
  uint8_t TypeInfoRest[0x78 - 0x30];
  uint64_t TypeLock;
  uint32_t Key;
  uint32_t pad3;
  LIST_ENTRY CallbackList;
};
static_assert(offsetof(OBJECT_TYPE, Name) == 0x10);
static_assert(offsetof(OBJECT_TYPE, Index) == 0x28);
static_assert(offsetof(OBJECT_TYPE, TypeInfoLength) == 0x40);
static_assert(offsetof(OBJECT_TYPE, GenericMapping) == 0x4C);
static_assert(offsetof(OBJECT_TYPE, ValidAccessMask) == 0x5C);
static_assert(offsetof(OBJECT_TYPE, TypeLock) == 0xB8);
static_assert(sizeof(OBJECT_TYPE) == 0xD8);

constexpr int kIrpMjMaximumFunction = 0x1B;

struct DRIVER_EXTENSION {
  uint64_t DriverObject;
  uint64_t AddDevice;
  uint32_t Count;
  uint32_t pad;
  UNICODE_STRING ServiceKeyName;
};
static_assert(sizeof(DRIVER_EXTENSION) == 0x28);

struct DRIVER_OBJECT {
  int16_t Type;  // IO_TYPE_DRIVER = 4
  int16_t Size;
  uint32_t pad0;
  uint64_t DeviceObject;
  uint32_t Flags;
  uint32_t pad1;
  uint64_t DriverStart;
  uint32_t DriverSize;
  uint32_t pad2;
  uint64_t DriverSection;
  uint64_t DriverExtension;
  UNICODE_STRING DriverName;
  uint64_t HardwareDatabase;  // PUNICODE_STRING
  uint64_t FastIoDispatch;
  uint64_t DriverInit;
  uint64_t DriverStartIo;
  uint64_t DriverUnload;
  uint64_t MajorFunction[kIrpMjMaximumFunction + 1];
};
static_assert(offsetof(DRIVER_OBJECT, DriverExtension) == 0x30);
static_assert(offsetof(DRIVER_OBJECT, DriverName) == 0x38);
static_assert(offsetof(DRIVER_OBJECT, DriverUnload) == 0x68);
static_assert(offsetof(DRIVER_OBJECT, MajorFunction) == 0x70);
static_assert(sizeof(DRIVER_OBJECT) == 0x150);

struct KDEVICE_QUEUE {
  int16_t Type;
  int16_t Size;
  uint32_t pad;
  LIST_ENTRY DeviceListHead;
  uint64_t Lock;
  uint8_t Busy;
  uint8_t pad2[7];
};
static_assert(sizeof(KDEVICE_QUEUE) == 0x28);

struct KDPC {
  uint8_t Type;
  uint8_t Importance;
  uint16_t Number;
  uint32_t pad;
  uint64_t DpcListEntry;  // SINGLE_LIST_ENTRY
  uint64_t ProcessorHistory;
  uint64_t DeferredRoutine;
  uint64_t DeferredContext;
  uint64_t SystemArgument1;
  uint64_t SystemArgument2;
  uint64_t DpcData;
};
static_assert(sizeof(KDPC) == 0x40);

struct DEVICE_OBJECT {
  int16_t Type;  // IO_TYPE_DEVICE = 3
  uint16_t Size;
  int32_t ReferenceCount;
  uint64_t DriverObject;
  uint64_t NextDevice;
  uint64_t AttachedDevice;
  uint64_t CurrentIrp;
  uint64_t Timer;
  uint32_t Flags;
  uint32_t Characteristics;
  uint64_t Vpb;
  uint64_t DeviceExtension;
  uint32_t DeviceType;
  int8_t StackSize;
  uint8_t pad0[3];
  uint8_t Queue[0x48];  // WAIT_CONTEXT_BLOCK / LIST_ENTRY
  uint32_t AlignmentRequirement;
  uint32_t pad1;
  KDEVICE_QUEUE DeviceQueue;
  KDPC Dpc;
  uint32_t ActiveThreadCount;
  uint32_t pad2;
  uint64_t SecurityDescriptor;
  KEVENT DeviceLock;
  uint16_t SectorSize;
  uint16_t Spare1;
  uint32_t pad3;
  uint64_t DeviceObjectExtension;
  uint64_t Reserved;
  uint64_t AlignmentPad;  // DEVICE_OBJECT is DECLSPEC_ALIGN(16)
};
static_assert(offsetof(DEVICE_OBJECT, Flags) == 0x30);
static_assert(offsetof(DEVICE_OBJECT, Characteristics) == 0x34);
static_assert(offsetof(DEVICE_OBJECT, DeviceExtension) == 0x40);
static_assert(offsetof(DEVICE_OBJECT, DeviceType) == 0x48);
static_assert(offsetof(DEVICE_OBJECT, StackSize) == 0x4C);
static_assert(offsetof(DEVICE_OBJECT, AlignmentRequirement) == 0x98);
static_assert(offsetof(DEVICE_OBJECT, DeviceQueue) == 0xA0);
static_assert(offsetof(DEVICE_OBJECT, Dpc) == 0xC8);
static_assert(offsetof(DEVICE_OBJECT, SecurityDescriptor) == 0x110);
static_assert(offsetof(DEVICE_OBJECT, DeviceLock) == 0x118);
static_assert(offsetof(DEVICE_OBJECT, DeviceObjectExtension) == 0x138);
static_assert(sizeof(DEVICE_OBJECT) == 0x150);

// DEVOBJ_EXTENSION: the DDK shows Type, Size and DeviceObject; the rest is the
// kernel's (Windows 10 x64), of which the I/O manager keeps ExtensionFlags
// (DOE_*) and AttachedTo (the device this one is attached to).
struct DEVOBJ_EXTENSION {
  int16_t Type;  // IO_TYPE_DEVICE_OBJECT_EXTENSION = 13
  uint16_t Size;
  uint32_t pad;
  uint64_t DeviceObject;
  uint32_t PowerFlags;
  uint32_t pad1;
  uint64_t Dope;
  uint32_t ExtensionFlags;
  uint32_t pad2;
  uint64_t DeviceNode;
  uint64_t AttachedTo;
  int32_t StartIoCount;
  int32_t StartIoKey;
  uint32_t StartIoFlags;
  uint32_t pad3;
  uint64_t Vpb;
  uint8_t Rest[0x20];
};
static_assert(offsetof(DEVOBJ_EXTENSION, ExtensionFlags) == 0x20);
static_assert(offsetof(DEVOBJ_EXTENSION, AttachedTo) == 0x30);
static_assert(sizeof(DEVOBJ_EXTENSION) == 0x70);

// DEVOBJ_EXTENSION.ExtensionFlags.
constexpr uint32_t kDoeUnloadPending = 0x1;
constexpr uint32_t kDoeDeletePending = 0x2;
constexpr uint32_t kDoeRemovePending = 0x4;
constexpr uint32_t kDoeRemoveProcessed = 0x8;

// IO_TYPE_* values in the Type field of I/O structures.
constexpr int16_t kIoTypeDevice = 3;
constexpr int16_t kIoTypeDriver = 4;
constexpr int16_t kIoTypeDeviceObjectExtension = 13;

}  // namespace kemu::nt::layout

namespace kemu::nt::layout {

// --- I/O request structures -------------------------------------------------

struct IO_STATUS_BLOCK {
  uint64_t Status;  // NTSTATUS in the low 32 bits (union with PVOID Pointer)
  uint64_t Information;
};
static_assert(sizeof(IO_STATUS_BLOCK) == 0x10);

constexpr int16_t kIoTypeIrp = 6;
constexpr int16_t kIoTypeFile = 5;

struct IRP {
  int16_t Type;
  uint16_t Size;
  uint16_t AllocationProcessorNumber;
  uint16_t Reserved;
  uint64_t MdlAddress;
  uint32_t Flags;
  uint32_t pad0;
  uint64_t AssociatedIrp;  // SystemBuffer / MasterIrp / IrpCount
  LIST_ENTRY ThreadListEntry;
  IO_STATUS_BLOCK IoStatus;
  int8_t RequestorMode;
  uint8_t PendingReturned;
  int8_t StackCount;
  int8_t CurrentLocation;
  uint8_t Cancel;
  uint8_t CancelIrql;
  int8_t ApcEnvironment;
  uint8_t AllocationFlags;
  uint64_t UserIosb;
  uint64_t UserEvent;
  uint64_t Overlay[2];  // AsynchronousParameters / AllocationSize
  uint64_t CancelRoutine;
  uint64_t UserBuffer;
  // Tail.Overlay
  uint64_t DriverContext[4];  // union with DeviceQueueEntry
  uint64_t Thread;
  uint64_t AuxiliaryBuffer;
  LIST_ENTRY ListEntry;
  uint64_t CurrentStackLocation;  // union with PacketType
  uint64_t OriginalFileObject;
  uint64_t IrpExtension;
};
static_assert(offsetof(IRP, MdlAddress) == 0x08);
static_assert(offsetof(IRP, AssociatedIrp) == 0x18);
static_assert(offsetof(IRP, IoStatus) == 0x30);
static_assert(offsetof(IRP, RequestorMode) == 0x40);
static_assert(offsetof(IRP, UserIosb) == 0x48);
static_assert(offsetof(IRP, CancelRoutine) == 0x68);
static_assert(offsetof(IRP, UserBuffer) == 0x70);
static_assert(offsetof(IRP, Thread) == 0x98);
static_assert(offsetof(IRP, CurrentStackLocation) == 0xB8);
static_assert(offsetof(IRP, OriginalFileObject) == 0xC0);
static_assert(sizeof(IRP) == 0xD0);

struct IO_STACK_LOCATION {
  uint8_t MajorFunction;
  uint8_t MinorFunction;
  uint8_t Flags;
  uint8_t Control;
  uint32_t pad0;
  // Parameters: a 0x20-byte union; DeviceIoControl shown, others by offset.
  uint32_t OutputBufferLength;  // Read/Write: Length; Create: SecurityContext (8 bytes)
  uint32_t pad1;
  uint32_t InputBufferLength;  // Read/Write: Key; Create: Options
  uint32_t pad2;
  uint32_t IoControlCode;  // Read/Write: ByteOffset (8 bytes)
  uint32_t pad3;
  uint64_t Type3InputBuffer;
  uint64_t DeviceObject;
  uint64_t FileObject;
  uint64_t CompletionRoutine;
  uint64_t Context;
};
static_assert(offsetof(IO_STACK_LOCATION, OutputBufferLength) == 0x08);
static_assert(offsetof(IO_STACK_LOCATION, InputBufferLength) == 0x10);
static_assert(offsetof(IO_STACK_LOCATION, IoControlCode) == 0x18);
static_assert(offsetof(IO_STACK_LOCATION, Type3InputBuffer) == 0x20);
static_assert(offsetof(IO_STACK_LOCATION, DeviceObject) == 0x28);
static_assert(offsetof(IO_STACK_LOCATION, CompletionRoutine) == 0x38);
static_assert(sizeof(IO_STACK_LOCATION) == 0x48);

struct FILE_OBJECT {
  int16_t Type;
  int16_t Size;
  uint32_t pad0;
  uint64_t DeviceObject;
  uint64_t Vpb;
  uint64_t FsContext;
  uint64_t FsContext2;
  uint64_t SectionObjectPointer;
  uint64_t PrivateCacheMap;
  int32_t FinalStatus;
  uint32_t pad1;
  uint64_t RelatedFileObject;
  uint8_t LockOperation;
  uint8_t DeletePending;
  uint8_t ReadAccess;
  uint8_t WriteAccess;
  uint8_t DeleteAccess;
  uint8_t SharedRead;
  uint8_t SharedWrite;
  uint8_t SharedDelete;
  uint32_t Flags;
  uint32_t pad2;
  UNICODE_STRING FileName;
  int64_t CurrentByteOffset;
  uint32_t Waiters;
  uint32_t Busy;
  uint64_t LastLock;
  KEVENT Lock;
  KEVENT Event;
  uint64_t CompletionContext;
  uint64_t IrpListLock;
  LIST_ENTRY IrpList;
  uint64_t FileObjectExtension;
};
static_assert(offsetof(FILE_OBJECT, RelatedFileObject) == 0x40);
static_assert(offsetof(FILE_OBJECT, Flags) == 0x50);
static_assert(offsetof(FILE_OBJECT, FileName) == 0x58);
static_assert(offsetof(FILE_OBJECT, CurrentByteOffset) == 0x68);
static_assert(offsetof(FILE_OBJECT, Lock) == 0x80);
static_assert(offsetof(FILE_OBJECT, Event) == 0x98);
static_assert(sizeof(FILE_OBJECT) == 0xD8);

struct MDL {
  uint64_t Next;
  int16_t Size;
  int16_t MdlFlags;
  uint16_t AllocationProcessorNumber;
  uint16_t Reserved;
  uint64_t Process;
  uint64_t MappedSystemVa;
  uint64_t StartVa;
  uint32_t ByteCount;
  uint32_t ByteOffset;
};
static_assert(sizeof(MDL) == 0x30);

// MEMORY_BASIC_INFORMATION (ZwQueryVirtualMemory's MemoryBasicInformation),
// x64: PartitionId (Windows 10 1709 and later) fills what was padding.
struct MEMORY_BASIC_INFORMATION {
  uint64_t BaseAddress;
  uint64_t AllocationBase;
  uint32_t AllocationProtect;
  uint16_t PartitionId;
  uint16_t Reserved0;
  uint64_t RegionSize;
  uint32_t State;
  uint32_t Protect;
  uint32_t Type;
  uint32_t Reserved1;
};
static_assert(offsetof(MEMORY_BASIC_INFORMATION, RegionSize) == 0x18);
static_assert(offsetof(MEMORY_BASIC_INFORMATION, Type) == 0x28);
static_assert(sizeof(MEMORY_BASIC_INFORMATION) == 0x30);

}  // namespace kemu::nt::layout
