# What `cmake --install` (`make install`) installs, and the .deb CPack makes
# of the same files (`make deb`). Included at the end of CMakeLists.txt.
#
#   PREFIX/bin/tcpwatch                           the CLI
#   PREFIX/sbin/tcpwatchd                         the daemon
#   /lib/systemd/system/tcpwatchd.service         ExecStart at the installed
#   /etc/tcpwatch/tcpwatchd.conf                    daemon; both under PREFIX
#                                                 unless it is /usr (see
#                                                 install-system.cmake)
#   PREFIX/share/man/man1/tcpwatch.1.gz           docs/man/, gzip -9n
#   PREFIX/share/man/man8/tcpwatchd.8.gz
#   PREFIX/share/bash-completion/completions/tcpwatch
#   PREFIX/share/doc/tcpwatch/{README.md,copyright,changelog.Debian.gz}
#
# tests/packaging/ checks all of it: the list, the .deb, lintian.
include(GNUInstallDirs)

find_program(GZIP_PROGRAM gzip REQUIRED)

set(TCPWATCH_DEB_MAINTAINER "tcpwatch developers <dev@tcpwatch.invalid>"
	CACHE STRING "The Maintainer of the .deb")
set(TCPWATCH_DEB_RELEASE 1 CACHE STRING "The Debian revision of the .deb (VERSION-REVISION)")

install(TARGETS tcpwatch DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS tcpwatchd DESTINATION ${CMAKE_INSTALL_SBINDIR})

# --- built here: the compressed man pages and changelog ---
# gzip -n: no name or time stamp inside, so the same source gives the same
# bytes (lintian and reproducible builds want that).
set(TW_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${TW_PKG_OUT})
set(tw_pkg_outputs "")
foreach(page tcpwatch.1 tcpwatchd.8)
	add_custom_command(OUTPUT ${TW_PKG_OUT}/${page}.gz
		COMMAND ${GZIP_PROGRAM} -9n -c ${CMAKE_SOURCE_DIR}/docs/man/${page} > ${TW_PKG_OUT}/${page}.gz
		DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page}
		COMMENT "Compressing the man page ${page}")
	list(APPEND tw_pkg_outputs ${TW_PKG_OUT}/${page}.gz)
endforeach()

# The changelog's date: SOURCE_DATE_EPOCH when set (reproducible builds),
# else the configure time.
set(TCPWATCH_DEB_VERSION ${PROJECT_VERSION}-${TCPWATCH_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${TCPWATCH_DEB_MAINTAINER})
string(TIMESTAMP TCPWATCH_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${CMAKE_SOURCE_DIR}/packaging/deb/changelog.Debian.in
	${TW_PKG_OUT}/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${TW_PKG_OUT}/changelog.Debian.gz
	COMMAND ${GZIP_PROGRAM} -9n -c ${TW_PKG_OUT}/changelog.Debian > ${TW_PKG_OUT}/changelog.Debian.gz
	DEPENDS ${TW_PKG_OUT}/changelog.Debian
	COMMENT "Compressing changelog.Debian")
list(APPEND tw_pkg_outputs ${TW_PKG_OUT}/changelog.Debian.gz)
add_custom_target(tcpwatch_packaging_files ALL DEPENDS ${tw_pkg_outputs})

install(FILES ${TW_PKG_OUT}/tcpwatch.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${TW_PKG_OUT}/tcpwatchd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/tcpwatch.bash-completion
	DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions RENAME tcpwatch)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/packaging/deb/copyright
	${TW_PKG_OUT}/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- the unit and the config: their place depends on the install prefix ---
install(CODE "set(TCPWATCH_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(TCPWATCH_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(TCPWATCH_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")")
install(SCRIPT ${CMAKE_SOURCE_DIR}/packaging/install-system.cmake)

# --- CPack: the .deb (cpack -G DEB in the build directory, or make deb) ---
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcpwatch)
set(CPACK_PACKAGE_VENDOR "tcpwatch developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${TCPWATCH_DEB_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "TCP connection monitor: every connection's life, explained")
# One string (a list would join its parts with ';'); the summary above is
# the Description's first line.
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
	"tcpwatchd follows every TCP connection on the machine through its whole\n"
	"life: eBPF programs on the kernel's TCP tracepoints see each state change,\n"
	"reset and retransmission, and sock_diag snapshots see what exists, in every\n"
	"network namespace. It keeps a history per connection and answers over an\n"
	"HTTP JSON API, with Prometheus metrics and a dashboard. It explains who\n"
	"closed first and why a connection ended, what is stuck in CLOSE_WAIT,\n"
	"which listeners overflow their queues and why the kernel dropped packets,\n"
	"and its prober times SYN probes with the kernel's timestamps.\n"
	"\n"
	"tcpwatch is its command line: ss for connections, with their past.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # tcpwatch_VERSION-REVISION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${TCPWATCH_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # libbpf1, libmnl0, ... from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser") # postinst: addgroup
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
	${CMAKE_SOURCE_DIR}/packaging/deb/conffiles
	${CMAKE_SOURCE_DIR}/packaging/deb/postinst
	${CMAKE_SOURCE_DIR}/packaging/deb/prerm
	${CMAKE_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON) # scripts 0755, the rest 0644
# Install with DESTDIR and prefix /usr, so /etc and /lib land in the package
# as install-system.cmake places them.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
	OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/deb)
include(CPack)
