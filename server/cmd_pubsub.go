package server

import (
	"runtime"
	"strings"

	"github.com/luxdb/lux-go/pubsub"
)

func init() {
	const ps = FlagPubSub | FlagNoLock | FlagLoading | FlagStale
	register(
		&Command{Name: "subscribe", Arity: -2, Flags: ps | FlagNoScript | FlagSubscribeOK, Handler: cmdSubscribe, Group: "pubsub", Summary: "Listens for messages published to channels."},
		&Command{Name: "unsubscribe", Arity: -1, Flags: ps | FlagNoScript | FlagSubscribeOK, Handler: cmdUnsubscribe, Group: "pubsub", Summary: "Stops listening to messages posted to channels."},
		&Command{Name: "psubscribe", Arity: -2, Flags: ps | FlagNoScript | FlagSubscribeOK, Handler: cmdPSubscribe, Group: "pubsub", Summary: "Listens for messages published to channels that match one or more patterns."},
		&Command{Name: "punsubscribe", Arity: -1, Flags: ps | FlagNoScript | FlagSubscribeOK, Handler: cmdPUnsubscribe, Group: "pubsub", Summary: "Stops listening to messages published to channels that match one or more patterns."},
		&Command{Name: "publish", Arity: 3, Flags: ps | FlagFast | FlagMayReplicate, Handler: cmdPublish, Group: "pubsub", Summary: "Posts a message to a channel."},
		&Command{Name: "pubsub", Arity: -2, Flags: ps, Handler: cmdPubsub, Group: "pubsub", Summary: "A container for Pub/Sub commands."},
		// shard channels: without a cluster, a namespace of their own
		&Command{Name: "ssubscribe", Arity: -2, Flags: ps | FlagNoScript | FlagSubscribeOK, FirstKey: 1, LastKey: -1, Step: 1, Handler: cmdSSubscribe, Group: "pubsub", Summary: "Listens for messages published to shard channels."},
		&Command{Name: "sunsubscribe", Arity: -1, Flags: ps | FlagNoScript | FlagSubscribeOK, FirstKey: 1, LastKey: -1, Step: 1, Handler: cmdSUnsubscribe, Group: "pubsub", Summary: "Stops listening to messages posted to shard channels."},
		&Command{Name: "spublish", Arity: 3, Flags: ps | FlagFast | FlagMayReplicate, FirstKey: 1, LastKey: 1, Step: 1, Handler: cmdSPublish, Group: "pubsub", Summary: "Post a message to a shard channel"},
	)
	// cmdPubsub dispatches these itself; registered, they are commands of
	// their own for COMMAND INFO/DOCS/LIST and statistics, as in Redis
	registerSubcommands("pubsub",
		&subCommand{Name: "channels", Arity: -2, Flags: ps},
		&subCommand{Name: "numpat", Arity: 2, Flags: ps},
		&subCommand{Name: "numsub", Arity: -2, Flags: ps},
		&subCommand{Name: "shardchannels", Arity: -2, Flags: ps},
		&subCommand{Name: "shardnumsub", Arity: -2, Flags: ps},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale},
	)
}

func (c *Client) subscriber() *pubsub.Subscriber {
	if c.sub == nil {
		c.sub = c.srv.hub.NewSubscriber(c, c.srv.cfg.PubSubLimit)
		c.sub.SetPush(c.resp == 3)
	}
	return c.sub
}

// setProtocol switches the connection to RESP2 or RESP3 (HELLO, RESET):
// replies, and the pub/sub messages already queued or to come.
func (c *Client) setProtocol(p int) {
	c.resp = p
	c.respA.Store(int32(p))
	if c.sub != nil {
		c.sub.SetPush(p == 3)
	}
}

// writeSubReply writes a (un)subscribe confirmation: a push in RESP3.
func writeSubReply(c *Client, kind string, name []byte, count int) {
	c.subscribed.Store(c.sub.Subscribed())
	w := c.pushWriter()
	if c.resp == 3 {
		w.WriteRaw([]byte(">3\r\n"))
	} else {
		w.WriteArray(3)
	}
	w.WriteBulkString(kind)
	if name == nil && c.resp == 3 {
		w.WriteRaw([]byte("_\r\n"))
	} else if name == nil {
		w.WriteNull()
	} else {
		w.WriteBulk(name)
	}
	w.WriteInt(count)
}

