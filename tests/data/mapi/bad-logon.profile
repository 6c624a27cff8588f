switchresmb-profile 1

[profile]
name = Bad

[status]

[account]
logon-security = Digest
