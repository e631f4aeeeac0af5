# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
# Writes a C source holding IN's bytes as `const unsigned char NAME[]` and
# `const unsigned long NAME_len` (tp view's page ships inside the binary).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){24})" "\\1\n" body "${body}")
file(WRITE "${OUT}" "/* generated from ${IN} by cmake/embed.cmake; do not edit */\n"
  "const unsigned char ${NAME}[] = {\n${body}0x00};\nconst unsigned long ${NAME}_len = ${bytes};\n")
