// The op/type combinations WebGPU has no kernel for (Div on int64, Add, Sub, Mul and Div on
// double) are refused with DT_NOT_SUPPORTED naming the op, the type and the device, and write
// nothing. That each refusal is clean on every device, and that what a device does run matches
// the CPU, is in tests/device_suite/op_suite_test.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "devtensor/devtensor.h"
#include "devtensor/devtensor.hpp"
#include "device_suite/device_cases.h"

namespace {

using namespace devtensor_test;
using devtensor::Tensor;

using WebGpuOps = WebGpuDeviceTest;

TEST_F(WebGpuOps, KernelsItLacksAreRefusedByNameAndWriteNothing) {
  SCOPED_TRACE(random.trace());
  struct Combo {
    const char* op;
    DtElementType type;
  };
  const Combo kCombos[] = {{"Div", DT_INT64}, {"Add", DT_DOUBLE}, {"Sub", DT_DOUBLE},
                           {"Mul", DT_DOUBLE}, {"Div", DT_DOUBLE}};
  for (const Combo& combo : kCombos) {
    const std::string type = DtGetElementTypeName(combo.type);
    SCOPED_TRACE(std::string(combo.op) + " " + type);
    // a, b and the output, [5] each, 8 bytes apart in one buffer of random bytes.
    auto bytes = NewBytes(Where::kDevice, 3 * (40 + 8) + 8);
    const std::vector<uint8_t> before = RandomBytes(random, bytes->size());
    bytes->Set(before);
    const Tensor a = bytes->whole().view(8, combo.type, {5});
    const Tensor b = bytes->whole().view(56, combo.type, {5});
    const Tensor out = bytes->whole().view(104, combo.type, {5});
    const DtValue* in[] = {a.get(), b.get()};
    DtValue* outs[] = {out.get()};
    DT_EXPECT_ERROR(DtRunOp(env.get(), combo.op, in, 2, outs, 1, nullptr, 0, nullptr),
                    DT_NOT_SUPPORTED, combo.op, type.c_str(), "WebGPU");
    devtensor::Stream stream = env.create_stream(device);
    DT_EXPECT_ERROR(DtRunOp(env.get(), combo.op, in, 2, outs, 1, nullptr, 0, stream.get()),
                    DT_NOT_SUPPORTED, combo.op, type.c_str(), "WebGPU");
    DT_EXPECT_OK(DtSynchronizeStream(stream.get()));
    EXPECT_TRUE(SameBytes(bytes->Get(), before)) << "a refused op wrote";
  }
}

}  // namespace
