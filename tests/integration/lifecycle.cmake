# Connection-lifecycle integration tests: end reasons, findings, process
# owners, live events. Included from tests/integration/CMakeLists.txt, which
# registers them with the same properties as its own. They share the twtest/
# package (twtest/lifecycle.py in particular) and tunpeer.py (a userspace TCP
# peer on a TUN device).

list(APPEND TCPWATCH_INTEGRATION_TESTS
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
	findings_cli
	long_lived)
