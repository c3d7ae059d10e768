package server

// fullName is the command's name as Redis 7 reports it: "client|id" for a
// registered subcommand of a container. The subcommand table is written only
// by init functions, so reading it here needs no lock; a command that is not
// a container costs one map lookup.
func fullName(cmd *Command, args [][]byte) string {
	if len(args) > 1 && subcommands[cmd.Name] != nil {
		if s := lookupSubcommand(cmd.Name, args[1]); s != nil {
			return cmd.Name + "|" + s.Name
		}
	}
	return cmd.Name
}
