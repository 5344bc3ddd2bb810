/**
 * @file devtensor.hpp
 * @brief Header-only C++ RAII wrapper over the devtensor C API (devtensor.h).
 *
 * Every function of devtensor.h has a counterpart here, so that a decode loop needs no C call:
 *
 * @code
 *   devtensor::Env env;
 *   devtensor::Device gpu = env.device(DT_DEVICE_WEBGPU);
 *   auto cache = devtensor::Tensor::create(env, gpu, DT_FLOAT16, {1, 8, 4096, 128});
 *   auto position = devtensor::Tensor::from_host<int32_t>(env, gpu, {}, {0});
 *   auto token_kv = devtensor::Tensor::from_host(env, gpu, {1, 8, 1, 128}, host_fp16_values);
 *   env.kv_cache_append(cache, token_kv, position);     // cache[:, :, 0:1, :] = token_kv
 *   env.update_position_ids(position);                 // position += 1, on the device
 *   std::vector<devtensor::Float16> back = cache.to_host<devtensor::Float16>(env);
 * @endcode
 *
 * Every failing call throws devtensor::Error, which carries the DtErrorCode and the message of the
 * C API's status (or of the wrapper's own checks, such as a host buffer of the wrong size).
 * Objects may be released in any order, as in the C API.
 */
#ifndef DEVTENSOR_DEVTENSOR_HPP_
#define DEVTENSOR_DEVTENSOR_HPP_

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "devtensor/devtensor.h"

/// The C++ wrapper of devtensor: RAII owners of the C API's objects and typed helpers.
namespace devtensor {

// ---- Errors -------------------------------------------------------------------------------------

/**
 * @brief The one exception type of the wrapper: a failed C call, or a bad argument the wrapper
 * found itself.
 *
 * what() reads "DT_OUT_OF_RANGE: <message>"; code() and message() give the two parts.
 */
class Error : public std::runtime_error {
 public:
  /// An error with `code` and the C API's (or the wrapper's) `message`.
  Error(DtErrorCode code, const std::string& message)
      : std::runtime_error(std::string(DtGetErrorCodeName(code)) + ": " + message),
        code_(code),
        message_(message) {}
  /// The error's code (never DT_OK).
  DtErrorCode code() const noexcept { return code_; }
  /// The message alone, without the code's name.
  const std::string& message() const noexcept { return message_; }

 private:
  DtErrorCode code_;
  std::string message_;
};

/// Throws Error for a non-NULL status, releasing the status first; does nothing for NULL.
inline void Check(DtStatus* status) {
  if (status == nullptr) return;
  const DtErrorCode code = DtGetErrorCode(status);
  std::string message = DtGetErrorMessage(status);
  DtReleaseStatus(status);
  throw Error(code, message);
}

/// The name of an error code, e.g. "DT_OUT_OF_RANGE" ("DT_UNKNOWN" for other numbers).
inline const char* error_code_name(DtErrorCode code) { return DtGetErrorCodeName(code); }

// ---- Versions -----------------------------------------------------------------------------------

/// A devtensor version: major.minor.patch (see the version policy in the README).
struct Version {
  uint32_t major = 0;  ///< Changes only on incompatible changes of the C API or the provider ABI.
  uint32_t minor = 0;  ///< Changes when functions, fields, enum values or ops are added.
  uint32_t patch = 0;  ///< Changes on fixes that add nothing.

  /// "0.1.0".
  std::string text() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }
  /// Equal when all three numbers are.
  bool operator==(const Version& other) const = default;
};

/// The version of the devtensor library loaded at run time (DtGetVersion).
inline Version library_version() {
  Version version;
  DtGetVersion(&version.major, &version.minor, &version.patch);
  return version;
}

/// The version of the devtensor.h this code was compiled with.
constexpr Version header_version() {
  return Version{DT_VERSION_MAJOR, DT_VERSION_MINOR, DT_VERSION_PATCH};
}

/// True when the loaded library serves this code's header: same major version, minor at least the
/// header's (DtIsLibraryCompatible). Check once at start-up.
inline bool is_library_compatible() { return DtIsLibraryCompatible() != 0; }

// ---- Element and device types -------------------------------------------------------------------

/// Bytes per element of `type`; 0 for a number that is not a DtElementType.
inline size_t element_size(DtElementType type) { return DtGetElementSize(type); }
/// The ONNX name of `type` ("float", "int64", "bfloat16", ...); "unknown" for other numbers.
inline const char* element_type_name(DtElementType type) { return DtGetElementTypeName(type); }
/// The name of a device type in words ("CPU", "WebGPU", ...); "unknown" for other numbers.
inline const char* device_type_name(DtDeviceType type) { return DtGetDeviceTypeName(type); }

// ---- float16 and bfloat16 on the host -----------------------------------------------------------

/// An IEEE 754 binary16 (half precision) value, as its bit pattern: the host type of DT_FLOAT16.
struct Float16 {
  uint16_t bits;  ///< sign (1 bit), exponent (5 bits), fraction (10 bits)
};
/// A bfloat16 value, as its bit pattern: the host type of DT_BFLOAT16.
struct BFloat16 {
  uint16_t bits;  ///< sign (1 bit), exponent (8 bits), fraction (7 bits): a float's upper half
};

