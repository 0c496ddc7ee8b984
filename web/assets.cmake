# The files the daemon serves, embedded at build time (embed.cmake): for
# each, the path it is served at, the file (relative to web/) and its
# Content-Type (text/ types are sent as UTF-8; no ';' here: it would split
# the list). Included by CMakeLists.txt (for the dependencies) and by
# embed.cmake (for the table), so the list is written once.
set(TW_WEB_ASSETS
	"/index.html|index.html|text/html"
	"/assets/util.js|util.js|text/javascript"
	"/assets/filter.js|filter.js|text/javascript"
	"/assets/ladder.js|ladder.js|text/javascript"
	"/assets/charts.js|charts.js|text/javascript"
	"/assets/table.js|table.js|text/javascript"
	"/assets/app.js|app.js|text/javascript"
	"/assets/app.css|app.css|text/css"
	"/assets/uPlot.iife.min.js|node_modules/uplot/dist/uPlot.iife.min.js|text/javascript"
	"/assets/uPlot.min.css|node_modules/uplot/dist/uPlot.min.css|text/css")
