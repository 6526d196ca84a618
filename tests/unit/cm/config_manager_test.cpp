// The registry of a booted kernel (ntoskrnl-stubs/cm/config_manager.h): the
// standard keys, a service key, \REGISTRY in the namespace, Key objects and
// handles, and the open/create decisions.
#include "ntoskrnl-stubs/cm/config_manager.h"

#include <gtest/gtest.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt::cm {
namespace {

class ConfigManagerTest : public ::testing::Test {
 protected:
  emu::Machine machine;
  Kernel kernel{machine};
  ConfigManager& cm = kernel.cm();

  OpenRequest request(std::u16string name, bool create = false) {
    OpenRequest rq;
    rq.desired_access = kKeyRead;
    rq.name = std::move(name);
    rq.attributes = ob::kObjCaseInsensitive | ob::kObjKernelHandle;
    rq.create = create;
    return rq;
  }

  std::vector<uint8_t> value_data(NodeId key, std::u16string_view name) {
    const Value* v = cm.hive().find_value(key, name);
    return v ? v->data : std::vector<uint8_t>{0xEE};
  }
};

TEST_F(ConfigManagerTest, TheServiceKeyHoldsWhatTheServiceControlManagerWrites) {
  NodeId key = cm.install_service(u"drv");
  EXPECT_EQ(ConfigManager::service_key_path(u"drv"), u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\drv");
  // CurrentControlSet is a link: the key lives in ControlSet001.
  EXPECT_EQ(cm.hive().full_path(key), u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\drv");
  EXPECT_EQ(cm.find_key(u"\\registry\\machine\\system\\currentcontrolset\\services\\DRV"), key);
  const Value* image = cm.hive().find_value(key, u"ImagePath");
  ASSERT_NE(image, nullptr);
  EXPECT_EQ(image->type, reg::kExpandSz);
  EXPECT_EQ(image->data, utf16_bytes(u"\\SystemRoot\\System32\\drivers\\drv.sys"));
  EXPECT_EQ(cm.hive().find_value(key, u"Type")->type, reg::kDword);
  EXPECT_EQ(value_data(key, u"Type"), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(value_data(key, u"Start"), (std::vector<uint8_t>{3, 0, 0, 0}));
  EXPECT_EQ(value_data(key, u"ErrorControl"), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_TRUE(cm.find_key(u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\drv\\Parameters").has_value());
  // Values seeded before the install keep theirs.
  NodeId other = kNoNode;
  ASSERT_EQ(cm.ensure_key(ConfigManager::service_key_path(u"other"), &other), STATUS_SUCCESS);
  cm.hive().set_value(other, u"Start", reg::kDword, {4, 0, 0, 0}, 0);
  EXPECT_EQ(cm.install_service(u"other"), other);
  EXPECT_EQ(value_data(other, u"Start"), (std::vector<uint8_t>{4, 0, 0, 0}));
}

TEST_F(ConfigManagerTest, TheStandardRootsExist) {
  for (auto path : {u"\\Registry\\Machine\\SOFTWARE", u"\\Registry\\Machine\\System\\CurrentControlSet\\Control",
                    u"\\Registry\\Machine\\Hardware\\DeviceMap", u"\\Registry\\User\\.Default",
                    u"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion"})
    EXPECT_TRUE(cm.find_key(path).has_value()) << to_utf8(path);
  NodeId nt = *cm.find_key(u"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion");
  EXPECT_EQ(value_data(nt, u"CurrentBuildNumber"), utf16_bytes(u"19045"));
  EXPECT_EQ(value_data(nt, u"CurrentMajorVersionNumber"), (std::vector<uint8_t>{10, 0, 0, 0}));
  EXPECT_FALSE(cm.find_key(u"\\Registry\\Machine\\Nope").has_value());
  EXPECT_FALSE(cm.find_key(u"\\Device").has_value());
}

TEST_F(ConfigManagerTest, RegistryIsAKeyObjectInTheNamespaceRoot) {
  NtStatus st = STATUS_SUCCESS;
  auto found = kernel.ob().lookup(u"\\Registry\\Machine\\System", true, &st);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(kernel.ob().get(found->object)->type, ob::TypeIndex::Key);
  EXPECT_EQ(kernel.ob().full_name(found->object), u"\\REGISTRY");
  EXPECT_EQ(found->remaining, u"\\Machine\\System");
}

TEST_F(ConfigManagerTest, OpeningGivesANewKeyObjectPerHandleNamedByItsPath) {
  uint64_t h1 = 0, h2 = 0;
  ASSERT_EQ(cm.open(request(u"\\Registry\\Machine\\SOFTWARE"), &h1, nullptr), STATUS_SUCCESS);
  ASSERT_EQ(cm.open(request(u"\\REGISTRY\\machine\\software"), &h2, nullptr), STATUS_SUCCESS);
  // OBJ_KERNEL_HANDLE: kernel handles (bit 31 set, sign-extended).
  EXPECT_EQ(h1 & 0xFFFFFFFF80000000ull, 0xFFFFFFFF80000000ull);
  EXPECT_NE(h1, h2);
  ob::ObjectId o1 = ob::kNoObject, o2 = ob::kNoObject;
  ob::HandleInfo info;
  ASSERT_EQ(kernel.ob().reference_by_handle(h1, 0, ob::TypeIndex::Key, ProcessorMode::KernelMode, &o1, &info),
            STATUS_SUCCESS);
  ASSERT_EQ(kernel.ob().reference_by_handle(h2, 0, ob::TypeIndex::Key, ProcessorMode::KernelMode, &o2, nullptr),
            STATUS_SUCCESS);
  EXPECT_NE(o1, o2);
  EXPECT_EQ(info.granted_access, kKeyRead);
  // ObQueryNameString's view: the key's registry path.
  EXPECT_EQ(kernel.ob().full_name(o1), u"\\REGISTRY\\MACHINE\\SOFTWARE");
  kernel.ob().dereference(o1);
  kernel.ob().dereference(o2);
  NodeId n1 = kNoNode, n2 = kNoNode;
  EXPECT_EQ(cm.key_of_handle(h1, kKeyQueryValue, ProcessorMode::KernelMode, &n1), STATUS_SUCCESS);
  EXPECT_EQ(cm.key_of_handle(h2, kKeyQueryValue, ProcessorMode::KernelMode, &n2), STATUS_SUCCESS);
  EXPECT_EQ(n1, n2);
  // The last handle gone, the Key object is gone.
  EXPECT_EQ(kernel.ob().close_handle(h1, ProcessorMode::KernelMode), STATUS_SUCCESS);
  EXPECT_FALSE(cm.node_of_object(o1).has_value());
  EXPECT_TRUE(cm.node_of_object(o2).has_value());
  EXPECT_EQ(kernel.ob().close_handle(h2, ProcessorMode::KernelMode), STATUS_SUCCESS);
}

TEST_F(ConfigManagerTest, KeyHandlesAreReferencedAsObReferenceObjectByHandleDecides) {
  uint64_t h = 0;
  ASSERT_EQ(cm.open(request(u"\\Registry\\Machine\\SOFTWARE"), &h, nullptr), STATUS_SUCCESS);
  NodeId node = kNoNode;
  // A kernel handle is invalid from UserMode.
  EXPECT_EQ(cm.key_of_handle(h, kKeyQueryValue, ProcessorMode::UserMode, &node), STATUS_INVALID_HANDLE);
  EXPECT_EQ(node, kNoNode);
  // KernelMode checks no access: KEY_READ was granted, KEY_SET_VALUE is not asked about.
  EXPECT_EQ(cm.key_of_handle(h, kKeySetValue, ProcessorMode::KernelMode, &node), STATUS_SUCCESS);
  // A handle to another type of object is a type mismatch.
  NtStatus st = STATUS_SUCCESS;
  auto device_dir = kernel.ob().lookup(u"\\Device", true, &st);
  ASSERT_TRUE(device_dir.has_value());
  uint64_t dir = kernel.ob().create_handle(device_dir->object, 0x1, ob::kObjKernelHandle);
  EXPECT_EQ(cm.key_of_handle(dir, 0, ProcessorMode::KernelMode, &node), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(kernel.ob().close_handle(dir, ProcessorMode::KernelMode), STATUS_SUCCESS);
  EXPECT_EQ(kernel.ob().close_handle(h, ProcessorMode::KernelMode), STATUS_SUCCESS);
  EXPECT_EQ(cm.key_of_handle(h, 0, ProcessorMode::KernelMode, &node), STATUS_INVALID_HANDLE);
}

TEST_F(ConfigManagerTest, NamesThatDoNotLeadToAKeyFailAsTheObjectManagerDecides) {
  uint64_t h = 0;
  EXPECT_EQ(cm.open(request(u"\\Device"), &h, nullptr), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(cm.open(request(u"\\Nope\\Machine"), &h, nullptr), STATUS_OBJECT_PATH_NOT_FOUND);
  EXPECT_EQ(cm.open(request(u"\\Registry\\Machine\\Nope\\Deeper"), &h, nullptr), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(cm.open(request(u"Registry\\Machine"), &h, nullptr), STATUS_OBJECT_PATH_SYNTAX_BAD);
  OpenRequest unnamed = request(u"");
  unnamed.name.reset();
  EXPECT_EQ(cm.open(unnamed, &h, nullptr), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(h, 0u);
}

TEST_F(ConfigManagerTest, CreateReportsItsDispositionAndNeedsTheParent) {
  uint64_t h = 0;
  uint32_t how = 0;
  EXPECT_EQ(cm.open(request(u"\\Registry\\Machine\\SOFTWARE\\Vendor\\Product", true), &h, &how),
            STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(how, 0u);
  ASSERT_EQ(cm.open(request(u"\\Registry\\Machine\\SOFTWARE\\Vendor", true), &h, &how), STATUS_SUCCESS);
  EXPECT_EQ(how, kRegCreatedNewKey);
  uint64_t again = 0;
  ASSERT_EQ(cm.open(request(u"\\Registry\\Machine\\SOFTWARE\\VENDOR", true), &again, &how), STATUS_SUCCESS);
  EXPECT_EQ(how, kRegOpenedExistingKey);
  // Relative to a key handle: the name may not start with a separator.
  OpenRequest child = request(u"Product", true);
  child.root = h;
  child.options = kRegOptionVolatile;
  uint64_t product = 0;
  ASSERT_EQ(cm.open(child, &product, &how), STATUS_SUCCESS);
  EXPECT_EQ(how, kRegCreatedNewKey);
  NodeId node = kNoNode;
  ASSERT_EQ(cm.key_of_handle(product, 0, ProcessorMode::KernelMode, &node), STATUS_SUCCESS);
  EXPECT_TRUE(cm.hive().node(node).is_volatile);
  EXPECT_EQ(cm.hive().full_path(node), u"\\REGISTRY\\MACHINE\\SOFTWARE\\Vendor\\Product");
  child.name = u"\\Product";
  uint64_t refused = 1;
  EXPECT_EQ(cm.open(child, &refused, &how), STATUS_OBJECT_PATH_SYNTAX_BAD);
  EXPECT_EQ(refused, 0u);
  // Stable below volatile.
  child.root = product;
  child.name = u"Stable";
  child.options = 0;
  uint64_t stable = 0;
  EXPECT_EQ(cm.open(child, &stable, &how), STATUS_CHILD_MUST_BE_VOLATILE);
  // An empty name relative to a key opens that key again.
  child.name = u"";
  child.create = false;
  uint64_t same = 0;
  ASSERT_EQ(cm.open(child, &same, nullptr), STATUS_SUCCESS);
  NodeId same_node = kNoNode;
  ASSERT_EQ(cm.key_of_handle(same, 0, ProcessorMode::KernelMode, &same_node), STATUS_SUCCESS);
  EXPECT_EQ(same_node, node);
}

}  // namespace
}  // namespace kemu::nt::cm