/// Rounding into the 16-bit formats, shared with the library's own Cast and Fill kernels.
namespace detail {

/**
 * @brief Rounds (-1)^negative * magnitude * 2^exponent, once, to nearest with ties to even, into
 * the binary format with kFraction fraction bits and kExponent exponent bits; returns its bits.
 * Values beyond the largest finite number become infinity.
 */
template <int kFraction, int kExponent>
uint16_t EncodeBinary16(bool negative, uint64_t magnitude, int exponent) {
  const uint16_t sign = negative ? uint16_t(1u << (kFraction + kExponent)) : uint16_t(0);
  if (magnitude == 0) return sign;
  constexpr int kBias = (1 << (kExponent - 1)) - 1;
  constexpr int kMinExponent = 1 - kBias;  // of the smallest normal number
  constexpr uint32_t kInfinity = ((1u << kExponent) - 1u) << kFraction;
  const int msb = 63 - std::countl_zero(magnitude);
  const int value_exponent = msb + exponent;  // the value is in [2^e, 2^(e+1))
  if (value_exponent > kBias) return uint16_t(sign | kInfinity);
  // The result is an integer multiple of 2^quantum: kFraction bits below the leading one for
  // normal numbers, a fixed quantum for subnormal ones.
  const int quantum =
      value_exponent >= kMinExponent ? value_exponent - kFraction : kMinExponent - kFraction;
  const int shift = quantum - exponent;  // bits of `magnitude` below the quantum
  uint64_t q;
  if (shift <= 0) {
    q = magnitude << -shift;  // exact; fits, since q < 2^(kFraction + 1)
  } else if (shift > 64) {
    q = 0;  // below half a quantum
  } else {
    const uint64_t kept = shift == 64 ? 0 : magnitude >> shift;
    const uint64_t rest = shift == 64 ? magnitude : magnitude & ((uint64_t(1) << shift) - 1);
    const uint64_t half = uint64_t(1) << (shift - 1);
    q = kept + ((rest > half || (rest == half && (kept & 1))) ? 1 : 0);
  }
  uint32_t bits;
  if (value_exponent >= kMinExponent) {
    // q holds the implicit bit at kFraction; adding it to (biased exponent - 1) << kFraction sets
    // the exponent, and a carry out of the fraction moves to the next binade by itself.
    bits = (uint32_t(value_exponent + kBias - 1) << kFraction) + uint32_t(q);
  } else {
    bits = uint32_t(q);  // subnormal; q == 2^kFraction is the smallest normal number
  }
  if (bits >= kInfinity) bits = kInfinity;
  return uint16_t(sign | bits);
}

/// A double (any: NaN stays a quiet NaN with its sign, infinities stay) rounded once to the format.
template <int kFraction, int kExponent>
uint16_t EncodeDouble(double value) {
  constexpr uint16_t kSignBit = uint16_t(1u << (kFraction + kExponent));
  constexpr uint32_t kInfinity = ((1u << kExponent) - 1u) << kFraction;
  const uint16_t sign = std::signbit(value) ? kSignBit : uint16_t(0);
  if (std::isnan(value)) return uint16_t(sign | kInfinity | (1u << (kFraction - 1)));
  if (std::isinf(value)) return uint16_t(sign | kInfinity);
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const int biased = int((bits >> 52) & 0x7FF);
  uint64_t mantissa = bits & ((uint64_t(1) << 52) - 1);
  int exponent;
  if (biased == 0) {
    exponent = -1074;  // subnormal double
  } else {
    mantissa |= uint64_t(1) << 52;
    exponent = biased - 1075;
  }
  return EncodeBinary16<kFraction, kExponent>(sign != 0, mantissa, exponent);
}

}  // namespace detail

/// `value` rounded to nearest even into float16; NaN stays NaN, beyond ±65504 gives ±infinity.
inline Float16 ToFloat16(double value) { return {detail::EncodeDouble<10, 5>(value)}; }
/// `value` rounded to nearest even into float16 (once: float to double is exact).
inline Float16 ToFloat16(float value) { return ToFloat16(static_cast<double>(value)); }
/// `value` rounded to nearest even into bfloat16; NaN stays NaN, infinities stay.
inline BFloat16 ToBFloat16(double value) { return {detail::EncodeDouble<7, 8>(value)}; }
/// `value` rounded to nearest even into bfloat16 (once: float to double is exact).
inline BFloat16 ToBFloat16(float value) { return ToBFloat16(static_cast<double>(value)); }

/// The exact float value of a float16 (NaN payloads and signs kept).
inline float ToFloat(Float16 value) {
  const uint32_t sign = uint32_t(value.bits & 0x8000) << 16;
  const uint32_t exponent = (value.bits >> 10) & 0x1F;
  const uint32_t fraction = value.bits & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (fraction << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (fraction << 13);
  } else {
    // Zero or subnormal: fraction * 2^-24, exact in float.
    const float magnitude = std::ldexp(float(fraction), -24);
    return sign ? -magnitude : magnitude;
  }
  float result;
  std::memcpy(&result, &bits, sizeof result);
  return result;
}

/// The exact float value of a bfloat16.
inline float ToFloat(BFloat16 value) {
  const uint32_t bits = uint32_t(value.bits) << 16;
  float result;
  std::memcpy(&result, &bits, sizeof result);
  return result;
}

