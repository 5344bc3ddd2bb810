// devtensor.hpp — header-only C++ RAII wrapper over the devtensor C API.
//
//   devtensor::Env env;
//   auto cpu = env.device(DT_DEVICE_CPU);
//   auto cache = devtensor::Tensor::create(env, cpu, DT_FLOAT16, {32, 8, 4096, 128});
//   auto slot = cache.slice(2, position, 1);           // [32, 8, 1, 128], strided
//   env.copy(new_token, slot);
//
// Every failing call throws devtensor::Error, which carries the DtErrorCode and the message.
#ifndef DEVTENSOR_DEVTENSOR_HPP_
#define DEVTENSOR_DEVTENSOR_HPP_

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "devtensor/devtensor.h"

namespace devtensor {

// An error from the C API: its code and message.
class Error : public std::runtime_error {
 public:
  Error(DtErrorCode code, const std::string& message)
      : std::runtime_error(std::string(DtGetErrorCodeName(code)) + ": " + message), code_(code) {}
  DtErrorCode code() const noexcept { return code_; }

 private:
  DtErrorCode code_;
};

// Throws Error for a non-NULL status, releasing it.
inline void Check(DtStatus* status) {
  if (status == nullptr) return;
  const DtErrorCode code = DtGetErrorCode(status);
  std::string message = DtGetErrorMessage(status);
  DtReleaseStatus(status);
  throw Error(code, message);
}

using Shape = std::vector<int64_t>;

// A device of an env: a non-owning handle, valid while the env or a tensor on it lives.
class Device {
 public:
  Device() = default;
  explicit Device(const DtDevice* device) : device_(device) {}
  const DtDevice* get() const { return device_; }
  DtDeviceType type() const { return DtGetDeviceType(device_); }
  int32_t id() const { return DtGetDeviceId(device_); }
  DtDeviceInfo info() const {
    DtDeviceInfo info = DT_DEVICE_INFO_INIT;
    Check(DtGetDeviceInfo(device_, &info));
    return info;
  }
  bool operator==(const Device& other) const { return device_ == other.device_; }

 private:
  const DtDevice* device_ = nullptr;
};

// Owns a DtStream.
class Stream {
 public:
  Stream() = default;
  explicit Stream(DtStream* stream) : stream_(stream) {}
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      DtReleaseStream(stream_);
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }
  ~Stream() { DtReleaseStream(stream_); }

  DtStream* get() const { return stream_; }
  void synchronize() { Check(DtSynchronizeStream(stream_)); }
  Device device() const { return Device(DtGetStreamDevice(stream_)); }

 private:
  DtStream* stream_ = nullptr;
};

// Owns a DtGraph: work recorded on a stream, replayed with one submit.
class Graph {
 public:
  Graph() = default;
  explicit Graph(DtGraph* graph) : graph_(graph) {}
  Graph(Graph&& other) noexcept : graph_(std::exchange(other.graph_, nullptr)) {}
  Graph& operator=(Graph&& other) noexcept {
    if (this != &other) {
      DtReleaseGraph(graph_);
      graph_ = std::exchange(other.graph_, nullptr);
    }
    return *this;
  }
  ~Graph() { DtReleaseGraph(graph_); }
  DtGraph* get() const { return graph_; }
  void replay(const Stream& stream) { Check(DtReplayGraph(graph_, stream.get())); }

 private:
  DtGraph* graph_ = nullptr;
};

// Records the work issued on `stream` between begin_capture and end_capture.
inline void begin_capture(const Stream& stream) { Check(DtBeginCapture(stream.get())); }
inline Graph end_capture(const Stream& stream) {
  DtGraph* graph = nullptr;
  Check(DtEndCapture(stream.get(), &graph));
  return Graph(graph);
}

// Attribute helpers for Env::run.
inline DtAttribute IntAttribute(const char* name, int64_t value) {
  return DtAttribute{name, DT_ATTR_INT, value, 0.0f, nullptr, nullptr, 0};
}
inline DtAttribute FloatAttribute(const char* name, float value) {
  return DtAttribute{name, DT_ATTR_FLOAT, 0, value, nullptr, nullptr, 0};
}

class Env;

