PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
b:2
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):TRUE
