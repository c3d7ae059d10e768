package server

import (
	"net"
	"strings"
)

// MODULE answers as a Redis 7.0 with no module loaded and none loadable:
// LIST is empty; LOAD, LOADEX and UNLOAD are refused by
// enable-module-command (default "no") as Redis's protected commands are,
// and otherwise fail as a load of a missing library does.

func init() {
	adm := FlagAdmin | FlagNoLock | FlagNoScript
	register(&Command{Name: "module", Arity: -2, Flags: adm, Handler: cmdModule, Group: "server", Summary: "A container for module commands."})
	registerSubcommands("module",
		&subCommand{Name: "list", Arity: 2, Flags: adm, Summary: "Returns all loaded modules."},
		&subCommand{Name: "load", Arity: -3, Flags: adm, Summary: "Loads a module."},
		&subCommand{Name: "loadex", Arity: -3, Flags: adm, Summary: "Loads a module using extended parameters."},
		&subCommand{Name: "unload", Arity: 3, Flags: adm, Summary: "Unloads a module."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagNoLock | FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
	)
}

func cmdModule(c *Client, args [][]byte) {
	sub := resolveSubcommand(c, args, "module")
	if sub == nil {
		return
	}
	switch sub.Name {
	case "help":
		writeHelp(c, args[0],
			"LIST",
			"    Return a list of loaded modules.",
			"LOAD <path> [<arg> ...]",
			"    Load a module library from <path>, passing to it any optional arguments.",
			"LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
			"    Load a module library from <path>, while passing it module configurations and optional arguments.",
			"UNLOAD <name>",
			"    Unload a module.")
	case "list":
		c.WriteArray(0)
	default:
		if !protectedAllowed(c, c.srv.conf.passiveValue("enable-module-command")) {
			c.WriteError(`ERR MODULE command not allowed. If the enable-module-command option is set to "local", ` +
				`you can run it from a local connection, otherwise you need to set this option in the configuration file, ` +
				`and then restart the server.`)
			return
		}
		if sub.Name == "unload" {
			c.WriteError("ERR Error unloading module: no such module with that name")
			return
		}
		c.WriteError("ERR Error loading the extension. Please check the server logs.")
	}
}

// protectedAllowed is Redis's allowProtectedAction: "yes", or "local" for a
// connection from a loopback address or a Unix socket.
func protectedAllowed(c *Client, setting string) bool {
	switch strings.ToLower(setting) {
	case "yes":
		return true
	case "local":
		addr, ok := c.conn.RemoteAddr().(*net.TCPAddr)
		return !ok || addr.IP.IsLoopback()
	}
	return false
}
