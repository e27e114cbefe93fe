# The tests of the HTTP outputs (Elasticsearch / OpenSearch / ZincSearch, Splunk HEC).
if(DMARC_BUILD_TESTS)
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  dmarc_test(elastic_test SOURCES elastic_test.cc DEPS dmarc_outputs PkgConfig::HTTPLIB
             Threads::Threads)
endif()
if(DMARC_BUILD_TESTS)
  dmarc_test(splunk_hec_test SOURCES splunk_hec_test.cc DEPS dmarc_outputs PkgConfig::HTTPLIB
             Threads::Threads)
endif()
