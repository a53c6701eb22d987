PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
a:1
b:2
