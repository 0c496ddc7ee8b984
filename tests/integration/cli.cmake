# The CLI's ss-like options and commands (issue 12): -m, -s, --sort, the
# daemon-less list, top, colours.
list(APPEND TCPWATCH_INTEGRATION_TESTS
	list_memory
	list_sort
	list_summary
	list_kernel
	top_throughput
	cli_colours)
