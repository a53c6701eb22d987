k:v
k:v
k:w
