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

# Compatibility with parsedmarc's dashboards, read from where they are kept (never copied here).
set(_dmarc_reference_default "")
foreach(_dir ${PROJECT_SOURCE_DIR}/../shared/reference /work/shared/reference)
  if(NOT _dmarc_reference_default AND EXISTS ${_dir}/parsedmarc-dashboards)
    set(_dmarc_reference_default ${_dir})
  endif()
endforeach()
set(DMARC_REFERENCE_DIR "${_dmarc_reference_default}" CACHE PATH
    "Folder holding parsedmarc-dashboards/ for the dashboard compatibility test")
if(DMARC_BUILD_TESTS AND DMARC_REFERENCE_DIR AND
   EXISTS ${DMARC_REFERENCE_DIR}/parsedmarc-dashboards)
  message(STATUS "parsedmarc dashboards: ${DMARC_REFERENCE_DIR}/parsedmarc-dashboards "
                 "(dashboard compatibility test registered)")
  dmarc_test(elastic_dashboards_test SOURCES elastic_dashboards_test.cc
             DEPS dmarc_outputs ${DMARC_PUGIXML})
  target_compile_definitions(elastic_dashboards_test PRIVATE
                             DMARC_REFERENCE_DIR="${DMARC_REFERENCE_DIR}")
else()
  message(STATUS "parsedmarc dashboards not found (set DMARC_REFERENCE_DIR): "
                 "dashboard compatibility test not registered")
endif()