func cmdSubscribe(c *Client, args [][]byte) {
	sub := c.subscriber()
	for _, ch := range args[1:] {
		writeSubReply(c, "subscribe", ch, c.srv.hub.Subscribe(sub, string(ch)))
	}
}

func cmdPSubscribe(c *Client, args [][]byte) {
	sub := c.subscriber()
	for _, p := range args[1:] {
		writeSubReply(c, "psubscribe", p, c.srv.hub.PSubscribe(sub, string(p)))
	}
}

func cmdUnsubscribe(c *Client, args [][]byte) {
	unsubscribeAll(c, args, "unsubscribe", func(sub *pubsub.Subscriber) []string { return sub.Channels() },
		c.srv.hub.Unsubscribe)
}

func cmdPUnsubscribe(c *Client, args [][]byte) {
	unsubscribeAll(c, args, "punsubscribe", func(sub *pubsub.Subscriber) []string { return sub.Patterns() },
		c.srv.hub.PUnsubscribe)
}

func cmdSSubscribe(c *Client, args [][]byte) {
	if c.inExec {
		// Redis denies it to a client that expects one reply per command
		c.WriteError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
		return
	}
	sub := c.subscriber()
	for _, ch := range args[1:] {
		writeSubReply(c, "ssubscribe", ch, c.srv.hub.SSubscribe(sub, string(ch)))
	}
}

func cmdSUnsubscribe(c *Client, args [][]byte) {
	unsubscribeAll(c, args, "sunsubscribe", func(sub *pubsub.Subscriber) []string { return sub.ShardChannels() },
		c.srv.hub.SUnsubscribe)
}

func cmdSPublish(c *Client, args [][]byte) {
	c.srv.awaitSubscribes(c)
	n := c.srv.hub.SPublish(string(args[1]), args[2])
	c.srv.stats.pubsubMsgs.Add(1)
	if !c.inExec {
		c.writePending(c.sub)
	}
	c.WriteInt(n)
}

// unsubscribeAll implements (P|S)UNSUBSCRIBE: the named ones, or all of the
// client's; with none at all Redis still replies once with a nil name and
// the count of that kind.
func unsubscribeAll(c *Client, args [][]byte, kind string, current func(*pubsub.Subscriber) []string,
	unsub func(*pubsub.Subscriber, string) int) {
	sub := c.subscriber()
	names := args[1:]
	if len(names) == 0 {
		for _, n := range current(sub) {
			names = append(names, []byte(n))
		}
		if len(names) == 0 {
			n := sub.Count()
			if kind == "sunsubscribe" {
				n = len(sub.ShardChannels())
			}
			writeSubReply(c, kind, nil, n)
			return
		}
	}
	for _, n := range names {
		writeSubReply(c, kind, n, unsub(sub, string(n)))
	}
}

func cmdPublish(c *Client, args [][]byte) {
	c.srv.awaitSubscribes(c)
	n := c.srv.hub.Publish(string(args[1]), args[2])
	c.srv.stats.pubsubMsgs.Add(1)
	if !c.inExec {
		// a RESP3 connection subscribed to the channel itself: Redis writes
		// the message into its output buffer before PUBLISH's reply
		c.writePending(c.sub)
	}
	c.WriteInt(n)
}

