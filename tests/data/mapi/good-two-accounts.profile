switchresmb-profile 1
# MAPI profile of switchresmb; format: docs/profile-format.md

[profile]
name = Outlook (Room 7)
default = 1

[status]
temporary = 0
updated = 1
updated-at = 2026-11-25T10:20:30Z

[account]
home-server = 3f2504e0-4f89-11d3-9a0c-0305e82c3301@src.example
legacy-dn = /o=Source Org/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room7
smtp = room7@src.example
display-name = Room 7 \\ East
logon-security = Kerberos
autodiscover-url = https://autodiscover.src.example/autodiscover/autodiscover.xml
ews-url = https://mail.src.example/EWS/Exchange.asmx
offline = 1
ost-path = /home/u/.local/share/ost/room7.ost
additional-mailbox = /o=Source Org/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=shared1
additional-mailbox = shared2@src.example
rpc-connect-using-http = 1
rpc-proxy-server = mail.src.example
rpc-principal-name = msstd:mail.src.example
rpc-ssl-only = 1
rpc-mutual-auth = 0
rpc-http-first-on-fast = 0
rpc-http-first-on-slow = 1
rpc-auth-ntlm = 0
rpc-auth-basic = 0
rpc-auth-negotiate = 1

[account]
home-server = exch01.other.example
legacy-dn = /o=Other/ou=First Administrative Group/cn=Recipients/cn=jdoe
smtp = jdoe@other.example
logon-security = NTLM
offline = 0
rpc-connect-using-http = 0
rpc-ssl-only = 0
rpc-mutual-auth = 0
rpc-http-first-on-fast = 0
rpc-http-first-on-slow = 0
rpc-auth-ntlm = 1
rpc-auth-basic = 0
rpc-auth-negotiate = 0

[service]
name = MSUPST MS
path = /home/u/archive.pst
display = Archive\tFolders

[service]
name = CONTAB
