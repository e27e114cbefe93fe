#include "collect/tls_verify.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <libetpan/libetpan.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dmarc::collect {

namespace {

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct CtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Status VerifyServerCertificate(_mailstream* stream, const std::string& host, int port,
                               const std::string& ca_file, const std::string& key_prefix) {
  const std::string where = fmt::format("{}:{}", host, port);
  auto fail = [&](const std::string& reason) -> Status {
    return MakeError(fmt::format(
        "TLS certificate of {} is not trusted: {} (check {}.host is the name in the server's "
        "certificate and {}.ca_file; {}.verify_tls = false turns the check off)",
        where, reason, key_prefix, key_prefix, key_prefix));
  };
  carray* chain =
      stream ? mailstream_low_get_certificate_chain(mailstream_get_low(stream)) : nullptr;
  if (!chain || carray_count(chain) == 0) {
    if (chain) carray_free(chain);
    return fail("the server presented no certificate");
  }
  std::unique_ptr<STACK_OF(X509), StackFree> certs(sk_X509_new_null());
  for (unsigned i = 0; i < carray_count(chain); ++i) {
    auto* der = static_cast<MMAPString*>(carray_get(chain, i));
    const auto* p = reinterpret_cast<const unsigned char*>(der->str);
    X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->len));
    if (cert) sk_X509_push(certs.get(), cert);
    mmap_string_free(der);
  }
  carray_free(chain);
  if (sk_X509_num(certs.get()) == 0) return fail("its certificate cannot be read");

  std::unique_ptr<X509_STORE, StoreFree> trusted(X509_STORE_new());
  if (!ca_file.empty()) {
    if (X509_STORE_load_locations(trusted.get(), ca_file.c_str(), nullptr) != 1) {
      ERR_clear_error();
      return MakeError(
          fmt::format("{}.ca_file: cannot read certificates from {}", key_prefix, ca_file));
    }
  } else {
    X509_STORE_set_default_paths(trusted.get());
  }
  std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
  X509* leaf = sk_X509_value(certs.get(), 0);
  if (X509_STORE_CTX_init(ctx.get(), trusted.get(), leaf, certs.get()) != 1) {
    return fail("OpenSSL could not set up the check");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (IsIpAddress(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return fail(X509_verify_cert_error_string(err));
  }
  return Ok();
}

}  // namespace dmarc::collect
