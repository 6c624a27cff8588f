# tests/samba: what only a real Active Directory shows, through the AD client,
# against a Samba AD DC (tests/lab/samba-lab.sh; the binary starts one DC with
# 2,500 rooms for its run and stops it).  The shared ldap suite against the
# same DC is tests/integration/ldap_samba.sh.
TESTS += test_ldap_ad
test_ldap_ad_SRCS := tests/integration/test_ldap_ad.c
test_ldap_ad_USES := ldap testutil util
test_ldap_ad_LDLIBS := -lcunit
