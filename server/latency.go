package server

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Per-command latency (LATENCY HISTOGRAM, INFO latencystats), the slow log
// (SLOWLOG) and the latency monitor (LATENCY LATEST/HISTORY/GRAPH/DOCTOR/
// RESET), as Redis 7.0's latency.c and slowlog.c. Every command is timed
// around its handler (clock.go); a blocked command counts the run that
// served it, not the wait.

func init() {
	adm := FlagAdmin | FlagNoLock | FlagNoScript | FlagLoading | FlagStale
	register(
		&Command{Name: "slowlog", Arity: -2, Flags: adm, Handler: cmdSlowlog, Group: "server", Summary: "A container for slow log commands."},
		&Command{Name: "latency", Arity: -2, Flags: adm, Handler: cmdLatency, Group: "server", Summary: "A container for latency diagnostics commands."},
	)
	registerSubcommands("slowlog",
		&subCommand{Name: "get", Arity: -2, Flags: adm, Summary: "Returns the slow log's entries."},
		&subCommand{Name: "len", Arity: 2, Flags: adm, Summary: "Returns the number of entries in the slow log."},
		&subCommand{Name: "reset", Arity: 2, Flags: adm, Summary: "Clears all entries from the slow log."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagNoLock | FlagLoading | FlagStale, Summary: "Show helpful text about the different subcommands"},
	)
	registerSubcommands("latency",
		&subCommand{Name: "latest", Arity: 2, Flags: adm, Summary: "Returns the latest latency samples for all events."},
		&subCommand{Name: "history", Arity: 3, Flags: adm, Summary: "Returns timestamp-latency samples for an event."},
		&subCommand{Name: "reset", Arity: -2, Flags: adm, Summary: "Resets the latency data for one or more events."},
		&subCommand{Name: "graph", Arity: 3, Flags: adm, Summary: "Returns a latency graph for an event."},
		&subCommand{Name: "doctor", Arity: 2, Flags: adm, Summary: "Returns a human-readable latency analysis report."},
		&subCommand{Name: "histogram", Arity: -2, Flags: adm, Summary: "Returns the cumulative distribution of latencies of a subset or all commands."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagNoLock | FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
	)
}

// ---- per-command histograms ----

// latBuckets: bucket 0 holds durations up to 1024 ns, bucket k those in
// (1024<<(k-1), 1024<<k] ns, as Redis reports them (an HDR histogram read
// in powers of two from 1024 ns).
const latBuckets = 44

func latBucket(ns int64) int {
	if ns <= 1024 {
		return 0
	}
	return min(bits.Len64(uint64(ns-1)>>10), latBuckets-1)
}

// latBucketUsec is bucket k's upper bound in microseconds, as Redis prints it.
func latBucketUsec(k int) int64 { return (int64(1024) << k) / 1000 }

// timing is one call's measurement, recorded by record.
func (st *commandStats) record(ns int64, hist bool) {
	st.usec.Add(ns / 1000)
	if hist {
		st.hist[latBucket(ns)].Add(1)
	}
}

// statsFor returns the statistics a call counts in: a subcommand's own
// ("config|get", as Redis 7 keeps them), else the command's.
func (s *Server) statsFor(cmd *Command, args [][]byte) *commandStats {
	if subs := s.subStats[cmd.idx]; subs != nil && len(args) > 1 {
		if st := subs[strings.ToLower(string(args[1]))]; st != nil {
			return st
		}
	}
	return &s.cmdStats[cmd.idx]
}

// initSubStats gives every registered subcommand its statistics.
func (s *Server) initSubStats() {
	s.subStats = make([]map[string]*commandStats, len(commands))
	subMu.RLock()
	defer subMu.RUnlock()
	for parent, subs := range subcommands {
		cmd := commands[parent]
		if cmd == nil {
			continue
		}
		m := make(map[string]*commandStats, len(subs))
		for name := range subs {
			m[name] = new(commandStats)
		}
		s.subStats[cmd.idx] = m
	}
}

// statRow is one line of INFO commandstats / latencystats: a command or a
// subcommand ("client|id") with its statistics.
type statRow struct {
	name string
	st   *commandStats
}

// statRows lists the commands and subcommands in name order.
func (s *Server) statRows() []statRow {
	var out []statRow
	for _, cmd := range sortedCommands() {
		out = append(out, statRow{cmd.Name, s.statsOf(cmd)})
		if subs := s.subStats[cmd.idx]; subs != nil {
			names := make([]string, 0, len(subs))
			for n := range subs {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				out = append(out, statRow{cmd.Name + "|" + n, subs[n]})
			}
		}
	}
	return out
}

// afterTimed records a finished call: statistics, the latency monitor's
// "command"/"fast-command" events and the slow log.
func (s *Server) afterTimed(c *Client, cmd *Command, args [][]byte, st *commandStats, ns int64) {
	st.record(ns, s.latTracking.Load())
	if thr := s.latThreshold.Load(); thr > 0 && ns/1e6 >= thr {
		ev := "command"
		if cmd.Flags&FlagFast != 0 {
			ev = "fast-command"
		}
		s.latency.add(ev, ns/1e6)
	}
	if thr := s.slowThr.Load(); thr >= 0 && ns/1000 >= thr && cmd.Name != "exec" {
		s.slow.push(c, args, ns/1000, int(s.slowMax.Load()))
	}
}

// expireCycleLatency records an active expiry cycle that took at least
// latency-monitor-threshold as Redis's "expire-cycle" event.
func (s *Server) expireCycleLatency(d time.Duration) {
	if thr := s.latThreshold.Load(); thr > 0 && d.Milliseconds() >= thr {
		s.latency.add("expire-cycle", d.Milliseconds())
	}
}

// ---- SLOWLOG ----

const (
	slowlogMaxArgc = 32
	slowlogMaxStr  = 128
)

type slowEntry struct {
	id, at, usec int64
	args         []string
	peer, name   string
}

type slowLog struct {
	mu      sync.Mutex
	entries []slowEntry // newest first
	nextID  int64
}

func (l *slowLog) push(c *Client, args [][]byte, usec int64, maxLen int) {
	args = redactArgs(args)
	n := min(len(args), slowlogMaxArgc)
	e := slowEntry{at: time.Now().Unix(), usec: usec, args: make([]string, n), name: c.name}
	if c.conn != nil { // in-process benchmarks run clients without one
		e.peer = c.conn.RemoteAddr().String()
	}
	for j := 0; j < n; j++ {
		switch a := args[j]; {
		case n != len(args) && j == n-1:
			e.args[j] = fmt.Sprintf("... (%d more arguments)", len(args)-n+1)
		case len(a) > slowlogMaxStr:
			e.args[j] = string(a[:slowlogMaxStr]) + fmt.Sprintf("... (%d more bytes)", len(a)-slowlogMaxStr)
		default:
			e.args[j] = string(a)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.id = l.nextID
	l.nextID++
	l.entries = slices.Insert(l.entries, 0, e)
	if len(l.entries) > maxLen {
		clear(l.entries[max(maxLen, 0):])
		l.entries = l.entries[:max(maxLen, 0)]
	}
}

var redacted = []byte("(redacted)")

// redactArgs hides what Redis keeps out of the slow log: passwords of AUTH,
// HELLO ... AUTH, MIGRATE ... AUTH/AUTH2, ACL SETUSER's name and rules and
// CONFIG SET of a secret.
func redactArgs(args [][]byte) [][]byte {
	hide := func(from, n int) [][]byte {
		out := slices.Clone(args)
		for i := from; i < min(from+n, len(out)); i++ {
			out[i] = redacted
		}
		return out
	}
	switch {
	case eqFold(args[0], "auth"):
		return hide(1, len(args))
	case eqFold(args[0], "acl") && len(args) > 2 && eqFold(args[1], "setuser"):
		return hide(2, len(args))
	case eqFold(args[0], "hello"):
		for i := 2; i < len(args); i++ {
			if eqFold(args[i], "auth") {
				return hide(i+1, 2)
			}
		}
	case eqFold(args[0], "migrate"):
		for i := 6; i < len(args); i++ {
			switch {
			case eqFold(args[i], "auth"):
				return hide(i+1, 1)
			case eqFold(args[i], "auth2"):
				return hide(i+1, 2)
			}
		}
	case eqFold(args[0], "config") && len(args) > 2 && eqFold(args[1], "set"):
		out := args
		for i := 2; i+1 < len(args); i += 2 {
			if eqFold(args[i], "requirepass") || eqFold(args[i], "masterauth") || eqFold(args[i], "masteruser") {
				if &out[0] == &args[0] {
					out = slices.Clone(args)
				}
				out[i+1] = redacted
			}
		}
		return out
	}
	return args
}

func cmdSlowlog(c *Client, args [][]byte) {
	sub := resolveSubcommand(c, args, "slowlog")
	if sub == nil {
		return
	}
	l := &c.srv.slow
	switch sub.Name {
	case "help":
		writeHelp(c, args[0],
			"GET [<count>]",
			"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
			"    Entries are made of:",
			"    id, timestamp, time in microseconds, arguments array, client IP and port,",
			"    client name",
			"LEN",
			"    Return the length of the slowlog.",
			"RESET",
			"    Reset the slowlog.")
	case "reset":
		l.mu.Lock()
		l.entries = nil
		l.mu.Unlock()
		c.WriteOK()
	case "len":
		l.mu.Lock()
		n := len(l.entries)
		l.mu.Unlock()
		c.WriteInt(n)
	case "get":
		if len(args) > 3 {
			c.WriteError(subSyntaxMsg(args))
			return
		}
		count := int64(10)
		if len(args) == 3 {
			n, ok := parseInt(args[2])
			if !ok || n < -1 {
				c.WriteError("ERR count should be greater than or equal to -1")
				return
			}
			count = n
		}
		l.mu.Lock()
		es := l.entries
		if count >= 0 && int64(len(es)) > count {
			es = es[:count]
		}
		es = slices.Clone(es)
		l.mu.Unlock()
		c.WriteArray(len(es))
		for _, e := range es {
			c.WriteArray(6)
			c.WriteInt64(e.id)
			c.WriteInt64(e.at)
			c.WriteInt64(e.usec)
			c.WriteBulkStrings(e.args)
			c.WriteBulkString(e.peer)
			c.WriteBulkString(e.name)
		}
	}
}

// ---- the latency monitor ----

// latencyTSLen is how many per-second samples an event keeps.
const latencyTSLen = 160

type latencySample struct {
	at int64 // unix seconds; 0 = empty
	ms int64
}

type latencySeries struct {
	samples [latencyTSLen]latencySample
	idx     int
	max     int64
}

type latencyMonitor struct {
	mu     sync.Mutex
	events map[string]*latencySeries
}

// add records a latency of ms for event: one sample a second per event,
// the highest of that second.
func (m *latencyMonitor) add(event string, ms int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.events == nil {
		m.events = map[string]*latencySeries{}
	}
	ts := m.events[event]
	if ts == nil {
		ts = &latencySeries{}
		m.events[event] = ts
	}
	now := time.Now().Unix()
	ts.max = max(ts.max, ms)
	prev := &ts.samples[(ts.idx+latencyTSLen-1)%latencyTSLen]
	if prev.at == now {
		prev.ms = max(prev.ms, ms)
		return
	}
	ts.samples[ts.idx] = latencySample{now, ms}
	ts.idx = (ts.idx + 1) % latencyTSLen
}

// history returns an event's samples, oldest first.
func (ts *latencySeries) history() []latencySample {
	var out []latencySample
	for j := 0; j < latencyTSLen; j++ {
		if s := ts.samples[(ts.idx+j)%latencyTSLen]; s.at != 0 {
			out = append(out, s)
		}
	}
	return out
}

func cmdLatency(c *Client, args [][]byte) {
	sub := resolveSubcommand(c, args, "latency")
	if sub == nil {
		return
	}
	m := &c.srv.latency
	switch sub.Name {
	case "help":
		writeHelp(c, args[0],
			"DOCTOR",
			"    Return a human readable latency analysis report.",
			"GRAPH <event>",
			"    Return an ASCII latency graph for the <event> class.",
			"HISTORY <event>",
			"    Return time-latency samples for the <event> class.",
			"LATEST",
			"    Return the latest latency samples for all events.",
			"RESET [<event> ...]",
			"    Reset latency data of one or more <event> classes.",
			"    (default: reset all data for all event classes)",
			"HISTOGRAM [COMMAND ...]",
			"    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
			"    If no commands are specified then all histograms are replied.")
	case "latest":
		m.mu.Lock()
		defer m.mu.Unlock()
		names := latencyEventNames(m)
		c.WriteArray(len(names))
		for _, n := range names {
			ts := m.events[n]
			last := ts.samples[(ts.idx+latencyTSLen-1)%latencyTSLen]
			c.WriteArray(4)
			c.WriteBulkString(n)
			c.WriteInt64(last.at)
			c.WriteInt64(last.ms)
			c.WriteInt64(ts.max)
		}
	case "history":
		m.mu.Lock()
		defer m.mu.Unlock()
		ts := m.events[string(args[2])]
		if ts == nil {
			c.WriteArray(0)
			return
		}
		h := ts.history()
		c.WriteArray(len(h))
		for _, s := range h {
			c.WriteArray(2)
			c.WriteInt64(s.at)
			c.WriteInt64(s.ms)
		}
	case "reset":
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		if len(args) == 2 {
			n = len(m.events)
			clear(m.events)
		} else {
			for _, e := range args[2:] {
				if _, ok := m.events[string(e)]; ok {
					delete(m.events, string(e))
					n++
				}
			}
		}
		c.WriteInt(n)
	case "graph":
		m.mu.Lock()
		ts := m.events[string(args[2])]
		var g string
		if ts != nil {
			g = latencyGraph(string(args[2]), ts)
		}
		m.mu.Unlock()
		if ts == nil {
			c.WriteError("ERR No samples available for event '" + string(args[2]) + "'")
			return
		}
		c.WriteVerbatim([]byte(g))
	case "doctor":
		m.mu.Lock()
		report := latencyDoctor(m)
		m.mu.Unlock()
		c.WriteVerbatim([]byte(report))
	case "histogram":
		latencyHistogram(c, args[2:])
	}
}

func latencyEventNames(m *latencyMonitor) []string {
	names := make([]string, 0, len(m.events))
	for n := range m.events {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// latencyHistogram writes LATENCY HISTOGRAM: per command (a container's
// name stands for its subcommands), its calls and the cumulative counts at
// each bucket's upper bound in microseconds, for those called at least once.
func latencyHistogram(c *Client, names [][]byte) {
	s := c.srv
	var rows []statRow
	if len(names) == 0 {
		for _, r := range s.statRows() {
			if r.st.histCount() > 0 {
				rows = append(rows, r)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			want := strings.ToLower(string(n))
			for _, r := range s.statRows() {
				parent, _, _ := strings.Cut(r.name, "|")
				if (r.name == want || (parent == want && r.name != parent)) && !seen[r.name] && r.st.histCount() > 0 {
					seen[r.name] = true
					rows = append(rows, r)
				}
			}
		}
	}
	c.WriteMap(len(rows))
	for _, r := range rows {
		c.WriteBulkString(r.name)
		c.WriteMap(2)
		c.WriteBulkString("calls")
		c.WriteInt64(r.st.histCount())
		c.WriteBulkString("histogram_usec")
		var cum int64
		type pt struct{ usec, n int64 }
		var pts []pt
		for k := range latBuckets {
			if v := r.st.hist[k].Load(); v > 0 {
				cum += v
				pts = append(pts, pt{latBucketUsec(k), cum})
			}
		}
		c.WriteMap(len(pts))
		for _, p := range pts {
			c.WriteInt64(p.usec)
			c.WriteInt64(p.n)
		}
	}
}

func (st *commandStats) histCount() int64 {
	var n int64
	for k := range latBuckets {
		n += st.hist[k].Load()
	}
	return n
}

// percentileUsec is the upper bound, in microseconds, of the bucket holding
// the p-th percentile of the histogram (0 when empty).
func (st *commandStats) percentileUsec(p float64) float64 {
	total := st.histCount()
	if total == 0 {
		return 0
	}
	want := int64(math.Ceil(p / 100 * float64(total)))
	var cum int64
	for k := range latBuckets {
		cum += st.hist[k].Load()
		if cum >= want {
			return float64(int64(1024)<<k) / 1000
		}
	}
	return float64(int64(1024)<<(latBuckets-1)) / 1000
}

// infoLatencyStats is INFO's latencystats section.
func infoLatencyStats(s *Server, b *infoBuilder) {
	ps := s.latPercentiles()
	for _, r := range s.statRows() {
		if r.st.histCount() == 0 {
			continue
		}
		var v strings.Builder
		for i, p := range ps {
			if i > 0 {
				v.WriteByte(',')
			}
			v.WriteString("p" + strconv.FormatFloat(p, 'f', -1, 64) + "=" + strconv.FormatFloat(r.st.percentileUsec(p), 'f', 3, 64))
		}
		b.field("latency_percentiles_usec_"+r.name, v.String())
	}
}

// latPercentiles parses latency-tracking-info-percentiles.
func (s *Server) latPercentiles() []float64 {
	var out []float64
	for _, f := range strings.Fields(s.conf.passiveValue("latency-tracking-info-percentiles")) {
		if p, err := strconv.ParseFloat(f, 64); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// ---- LATENCY GRAPH and DOCTOR ----

const latencyGraphCols = 80

// latencyGraph renders an event's samples as Redis's sparkline: a header,
// a rule, four rows of bars and the labels (how long ago) written
// vertically.
func latencyGraph(event string, ts *latencySeries) string {
	h := ts.history()
	var lo, hi int64
	var samples []int64
	var labels []string
	now := time.Now().Unix()
	for i, s := range h {
		if i == 0 {
			lo, hi = s.ms, s.ms
		}
		lo, hi = min(lo, s.ms), max(hi, s.ms)
		el := now - s.at
		switch {
		case el < 60:
			labels = append(labels, fmt.Sprintf("%ds", el))
		case el < 3600:
			labels = append(labels, fmt.Sprintf("%dm", el/60))
		case el < 86400:
			labels = append(labels, fmt.Sprintf("%dh", el/3600))
		default:
			labels = append(labels, fmt.Sprintf("%dd", el/86400))
		}
		samples = append(samples, s.ms)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - high %d ms, low %d ms (all time high %d ms)\n", event, hi, lo, ts.max)
	b.WriteString(strings.Repeat("-", latencyGraphCols) + "\n")
	sparkline(&b, samples, labels, 4, lo, hi)
	return b.String()
}

// sparkline is sparkline.c's renderer with the fill option: rows of '_',
// '|' and '-' marks scaled between lo and hi, then the labels one
// character per row, up to latencyGraphCols samples per block.
func sparkline(b *strings.Builder, samples []int64, labels []string, rows int, lo, hi int64) {
	for off := 0; off < len(samples); off += latencyGraphCols {
		end := min(off+latencyGraphCols, len(samples))
		span := float64(hi - lo)
		if span == 0 {
			span = 1
		}
		steps := rows*2 - 1
		level := make([]int, end-off)
		for i := off; i < end; i++ {
			level[i-off] = int(math.Round(float64(samples[i]-lo) / span * float64(steps)))
		}
		for row := 0; row < rows; row++ {
			line := make([]byte, 0, end-off)
			for _, l := range level {
				loop := rows - row - 1
				switch {
				case l/2 == loop && l%2 == 1:
					line = append(line, '_')
				case l/2 == loop:
					line = append(line, '_')
				case l/2 > loop:
					line = append(line, '|')
				default:
					line = append(line, ' ')
				}
			}
			b.WriteString(strings.TrimRight(string(line), " "))
			b.WriteByte('\n')
		}
		maxLen := 0
		for _, l := range labels[off:end] {
			maxLen = max(maxLen, len(l))
		}
		for j := 0; j < maxLen; j++ {
			line := make([]byte, 0, end-off)
			for _, l := range labels[off:end] {
				if j < len(l) {
					line = append(line, l[j])
				} else {
					line = append(line, ' ')
				}
			}
			b.WriteString(strings.TrimRight(string(line), " "))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
}

// latencyDoctor is LATENCY DOCTOR's report: Redis's words when nothing was
// observed, else each event's spikes, average and worst latency.
func latencyDoctor(m *latencyMonitor) string {
	names := latencyEventNames(m)
	if len(names) == 0 {
		return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n"
	}
	var b strings.Builder
	b.WriteString("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n")
	for i, n := range names {
		ts := m.events[n]
		h := ts.history()
		var sum int64
		for _, s := range h {
			sum += s.ms
		}
		avg := int64(0)
		if len(h) > 0 {
			avg = sum / int64(len(h))
		}
		period := int64(0)
		if len(h) > 1 {
			period = (h[len(h)-1].at - h[0].at) / int64(len(h)-1)
		}
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %dms, period %d sec). Worst all time event %dms.\n",
			i+1, n, len(h), avg, period, ts.max)
	}
	b.WriteString("\nI have a few advices for you:\n\n")
	b.WriteString("- Check your system for other processes competing for the CPU, and the slow log (SLOWLOG GET) for slow commands.\n")
	return b.String()
}

// latencyConfig are the live CONFIG parameters of this file.
func latencyConfig(s *Server, t *configTable) {
	signed := func(v *atomic.Int64, min int64) *configParam {
		return &configParam{
			get: func() string { return strconv.FormatInt(v.Load(), 10) },
			set: func(val string) string {
				n, ok := parseInt([]byte(val))
				if !ok || n < min {
					return "argument couldn't be parsed into an integer"
				}
				v.Store(n)
				return ""
			},
		}
	}
	for name, p := range map[string]*configParam{
		"slowlog-log-slower-than":   signed(&s.slowThr, math.MinInt64),
		"slowlog-max-len":           signed(&s.slowMax, 0),
		"latency-monitor-threshold": signed(&s.latThreshold, 0),
		"latency-tracking": {
			get: func() string { return yesNo(s.latTracking.Load()) },
			set: func(v string) string {
				switch strings.ToLower(v) {
				case "yes":
					s.latTracking.Store(true)
				case "no":
					s.latTracking.Store(false)
				default:
					return "argument must be 'yes' or 'no'"
				}
				return ""
			},
		},
	} {
		delete(t.passiv, name)
		t.params[name] = p
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