// Owns a DtValue: a tensor or a view.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(DtValue* value) : value_(value) {}
  Tensor(Tensor&& other) noexcept : value_(std::exchange(other.value_, nullptr)) {}
  Tensor& operator=(Tensor&& other) noexcept {
    if (this != &other) {
      DtReleaseValue(value_);
      value_ = std::exchange(other.value_, nullptr);
    }
    return *this;
  }
  ~Tensor() { DtReleaseValue(value_); }

  // A new contiguous tensor on `device`.
  static Tensor create(const Env& env, Device device, DtElementType type, const Shape& shape);
  // Wraps caller memory (see DtCreateTensorWithData); the caller keeps it alive.
  static Tensor wrap(const Env& env, Device device, void* data, size_t data_bytes,
                     size_t byte_offset, DtElementType type, const Shape& shape);

  DtValue* get() const { return value_; }
  explicit operator bool() const { return value_ != nullptr; }

  // A contiguous view at `byte_offset` from this tensor's first byte.
  Tensor view(size_t byte_offset, DtElementType type, const Shape& shape) const {
    DtValue* out = nullptr;
    Check(DtCreateTensorView(value_, byte_offset, type, shape.data(), shape.size(), &out));
    return Tensor(out);
  }
  // this[..., start:start+length, ...] along `axis`.
  Tensor slice(size_t axis, int64_t start, int64_t length) const {
    DtValue* out = nullptr;
    Check(DtSliceTensor(value_, axis, start, length, &out));
    return Tensor(out);
  }

  Shape shape() const {
    int64_t dims[DT_MAX_RANK];
    size_t rank = 0;
    Check(DtGetTensorShape(value_, nullptr, dims, DT_MAX_RANK, &rank));
    return Shape(dims, dims + rank);
  }
  Shape strides() const {
    int64_t strides[DT_MAX_RANK];
    Check(DtGetTensorStrides(value_, strides, DT_MAX_RANK));
    return Shape(strides, strides + shape().size());
  }
  DtElementType type() const {
    DtElementType type;
    Check(DtGetTensorShape(value_, &type, nullptr, 0, nullptr));
    return type;
  }
  size_t element_count() const {
    size_t count = 0;
    Check(DtGetTensorSize(value_, &count, nullptr));
    return count;
  }
  bool contiguous() const { return DtIsTensorContiguous(value_) != 0; }
  Device device() const { return Device(DtGetTensorDevice(value_)); }

  // Address of element [0, ..., 0] on addressable devices.
  template <typename T = void>
  T* data() const {
    void* data = nullptr;
    Check(DtGetTensorData(value_, &data));
    return static_cast<T*>(data);
  }
  // (handle, byte offset, buffer bytes) of the storage.
  struct Buffer {
    void* handle;
    size_t byte_offset;
    size_t buffer_bytes;
  };
  Buffer buffer() const {
    Buffer b{};
    Check(DtGetTensorBuffer(value_, &b.handle, &b.byte_offset, &b.buffer_bytes));
    return b;
  }

 private:
  DtValue* value_ = nullptr;
};

// Owns a DtEnv.
class Env {
 public:
  Env() { Check(DtCreateEnv(&env_)); }
  explicit Env(DtEnv* env) : env_(env) {}
  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)) {}
  Env& operator=(Env&& other) noexcept {
    if (this != &other) {
      DtReleaseEnv(env_);
      env_ = std::exchange(other.env_, nullptr);
    }
    return *this;
  }
  ~Env() { DtReleaseEnv(env_); }

  DtEnv* get() const { return env_; }

  Device device(DtDeviceType type, int32_t id = 0) const {
    const DtDevice* device = nullptr;
    Check(DtGetDevice(env_, type, id, &device));
    return Device(device);
  }
  int32_t device_count(DtDeviceType type) const {
    int32_t count = 0;
    Check(DtGetDeviceCount(env_, type, &count));
    return count;
  }
  void register_provider(const std::string& name, const std::string& library_path) {
    Check(DtRegisterProviderLibrary(env_, name.c_str(), library_path.c_str()));
  }
  void unregister_provider(const std::string& name) {
    Check(DtUnregisterProviderLibrary(env_, name.c_str()));
  }
  Stream create_stream(Device device) const {
    DtStream* stream = nullptr;
    Check(DtCreateStream(env_, device.get(), &stream));
    return Stream(stream);
  }

  // Copies src into dst (one pair).
  void copy(const Tensor& src, const Tensor& dst, const Stream* stream = nullptr) const {
    const DtValue* s = src.get();
    DtValue* d = dst.get();
    Check(DtCopyTensors(env_, &s, &d, 1, stream ? stream->get() : nullptr));
  }
  // Copies pairs[i].first into pairs[i].second, as one batch.
  void copy(std::initializer_list<std::pair<const Tensor*, const Tensor*>> pairs,
            const Stream* stream = nullptr) const {
    std::vector<const DtValue*> src;
    std::vector<DtValue*> dst;
    for (const auto& [from, to] : pairs) {
      src.push_back(from->get());
      dst.push_back(to->get());
    }
    Check(DtCopyTensors(env_, src.data(), dst.data(), src.size(), stream ? stream->get() : nullptr));
  }
  void zero(const Tensor& tensor, const Stream* stream = nullptr) const {
    Check(DtZeroTensor(env_, tensor.get(), stream ? stream->get() : nullptr));
  }
  // Runs an op (see DtRunOp).
  void run(const char* op_type, std::initializer_list<const Tensor*> inputs,
           std::initializer_list<const Tensor*> outputs,
           std::initializer_list<DtAttribute> attributes = {}, const Stream* stream = nullptr) const {
    std::vector<const DtValue*> in;
    std::vector<DtValue*> out;
    for (const Tensor* t : inputs) in.push_back(t->get());
    for (const Tensor* t : outputs) out.push_back(t->get());
    std::vector<DtAttribute> attrs(attributes);
    Check(DtRunOp(env_, op_type, in.data(), in.size(), out.data(), out.size(), attrs.data(),
                  attrs.size(), stream ? stream->get() : nullptr));
  }

 private:
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

}  // namespace devtensor

#endif  // DEVTENSOR_DEVTENSOR_HPP_
