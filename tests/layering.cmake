# The layers' include rule is kept by the build: each library sees only the
# include directories of the layers below it (CMakeLists.txt). A quoted
# include with a path ("../http/http.h") would step around that, so none is
# allowed in daemon/, cli/ or common/. Run: cmake -DSRC=<source dir> -P layering.cmake
file(GLOB_RECURSE sources ${SRC}/daemon/*.c ${SRC}/daemon/*.h ${SRC}/cli/*.c ${SRC}/cli/*.h
	${SRC}/common/*.c ${SRC}/common/*.h)
set(bad "")
foreach(f IN LISTS sources)
	file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[^\"]*/")
	foreach(l IN LISTS lines)
		string(APPEND bad "${f}: ${l}\n")
	endforeach()
endforeach()
# Only main.c may include http/'s door.
file(GLOB_RECURSE below ${SRC}/daemon/base/* ${SRC}/daemon/table/* ${SRC}/daemon/trace/*
	${SRC}/daemon/kernel/* ${SRC}/daemon/core.c ${SRC}/daemon/reload.c ${SRC}/daemon/status.c ${SRC}/daemon/daemon.h)
foreach(f IN LISTS below)
	file(STRINGS ${f} lines REGEX "#[ \t]*include[ \t]*\"(http|internal|sse|query|json|text)\\.h\"")
	foreach(l IN LISTS lines)
		string(APPEND bad "${f}: ${l} (only main.c sees http/)\n")
	endforeach()
endforeach()
if(bad)
	message(FATAL_ERROR "includes that break the layering:\n${bad}")
endif()
message(STATUS "layering: ${CMAKE_CURRENT_LIST_FILE}: every include keeps to its layer")
