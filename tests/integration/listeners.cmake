# Listener integration tests: accept and SYN queues, SYN-ACK retransmits,
# half-open lifetimes, SYN cookies, accept waits, drops with the kernel's
# reason. Included from tests/integration/CMakeLists.txt, which registers
# them with the same properties as its own. They share twtest/listen.py,
# tunclients.py (remote clients behind a TUN device) and tunpeer.py.

list(APPEND TCPWATCH_INTEGRATION_TESTS
	listener_backlog
	half_open_schedule
	syn_cookies
	half_open_limit
	drop_active
	accept_wait)
