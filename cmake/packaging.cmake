# Installation and the Debian package (README "Install"):
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build
#   cpack --config build/CPackConfig.cmake -B build/package      → dmarc-report_VERSION_ARCH.deb
#
# The package's layout (the binary finds its data relative to itself, ../share/dmarc-report):
#   /usr/bin/dmarc-report
#   /usr/share/dmarc-report/geoip/...           the country database (geoip/, CC0)
#   /usr/share/dmarc-report/examples/           example aggregate reports (run's first start)
#   /usr/share/man/man1/dmarc-report.1.gz       generated from --help by help2man
#   /usr/share/bash-completion/completions/dmarc-report, /usr/share/zsh/vendor-completions/_dmarc-report
#   /etc/dmarc-report/dmarc-report.toml         the configuration (a conffile)
#   /lib/systemd/system/dmarc-report.service    enabled, not started, by postinst
#   /var/lib/dmarc-report, /var/log/dmarc-report, the user dmarc-report: made by postinst,
#                                               removed by a purge (packaging/debian/)
# Paths outside the prefix (/etc, /lib/systemd) are absolute: the binary looks for its
# configuration in /etc/dmarc-report whatever the prefix.
include(GNUInstallDirs)

install(TARGETS dmarc-report RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(DMARC_GEOIP_NPM_PATH node_modules/@ip-location-db/geo-whois-asn-country-mmdb)
set(DMARC_GEOIP_DIR ${PROJECT_SOURCE_DIR}/geoip/${DMARC_GEOIP_NPM_PATH})
if(EXISTS ${DMARC_GEOIP_DIR}/geo-whois-asn-country.mmdb)
  # The npm path below share/dmarc-report/geoip is the one enrich::FindDefaultGeoIpDatabase
  # looks for.
  install(FILES ${DMARC_GEOIP_DIR}/geo-whois-asn-country.mmdb ${DMARC_GEOIP_DIR}/package.json
          DESTINATION ${CMAKE_INSTALL_DATADIR}/dmarc-report/geoip/${DMARC_GEOIP_NPM_PATH})
  file(GLOB DMARC_GEOIP_LICENSE ${DMARC_GEOIP_DIR}/LICENSE*)
  if(DMARC_GEOIP_LICENSE)
    install(FILES ${DMARC_GEOIP_LICENSE}
            DESTINATION ${CMAKE_INSTALL_DATADIR}/dmarc-report/geoip/${DMARC_GEOIP_NPM_PATH})
  endif()
else()
  message(WARNING "geoip/: no country database (scripts/install-deps.sh installs it with npm ci); "
                  "the package will have none")
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/testdata/real/parsedmarc-samples/aggregate/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/dmarc-report/examples)

install(FILES ${PROJECT_SOURCE_DIR}/packaging/dmarc-report.toml DESTINATION /etc/dmarc-report)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/dmarc-report.service
        DESTINATION /lib/systemd/system)

# The man page and the completions, from the built binary's --help (packaging/gen_cli_docs.py).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_program(HELP2MAN help2man)
set(DMARC_CLI_DOCS ${PROJECT_BINARY_DIR}/cli-docs)
add_custom_command(
  OUTPUT ${DMARC_CLI_DOCS}/dmarc-report.bash ${DMARC_CLI_DOCS}/_dmarc-report
         ${DMARC_CLI_DOCS}/commands.h2m
  COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/packaging/gen_cli_docs.py
          $<TARGET_FILE:dmarc-report> ${DMARC_CLI_DOCS}
  DEPENDS dmarc-report ${PROJECT_SOURCE_DIR}/packaging/gen_cli_docs.py
  COMMENT "Completions and man page sections from dmarc-report --help")
set(DMARC_CLI_DOC_FILES ${DMARC_CLI_DOCS}/dmarc-report.bash ${DMARC_CLI_DOCS}/_dmarc-report)
if(HELP2MAN)
  add_custom_command(
    OUTPUT ${DMARC_CLI_DOCS}/dmarc-report.1.gz
    COMMAND ${HELP2MAN} --no-info --section=1 --include=${PROJECT_SOURCE_DIR}/packaging/dmarc-report.h2m
            --include=${DMARC_CLI_DOCS}/commands.h2m --output=${DMARC_CLI_DOCS}/dmarc-report.1
            $<TARGET_FILE:dmarc-report>
    COMMAND gzip -9nf ${DMARC_CLI_DOCS}/dmarc-report.1
    DEPENDS dmarc-report ${DMARC_CLI_DOCS}/commands.h2m
            ${PROJECT_SOURCE_DIR}/packaging/dmarc-report.h2m
    COMMENT "Man page dmarc-report.1 (help2man)")
  list(APPEND DMARC_CLI_DOC_FILES ${DMARC_CLI_DOCS}/dmarc-report.1.gz)
  install(FILES ${DMARC_CLI_DOCS}/dmarc-report.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found (apt-get install help2man): no man page")
endif()
add_custom_target(cli-docs ALL DEPENDS ${DMARC_CLI_DOC_FILES})
install(FILES ${DMARC_CLI_DOCS}/dmarc-report.bash DESTINATION
        ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME dmarc-report)
install(FILES ${DMARC_CLI_DOCS}/_dmarc-report
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- CPack: the Debian package. ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dmarc-report)
set(CPACK_PACKAGE_VENDOR "dmarc-report")
set(CPACK_PACKAGE_CONTACT "dmarc-report maintainers <maintainers@users.noreply.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "DMARC aggregate, failure and SMTP TLS report collector and dashboard")
set(CPACK_PACKAGE_DESCRIPTION
    "dmarc-report collects DMARC reports from IMAP and POP3 mailboxes, Maildirs, mboxes and drop
folders, stores them in SQLite or PostgreSQL and serves a web dashboard, a JSON API and
Prometheus metrics. The service runs as the system user dmarc-report from
/etc/dmarc-report/dmarc-report.toml; the unit is enabled, not started.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages from dpkg-shlibdeps (dpkg-dev); the maintainer scripts' tools.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

if(DMARC_BUILD_TESTS)
  # Every subcommand and option of --help is in the completions and the man page.
  add_test(NAME cli_docs_cover_every_command
           COMMAND ${PROJECT_SOURCE_DIR}/packaging/cli_docs_test.sh $<TARGET_FILE:dmarc-report>
                   ${DMARC_CLI_DOCS})
endif()
