# tests/exsim: the Exchange simulator (a test tool, built to bin/exsim).
PROGRAMS += exsim
exsim_SRCS := $(sort $(wildcard tests/exsim/*.c))
exsim_USES := util
exsim_LDLIBS := -lmicrohttpd $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) -lpthread