/**
 * @brief The element type a host type stores: float, double, Float16, BFloat16, bool and the
 * integers of 1, 2, 4 and 8 bytes map to their DtElementType; anything else to 0.
 */
template <typename T>
constexpr DtElementType element_type_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>) return DT_FLOAT;
  else if constexpr (std::is_same_v<U, double>) return DT_DOUBLE;
  else if constexpr (std::is_same_v<U, Float16>) return DT_FLOAT16;
  else if constexpr (std::is_same_v<U, BFloat16>) return DT_BFLOAT16;
  else if constexpr (std::is_same_v<U, bool>) return DT_BOOL;
  else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    return sizeof(U) == 1 ? DT_INT8 : sizeof(U) == 2 ? DT_INT16 : sizeof(U) == 4 ? DT_INT32
           : sizeof(U) == 8 ? DT_INT64 : DtElementType(0);
  } else if constexpr (std::is_integral_v<U>) {
    return sizeof(U) == 1 ? DT_UINT8 : sizeof(U) == 2 ? DT_UINT16 : sizeof(U) == 4 ? DT_UINT32
           : sizeof(U) == 8 ? DT_UINT64 : DtElementType(0);
  } else {
    return DtElementType(0);
  }
}

/// Dimensions of a tensor (or strides, in elements).
using Shape = std::vector<int64_t>;

/// Helpers of the wrapper's own argument checks.
namespace detail {

/// "[2, 3, 4]".
inline std::string ShapeText(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// The number of elements of `shape`; throws for a negative dimension or an overflow.
inline size_t ElementCount(const Shape& shape) {
  size_t count = 1;
  for (int64_t dimension : shape) {
    if (dimension < 0 || (dimension > 0 && count > SIZE_MAX / size_t(dimension))) {
      throw Error(DT_INVALID_ARGUMENT, "shape " + ShapeText(shape) +
                                           " has a negative dimension or too many elements");
    }
    count *= size_t(dimension);
  }
  return count;
}

/// Throws unless `count` host elements of `host_bytes` bytes each fit a tensor of `type` and
/// `shape` exactly; `what` names the calling helper.
inline void CheckHostElements(const char* what, DtElementType type, const Shape& shape,
                              size_t count, size_t host_bytes) {
  const size_t element_bytes = DtGetElementSize(type);
  if (element_bytes != host_bytes) {
    throw Error(DT_INVALID_ARGUMENT,
                std::string(what) + ": the tensor's elements are " + DtGetElementTypeName(type) +
                    " (" + std::to_string(element_bytes) + " bytes) but the host elements have " +
                    std::to_string(host_bytes) + " bytes");
  }
  const size_t expected = ElementCount(shape);
  if (count != expected) {
    throw Error(DT_INVALID_ARGUMENT, std::string(what) + ": " + std::to_string(count) +
                                         " host elements for a tensor of shape " +
                                         ShapeText(shape) + " (" + std::to_string(expected) +
                                         " elements)");
  }
}

/// Throws unless `bytes` host bytes are exactly a tensor of `type` and `shape`; `what` names the
/// calling helper.
inline void CheckHostBytes(const char* what, DtElementType type, const Shape& shape, size_t bytes) {
  const size_t expected = ElementCount(shape) * DtGetElementSize(type);
  if (bytes != expected) {
    throw Error(DT_INVALID_ARGUMENT, std::string(what) + ": " + std::to_string(bytes) +
                                         " host bytes for a " + DtGetElementTypeName(type) +
                                         " tensor of shape " + ShapeText(shape) + " (" +
                                         std::to_string(expected) + " bytes)");
  }
}

/// The range of an integer element type, as far as int64 reaches (uint64: up to INT64_MAX).
inline std::pair<int64_t, int64_t> IntegerRange(DtElementType type) {
  switch (type) {
    case DT_INT8: return {INT8_MIN, INT8_MAX};
    case DT_UINT8: return {0, UINT8_MAX};
    case DT_INT16: return {INT16_MIN, INT16_MAX};
    case DT_UINT16: return {0, UINT16_MAX};
    case DT_INT32: return {INT32_MIN, INT32_MAX};
    case DT_UINT32: return {0, UINT32_MAX};
    case DT_UINT64: return {0, INT64_MAX};
    default: return {INT64_MIN, INT64_MAX};
  }
}

/// Whether `type` is an integer type (bool is not).
inline bool IsInteger(DtElementType type) {
  return type == DT_INT8 || type == DT_UINT8 || type == DT_INT16 || type == DT_UINT16 ||
         type == DT_INT32 || type == DT_UINT32 || type == DT_INT64 || type == DT_UINT64;
}

}  // namespace detail

// ---- Devices, streams, graphs -------------------------------------------------------------------

/// A device of an env: a non-owning handle, valid while the env or a tensor or stream on it lives.
class Device {
 public:
  /// A null device (no device).
  Device() = default;
  /// Wraps a device the C API returned.
  explicit Device(const DtDevice* device) : device_(device) {}
  /// The C API's device.
  const DtDevice* get() const { return device_; }
  /// The device type (DLPack numbering).
  DtDeviceType type() const { return DtGetDeviceType(device_); }
  /// The device type in words: "CPU", "WebGPU", ...
  const char* type_name() const { return DtGetDeviceTypeName(type()); }
  /// The device's id among the devices of its type.
  int32_t id() const { return DtGetDeviceId(device_); }
  /// Everything DtGetDeviceInfo says about the device.
  DtDeviceInfo info() const {
    DtDeviceInfo info = DT_DEVICE_INFO_INIT;
    Check(DtGetDeviceInfo(device_, &info));
    return info;
  }
  /// The device's name, e.g. the WebGPU adapter's.
  std::string name() const { return info().name; }
  /// True when the host's CPU emulates the device (a software adapter such as lavapipe): expect
  /// it slower than host memory.
  bool runs_on_cpu() const { return info().runs_on_cpu != 0; }
  /// The device's native object `name`, borrowed: on WebGPU "WGPUInstance", "WGPUAdapter",
  /// "WGPUDevice" and "WGPUQueue". Throws DT_NOT_FOUND for a name the provider does not know.
  void* native_handle(const std::string& name) const {
    void* handle = nullptr;
    Check(DtGetDeviceNativeHandle(device_, name.c_str(), &handle));
    return handle;
  }
  /// Reads and clears the error flags the device's kernels raised (DT_DEVICE_ERROR_KV_POSITION,
  /// DT_DEVICE_ERROR_SCATTER_INDEX); waits for the device's queued work first. 0 on the CPU.
  uint32_t error_flags() const {
    uint32_t flags = 0;
    Check(DtGetDeviceErrorFlags(device_, &flags));
    return flags;
  }
  /// The same device.
  bool operator==(const Device& other) const { return device_ == other.device_; }

