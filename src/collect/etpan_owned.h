// Owners for libetpan's handles (sessions, fetch results, lists, sets), so that no return path
// can leak one: Owned<mailimap_set, mailimap_set_free> frees with that function.
#pragma once

#include <memory>

namespace dmarc::collect {

template <auto Free>
struct EtpanFree {
  template <class T>
  void operator()(T* p) const {
    if (p) Free(p);
  }
};

template <class T, auto Free>
using Owned = std::unique_ptr<T, EtpanFree<Free>>;

}  // namespace dmarc::collect
