# Connection-lifecycle integration tests: end reasons, findings, process
# owners, live events.  Included from tests/integration/CMakeLists.txt; same
# properties as the tests registered there.  They share twtest.py,
# lifecycle_util.py and tunpeer.py (a userspace TCP peer on a TUN device).

set(TCPWATCH_LIFECYCLE_TESTS
	end_closed_by_local
	end_closed_by_peer
	end_simultaneous
	end_reset_sent
	end_refused
	end_connect_timeout
	end_reset_received
	close_wait_finding
	loopback_pair_owners
	watch_events
	findings_cli)

foreach(name IN LISTS TCPWATCH_LIFECYCLE_TESTS)
	add_test(NAME integration.${name}
		COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_${name}.py)
	set_tests_properties(integration.${name} PROPERTIES
		ENVIRONMENT "TCPWATCH_BIN=${CMAKE_BINARY_DIR}/bin"
		SKIP_RETURN_CODE 77
		LABELS integration
		TIMEOUT 180
		RUN_SERIAL TRUE)
endforeach()