 private:
  const DtDevice* device_ = nullptr;
};

/// Owns a DtStream: an ordered queue of work on one device.
class Stream {
 public:
  /// No stream.
  Stream() = default;
  /// Takes ownership of `stream`.
  explicit Stream(DtStream* stream) : stream_(stream) {}
  /// Takes the other's stream.
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  /// Releases this stream (after its work) and takes the other's.
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      DtReleaseStream(stream_);
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }
  /// Waits for the stream's work, then releases it.
  ~Stream() { DtReleaseStream(stream_); }

  /// The C API's stream.
  DtStream* get() const { return stream_; }
  /// True when a stream is held.
  explicit operator bool() const { return stream_ != nullptr; }
  /// Waits until the work issued on the stream has finished; throws the first error it hit.
  void synchronize() { Check(DtSynchronizeStream(stream_)); }
  /// The stream's device.
  Device device() const { return Device(DtGetStreamDevice(stream_)); }

 private:
  DtStream* stream_ = nullptr;
};

/// Owns a DtGraph: work recorded on a stream, replayed without recording it anew.
class Graph {
 public:
  /// No graph.
  Graph() = default;
  /// Takes ownership of `graph`.
  explicit Graph(DtGraph* graph) : graph_(graph) {}
  /// Takes the other's graph.
  Graph(Graph&& other) noexcept : graph_(std::exchange(other.graph_, nullptr)) {}
  /// Releases this graph and takes the other's.
  Graph& operator=(Graph&& other) noexcept {
    if (this != &other) {
      DtReleaseGraph(graph_);
      graph_ = std::exchange(other.graph_, nullptr);
    }
    return *this;
  }
  /// Releases the graph.
  ~Graph() { DtReleaseGraph(graph_); }
  /// The C API's graph.
  DtGraph* get() const { return graph_; }
  /// True when a graph is held.
  explicit operator bool() const { return graph_ != nullptr; }
  /// Runs the recorded work again on `stream`; synchronise the stream to wait for it.
  void replay(const Stream& stream) { Check(DtReplayGraph(graph_, stream.get())); }

 private:
  DtGraph* graph_ = nullptr;
};

/// Starts recording the copies, clears and ops issued on `stream`; nothing runs while recording.
/// Throws DT_NOT_SUPPORTED on devices that cannot record (the CPU).
inline void begin_capture(const Stream& stream) { Check(DtBeginCapture(stream.get())); }
/// Stops recording on `stream` and returns what was recorded, ready to replay.
inline Graph end_capture(const Stream& stream) {
  DtGraph* graph = nullptr;
  Check(DtEndCapture(stream.get(), &graph));
  return Graph(graph);
}

// ---- Op attributes ------------------------------------------------------------------------------

/// An int attribute for Env::run.
inline DtAttribute IntAttribute(const char* name, int64_t value) {
  return DtAttribute{name, DT_ATTR_INT, value, 0.0f, nullptr, nullptr, 0};
}
/// A float attribute for Env::run.
inline DtAttribute FloatAttribute(const char* name, float value) {
  return DtAttribute{name, DT_ATTR_FLOAT, 0, value, nullptr, nullptr, 0};
}
/// An ints attribute for Env::run; `values` must outlive the call.
inline DtAttribute IntsAttribute(const char* name, std::span<const int64_t> values) {
  return DtAttribute{name, DT_ATTR_INTS, 0, 0.0f, values.data(), nullptr, values.size()};
}
/// A floats attribute for Env::run; `values` must outlive the call.
inline DtAttribute FloatsAttribute(const char* name, std::span<const float> values) {
  return DtAttribute{name, DT_ATTR_FLOATS, 0, 0.0f, nullptr, values.data(), values.size()};
}

class Env;

// ---- Tensors ------------------------------------------------------------------------------------

