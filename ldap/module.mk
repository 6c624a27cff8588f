# ldap/: the Active Directory client (libldap): connect/bind, paged search,
# batched recipient resolution, SCP lookup, switch message values.
# Public header: ldap/ldap_dir.h.
MODULES += ldap
ldap_SRCS := $(sort $(wildcard ldap/*.c))
ldap_LDLIBS := -lldap -llber -lpthread -lunistring

# Integration test against a real directory lab (tests/lab/slapd-lab.sh by
# default; LAB_SCRIPT=tests/lab/samba-lab.sh for the Samba AD DC).  The same
# binary is the resolve benchmark: test_ldap --bench N.
TESTS += test_ldap
test_ldap_SRCS := tests/integration/test_ldap.c
test_ldap_USES := ldap testutil util
test_ldap_LDLIBS := -lcunit -lpthread
