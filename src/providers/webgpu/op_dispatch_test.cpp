// What a batch of op dispatches takes (OpBatch::Add), on plain data: buffers are handles of a
// fake runtime that only knows their sizes and usages, so no device is needed. Then the named
// parameters: the WGSL accessors a table generates read the very words its writer writes.
#include "providers/webgpu/op_dispatch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "providers/webgpu/kernels/kernel_params.h"
#include "providers/webgpu/op_kernels.h"

namespace devtensor::webgpu {
namespace {

// ---- a runtime of buffers only -----------------------------------------------------------------

struct FakeBuffer {
  uint64_t size;
  wgpu::Flags usage;
};

std::map<wgpu::Buffer, FakeBuffer>& FakeBuffers() {
  static std::map<wgpu::Buffer, FakeBuffer> buffers;
  return buffers;
}

const wgpu::Api& FakeApi() {
  static const wgpu::Api api = [] {
    wgpu::Api a;
    a.BufferGetSize = [](wgpu::Buffer b) { return FakeBuffers().at(b).size; };
    a.BufferGetUsage = [](wgpu::Buffer b) { return FakeBuffers().at(b).usage; };
    return a;
  }();
  return api;
}

// A buffer of `size` bytes; `uniform`: it may also be bound as a uniform buffer.
wgpu::Buffer MakeBuffer(uint64_t size, bool uniform = false) {
  const auto buffer = reinterpret_cast<wgpu::Buffer>((FakeBuffers().size() + 1) * 256);
  FakeBuffers()[buffer] = {size, Context::kTensorUsage | (uniform ? wgpu::usage::kUniform : 0)};
  return buffer;
}

// Limits of a small device: 8 storage and 4 uniform buffers per stage, 1 MiB bindings.
wgpu::Limits SmallLimits() {
  wgpu::Limits limits{};
  limits.max_storage_buffers_per_shader_stage = 8;
  limits.max_uniform_buffers_per_shader_stage = 4;
  limits.max_storage_buffer_binding_size = 1 << 20;
  limits.max_uniform_buffer_binding_size = 64 << 10;
  limits.min_uniform_buffer_offset_alignment = 256;
  limits.min_storage_buffer_offset_alignment = 256;
  limits.max_compute_workgroups_per_dimension = 65535;
  return limits;
}

KernelFamily Family(const char* key, uint32_t inputs, bool batchable = true, bool flags = false) {
  KernelFamily family;
  family.key = key;
  family.inputs = inputs;
  family.batchable = batchable;
  family.uses_flags = flags;
  return family;
}

// An op of `family` writing bytes [begin, begin + bytes) of `out` and reading the first `bytes`
// of each of `inputs`, one invocation per 4 bytes, each bound over the tensor's own window.
OpDispatch Op(const KernelFamily& family, wgpu::Buffer out, uint64_t begin, uint64_t bytes,
              const std::vector<wgpu::Buffer>& inputs = {}) {
  OpDispatch op;
  op.family = &family;
  op.roles[0] = {out, begin, bytes, begin, begin + bytes};
  for (size_t i = 0; i < inputs.size(); ++i) op.roles[1 + i] = {inputs[i], 0, bytes, 0, bytes};
  op.flags = family.uses_flags ? MakeBuffer(16) : nullptr;
  op.invocations = bytes / 4;
  return op;
}

class OpBatchTest : public ::testing::Test {
 protected:
  void TearDown() override { FakeBuffers().clear(); }
  wgpu::Limits limits = SmallLimits();
};

TEST_F(OpBatchTest, OpsOfOneBatchableFamilyBatch) {
  const KernelFamily add = Family("Add", 2);
  const wgpu::Buffer out = MakeBuffer(4096), a = MakeBuffer(4096), b = MakeBuffer(4096);
  const OpDispatch first = Op(add, out, 0, 256, {a, b}), second = Op(add, out, 1024, 256, {a, b});
  OpBatch batch(FakeApi(), limits);
  EXPECT_TRUE(batch.Add(first));
  EXPECT_TRUE(batch.Add(second));
  EXPECT_EQ(batch.size(), 2u);
}

TEST_F(OpBatchTest, AnotherFamilyDoesNotJoin) {
  const KernelFamily add = Family("Add", 2), mul = Family("Mul", 2);
  const wgpu::Buffer out = MakeBuffer(4096), a = MakeBuffer(4096), b = MakeBuffer(4096);
  const OpDispatch first = Op(add, out, 0, 256, {a, b}), other = Op(mul, out, 1024, 256, {a, b});
  OpBatch batch(FakeApi(), limits);
  EXPECT_TRUE(batch.Add(first));
  EXPECT_FALSE(batch.Add(other));
  EXPECT_EQ(batch.size(), 1u);
}

TEST_F(OpBatchTest, ANonBatchableFamilyRunsAlone) {
  const KernelFamily argmax = Family("ArgMax", 1, /*batchable=*/false);
  const wgpu::Buffer out = MakeBuffer(4096), in = MakeBuffer(4096);
  const OpDispatch first = Op(argmax, out, 0, 256, {in}), second = Op(argmax, out, 1024, 256, {in});
  OpBatch batch(FakeApi(), limits);
  EXPECT_TRUE(batch.Add(first));  // the first op of a batch always fits: it runs alone
  EXPECT_FALSE(batch.Add(second));
  EXPECT_EQ(batch.size(), 1u);
}

TEST_F(OpBatchTest, AtMost64Slots) {
  const KernelFamily fill = Family("Fill", 0);
  const wgpu::Buffer out = MakeBuffer(65 * 256);
  std::vector<OpDispatch> ops;
  for (uint64_t k = 0; k < 65; ++k) ops.push_back(Op(fill, out, k * 256, 4));
  OpBatch batch(FakeApi(), limits);
  for (size_t k = 0; k < 64; ++k) EXPECT_TRUE(batch.Add(ops[k])) << k;
  EXPECT_FALSE(batch.Add(ops[64]));
  EXPECT_EQ(batch.size(), 64u);
}

TEST_F(OpBatchTest, StorageBindingsPerStageLimitTheBuffers) {
  const KernelFamily fill = Family("Fill", 0);
  std::vector<OpDispatch> ops;
  for (int k = 0; k < 9; ++k) ops.push_back(Op(fill, MakeBuffer(1024), 0, 64));
  OpBatch batch(FakeApi(), limits);
  for (size_t k = 0; k < 8; ++k) EXPECT_TRUE(batch.Add(ops[k])) << k;
  EXPECT_FALSE(batch.Add(ops[8]));  // a ninth written buffer needs a ninth storage binding
  EXPECT_EQ(batch.size(), 8u);
}

TEST_F(OpBatchTest, TheErrorFlagsTakeAStorageBinding) {
  const KernelFamily append = Family("KvCacheAppend", 0, true, /*flags=*/true);
  std::vector<OpDispatch> ops;
  for (int k = 0; k < 8; ++k) ops.push_back(Op(append, MakeBuffer(1024), 0, 64));
  OpBatch batch(FakeApi(), limits);
  for (size_t k = 0; k < 7; ++k) EXPECT_TRUE(batch.Add(ops[k])) << k;
  EXPECT_FALSE(batch.Add(ops[7]));
}

TEST_F(OpBatchTest, SmallReadOnlyInputsMoveToUniformBindings) {
  // One written buffer and read-only inputs, each of its own buffer: 7 fit the storage
  // bindings left, and 3 more the uniform bindings left beside the parameters'.
  const KernelFamily expand = Family("Expand", 1);
  const wgpu::Buffer out = MakeBuffer(64 * 256);
  std::vector<OpDispatch> ops;
  for (uint64_t k = 0; k < 11; ++k) ops.push_back(Op(expand, out, k * 256, 64, {MakeBuffer(1024, true)}));
  OpBatch batch(FakeApi(), limits);
  for (size_t k = 0; k < 10; ++k) EXPECT_TRUE(batch.Add(ops[k])) << k;
  EXPECT_FALSE(batch.Add(ops[10]));

  // Inputs that may not be uniform buffers stop at the storage bindings.
  OpBatch storage_only(FakeApi(), limits);
  std::vector<OpDispatch> plain;
  for (uint64_t k = 0; k < 8; ++k) plain.push_back(Op(expand, out, k * 256, 64, {MakeBuffer(1024)}));
  for (size_t k = 0; k < 7; ++k) EXPECT_TRUE(storage_only.Add(plain[k])) << k;
  EXPECT_FALSE(storage_only.Add(plain[7]));
}

TEST_F(OpBatchTest, OneBufferIsOneBindingWithinTheBindingSize) {
  limits.max_storage_buffer_binding_size = 4096;
  const KernelFamily fill = Family("Fill", 0);
  const wgpu::Buffer out = MakeBuffer(1 << 16);
  const OpDispatch first = Op(fill, out, 0, 1024), near = Op(fill, out, 2048, 1024),
                   far = Op(fill, out, 8192, 1024);
  OpBatch batch(FakeApi(), limits);
  EXPECT_TRUE(batch.Add(first));
  EXPECT_TRUE(batch.Add(near));   // the window [0, 3072) holds both
  EXPECT_FALSE(batch.Add(far));   // [0, 9216) would be larger than one binding may be
  EXPECT_EQ(batch.size(), 2u);
}

TEST_F(OpBatchTest, WorkgroupsStayWithinTheDeviceAndFewIdle) {
  limits.max_compute_workgroups_per_dimension = 8;
  const KernelFamily fill = Family("Fill", 0);
  const wgpu::Buffer out = MakeBuffer(1 << 20);
  // Every slot launches as many workgroups as the widest, which must fit one dimension.
  OpBatch batch(FakeApi(), limits);
  const OpDispatch narrow = Op(fill, out, 0, 4 * kOpWorkgroup),
                   wide = Op(fill, out, 65536, 4 * kOpWorkgroup * 9);
  EXPECT_TRUE(batch.Add(narrow));
  EXPECT_FALSE(batch.Add(wide));

  // A wide op does not join many narrow ones, whose slots would then mostly idle.
  limits.max_compute_workgroups_per_dimension = 65535;
  OpBatch narrow_ones(FakeApi(), limits);
  std::vector<OpDispatch> ops;
  for (uint64_t k = 0; k < 40; ++k) ops.push_back(Op(fill, out, k * 256, 4));
  for (const OpDispatch& op : ops) EXPECT_TRUE(narrow_ones.Add(op));
  const OpDispatch widest = Op(fill, out, 1 << 19, 4 * kOpWorkgroup * 100);
  EXPECT_FALSE(narrow_ones.Add(widest));
  EXPECT_EQ(narrow_ones.size(), 40u);
}

// ---- named parameters ---------------------------------------------------------------------------

// The value of a WGSL word expression such as "17u + row * 12u + i" for given row and i.
uint32_t Evaluate(const std::string& expression, uint32_t row, uint32_t i) {
  uint32_t sum = 0;
  std::regex term_separator("\\s*\\+\\s*"), factor_separator("\\s*\\*\\s*");
  for (std::sregex_token_iterator t(expression.begin(), expression.end(), term_separator, -1), end; t != end; ++t) {
    const std::string term = *t;
    uint32_t product = 1;
    for (std::sregex_token_iterator f(term.begin(), term.end(), factor_separator, -1); f != end; ++f) {
      const std::string factor = *f;
      if (factor == "row") {
        product *= row;
      } else if (factor == "i") {
        product *= i;
      } else {
        EXPECT_EQ(factor.back(), 'u') << expression;
        product *= static_cast<uint32_t>(std::stoul(factor.substr(0, factor.size() - 1)));
      }
    }
    sum += product;
  }
  return sum;
}

// The words parameter `p`'s accessor in `code` reads for row `row` and value `i`, in order.
std::vector<uint32_t> WordsRead(const std::string& code, const Param& p, uint32_t row, uint32_t i) {
  const std::regex function("fn param_" + std::string(p.name) + "\\(([^)]*)\\) -> ([^ ]+) \\{ return (.*); \\}");
  std::smatch match;
  EXPECT_TRUE(std::regex_search(code, match, function)) << p.name << " in\n" << code;
  if (match.empty()) return {};
  const std::string body = match[3];
  std::vector<uint32_t> words;
  const std::regex read("pw\\(([^)]*)\\)");
  for (std::sregex_iterator r(body.begin(), body.end(), read), end; r != end; ++r) {
    words.push_back(Evaluate((*r)[1], row, i));
  }
  return words;
}

// The words the writer changes when it writes parameter `p` (value `i` of row `row`).
std::vector<uint32_t> WordsWritten(const Param& p, uint32_t row, uint32_t i) {
  ParamWords words{};
  ParamWriter writer(words);
  switch (p.type) {
    case ParamType::kU32: writer.SetAt(p, row, i, 0xA5A5A5A5u); break;
    case ParamType::kI32: writer.Set(p, int32_t{-1}); break;
    case ParamType::kU64: writer.Set(p, uint64_t{0xFFFFFFFFFFFFFFFFull}); break;
  }
  std::vector<uint32_t> written;
  for (uint32_t w = 0; w < kOpParamWords; ++w) {
    if (words[w] != 0) written.push_back(w);
  }
  return written;
}

template <size_t N>
void ExpectAccessorsReadWhatTheWriterWrites(const ParamTable<N>& table) {
  const std::string code = table.Accessors();
  for (const Param& p : table.params()) {
    for (uint32_t row = 0; row < p.rows; ++row) {
      for (uint32_t i = 0; i < p.count; ++i) {
        EXPECT_EQ(WordsRead(code, p, row, i), WordsWritten(p, row, i)) << p.name << "(" << row << ", " << i << ")";
      }
    }
  }
}

constexpr Param kSampleList[] = {
    {"last_position", ParamType::kI32},
    {"increment", ParamType::kU64},
    {"output_extent", ParamType::kU32, kOpMaxRank},
    {"columns", ParamType::kU32},
};
constexpr ParamTable kSample(kSampleList);

TEST(KernelParams, AccessorsReadTheWordsTheWriterWrites) {
  ExpectAccessorsReadWhatTheWriterWrites(kFixedParams);
  ExpectAccessorsReadWhatTheWriterWrites(kSample);
}

TEST(KernelParams, TheFixedWordsAreWhereBatchesMoveThem) {
  for (uint32_t role = 0; role <= kOpInputs; ++role) {
    EXPECT_EQ(WordsWritten(kBaseParam, 0, role), std::vector<uint32_t>{uint32_t(OpBaseWord(role))});
    EXPECT_EQ(WordsWritten(kBindingParam, 0, role), std::vector<uint32_t>{uint32_t(OpBindingWord(role))});
    EXPECT_EQ(WordsWritten(kStrideParam, role, 2), std::vector<uint32_t>{uint32_t(OpStrideWord(role, 2))});
  }
  EXPECT_EQ(kElementCountParam.word, kOpCountWord);
  EXPECT_EQ(kExtentParam.WordOf(0, kOpMaxRank - 1), kOpExtentWord + kOpMaxRank - 1);
}

TEST(KernelParams, OpParametersLieInTheOpsOwnWordsOnly) {
  std::set<uint32_t> fixed;
  for (const Param& p : kFixedParams.params()) {
    for (uint32_t row = 0; row < p.rows; ++row) {
      for (uint32_t i = 0; i < p.count; ++i) fixed.insert(p.WordOf(row, i));
    }
  }
  for (const Param& p : kSample.params()) {
    for (uint32_t i = 0; i < p.count; ++i) {
      for (uint32_t w : WordsWritten(p, 0, i)) {
        EXPECT_GE(w, kOpOwnFirstWord) << p.name;
        EXPECT_LT(w, kOpOwnEndWord) << p.name;
        EXPECT_EQ(fixed.count(w), 0u) << p.name << " in fixed word " << w;
      }
    }
  }
  // Op parameters follow one another; a 64-bit one takes two words.
  EXPECT_EQ(kSample["last_position"].word, kOpOwnFirstWord);
  EXPECT_EQ(kSample["increment"].word, kOpOwnFirstWord + 1);
  EXPECT_EQ(kSample["output_extent"].word, kOpOwnFirstWord + 3);
  EXPECT_EQ(kSample["columns"].word, kOpOwnFirstWord + 3 + kOpMaxRank);
}

// Why a table of `params` cannot be made (null when it can).
template <size_t N>
constexpr const char* WhyNot(const Param (&params)[N]) {
  std::array<Param, N> placed{};
  return PlaceParams(params, false, &placed);
}
constexpr Param kFixedName[] = {{"rank", ParamType::kU32}};
constexpr Param kTwice[] = {{"columns", ParamType::kU32}, {"columns", ParamType::kI32}};
constexpr Param kTooMany[] = {{"many", ParamType::kU32, kOpOwnEndWord - kOpOwnFirstWord + 1}};
constexpr Param kJustFits[] = {{"many", ParamType::kU32, kOpOwnEndWord - kOpOwnFirstWord}};

TEST(KernelParams, TablesThatCollideAreRefused) {
  static_assert(WhyNot(kFixedName) != nullptr);  // would read a fixed word's accessor's name
  static_assert(WhyNot(kTwice) != nullptr);
  static_assert(WhyNot(kTooMany) != nullptr);
  static_assert(WhyNot(kJustFits) == nullptr);
  static_assert(WhyNot(kSampleList) == nullptr);
  EXPECT_STREQ(WhyNot(kFixedName), "the name of a fixed word");
}

// ---- the support table ----------------------------------------------------------------------

TEST(WebGpuOpSupport, OneEntryPerOpWithTheTypesItsKernelsTake) {
  std::set<int> ops;
  for (size_t k = 0; k < kWebGpuOpSupportCount; ++k) {
    EXPECT_TRUE(ops.insert(kWebGpuOpSupport[k].op).second) << kWebGpuOpSupport[k].op;
    EXPECT_NE(kWebGpuOpSupport[k].element_types, 0u);
  }
  EXPECT_EQ(ops.size(), size_t(DT_OP_ID_END - 1));  // every op devtensor defines
  auto types_of = [](DtOpId op) {
    for (size_t k = 0; k < kWebGpuOpSupportCount; ++k) {
      if (kWebGpuOpSupport[k].op == op) return kWebGpuOpSupport[k].element_types;
    }
    return uint64_t{0};
  };
  EXPECT_EQ(types_of(DT_OP_DIV) & DT_ELEMENT_TYPE_BIT(DT_INT64), 0u);
  EXPECT_EQ(types_of(DT_OP_ADD) & DT_ELEMENT_TYPE_BIT(DT_DOUBLE), 0u);
  EXPECT_EQ(types_of(DT_OP_ADD) & DT_ELEMENT_TYPE_BIT(DT_BOOL), 0u);
  EXPECT_NE(types_of(DT_OP_ADD) & DT_ELEMENT_TYPE_BIT(DT_INT64), 0u);
  EXPECT_EQ(types_of(DT_OP_ARGMAX) & DT_ELEMENT_TYPE_BIT(DT_UINT64), 0u);
  EXPECT_EQ(types_of(DT_OP_UPDATE_POSITION_IDS),
            DT_ELEMENT_TYPE_BIT(DT_INT32) | DT_ELEMENT_TYPE_BIT(DT_INT64));
}

}  // namespace
}  // namespace devtensor::webgpu