/// Owns a DtValue: a tensor or a view of another's storage.
class Tensor {
 public:
  /// No tensor.
  Tensor() = default;
  /// Takes ownership of `value`.
  explicit Tensor(DtValue* value) : value_(value) {}
  /// Takes the other's tensor.
  Tensor(Tensor&& other) noexcept : value_(std::exchange(other.value_, nullptr)) {}
  /// Releases this tensor and takes the other's.
  Tensor& operator=(Tensor&& other) noexcept {
    if (this != &other) {
      DtReleaseValue(value_);
      value_ = std::exchange(other.value_, nullptr);
    }
    return *this;
  }
  /// Releases the tensor; its storage goes with its last view.
  ~Tensor() { DtReleaseValue(value_); }

  /// A new contiguous tensor on `device`; its contents are unspecified until written.
  static Tensor create(const Env& env, Device device, DtElementType type, const Shape& shape);
  /// Wraps caller memory (see DtCreateTensorWithData); the caller keeps it alive.
  static Tensor wrap(const Env& env, Device device, void* data, size_t data_bytes,
                     size_t byte_offset, DtElementType type, const Shape& shape);

  /**
   * @brief A new contiguous tensor on `device` holding `data`, of the element type of the host
   * type (element_type_of: float, int32_t, Float16, ...). Returns when the data is in place.
   *
   * Throws Error (DT_INVALID_ARGUMENT) when `data` does not hold exactly the shape's element count.
   */
  template <std::ranges::contiguous_range Range>
  static Tensor from_host(const Env& env, Device device, const Shape& shape, const Range& data) {
    using T = std::ranges::range_value_t<Range>;
    static_assert(element_type_of<T>() != DtElementType(0),
                  "no element type for this host type: pass the DtElementType");
    return from_host(env, device, element_type_of<T>(), shape, data);
  }
  /// from_host with the elements in braces: `Tensor::from_host<int32_t>(env, gpu, {}, {0})`.
  template <typename T>
  static Tensor from_host(const Env& env, Device device, const Shape& shape,
                          std::initializer_list<T> data) {
    return from_host(env, device, shape, std::span<const T>(data.begin(), data.size()));
  }
  /**
   * @brief A new contiguous tensor of `type` on `device` holding `data`, whose host elements
   * must have the type's size (uint16_t for DT_FLOAT16 works, as do Float16 values).
   *
   * Throws Error (DT_INVALID_ARGUMENT) on a wrong element size or count.
   */
  template <std::ranges::contiguous_range Range>
  static Tensor from_host(const Env& env, Device device, DtElementType type, const Shape& shape,
                          const Range& data) {
    using T = std::ranges::range_value_t<Range>;
    detail::CheckHostElements("from_host", type, shape, std::ranges::size(data), sizeof(T));
    return from_host_bytes(env, device, type, shape, std::ranges::data(data),
                           std::ranges::size(data) * sizeof(T));
  }
  /// from_host of `type` with the elements in braces.
  template <typename T>
  static Tensor from_host(const Env& env, Device device, DtElementType type, const Shape& shape,
                          std::initializer_list<T> data) {
    return from_host(env, device, type, shape, std::span<const T>(data.begin(), data.size()));
  }
  /// A new contiguous tensor of `type` and `shape` on `device` holding `bytes` bytes of row-major
  /// elements from `data`. Throws unless `bytes` is exactly the tensor's size.
  static Tensor from_host_bytes(const Env& env, Device device, DtElementType type,
                                const Shape& shape, const void* data, size_t bytes);

  /**
   * @brief The tensor's elements in row-major order (of a strided view too), downloaded into a
   * new vector. T must have the element type's size (Float16 or uint16_t for DT_FLOAT16, ...).
   */
  template <typename T>
  std::vector<T> to_host(const Env& env) const {
    static_assert(!std::is_same_v<T, bool>, "std::vector<bool> has no contiguous storage: use uint8_t");
    std::vector<T> out(element_count());
    to_host(env, out);
    return out;
  }
  /**
   * @brief Downloads the elements in row-major order into `out` (a vector, array or span), which
   * must hold exactly element_count() elements of the element type's size; on an error nothing
   * is written.
   */
  template <std::ranges::contiguous_range Range>
    requires(!std::is_const_v<std::remove_reference_t<std::ranges::range_reference_t<Range>>>)
  void to_host(const Env& env, Range&& out) const {
    using T = std::ranges::range_value_t<Range>;
    detail::CheckHostElements("to_host", type(), shape(), std::ranges::size(out), sizeof(T));
    to_host_bytes(env, std::ranges::data(out), std::ranges::size(out) * sizeof(T));
  }
  /// Downloads the elements in row-major order into `bytes` bytes at `data`; throws unless
  /// `bytes` is exactly the elements' size.
  void to_host_bytes(const Env& env, void* data, size_t bytes) const;

  /// The C API's tensor.
  DtValue* get() const { return value_; }
  /// True when a tensor is held.
  explicit operator bool() const { return value_ != nullptr; }

  /// A contiguous view at `byte_offset` from this tensor's first byte, of any type (a
  /// reinterpretation) and shape inside this tensor's extent.
  Tensor view(size_t byte_offset, DtElementType type, const Shape& shape) const {
    DtValue* out = nullptr;
    Check(DtCreateTensorView(value_, byte_offset, type, shape.data(), shape.size(), &out));
    return Tensor(out);
  }
  /// The view this[..., start:start+length, ...] along `axis`; strided in general.
  Tensor slice(size_t axis, int64_t start, int64_t length) const {
    DtValue* out = nullptr;
    Check(DtSliceTensor(value_, axis, start, length, &out));
    return Tensor(out);
  }

