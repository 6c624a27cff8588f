switchresmb-profile 1

[profile]
name = Bad
default = 0

[status]
temporary = 0

[account]
home-server = exch01.src.example
colour = blue
