nothing:ERR_KEY
