a:1
PUT:(a, 1):TRUE
PUT:(c, 3):TRUE
c:3