  /// The dimensions.
  Shape shape() const {
    int64_t dims[DT_MAX_RANK];
    size_t rank = 0;
    Check(DtGetTensorShape(value_, nullptr, dims, DT_MAX_RANK, &rank));
    return Shape(dims, dims + rank);
  }
  /// The number of dimensions.
  size_t rank() const {
    size_t rank = 0;
    Check(DtGetTensorShape(value_, nullptr, nullptr, 0, &rank));
    return rank;
  }
  /// The strides, in elements.
  Shape strides() const {
    int64_t strides[DT_MAX_RANK];
    Check(DtGetTensorStrides(value_, strides, DT_MAX_RANK));
    return Shape(strides, strides + rank());
  }
  /// The element type.
  DtElementType type() const {
    DtElementType type;
    Check(DtGetTensorShape(value_, &type, nullptr, 0, nullptr));
    return type;
  }
  /// Bytes per element.
  size_t element_size() const { return DtGetElementSize(type()); }
  /// The number of elements.
  size_t element_count() const {
    size_t count = 0;
    Check(DtGetTensorSize(value_, &count, nullptr));
    return count;
  }
  /// The bytes the elements span in the storage, first to last element inclusive.
  size_t extent_bytes() const {
    size_t extent = 0;
    Check(DtGetTensorSize(value_, nullptr, &extent));
    return extent;
  }
  /// True when the elements are dense and row-major.
  bool contiguous() const { return DtIsTensorContiguous(value_) != 0; }
  /// The device the tensor lives on.
  Device device() const { return Device(DtGetTensorDevice(value_)); }

  /// Address of element [0, ..., 0] on addressable devices (CPU); throws DT_NOT_SUPPORTED on
  /// devices with opaque buffers (WebGPU: use buffer(), or to_host).
  template <typename T = void>
  T* data() const {
    void* data = nullptr;
    Check(DtGetTensorData(value_, &data));
    return static_cast<T*>(data);
  }
  /// Where a tensor's elements are: its storage's handle, byte offset and size.
  struct Buffer {
    void* handle;         ///< a pointer on CPU, a WGPUBuffer on WebGPU, exactly as allocated
    size_t byte_offset;   ///< of element [0, ..., 0] inside the storage
    size_t buffer_bytes;  ///< the storage's size
  };
  /// The storage's handle, byte offset and size (DtGetTensorBuffer).
  Buffer buffer() const {
    Buffer b{};
    Check(DtGetTensorBuffer(value_, &b.handle, &b.byte_offset, &b.buffer_bytes));
    return b;
  }

 private:
  DtValue* value_ = nullptr;
};

/// One pair of a batched copy: (source, destination).
using CopyPair = std::pair<const Tensor*, const Tensor*>;

// ---- The environment ----------------------------------------------------------------------------

/// Owns a DtEnv: the providers, their devices, and the calls that move data and run ops.
class Env {
 public:
  /// Creates an env with the CPU provider and every provider library found beside devtensor.
  Env() { Check(DtCreateEnv(&env_)); }
  /// Takes ownership of `env`.
  explicit Env(DtEnv* env) : env_(env) {}
  /// Takes the other's env.
  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
  /// Releases this env and takes the other's.
  Env& operator=(Env&& other) noexcept {
    if (this != &other) {
      DtReleaseEnv(env_);
      env_ = std::exchange(other.env_, nullptr);
    }
    return *this;
  }
  /// Releases the env; tensors, streams and graphs made through it stay valid.
  ~Env() { DtReleaseEnv(env_); }

  /// The C API's env.
  DtEnv* get() const { return env_; }

  // -- Providers and devices

  /// Device `id` of `type`; throws DT_NOT_FOUND naming what exists (and why WebGPU is missing).
  Device device(DtDeviceType type, int32_t id = 0) const {
    const DtDevice* device = nullptr;
    Check(DtGetDevice(env_, type, id, &device));
    return Device(device);
  }
  /// The number of devices of `type` (0 when no provider serves it).
  int32_t device_count(DtDeviceType type) const {
    int32_t count = 0;
    Check(DtGetDeviceCount(env_, type, &count));
    return count;
  }
  /// Loads the provider library at `library_path` and registers it as `name`.
  void register_provider(const std::string& name, const std::string& library_path) {
    Check(DtRegisterProviderLibrary(env_, name.c_str(), library_path.c_str()));
  }
  /// Removes the provider registered as `name` and unloads its library.
  void unregister_provider(const std::string& name) {
    Check(DtUnregisterProviderLibrary(env_, name.c_str()));
  }
  /// The number of registered providers (the built-in CPU provider included).
  size_t provider_count() const {
    size_t count = 0;
    Check(DtGetProviderCount(env_, &count));
    return count;
  }
  /// What DtGetProviderInfo says about provider `index` (0 <= index < provider_count()).
  DtProviderInfo provider_info(size_t index) const {
    DtProviderInfo info = DT_PROVIDER_INFO_INIT;
    Check(DtGetProviderInfo(env_, index, &info));
    return info;
  }
  /// Every registered provider's info, in registration order.
  std::vector<DtProviderInfo> providers() const {
    std::vector<DtProviderInfo> all;
    for (size_t i = 0, count = provider_count(); i < count; ++i) all.push_back(provider_info(i));
    return all;
  }
  /// Why provider libraries that ship with devtensor did not load: one line per library, with its
  /// path, the reason and the fix; "" when every one loaded.
  std::string provider_load_errors() const {
    const char* text = nullptr;
    Check(DtGetProviderLoadErrors(env_, &text));
    return text;
  }
  /// Creates a stream on `device`.
  Stream create_stream(Device device) const {
    DtStream* stream = nullptr;
    Check(DtCreateStream(env_, device.get(), &stream));
    return Stream(stream);
  }

