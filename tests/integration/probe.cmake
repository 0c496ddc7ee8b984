# Prober integration tests: loopback open/closed ports and the SYN's shape,
# every refusal, emulated hosts behind a TUN device (tw-tun-responder) and a
# traceroute through forwarding namespaces. Included from
# tests/integration/CMakeLists.txt, which registers them with the same
# properties as its own; they share probeapi.py (and the TUN-backed ones
# tunresponder.py).

list(APPEND TCPWATCH_INTEGRATION_TESTS
	probe_loopback
	probe_limits
	probe_half_open
	probe_configured
	probe_emulated
	probe_trace
	probe_handshake_slow)
