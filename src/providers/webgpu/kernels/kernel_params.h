// Named parameters of op kernels. Each kernel declares its own parameters in one table of
// {name, type} (ParamTable); the table places them in the op's own words of the parameter block
// (op_dispatch.h) and is the single source of both sides: the C++ writes a parameter through the
// handle the table gives for its name (ParamWriter), and the kernel's WGSL reads it through the
// accessor the table generates (`fn param_<name>() -> <type>`). The block's fixed words (element
// count, rank, row width, extents, roles' bases and strides, batch bindings) are one more table,
// kFixedParams, whose words are those op_dispatch.h fixes.
//
// A table is built at compile time: a name it lacks, a name used twice or one of the fixed names,
// or parameters that do not fit the op's words fail to compile.
#ifndef DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNEL_PARAMS_H_
#define DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNEL_PARAMS_H_

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "providers/webgpu/op_dispatch.h"

namespace devtensor::webgpu {

// How a parameter reads in WGSL: u32, i32 (its word's bits), or a 64-bit value as vec2<u32>
// (low word, then high word).
enum class ParamType { kU32, kI32, kU64 };

// Words a value of `type` takes.
constexpr uint32_t ParamTypeWords(ParamType type) { return type == ParamType::kU64 ? 2 : 1; }

// Where a parameter lives until its table places it.
inline constexpr uint32_t kUnplaced = UINT32_MAX;

// One parameter: a single value, an array of `count` values (read with an index), or `rows`
// arrays of `count` values (read with a row and an index).
struct Param {
  const char* name = "";
  ParamType type = ParamType::kU32;
  uint32_t count = 1;         // values per row; 1 and rows 1: a single value
  uint32_t rows = 1;
  uint32_t word = kUnplaced;  // the first value's word; the table places op parameters
  uint32_t step = 0;          // words from one value of a row to the next; 0: the type's words
  uint32_t row_step = 0;      // words from one row to the next; 0: the row's words

  // Words from value i of a row to value i + 1.
  constexpr uint32_t ValueStep() const { return step != 0 ? step : ParamTypeWords(type); }
  // Words from one row to the next.
  constexpr uint32_t RowStep() const { return row_step != 0 ? row_step : ValueStep() * count; }
  // The word of value `i` of row `row`.
  constexpr uint32_t WordOf(uint32_t row, uint32_t i) const { return word + row * RowStep() + i * ValueStep(); }
  // One past the last word the parameter uses.
  constexpr uint32_t EndWord() const { return WordOf(rows - 1, count - 1) + ParamTypeWords(type); }
};

namespace param_checks {
// Whether two parameters have the same name.
constexpr bool SameName(const char* a, const char* b) { return std::string_view(a) == std::string_view(b); }
// Called where a table is invalid: not constexpr, so that building the table does not compile.
inline void InvalidParamTable(const char*) {}
}  // namespace param_checks

// The words of the block every op shares, by name (see op_dispatch.h).
inline constexpr Param kFixedParamList[] = {
    {.name = "element_count", .word = kOpCountWord},
    {.name = "rank", .word = kOpRankWord},
    {.name = "row_width", .word = kOpRowWidthWord},
    {.name = "extent", .count = kOpMaxRank, .word = kOpExtentWord},
    {.name = "base", .count = 1 + kOpInputs, .word = OpBaseWord(0), .step = kOpRoleWords},
    {.name = "stride", .count = kOpRoleWords - 1, .rows = 1 + kOpInputs, .word = OpStrideWord(0, 0),
     .row_step = kOpRoleWords},
    {.name = "binding", .count = 1 + kOpInputs, .word = OpBindingWord(0)},
};

// Why `params` cannot be a table of its own kind (`fixed`: the fixed words, placed by hand; else
// op parameters, placed here), or null when it can. `placed` receives the placed parameters.
template <size_t N>
constexpr const char* PlaceParams(const Param (&params)[N], bool fixed, std::array<Param, N>* placed) {
  bool used[kOpParamWords] = {};
  uint32_t next = kOpOwnFirstWord;
  for (size_t i = 0; i < N; ++i) {
    Param p = params[i];
    if (p.count == 0 || p.rows == 0) return "a parameter of no values";
    for (size_t j = 0; j < i; ++j) {
      if (param_checks::SameName(p.name, params[j].name)) return "a name used twice";
    }
    if (!fixed) {
      for (const Param& f : kFixedParamList) {
        if (param_checks::SameName(p.name, f.name)) return "the name of a fixed word";
      }
      if (p.word != kUnplaced || p.step != 0 || p.row_step != 0) return "an op parameter placed by hand";
      p.word = next;
      next = p.EndWord();
      if (next > kOpOwnEndWord) return "more op parameters than the op's words hold";
    } else if (p.word == kUnplaced || p.EndWord() > kOpParamWords) {
      return "a fixed word outside the block";
    }
    for (uint32_t row = 0; row < p.rows; ++row) {
      for (uint32_t k = 0; k < p.count; ++k) {
        for (uint32_t w = 0; w < ParamTypeWords(p.type); ++w) {
          const uint32_t word = p.WordOf(row, k) + w;
          if (used[word]) return "two parameters in one word";
          used[word] = true;
        }
      }
    }
    (*placed)[i] = p;
  }
  return nullptr;
}

// A kernel's parameters, placed in its block, with the WGSL that reads them.
template <size_t N>
class ParamTable {
 public:
  // Op parameters, placed one after another in the op's own words.
  consteval explicit ParamTable(const Param (&params)[N]) : ParamTable(params, false) {}
  // `fixed`: parameters with their words given (kFixedParams).
  consteval ParamTable(const Param (&params)[N], bool fixed) {
    if (const char* why = PlaceParams(params, fixed, &params_)) param_checks::InvalidParamTable(why);
  }

