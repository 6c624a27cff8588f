# cpuu/: the update engine.  cpuu_core = everything but main.c and watchdog.c
# (the standalone watchdog around the engine), so tests link it.
MODULES += cpuu_core
cpuu_core_SRCS := $(sort $(filter-out cpuu/main.c cpuu/watchdog.c,$(wildcard cpuu/*.c)))
cpuu_core_LDLIBS := -lcurl

PROGRAMS += cpuu
cpuu_SRCS := cpuu/main.c cpuu/watchdog.c
cpuu_USES := cpuu_core cpuu_invoke mapi ldap configs util
# The engine starts once per mailbox, and ld.so then resolves every symbol of
# its 42 shared libraries (Debian links them BIND_NOW), each lookup walking
# the load order from the front.  Loading first the libraries most lookups
# end in (libcrypto, libstdc++ under libxml2's ICU, libc, GnuTLS and Nettle
# under libldap, ...) makes the start 17.9 M instructions → 12.5 M
# (BENCHMARKS.md, per-mailbox CPU).  No symbol is defined by two of them, so
# every binding stays what it was (compared with LD_DEBUG=bindings).
cpuu_LDFIRST := -Wl,--push-state,--no-as-needed -lcrypto -lstdc++ -lc -lgnutls -lnettle \
    -lunistring -lldap -lhogweed -lssl -lsodium -llber -Wl,--pop-state
