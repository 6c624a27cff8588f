switchresmb-profile 2

[profile]
name = Bad