  // -- Copies

  /// Copies `src` into `dst` (one pair, any devices, strided or not). Without a stream the call
  /// returns when the data is in place.
  void copy(const Tensor& src, const Tensor& dst, const Stream* stream = nullptr) const {
    const DtValue* s = src.get();
    DtValue* d = dst.get();
    Check(DtCopyTensors(env_, &s, &d, 1, StreamOf(stream)));
  }
  /// Copies pairs[i].first into pairs[i].second, as one all-or-nothing batch.
  void copy(std::span<const CopyPair> pairs, const Stream* stream = nullptr) const {
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    for (const auto& [from, to] : pairs) {
      src.push_back(from->get());
      dst.push_back(to->get());
    }
    Check(DtCopyTensors(env_, src.data(), dst.data(), src.size(), StreamOf(stream)));
  }
  /// copy of a batch in braces: `env.copy({{&a, &b}, {&c, &d}})`.
  void copy(std::initializer_list<CopyPair> pairs, const Stream* stream = nullptr) const {
    copy(std::span<const CopyPair>(pairs.begin(), pairs.size()), stream);
  }
  /// Sets every byte of the tensor's elements to zero (only the view's elements).
  void zero(const Tensor& tensor, const Stream* stream = nullptr) const {
    Check(DtZeroTensor(env_, tensor.get(), StreamOf(stream)));
  }

  // -- Ops

  /// Whether `device` has a kernel for `op_type` with principal element type `type` (see
  /// DtGetOpSupport); throws for an op devtensor does not define.
  bool supports(Device device, const char* op_type, DtElementType type) const {
    int32_t supported = 0;
    Check(DtGetOpSupport(env_, device.get(), op_type, type, &supported));
    return supported != 0;
  }
  /// Runs the op `op_type` (see DtRunOp) on the device of its tensors.
  void run(const char* op_type, std::span<const Tensor* const> inputs,
           std::span<const Tensor* const> outputs, std::span<const DtAttribute> attributes = {},
           const Stream* stream = nullptr) const {
    std::vector<const DtValue*> in;
    std::vector<DtValue*> out;
    for (const Tensor* t : inputs) in.push_back(t->get());
    for (const Tensor* t : outputs) out.push_back(t->get());
    Check(DtRunOp(env_, op_type, in.data(), in.size(), out.data(), out.size(), attributes.data(),
                  attributes.size(), StreamOf(stream)));
  }
  /// run with the tensors and attributes in braces: `env.run("Add", {&a, &b}, {&sum})`.
  void run(const char* op_type, std::initializer_list<const Tensor*> inputs,
           std::initializer_list<const Tensor*> outputs,
           std::initializer_list<DtAttribute> attributes = {}, const Stream* stream = nullptr) const {
    run(op_type, std::span<const Tensor* const>(inputs.begin(), inputs.size()),
        std::span<const Tensor* const>(outputs.begin(), outputs.size()),
        std::span<const DtAttribute>(attributes.begin(), attributes.size()), stream);
  }

  /**
   * @brief Sets every element of `y` to `value` (the Fill op), on y's device.
   *
   * A floating-point value is converted to float, then to y's type as Cast converts (integer
   * types truncate and saturate). An integer value must fit y's type when that is an integer
   * type, and is written exactly: on int32 and int64 tensors any value, on the others values
   * that a float holds exactly (all of them for 8- and 16-bit types). On floating-point and bool
   * tensors an integer value goes through float.
   */
  template <typename T>
    requires std::is_arithmetic_v<T>
  void fill(const Tensor& y, T value, const Stream* stream = nullptr) const {
    if constexpr (std::is_floating_point_v<T>) {
      fill_float(y, static_cast<float>(value), stream);
    } else if constexpr (std::is_signed_v<T>) {
      fill_integer(y, static_cast<int64_t>(value), stream);
    } else {
      fill_unsigned(y, static_cast<uint64_t>(value), stream);
    }
  }
  /**
   * @brief mask[:, :n] = 1 and mask[:, n:] = 0 with n = total_length clamped to [0, max_length]
   * (the UpdateAttentionMask op).
   *
   * `mask` is [batch, max_length], int32 or int64; `total_length` an int32 tensor of one element
   * on the mask's device or the CPU.
   */
  void update_attention_mask(const Tensor& mask, const Tensor& total_length,
                             const Stream* stream = nullptr) const {
    run("UpdateAttentionMask", {&total_length}, {&mask}, {}, stream);
  }
  /// position_ids += increment, wrapping (the UpdatePositionIds op); int32 or int64 tensors of
  /// any shape. An int32 scalar length counter advances the same way.
  void update_position_ids(const Tensor& position_ids, int64_t increment = 1,
                           const Stream* stream = nullptr) const {
    run("UpdatePositionIds", {}, {&position_ids}, {IntAttribute("increment", increment)}, stream);
  }
  /**
   * @brief cache[:, :, position:position+new_len, :] = new_kv (the KvCacheAppend op), in place.
   *
   * `cache` is [batch, heads, max_len, head_dim], `new_kv` [batch, heads, new_len, head_dim] of
   * the same type, `position` an int32 tensor of one element read on the device, so that a
   * captured graph appends at the current position. Out of range the cache is left as it was: on
   * the CPU this throws DT_OUT_OF_RANGE; on a device the write is skipped and
   * Device::error_flags() reports DT_DEVICE_ERROR_KV_POSITION.
   */
  void kv_cache_append(const Tensor& cache, const Tensor& new_kv, const Tensor& position,
                       const Stream* stream = nullptr) const {
    run("KvCacheAppend", {&new_kv, &position}, {&cache}, {}, stream);
  }

