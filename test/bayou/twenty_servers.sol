PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
c:3
a:1
b:2
