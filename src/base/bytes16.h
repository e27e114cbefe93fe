// Bytes16: sixteen bytes compared at once, with GCC's vector extension (SSE2 on x86-64, NEON on
// ARM, plain code elsewhere): the scans of text that skip blocks with nothing to do
// (IsCleanXmlText, JSON escaping, XML tag marks). Comparisons give 0x00 or 0xFF per byte. Bytes
// are signed: those >= 0x80 are negative, so `< 0x20` finds them with the controls.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace dmarc {

using Bytes16 = signed char __attribute__((vector_size(16)));

inline Bytes16 Load16(const char* p) {
  Bytes16 x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// Whether any byte of a comparison's result is set.
inline bool Any16(const Bytes16& m) {
  std::uint64_t half[2];
  std::memcpy(half, &m, sizeof half);
  return (half[0] | half[1]) != 0;
}

// A comparison's result as 16 bits, bit k for byte k: each half's bytes gathered into eight bits
// by one multiplication.
inline std::uint32_t Mask16(const Bytes16& m) {
  std::uint64_t half[2];
  std::memcpy(half, &m, sizeof half);
  std::uint32_t bits = 0;
  for (int h = 0; h < 2; ++h) {
    std::uint64_t v = half[h];
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    bits |= static_cast<std::uint32_t>(((v & 0x8040201008040201ULL) * 0x0101010101010101ULL) >> 56)
            << (8 * h);
  }
  return bits;
}

}  // namespace dmarc
