/*
 * libFuzzer target: the INI configuration file, written to a temporary
 * file and loaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/tw-fuzz-config-XXXXXX", err[512];
	struct tw_config c;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		config_defaults(&c);
		config_load_file(&c, path, err, sizeof(err));
	}
	close(fd);
	unlink(path);
	return 0;
}
