# util/: the tiny common layer (errors, logging, files, strings).
MODULES += util
util_SRCS := util/err.c util/log.c util/fileio.c util/str.c util/codes.c
util_LDLIBS :=
