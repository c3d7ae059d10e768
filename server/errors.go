package server

// Redis's error texts, byte for byte. Handlers use these names, never literals,
// so the differential tests against a real redis-server cover them once.
const (
	msgWrongType       = "WRONGTYPE Operation against a key holding the wrong kind of value"
	msgSyntax          = "ERR syntax error"
	msgNotInt          = "ERR value is not an integer or out of range"
	msgNotFloat        = "ERR value is not a valid float"
	msgOverflow        = "ERR increment or decrement would overflow"
	msgNaNInf          = "ERR increment would produce NaN or Infinity"
	msgNoSuchKey       = "ERR no such key"
	msgDBIndex         = "ERR DB index is out of range"
	msgNoAuth          = "NOAUTH Authentication required."
	msgWrongPass       = "WRONGPASS invalid username-password pair or user is disabled."
	msgNoPassSet       = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
	msgStringTooLong   = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	msgOffsetRange     = "ERR offset is out of range"
	msgMultiNested     = "ERR MULTI calls can not be nested"
	msgExecNoMulti     = "ERR EXEC without MULTI"
	msgDiscardNoMulti  = "ERR DISCARD without MULTI"
	msgWatchInMulti    = "ERR WATCH inside MULTI is not allowed"
	msgExecAbort       = "EXECABORT Transaction discarded because of previous errors."
	msgNoProto         = "NOPROTO unsupported protocol version"
	msgOOM             = "OOM command not allowed when used memory > 'maxmemory'."
	msgTimeoutNeg      = "ERR timeout is negative"
	msgTimeoutNotFloat = "ERR timeout is not a float or out of range"
	msgSameObject      = "ERR source and destination objects are the same"
	msgInvalidCursor   = "ERR invalid cursor"
	msgPersistence     = "MISCONF Errors writing to the data directory; writes are refused until they succeed. Check the server log."
)

// subscribeContextMsg is the error for a command not allowed while subscribed.
func subscribeContextMsg(name string) string {
	return "ERR Can't execute '" + name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}

func wrongArgsMsg(name string) string {
	return "ERR wrong number of arguments for '" + name + "' command"
}

func invalidExpireMsg(name string) string {
	return "ERR invalid expire time in '" + name + "' command"
}

func unknownSubcommandMsg(sub, cmd string) string {
	return "ERR unknown subcommand '" + truncate(sub, 128) + "'. Try " + cmd + " HELP."
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// misconfMsg is the error a write gets once the data directory failed
// (Redis answers MISCONF when it cannot persist; reads go on).
func misconfMsg(err error) string {
	return sanitizeErr("MISCONF Errors writing to the data directory, writes are refused until the server is restarted: " + err.Error())
}
