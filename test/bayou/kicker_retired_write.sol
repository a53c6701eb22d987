w:1
PUT:(w, 1):TRUE
w:1
PUT:(w, 1):TRUE
PUT:(x, 2):TRUE
PUT:(w, 1):TRUE
PUT:(x, 2):TRUE
