# Runs at install time (install(SCRIPT) from packaging/install.cmake): the
# files whose place or content depends on the prefix, which is known only now
# (`cmake --install --prefix`, CPack's /usr).
#
#   prefix /usr or /     the config in /etc, the unit in /lib/systemd/system
#                        (where Debian 12's own packages put theirs)
#   any other prefix     both under it: PREFIX/etc/tcpwatch/, and
#                        PREFIX/lib/systemd/system/ (systemd also reads
#                        /usr/local/lib/systemd/system); the unit then passes
#                        --config, since the daemon's default is /etc's file
#
# The unit (packaging/tcpwatchd.service) is installed with ExecStart naming
# the installed daemon. An existing config file is never overwritten: an
# administrator's edits win over `make install`.
#
# Expects TCPWATCH_SOURCE_DIR, TCPWATCH_BINARY_DIR, TCPWATCH_SBINDIR.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/")
	set(tw_etc /etc)
	set(tw_unitdir /lib/systemd/system)
else()
	set(tw_etc ${CMAKE_INSTALL_PREFIX}/etc)
	set(tw_unitdir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
if(IS_ABSOLUTE "${TCPWATCH_SBINDIR}")
	set(tw_daemon ${TCPWATCH_SBINDIR}/tcpwatchd)
else()
	set(tw_daemon ${CMAKE_INSTALL_PREFIX}/${TCPWATCH_SBINDIR}/tcpwatchd)
endif()
set(tw_conf ${tw_etc}/tcpwatch/tcpwatchd.conf)

# The unit, ExecStart pointed at the installed daemon (whatever its
# arguments are: the unit belongs to its own file).
file(READ ${TCPWATCH_SOURCE_DIR}/packaging/tcpwatchd.service tw_unit)
set(tw_args "")
if(NOT tw_conf STREQUAL "/etc/tcpwatch/tcpwatchd.conf")
	set(tw_args " --config ${tw_conf}")
endif()
string(REGEX REPLACE "(\nExecStart=)[^ \n]*tcpwatchd([^\n]*)" "\\1${tw_daemon}\\2${tw_args}"
	tw_configured "${tw_unit}")
if(tw_configured STREQUAL tw_unit AND NOT tw_unit MATCHES "\nExecStart=${tw_daemon}")
	message(FATAL_ERROR "packaging/tcpwatchd.service: no ExecStart=.../tcpwatchd line to point at ${tw_daemon}")
endif()
set(tw_gen ${TCPWATCH_BINARY_DIR}/packaging/unit)
file(MAKE_DIRECTORY ${tw_gen})
file(WRITE ${tw_gen}/tcpwatchd.service "${tw_configured}")
file(INSTALL DESTINATION ${tw_unitdir} TYPE FILE
	PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
	FILES ${tw_gen}/tcpwatchd.service)

# The config: every key, commented out at its default. 0640, group tcpwatch
# (below): it may come to hold probe-token.
if(EXISTS "$ENV{DESTDIR}${tw_conf}")
	file(READ "$ENV{DESTDIR}${tw_conf}" tw_old)
	file(READ ${TCPWATCH_SOURCE_DIR}/packaging/tcpwatchd.conf tw_new)
	if(NOT tw_old STREQUAL tw_new)
		message(STATUS "Kept: $ENV{DESTDIR}${tw_conf} (it differs from packaging/tcpwatchd.conf, "
			"which lists every key at its default)")
		return()
	endif()
endif()
file(INSTALL DESTINATION ${tw_etc}/tcpwatch TYPE FILE
	PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
	FILES ${TCPWATCH_SOURCE_DIR}/packaging/tcpwatchd.conf)
# The unit runs the daemon as tcpwatch (User=, Group=): the file must be
# its group's. The .deb's postinst makes the user and a statoverride; a
# plain install onto this machine does only the chgrp, if the group exists.
if("$ENV{DESTDIR}" STREQUAL "")
	execute_process(COMMAND getent group tcpwatch RESULT_VARIABLE tw_nogroup OUTPUT_QUIET)
	if(tw_nogroup EQUAL 0)
		execute_process(COMMAND chgrp tcpwatch ${tw_conf})
	else()
		message(STATUS "No group tcpwatch: the unit runs tcpwatchd as the user tcpwatch; create "
			"it (adduser --system --group tcpwatch), then chgrp tcpwatch ${tw_conf}")
	endif()
endif()
