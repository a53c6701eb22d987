PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(c, 3):FALSE
a:1
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 9):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 9):TRUE
PUT:(c, 3):TRUE
a:9
