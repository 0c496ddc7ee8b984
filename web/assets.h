/*
 * The dashboard's files, embedded in the daemon at build time
 * (web/embed.cmake writes the table from the list in web/assets.cmake).
 */
#ifndef TCPWATCH_WEB_ASSETS_H
#define TCPWATCH_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;         /* served at, e.g. "/assets/app.js" */
	const char *content_type; /* the Content-Type header */
	const char *etag;         /* quoted: a hash of the content */
	const unsigned char *data;
	size_t len_bytes;
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
