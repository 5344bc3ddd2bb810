// Message text: pieces joined into one string, and shapes written as "[2, 3]".
#ifndef DEVTENSOR_COMMON_TEXT_H_
#define DEVTENSOR_COMMON_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace devtensor {

// One piece of a message as text: strings as they are (NULL as "(null)"), numbers in decimal
// (floating ones as printf's %g).
inline std::string ToText(const std::string& s) { return s; }
inline std::string ToText(const char* s) { return s ? s : "(null)"; }
inline std::string ToText(char c) { return std::string(1, c); }
std::string FloatText(double value);
template <typename T>
std::string ToText(const T& v) {
  if constexpr (std::is_floating_point_v<T>) {
    return FloatText(static_cast<double>(v));
  } else {
    return std::to_string(v);
  }
}

// The pieces' texts, joined.
template <typename... Parts>
std::string Concat(const Parts&... parts) {
  std::string text;
  (text.append(ToText(parts)), ...);
  return text;
}

// A shape as "[2, 3, 4]"; "[]" for a scalar.
std::string ShapeText(const int64_t* shape, size_t rank);

}  // namespace devtensor

#endif  // DEVTENSOR_COMMON_TEXT_H_
