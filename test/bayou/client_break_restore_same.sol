a:1
b:2
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