  // The parameter named `name`; fails to compile when there is none.
  consteval Param operator[](std::string_view name) const {
    for (const Param& p : params_) {
      if (name == p.name) return p;
    }
    param_checks::InvalidParamTable("no parameter of this name");
    return {};
  }
  // The parameters, placed.
  const std::array<Param, N>& params() const { return params_; }
  // WGSL accessors of every parameter: `fn param_<name>() -> T`, `fn param_<name>(i: u32) -> T`
  // for an array, `fn param_<name>(row: u32, i: u32) -> T` for rows of arrays.
  std::string Accessors() const;

 private:
  std::array<Param, N> params_{};
};

// The WGSL accessor of one parameter (see ParamTable::Accessors).
std::string ParamAccessor(const Param& param);

template <size_t N>
std::string ParamTable<N>::Accessors() const {
  std::string code;
  for (const Param& p : params_) code += ParamAccessor(p);
  return code;
}

// The fixed words, and handles for each.
inline constexpr ParamTable kFixedParams(kFixedParamList, true);
inline constexpr Param kElementCountParam = kFixedParams["element_count"];
inline constexpr Param kRankParam = kFixedParams["rank"];
inline constexpr Param kRowWidthParam = kFixedParams["row_width"];
inline constexpr Param kExtentParam = kFixedParams["extent"];
inline constexpr Param kBaseParam = kFixedParams["base"];
inline constexpr Param kStrideParam = kFixedParams["stride"];
inline constexpr Param kBindingParam = kFixedParams["binding"];
static_assert(kBaseParam.WordOf(0, kOpInputs) == OpBaseWord(kOpInputs) &&
              kStrideParam.WordOf(kOpInputs, 3) == OpStrideWord(kOpInputs, 3) &&
              kBindingParam.WordOf(0, kOpInputs) == OpBindingWord(kOpInputs));

using ParamWords = std::array<uint32_t, kOpParamWords>;

// Writes parameters into a block by their handles.
class ParamWriter {
 public:
  // A writer into `words`.
  explicit ParamWriter(ParamWords& words) : words_(words) {}

  // A u32 parameter.
  void Set(const Param& p, uint32_t value) {
    assert(p.count == 1 && p.rows == 1);
    SetAt(p, 0, 0, value);
  }
  // An i32 parameter (its bits).
  void Set(const Param& p, int32_t value) {
    assert(p.type == ParamType::kI32 && p.count == 1 && p.rows == 1);
    words_[p.word] = static_cast<uint32_t>(value);
  }
  // A 64-bit parameter: the low word, then the high word.
  void Set(const Param& p, uint64_t value) {
    assert(p.type == ParamType::kU64 && p.count == 1 && p.rows == 1);
    words_[p.word] = static_cast<uint32_t>(value);
    words_[p.word + 1] = static_cast<uint32_t>(value >> 32);
  }
  // Value `i` of row `row` of a u32 parameter.
  void SetAt(const Param& p, uint32_t row, uint32_t i, uint32_t value) {
    assert(p.type == ParamType::kU32 && row < p.rows && i < p.count);
    words_[p.WordOf(row, i)] = value;
  }
  // Value `i` of a u32 array.
  void SetAt(const Param& p, uint32_t i, uint32_t value) { SetAt(p, 0, i, value); }
  // Values of any other C++ type are converted by the caller, to the parameter's own type.
  template <typename T>
  void Set(const Param&, T) = delete;

 private:
  ParamWords& words_;
};

}  // namespace devtensor::webgpu

#endif  // DEVTENSOR_PROVIDERS_WEBGPU_KERNELS_KERNEL_PARAMS_H_
