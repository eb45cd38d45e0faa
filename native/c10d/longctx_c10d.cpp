// longctx's bridge to PyTorch's distributed engine (c10d): creates a Store and a process group inside the libtorch
// DJL has loaded and registers it under a name, so TorchScript's _c10d_functional collectives can use it. C API only;
// every call reports failure as a non-zero return and one line in the caller's buffer.
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/GroupRegistry.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace {

void report(char* error, int capacity, const std::string& message) {
  if (error != nullptr && capacity > 0) {
    std::snprintf(error, static_cast<size_t>(capacity), "%s", message.c_str());
  }
}

// First line of an exception message (c10 appends a C++ stack trace after it).
std::string firstLine(const std::exception& e) {
  std::string text = e.what();
  size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

// The size a class's deleting destructor passes to sized operator delete: "mov $size, %esi" (be imm32) before the
// jump. -1 when the symbol or the pattern is missing.
long deletedSize(void* library, const char* symbol) {
  auto* code = static_cast<const unsigned char*>(dlsym(library, symbol));
  if (code == nullptr) {
    return -1;
  }
  for (int i = 0; i + 5 <= 64; i++) {
    if (code[i] == 0xbe) {
      unsigned int value;
      std::memcpy(&value, code + i + 1, 4);
      return static_cast<long>(value);
    }
  }
  return -1;
}

struct Layout {
  const char* library;
  const char* name;
  const char* deletingDestructor;
  long compiled;
};

const Layout kLayouts[] = {
    {"libtorch_cpu.so", "c10d::FileStore", "_ZN4c10d9FileStoreD0Ev", static_cast<long>(sizeof(c10d::FileStore))},
    {"libtorch_cpu.so", "c10d::TCPStore", "_ZN4c10d8TCPStoreD0Ev", static_cast<long>(sizeof(c10d::TCPStore))},
    {"libtorch_cpu.so", "c10d::ProcessGroupGloo", "_ZN4c10d16ProcessGroupGlooD0Ev",
     static_cast<long>(sizeof(c10d::ProcessGroupGloo))},
    {"libtorch_cpu.so", "c10d::ProcessGroup", "_ZN4c10d12ProcessGroupD0Ev",
     static_cast<long>(sizeof(c10d::ProcessGroup))},
#ifdef USE_C10D_NCCL
    {"libtorch_cuda.so", "c10d::ProcessGroupNCCL", "_ZN4c10d16ProcessGroupNCCLD0Ev",
     static_cast<long>(sizeof(c10d::ProcessGroupNCCL))},
#endif
};

// The registry holds groups weakly: the shim keeps them alive until destroy.
std::mutex groupsMutex;
std::map<std::string, c10::intrusive_ptr<c10d::ProcessGroup>> groups;

}  // namespace

extern "C" {

// 0 when every object this library creates has the size the loaded libtorch gives it; else 1 and the first mismatch.
int longctx_c10d_check_layout(char* error, int capacity) {
  for (const Layout& layout : kLayouts) {
    void* torch = dlopen(layout.library, RTLD_LAZY | RTLD_NOLOAD);
    if (torch == nullptr) {
      report(error, capacity, std::string(layout.library) + " is not loaded in this process");
      return 1;
    }
    long loaded = deletedSize(torch, layout.deletingDestructor);
    dlclose(torch);
    if (loaded != layout.compiled) {
      report(error, capacity, std::string("object layout mismatch: ") + layout.name + " is " +
                                  std::to_string(layout.compiled) + " bytes in the headers the shim was built with, " +
                                  (loaded < 0 ? std::string("unknown") : std::to_string(loaded)) +
                                  " in the loaded libtorch (rebuild the shim for this libtorch)");
      return 1;
    }
  }
  return 0;
}

// Creates the store (TCP: rank 0 serves host:port; file: a path shared by all ranks), the process group with Gloo
// (device -1) or NCCL (device >= 0, built with USE_C10D_NCCL), and registers it as group_name.
int longctx_c10d_init(const char* group_name, const char* store_kind, const char* address, int port, int rank,
                      int world_size, int timeout_ms, int cuda_device, char* error, int capacity) {
  try {
    std::chrono::milliseconds timeout(timeout_ms);
    c10::intrusive_ptr<c10d::Store> store;
    if (std::strcmp(store_kind, "file") == 0) {
      store = c10::make_intrusive<c10d::FileStore>(std::string(address), world_size);
      store->setTimeout(timeout);
    } else {
      c10d::TCPStoreOptions options;
      options.port = static_cast<std::uint16_t>(port);
      options.isServer = rank == 0;
      options.numWorkers = static_cast<size_t>(world_size);
      options.waitWorkers = true;
      options.timeout = timeout;
      options.useLibUV = false;
      store = c10::make_intrusive<c10d::TCPStore>(std::string(address), options);
    }
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>(std::string(group_name) + "/", store);
    auto group = c10::make_intrusive<c10d::ProcessGroup>(prefixed, rank, world_size);
    if (cuda_device < 0) {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      const char* host = std::strcmp(store_kind, "file") == 0 ? "127.0.0.1" : address;
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(std::string(host)));
      options->threads = 2;
      auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, rank, world_size, options);
      group->setDefaultBackend(c10d::ProcessGroup::GLOO);
      group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::GLOO, gloo);
    } else {
#ifdef USE_C10D_NCCL
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(cuda_device));
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, rank, world_size, options);
      group->setDefaultBackend(c10d::ProcessGroup::NCCL);
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::NCCL, nccl);
#else
      report(error, capacity, "this shim was built without NCCL (CPU/Gloo only)");
      return 1;
#endif
    }
    group->setGroupName(group_name);
    c10d::register_process_group(group_name, group);
    std::lock_guard<std::mutex> lock(groupsMutex);
    groups[group_name] = group;
    return 0;
  } catch (const std::exception& e) {
    report(error, capacity, firstLine(e));
    return 1;
  }
}

// Unregisters the group; its connections close when the last collective holding it is done.
int longctx_c10d_destroy(const char* group_name, char* error, int capacity) {
  try {
    c10d::unregister_process_group(group_name);
    std::lock_guard<std::mutex> lock(groupsMutex);
    groups.erase(group_name);
    return 0;
  } catch (const std::exception& e) {
    report(error, capacity, firstLine(e));
    return 1;
  }
}

}  // extern "C"
