PUT:(a, 1):TRUE
PUT:(t, 9):FALSE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(t, 9):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(t, 9):TRUE
b:2
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(t, 9):TRUE
PUT:(c, 3):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(t, 9):TRUE
PUT:(c, 3):TRUE
