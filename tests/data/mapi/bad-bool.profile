switchresmb-profile 1

[profile]
name = Bad
default = 2

[status]
