# Turns web/index.html into a C file, so the daemon serves it without
# reading files at run time. Called with -DIN=... -DOUT=...
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from web/index.html by web/embed.cmake. */\n#include <stddef.h>\nconst unsigned char web_index_html[] = {${bytes}};\nconst size_t web_index_html_len = ${size};\n")