func cmdPubsub(c *Client, args [][]byte) {
	hub := c.srv.hub
	sub := strings.ToLower(string(args[1]))
	// subcommands with a wrong argument count get Redis's 'pubsub|<sub>' arity error
	if max, ok := map[string]int{"channels": 3, "numpat": 2, "shardchannels": 3, "help": 2}[sub]; ok && len(args) > max {
		c.WriteError(wrongArgsMsg("pubsub|" + sub))
		return
	}
	switch {
	case sub == "channels" && len(args) <= 3:
		var pat []byte
		if len(args) == 3 {
			pat = args[2]
		}
		c.WriteBulkStrings(hub.Channels(pat))
	case sub == "numsub":
		c.WriteArray(2 * (len(args) - 2))
		for _, ch := range args[2:] {
			c.WriteBulk(ch)
			c.WriteInt(hub.NumSub(string(ch)))
		}
	case sub == "numpat" && len(args) == 2:
		c.WriteInt(hub.NumPat())
	case sub == "shardchannels" && len(args) <= 3:
		var pat []byte
		if len(args) == 3 {
			pat = args[2]
		}
		c.WriteBulkStrings(hub.ShardChannels(pat))
	case sub == "shardnumsub":
		c.WriteArray(2 * (len(args) - 2))
		for _, ch := range args[2:] {
			c.WriteBulk(ch)
			c.WriteInt(hub.ShardNumSub(string(ch)))
		}
	case sub == "help" && len(args) == 2:
		c.WriteBulkStrings([]string{
			"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"CHANNELS [<pattern>]",
			"    Return the currently active channels matching a <pattern> (default: '*').",
			"NUMPAT",
			"    Return number of subscriptions to patterns.",
			"NUMSUB [<channel> ...]",
			"    Return the number of subscribers for the specified channels, excluding",
			"    pattern subscriptions(default: no channels).",
			"SHARDCHANNELS [<pattern>]",
			"    Return the currently active shard level channels matching a <pattern> (default: '*').",
			"SHARDNUMSUB [<shardchannel> ...]",
			"    Return the number of subscribers for the specified shard level channel(s)",
			"HELP",
			"    Prints this help.",
		})
	default:
		c.WriteError(unknownSubcommandMsg(string(args[1]), "PUBSUB"))
	}
}

// Arrival order between a SUBSCRIBE and another connection's PUBLISH.
//
// A client may write SUBSCRIBE on one connection and at once PUBLISH on
// another (go-redis's Subscribe does not wait for the confirmation); Redis
// runs them in socket-readiness order, so the message arrives. Here each
// connection has its own goroutine, and Go's netpoller readies the goroutines
// of sockets that became readable together in reverse order, so the PUBLISH
// often ran first and reached nobody (measured with bench/orderprobe: 43% of
// such publishes lost). Until the server reads in readiness order itself, a
// PUBLISH first lets the goroutines readied with it run (runtime.Gosched), and
// then waits, a bounded number of yields, while another connection has read a
// batch with a subscribe command that it has not run yet (subscribesInFlight).
// That narrows the race to a SUBSCRIBE whose goroutine the runtime has not
// readied yet; it does not close it. Only the first PUBLISH of a batch
// yields (the next ones of a pipeline would find nothing new), and inside
// MULTI or a script it does not wait.

// isSubscribeName reports whether a command name is one that changes the
// connection's subscriptions: (P|S)SUBSCRIBE or (P|S)UNSUBSCRIBE. An
// unsubscribe sent before another connection's PUBLISH must keep the
// message from it as a subscribe must bring it (the Redis suite's
// "PUBLISH/PSUBSCRIBE after PUNSUBSCRIBE without arguments" publishes at once
// and expects 0 receivers).
func isSubscribeName(name []byte) bool {
	switch len(name) {
	case 9:
		return strings.EqualFold(string(name), "subscribe")
	case 10:
		return strings.EqualFold(string(name), "psubscribe") || strings.EqualFold(string(name), "ssubscribe")
	case 11:
		return strings.EqualFold(string(name), "unsubscribe")
	case 12:
		return strings.EqualFold(string(name), "punsubscribe") || strings.EqualFold(string(name), "sunsubscribe")
	}
	return false
}

// noteSubscribes marks c as holding a read batch with a subscribe or
// unsubscribe command until doneSubscribes.
func (s *Server) noteSubscribes(c *Client, cmds []reqCommand) {
	for i := range cmds {
		if len(cmds[i].Args) > 0 && isSubscribeName(cmds[i].Args[0]) {
			c.subsInFlight = true
			s.subscribesInFlight.Add(1)
			return
		}
	}
}

func (s *Server) doneSubscribes(c *Client) {
	if c.subsInFlight {
		c.subsInFlight = false
		s.subscribesInFlight.Add(-1)
	}
}

// awaitSubscribes runs before a PUBLISH: see above.
func (s *Server) awaitSubscribes(c *Client) {
	if c.inExec || c.scriptCall || c.pubYielded {
		return
	}
	c.pubYielded = true // once a batch: what a yield lets in comes at once
	runtime.Gosched()
	own := int32(0)
	if c.subsInFlight {
		own = 1
	}
	for i := 0; i < 100 && s.subscribesInFlight.Load() > own; i++ {
		runtime.Gosched()
	}
}
