// Reading and writing structs that start with `struct_size`, across versions of their layout:
// the writer of a struct and its reader may have been built against different header versions.
#ifndef DEVTENSOR_CORE_STRUCT_SIZE_H_
#define DEVTENSOR_CORE_STRUCT_SIZE_H_

#include <algorithm>
#include <cstring>

namespace devtensor {

// A copy of `*from` in this library's layout: the bytes its writer knew, zero after them (absent
// optional fields read as NULL or 0).
template <typename T>
T ReadPrefix(const T* from) {
  T to;
  std::memset(&to, 0, sizeof to);
  std::memcpy(&to, from, std::min(from->struct_size, sizeof(T)));
  to.struct_size = sizeof(T);
  return to;
}

// Writes `from` into a caller's struct, only as far as the caller's struct_size reaches.
template <typename T>
void WritePrefix(const T& from, T* to) {
  const size_t size = std::min(to->struct_size, sizeof(T));
  T copy = from;
  copy.struct_size = to->struct_size;
  std::memcpy(static_cast<void*>(to), &copy, size);
}

}  // namespace devtensor

#endif  // DEVTENSOR_CORE_STRUCT_SIZE_H_
