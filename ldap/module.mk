# ldap/: the Active Directory client (libldap): connect/bind, paged search,
# batched recipient resolution, SCP lookup, switch message values.
# Public header: ldap/ldap_dir.h.
MODULES += ldap
ldap_SRCS := $(sort $(wildcard ldap/*.c))
ldap_LDLIBS := -lldap -llber -lsasl2 -lpthread -lunistring
