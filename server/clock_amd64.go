package server

// cputicks reads the time-stamp counter.
func cputicks() int64
