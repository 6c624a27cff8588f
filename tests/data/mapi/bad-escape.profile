switchresmb-profile 1

[profile]
name = Bad\q
