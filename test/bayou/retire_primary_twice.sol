PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
PUT:(d, 4):TRUE
c:3
d:4
