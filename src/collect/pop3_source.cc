// The POP3 source (libetpan).
#include "collect/source.h"

namespace dmarc::collect {

std::unique_ptr<Source> MakePop3Source(const config::Pop3Config&, const std::string&, std::size_t) {
  return nullptr;
}

}  // namespace dmarc::collect
