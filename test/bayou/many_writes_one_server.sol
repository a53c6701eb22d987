PUT:(a, 1):TRUE
PUT:(b, 1):TRUE
PUT:(a, 2):TRUE
DELETE:(b):TRUE
PUT:(c, 1):TRUE
PUT:(b, 3):TRUE
DELETE:(a):TRUE
PUT:(d, 4):TRUE
PUT:(a, 5):TRUE
a:5
b:3
c:1
d:4
