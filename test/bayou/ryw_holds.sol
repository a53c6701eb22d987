k:v
k:v
