/*
 * hello.sys - the smallest "real" driver: a named device, a symbolic link,
 * formatted debug output and an unload routine that cleans up.
 */
#include "kemu_sample.h"

#define HELLO_DEVICE_NAME L"\\Device\\KemuHello"
#define HELLO_LINK_NAME L"\\??\\KemuHello"

KEMU_DRIVER_ENTRY;
static DRIVER_UNLOAD HelloUnload;

static VOID NTAPI HelloUnload(PDRIVER_OBJECT DriverObject) {
  UNICODE_STRING link;
  NTSTATUS status;

  RtlInitUnicodeString(&link, HELLO_LINK_NAME);
  status = IoDeleteSymbolicLink(&link);
  if (DriverObject->DeviceObject != NULL) {
    IoDeleteDevice(DriverObject->DeviceObject);
  }
  DbgPrint("hello: unload (IoDeleteSymbolicLink 0x%08x)\n", status);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING deviceName;
  UNICODE_STRING linkName;
  PDEVICE_OBJECT device = NULL;
  NTSTATUS status;

  DbgPrint("hello: DriverEntry registry=%wZ\n", RegistryPath);
  DbgPrint("hello: DriverObject=%p\n", DriverObject);
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "hello: %ws %s x=%x d=%d neg=%d\n",
             L"wide", "narrow", 0xBEEF, 42, -7);

  RtlInitUnicodeString(&deviceName, HELLO_DEVICE_NAME);
  status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN,
                          FILE_DEVICE_SECURE_OPEN, FALSE, &device);
  if (!NT_SUCCESS(status)) {
    DbgPrint("hello: IoCreateDevice failed 0x%08x\n", status);
    return status;
  }

  RtlInitUnicodeString(&linkName, HELLO_LINK_NAME);
  status = IoCreateSymbolicLink(&linkName, &deviceName);
  if (!NT_SUCCESS(status)) {
    DbgPrint("hello: IoCreateSymbolicLink failed 0x%08x\n", status);
    IoDeleteDevice(device);
    return status;
  }

  DriverObject->DriverUnload = HelloUnload;
  DbgPrint("hello: created %wZ -> %wZ\n", &linkName, &deviceName);
  return STATUS_SUCCESS;
}