 private:
  static DtStream* StreamOf(const Stream* stream) { return stream ? stream->get() : nullptr; }

  void fill_float(const Tensor& y, float value, const Stream* stream) const {
    run("Fill", {}, {&y}, {FloatAttribute("value", value)}, stream);
  }

  // Fill's value is a float, which holds integers beyond 2^24 only in part: an int32 or int64
  // tensor gets the nearest float's value, then UpdatePositionIds adds the difference.
  void fill_integer(const Tensor& y, int64_t value, const Stream* stream) const {
    const DtElementType type = y.type();
    if (!detail::IsInteger(type)) return fill_float(y, static_cast<float>(value), stream);
    const auto [lowest, highest] = detail::IntegerRange(type);
    if (value < lowest || value > highest) {
      throw Error(DT_INVALID_ARGUMENT, "fill: value " + std::to_string(value) + " does not fit " +
                                           DtGetElementTypeName(type));
    }
    const float rounded = static_cast<float>(value);
    // What Fill writes for `rounded`: Cast saturates to the type's range.
    const int64_t written = rounded >= 0x1p63f ? INT64_MAX
                            : std::clamp(static_cast<int64_t>(rounded), lowest, highest);
    if (written != value && type != DT_INT32 && type != DT_INT64) {
      throw Error(DT_INVALID_ARGUMENT, "fill: value " + std::to_string(value) +
                                           " is not a float (Fill's value attribute) and only "
                                           "int32 and int64 tensors take any integer");
    }
    fill_float(y, rounded, stream);
    if (written != value) update_position_ids(y, value - written, stream);
  }

  void fill_unsigned(const Tensor& y, uint64_t value, const Stream* stream) const {
    if (value <= uint64_t(INT64_MAX)) return fill_integer(y, static_cast<int64_t>(value), stream);
    const DtElementType type = y.type();
    const float rounded = static_cast<float>(value);
    const std::string text = "fill: value " + std::to_string(value);
    if (detail::IsInteger(type) && type != DT_UINT64) {
      throw Error(DT_INVALID_ARGUMENT, text + " does not fit " + DtGetElementTypeName(type));
    }
    if (type == DT_UINT64 && (rounded >= 0x1p64f || static_cast<uint64_t>(rounded) != value)) {
      throw Error(DT_INVALID_ARGUMENT, text + " is not a float (Fill's value attribute) and only "
                                              "int32 and int64 tensors take any integer");
    }
    fill_float(y, rounded, stream);
  }

  DtEnv* env_ = nullptr;
};

inline Tensor Tensor::create(const Env& env, Device device, DtElementType type,
                             const Shape& shape) {
  DtValue* out = nullptr;
  Check(DtCreateTensor(env.get(), device.get(), type, shape.data(), shape.size(), &out));
  return Tensor(out);
}

inline Tensor Tensor::wrap(const Env& env, Device device, void* data, size_t data_bytes,
                           size_t byte_offset, DtElementType type, const Shape& shape) {
  DtValue* out = nullptr;
  Check(DtCreateTensorWithData(env.get(), device.get(), data, data_bytes, byte_offset, type,
                               shape.data(), shape.size(), &out));
  return Tensor(out);
}

inline Tensor Tensor::from_host_bytes(const Env& env, Device device, DtElementType type,
                                      const Shape& shape, const void* data, size_t bytes) {
  detail::CheckHostBytes("from_host", type, shape, bytes);
  Tensor tensor = create(env, device, type, shape);
  if (bytes == 0) return tensor;
  // The host memory is only read: it is the copy's source.
  const Tensor host = wrap(env, env.device(DT_DEVICE_CPU), const_cast<void*>(data), bytes, 0,
                           type, shape);
  env.copy(host, tensor);
  return tensor;
}

inline void Tensor::to_host_bytes(const Env& env, void* data, size_t bytes) const {
  const DtElementType element_type = type();
  const Shape dims = shape();
  detail::CheckHostBytes("to_host", element_type, dims, bytes);
  if (bytes == 0) return;
  const Tensor host = wrap(env, env.device(DT_DEVICE_CPU), data, bytes, 0, element_type, dims);
  env.copy(*this, host);
}

}  // namespace devtensor

#endif  // DEVTENSOR_DEVTENSOR_HPP_
