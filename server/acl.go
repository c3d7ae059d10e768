package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luxdb/lux-go/pubsub"
)

// ACL: users, their rules and the permission checks, as Redis 7.0.15's
// acl.c has them. A user's rules are an immutable aclPerms swapped whole by
// ACL SETUSER/LOAD, so a connection reads its user's rules with one atomic
// load; a user allowed everything (the default user) skips every check.

// Key permissions of a key pattern, and what a key spec asks for.
const (
	aclKeyRead  uint8 = 1
	aclKeyWrite uint8 = 2
	aclKeyAll         = aclKeyRead | aclKeyWrite
)

// User flags, in the order ACL LIST and GETUSER show them.
const (
	userOn uint8 = 1 << iota
	userOff
	userNoPass
	userSkipSanitize
	userSanitize
)

var userFlagNames = []struct {
	f    uint8
	name string
}{{userOn, "on"}, {userOff, "off"}, {userNoPass, "nopass"}, {userSkipSanitize, "skip-sanitize-payload"}, {userSanitize, "sanitize-payload"}}

// Denial reasons (Redis's ACL_DENIED_*; the order decides which error a user
// with several selectors gets).
const (
	aclOK          = 0
	aclDenyCmd     = 1
	aclDenyKey     = 2
	aclDenyAuth    = 3
	aclDenyChannel = 4
)

const (
	aclCtxToplevel = 0
	aclCtxMulti    = 2
)

// aclCmd is a command or subcommand as ACL sees it, with a bit of its own.
type aclCmd struct {
	id        int
	name      string // full name: "config|get"
	cats      uint32 // bits: index in aclCategoryOrder
	parent    *aclCmd
	subs      []*aclCmd
	subByName map[string]*aclCmd
	arity     int
	noAuth    bool
	cmd       *Command // the table entry (the container for a subcommand)
	// spec is Redis's entry for the command (nil for lux's own): its keys
	// are found as Redis's ACL finds them
	spec *cmdSpec
	// subKeys: a lux subcommand without a Redis entry, whose keys are its
	// FirstKey..LastKey range (read access)
	subKeys *subCommand
}

// redisNoAuth are Redis's no_auth commands, which every user may run (lux
// also lets PING in before AUTH, but ACL rules apply to it).
var redisNoAuth = map[string]bool{"auth": true, "hello": true, "quit": true, "reset": true}

var aclTab struct {
	once  sync.Once
	all   []*aclCmd // by id
	top   []*aclCmd // top-level, sorted by name
	byCmd []*aclCmd // by Command.idx (a slice: every call's ACL check looks it up)
}

// aclOf returns cmd's ACL command (aclCommands has run).
func aclOf(cmd *Command) *aclCmd {
	if cmd.idx < len(aclTab.byCmd) && aclTab.byCmd[cmd.idx] != nil && aclTab.byCmd[cmd.idx].cmd == cmd {
		return aclTab.byCmd[cmd.idx]
	}
	return nil
}

func aclCategoryBit(name string) uint32 {
	for i, c := range aclCategoryOrder {
		if c[1:] == name {
			return 1 << i
		}
	}
	return 0
}

func aclCatBits(cats []string) uint32 {
	var b uint32
	for _, c := range cats {
		b |= aclCategoryBit(strings.TrimPrefix(c, "@"))
	}
	return b
}

// aclCommands builds the ACL view of the command table once (after every
// init has registered its commands and subcommands).
func aclCommands() {
	aclTab.once.Do(func() {
		aclTab.byCmd = make([]*aclCmd, len(commands))
		for _, cmd := range sortedCommands() {
			r := rowOf(cmd)
			ac := &aclCmd{id: len(aclTab.all), name: cmd.Name, cats: aclCatBits(r.categories()), arity: cmd.Arity,
				noAuth: redisNoAuth[cmd.Name], cmd: cmd}
			ac.spec = redisSpecs[cmd.Name]
			aclTab.all = append(aclTab.all, ac)
			aclTab.top = append(aclTab.top, ac)
			aclTab.byCmd[cmd.idx] = ac
			for _, s := range subcommandsOf(cmd.Name) {
				sr := subRowOf(cmd, s)
				sc := &aclCmd{id: len(aclTab.all), name: sr.name, cats: aclCatBits(sr.categories()), parent: ac,
					arity: s.Arity, cmd: cmd}
				sc.spec = redisSpecs[sr.name]
				if sc.spec == nil && s.FirstKey > 0 {
					sc.subKeys = s
				}
				aclTab.all = append(aclTab.all, sc)
				if ac.subByName == nil {
					ac.subByName = map[string]*aclCmd{}
				}
				ac.subs = append(ac.subs, sc)
				ac.subByName[s.Name] = sc
			}
		}
	})
}

// aclLookup finds "name" or "container|sub" (case-insensitive) in the ACL
// command table.
func aclLookup(name string) *aclCmd {
	aclCommands()
	n := strings.ToLower(name)
	if i := strings.IndexByte(n, '|'); i >= 0 {
		cmd := commands[n[:i]]
		if cmd == nil {
			return nil
		}
		return aclOf(cmd).subByName[n[i+1:]]
	}
	cmd := commands[n]
	if cmd == nil {
		return nil
	}
	return aclOf(cmd)
}

// aclResolve returns the ACL command a call runs: the subcommand of a
// container when args[1] names one. ok is false when the call names an
// unknown subcommand or has the wrong number of arguments for it, which the
// handler reports (Redis reports them before the ACL check).
func aclResolve(cmd *Command, args [][]byte) (*aclCmd, bool) {
	aclCommands()
	ac := aclOf(cmd)
	if ac == nil {
		return nil, false
	}
	if ac.subs == nil || len(args) < 2 {
		return ac, true
	}
	var buf [32]byte
	name := args[1]
	if len(name) > len(buf) {
		return nil, false
	}
	for i, ch := range name {
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	sc := ac.subByName[string(buf[:len(name)])]
	if sc == nil {
		return nil, false
	}
	if n := len(args); (sc.arity > 0 && n != sc.arity) || (sc.arity < 0 && n < -sc.arity) {
		return nil, false
	}
	return sc, true
}

// ---- selectors and users ----

type aclKeyPattern struct {
	pat  string
	perm uint8
}

type aclSelector struct {
	root        bool
	allKeys     bool
	allChannels bool
	allCommands bool
	future      bool // +@all was the last word on all commands (Redis's reserved bit)
	allowed     []uint64
	firstArgs   map[int][]string
	patterns    []aclKeyPattern
	channels    []string
}

func newSelector(root, allChannels bool) *aclSelector {
	aclCommands()
	return &aclSelector{root: root, allChannels: allChannels, allowed: make([]uint64, (len(aclTab.all)+63)/64)}
}

func (s *aclSelector) clone() *aclSelector {
	d := *s
	d.allowed = append([]uint64(nil), s.allowed...)
	d.patterns = append([]aclKeyPattern(nil), s.patterns...)
	d.channels = append([]string(nil), s.channels...)
	if s.firstArgs != nil {
		d.firstArgs = map[int][]string{}
		for k, v := range s.firstArgs {
			d.firstArgs[k] = append([]string(nil), v...)
		}
	}
	return &d
}

func (s *aclSelector) bit(id int) bool { return s.allowed[id/64]&(1<<(id%64)) != 0 }

func (s *aclSelector) setBit(id int, v bool) {
	if v {
		s.allowed[id/64] |= 1 << (id % 64)
	} else {
		s.allowed[id/64] &^= 1 << (id % 64)
		s.allCommands = false
	}
}

// changePerm allows or blocks a command and, for a container, its subcommands.
func (s *aclSelector) changePerm(ac *aclCmd, allow bool) {
	s.setBit(ac.id, allow)
	delete(s.firstArgs, ac.id)
	for _, sc := range ac.subs {
		s.setBit(sc.id, allow)
	}
}

func (s *aclSelector) setCategory(cat uint32, allow bool) {
	for _, ac := range aclTab.top {
		if ac.cats&cat != 0 {
			s.changePerm(ac, allow)
		}
		for _, sc := range ac.subs {
			if sc.cats&cat != 0 {
				s.changePerm(sc, allow)
			}
		}
	}
}

func (s *aclSelector) countCategory(cat uint32) (on, off int) {
	for _, ac := range aclTab.all {
		if ac.cats&cat != 0 {
			if s.bit(ac.id) {
				on++
			} else {
				off++
			}
		}
	}
	return
}

// errACL* are ACLSetUserStringError's causes.
var (
	errACLSyntax      = errors.New("Syntax error")
	errACLUnknown     = errors.New("Unknown command or category name in ACL")
	errACLKeysAll     = errors.New("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns")
	errACLChannelsAll = errors.New("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels")
	errACLNoPass      = errors.New("The password you are trying to remove from the user does not exist")
	errACLHash        = errors.New("The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
	errACLFirstArg    = errors.New("Allowing first-arg of a subcommand is not supported")
)

func hasSpaces(s string) bool { return strings.ContainsAny(s, " \x00") }

// set applies one selector rule (ACLSetSelector).
func (s *aclSelector) set(op string) error {
	switch {
	case strings.EqualFold(op, "allkeys") || op == "~*":
		s.allKeys, s.patterns = true, nil
	case strings.EqualFold(op, "resetkeys"):
		s.allKeys, s.patterns = false, nil
	case strings.EqualFold(op, "allchannels") || op == "&*":
		s.allChannels, s.channels = true, nil
	case strings.EqualFold(op, "resetchannels"):
		s.allChannels, s.channels = false, nil
	case strings.EqualFold(op, "allcommands") || strings.EqualFold(op, "+@all"):
		for i := range s.allowed {
			s.allowed[i] = ^uint64(0)
		}
		s.allCommands, s.future, s.firstArgs = true, true, nil
	case strings.EqualFold(op, "nocommands") || strings.EqualFold(op, "-@all"):
		for i := range s.allowed {
			s.allowed[i] = 0
		}
		s.allCommands, s.future, s.firstArgs = false, false, nil
	case op[0] == '~' || op[0] == '%':
		if s.allKeys {
			return errACLKeysAll
		}
		var perm uint8
		off := 1
		if op[0] == '%' {
			for ; off < len(op); off++ {
				ch := op[off]
				if (ch == 'R' || ch == 'r') && perm&aclKeyRead == 0 {
					perm |= aclKeyRead
				} else if (ch == 'W' || ch == 'w') && perm&aclKeyWrite == 0 {
					perm |= aclKeyWrite
				} else if ch == '~' {
					off++
					break
				} else {
					return errACLSyntax
				}
			}
		} else {
			perm = aclKeyAll
		}
		pat := op[min(off, len(op)):]
		if hasSpaces(pat) || perm == 0 {
			return errACLSyntax
		}
		for i := range s.patterns {
			if s.patterns[i].pat == pat {
				s.patterns[i].perm |= perm
				return nil
			}
		}
		s.patterns = append(s.patterns, aclKeyPattern{pat, perm})
	case op[0] == '&':
		if s.allChannels {
			return errACLChannelsAll
		}
		pat := op[1:]
		if hasSpaces(pat) {
			return errACLSyntax
		}
		for _, c := range s.channels {
			if c == pat {
				return nil
			}
		}
		s.channels = append(s.channels, pat)
	case op[0] == '+' && (len(op) < 2 || op[1] != '@'):
		name := op[1:]
		i := strings.LastIndexByte(name, '|')
		if i < 0 {
			ac := aclLookup(name)
			if ac == nil {
				return errACLUnknown
			}
			s.changePerm(ac, true)
			return nil
		}
		ac := aclLookup(name[:i])
		if ac == nil {
			return errACLUnknown
		}
		if ac.parent != nil || strings.Contains(name[:i], "|") {
			return errACLFirstArg
		}
		sub := name[i+1:]
		if sub == "" {
			return errACLSyntax
		}
		if ac.subs != nil {
			sc := aclLookup(name)
			if sc == nil {
				return errACLUnknown
			}
			s.changePerm(sc, true)
			return nil
		}
		// allowing a first argument of a command without subcommands
		// (deprecated in Redis, kept for compatibility)
		if s.firstArgs == nil {
			s.firstArgs = map[int][]string{}
		}
		for _, a := range s.firstArgs[ac.id] {
			if strings.EqualFold(a, sub) {
				return nil
			}
		}
		s.firstArgs[ac.id] = append(s.firstArgs[ac.id], sub)
	case op[0] == '-' && (len(op) < 2 || op[1] != '@'):
		ac := aclLookup(op[1:])
		if ac == nil {
			return errACLUnknown
		}
		s.changePerm(ac, false)
	case (op[0] == '+' || op[0] == '-') && op[1] == '@':
		cat := aclCategoryBit(strings.ToLower(op[2:]))
		if cat == 0 {
			return errACLUnknown
		}
		s.setCategory(cat, op[0] == '+')
	default:
		return errACLSyntax
	}
	return nil
}

// aclPerms are a user's rules; never changed once published.
type aclPerms struct {
	flags     uint8
	passwords []string // SHA-256, hex
	selectors []*aclSelector
	// unrestricted: one selector allows every command, key and channel
	unrestricted bool
	desc         string // ACL LIST's description, computed on demand
}

func (p *aclPerms) clone() *aclPerms {
	d := &aclPerms{flags: p.flags, passwords: append([]string(nil), p.passwords...)}
	for _, s := range p.selectors {
		d.selectors = append(d.selectors, s.clone())
	}
	return d
}

func (p *aclPerms) finish() *aclPerms {
	p.unrestricted = false
	for _, s := range p.selectors {
		if s.allCommands && s.allKeys && s.allChannels {
			p.unrestricted = true
		}
	}
	p.desc = describePerms(p)
	return p
}

func (p *aclPerms) enabled() bool { return p.flags&userOn != 0 }

// aclUser is a user's identity; its rules are swapped atomically.
type aclUser struct {
	name    string
	perms   atomic.Pointer[aclPerms]
	deleted atomic.Bool
}

func (u *aclUser) p() *aclPerms { return u.perms.Load() }

func hashPassword(pw string) string {
	h := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(h[:])
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
			return false
		}
	}
	return true
}

// setUser applies one user rule (ACLSetUser). allChannels is
// acl-pubsub-default's effect on "reset".
func (p *aclPerms) set(op string, allChannels bool) error {
	if op == "" {
		return nil
	}
	switch {
	case strings.EqualFold(op, "on"):
		p.flags = p.flags&^userOff | userOn
	case strings.EqualFold(op, "off"):
		p.flags = p.flags&^userOn | userOff
	case strings.EqualFold(op, "skip-sanitize-payload"):
		p.flags = p.flags&^userSanitize | userSkipSanitize
	case strings.EqualFold(op, "sanitize-payload"):
		p.flags = p.flags&^userSkipSanitize | userSanitize
	case strings.EqualFold(op, "nopass"):
		p.flags |= userNoPass
		p.passwords = nil
	case strings.EqualFold(op, "resetpass"):
		p.flags &^= userNoPass
		p.passwords = nil
	case op[0] == '>' || op[0] == '#':
		var h string
		if op[0] == '>' {
			h = hashPassword(op[1:])
		} else {
			if !validHash(op[1:]) {
				return errACLHash
			}
			h = op[1:]
		}
		found := false
		for _, x := range p.passwords {
			if x == h {
				found = true
			}
		}
		if !found {
			p.passwords = append(p.passwords, h)
		}
		p.flags &^= userNoPass
	case op[0] == '<' || op[0] == '!':
		var h string
		if op[0] == '<' {
			h = hashPassword(op[1:])
		} else {
			if !validHash(op[1:]) {
				return errACLHash
			}
			h = op[1:]
		}
		for i, x := range p.passwords {
			if x == h {
				p.passwords = append(p.passwords[:i:i], p.passwords[i+1:]...)
				return nil
			}
		}
		return errACLNoPass
	case op[0] == '(' && op[len(op)-1] == ')':
		s := newSelector(false, allChannels)
		args, ok := splitArgs(op[1 : len(op)-1])
		if !ok {
			return errACLSyntax
		}
		for _, a := range args {
			if a == "" {
				continue
			}
			if err := s.set(a); err != nil {
				return err
			}
		}
		p.selectors = append(p.selectors, s)
	case strings.EqualFold(op, "clearselectors"):
		p.selectors = p.selectors[:1]
	case strings.EqualFold(op, "reset"):
		p.flags &^= userNoPass
		p.passwords = nil
		p.selectors = p.selectors[:1]
		root := newSelector(true, allChannels)
		p.selectors[0] = root
		p.flags = p.flags&^(userOn|userSkipSanitize) | userOff | userSanitize
	default:
		return p.selectors[0].set(op)
	}
	return nil
}

// splitArgs is sdssplitargs (protoSplitArgs) over one line of an ACL file.
func splitArgs(line string) ([]string, bool) {
	args, ends, ok := protoSplitArgs([]byte(line), nil, nil)
	if !ok {
		return nil, false
	}
	out := make([]string, len(ends))
	start := 0
	for k, end := range ends {
		out[k] = string(args[start:end])
		start = end
	}
	return out, true
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// mergeSelectorArgs joins the words of a parenthesised selector split over
// several arguments (ACLMergeSelectorArguments); bad is the index of an
// unmatched "(" word, or -1.
func mergeSelectorArgs(args []string) (out []string, bad int) {
	open := -1
	var sel string
	for j, op := range args {
		if open == -1 && len(op) > 0 && op[0] == '(' && op[len(op)-1] != ')' {
			sel, open = op, j
			continue
		}
		if open != -1 {
			sel += " " + op
			if len(op) > 0 && op[len(op)-1] == ')' {
				open = -1
				out = append(out, sel)
			}
			continue
		}
		out = append(out, op)
	}
	if open != -1 {
		return nil, open
	}
	return out, -1
}

// ---- describing ----

func describeCommandRules(s *aclSelector) string {
	var b strings.Builder
	fake := newSelector(false, false)
	additive := !s.future
	if additive {
		b.WriteString("-@all ")
	} else {
		b.WriteString("+@all ")
		fake.set("+@all")
	}
	temp := newSelector(false, false)
	copy(temp.allowed, s.allowed)
	applied := make([]bool, len(aclCategoryOrder))
	for {
		best, mindiff, maxsame := -1, int(^uint(0)>>1), 0
		for j := range aclCategoryOrder {
			if applied[j] {
				continue
			}
			on, off := temp.countCategory(1 << j)
			diff, same := on, off
			if additive {
				diff, same = off, on
			}
			if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
				best, mindiff, maxsame = j, diff, same
			}
		}
		if best == -1 {
			break
		}
		name := aclCategoryOrder[best][1:]
		if additive {
			b.WriteString("+@" + name + " ")
			fake.setCategory(1<<best, true)
			temp.setCategory(1<<best, false)
		} else {
			b.WriteString("-@" + name + " ")
			fake.setCategory(1<<best, false)
			temp.setCategory(1<<best, true)
		}
		applied[best] = true
	}
	var single func(cmds []*aclCmd)
	single = func(cmds []*aclCmd) {
		for _, ac := range cmds {
			user, fb := s.bit(ac.id), fake.bit(ac.id)
			if user != fb {
				if user {
					b.WriteString("+")
				} else {
					b.WriteString("-")
				}
				b.WriteString(ac.name + " ")
				fake.changePerm(ac, user)
			}
			single(ac.subs)
			if !user {
				for _, a := range s.firstArgs[ac.id] {
					b.WriteString("+" + ac.name + "|" + a + " ")
				}
			}
		}
	}
	single(aclTab.top)
	return strings.TrimSuffix(b.String(), " ")
}

func (s *aclSelector) keysString() string {
	var parts []string
	for _, p := range s.patterns {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, " ")
}

func (p aclKeyPattern) String() string {
	switch p.perm {
	case aclKeyRead:
		return "%R~" + p.pat
	case aclKeyWrite:
		return "%W~" + p.pat
	}
	return "~" + p.pat
}

func describeSelector(s *aclSelector) string {
	var b strings.Builder
	if s.allKeys {
		b.WriteString("~* ")
	} else {
		for _, p := range s.patterns {
			b.WriteString(p.String() + " ")
		}
	}
	if s.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range s.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(describeCommandRules(s))
	return b.String()
}

func describePerms(p *aclPerms) string {
	var b strings.Builder
	for _, f := range userFlagNames {
		if p.flags&f.f != 0 {
			b.WriteString(f.name + " ")
		}
	}
	for _, h := range p.passwords {
		b.WriteString("#" + h + " ")
	}
	for _, s := range p.selectors {
		if s.root {
			b.WriteString(describeSelector(s))
		} else {
			b.WriteString(" (" + describeSelector(s) + ")")
		}
	}
	return b.String()
}

// ---- checks ----

// aclKeyRef is a key argument of a call and the access it needs.
type aclKeyRef struct {
	pos  int
	perm uint8
}

// aclKeys returns a call's keys and the access each needs, as Redis's ACL
// finds them (getKeysFromCommandWithSpecs, the same search as COMMAND
// GETKEYSANDFLAGS: cmdSpec.keys) for Redis's commands; the command table's
// key range for lux's own.
func aclKeys(ac *aclCmd, args [][]byte) []aclKeyRef {
	switch {
	case ac.spec != nil:
		refs := ac.spec.keys(args)
		out := make([]aclKeyRef, len(refs))
		for i, r := range refs {
			out[i] = aclKeyRef{r.pos, aclKeyPerm(r.flags)}
		}
		return out
	case ac.subKeys != nil:
		sub := ac.subKeys
		last := sub.LastKey
		if last < 0 {
			last += len(args)
		}
		var out []aclKeyRef
		for i := sub.FirstKey; i <= min(last, len(args)-1); i += max(sub.Step, 1) {
			out = append(out, aclKeyRef{i, aclKeyRead})
		}
		return out
	}
	return tableKeys(ac.cmd, args)
}

// aclKeyPerm is the permission a key spec's flags ask for, as Redis's
// ACLSelectorCheckKey derives it: access needs read; insert, delete and
// update need write.
func aclKeyPerm(flags uint16) uint8 {
	var p uint8
	if flags&ksAccess != 0 {
		p |= aclKeyRead
	}
	if flags&(ksInsert|ksDelete|ksUpdate) != 0 {
		p |= aclKeyWrite
	}
	return p
}

// tableKeys are the keys of a command without a Redis key spec (lux's own):
// the command table's key range, read access for read-only commands, write
// access for the others.
func tableKeys(cmd *Command, args [][]byte) []aclKeyRef {
	perm := aclKeyWrite
	if cmd.Flags&FlagWrite == 0 {
		perm = aclKeyRead
	}
	var out []aclKeyRef
	if cmd.Keys != nil {
		used := make([]bool, len(args))
		for _, k := range cmd.Keys(args) {
			for i := 1; i < len(args); i++ {
				if !used[i] && string(args[i]) == string(k) {
					used[i] = true
					out = append(out, aclKeyRef{i, perm})
					break
				}
			}
		}
		return out
	}
	if cmd.FirstKey <= 0 || cmd.FirstKey >= len(args) {
		return nil
	}
	last := cmd.LastKey
	if last < 0 {
		last += len(args)
	}
	last = min(last, len(args)-1)
	for i := cmd.FirstKey; i <= last; i += max(cmd.Step, 1) {
		out = append(out, aclKeyRef{i, perm})
	}
	return out
}

// channelRefs are a call's channel arguments (getChannelsFromCommand), for
// the commands that publish or subscribe.
func channelRefs(name string, args [][]byte) (first, last int, pattern bool) {
	switch name {
	case "subscribe", "ssubscribe":
		return 1, len(args) - 1, false
	case "psubscribe":
		return 1, len(args) - 1, true
	case "publish", "spublish":
		return 1, min(1, len(args)-1), false
	}
	return 0, -1, false
}

func (s *aclSelector) checkKey(key []byte, perm uint8) bool {
	if s.allKeys {
		return true
	}
	for _, p := range s.patterns {
		if p.perm&perm != perm {
			continue
		}
		if pubsub.Match([]byte(p.pat), key, false) {
			return true
		}
	}
	return false
}

func checkChannel(list []string, ch []byte, pattern bool) bool {
	for _, p := range list {
		if (pattern && p == string(ch)) || (!pattern && pubsub.Match([]byte(p), ch, false)) {
			return true
		}
	}
	return false
}

// checkCmd is ACLSelectorCheckCmd: the verdict and the argument at fault.
func (s *aclSelector) checkCmd(ac *aclCmd, args [][]byte, keys *[]aclKeyRef, keysDone *bool) (int, int) {
	if !s.allCommands && !ac.noAuth && !s.bit(ac.id) {
		allowed := s.firstArgs[ac.id]
		if len(args) < 2 || allowed == nil {
			return aclDenyCmd, 0
		}
		idx := 1
		if ac.parent != nil {
			idx = 2
		}
		ok := false
		for _, a := range allowed {
			if idx < len(args) && strings.EqualFold(string(args[idx]), a) {
				ok = true
				break
			}
		}
		if !ok {
			return aclDenyCmd, 0
		}
	}
	if !s.allKeys {
		if !*keysDone {
			*keys, *keysDone = aclKeys(ac, args), true
		}
		for _, k := range *keys {
			if !s.checkKey(args[k.pos], k.perm) {
				return aclDenyKey, k.pos
			}
		}
	}
	if !s.allChannels {
		first, last, pattern := channelRefs(ac.name, args)
		for i := first; i <= last; i++ {
			if !checkChannel(s.channels, args[i], pattern) {
				return aclDenyChannel, i
			}
		}
	}
	return aclOK, 0
}

// checkAll is ACLCheckAllUserCommandPerm: allowed if one selector allows.
func (p *aclPerms) checkAll(ac *aclCmd, args [][]byte) (int, int) {
	if p.unrestricted {
		return aclOK, 0
	}
	var keys []aclKeyRef
	done := false
	relevant, lastIdx := aclDenyCmd, 0
	for _, s := range p.selectors {
		r, idx := s.checkCmd(ac, args, &keys, &done)
		if r == aclOK {
			return aclOK, 0
		}
		if r > relevant || (r == relevant && idx > lastIdx) {
			relevant, lastIdx = r, idx
		}
	}
	return relevant, lastIdx
}

// unrestrictedKeyRead reports whether a selector that allows the call also
// reads every key (ACLUserCheckCmdWithUnrestrictedKeyAccess): SORT's BY and
// GET patterns need it.
func (p *aclPerms) unrestrictedKeyRead(ac *aclCmd, args [][]byte) bool {
	if p.unrestricted {
		return true
	}
	var keys []aclKeyRef
	done := false
	for _, s := range p.selectors {
		if r, _ := s.checkCmd(ac, args, &keys, &done); r != aclOK {
			continue
		}
		if s.allKeys {
			return true
		}
		for _, pt := range s.patterns {
			if pt.perm&aclKeyRead != 0 && pt.pat == "*" {
				return true
			}
		}
	}
	return false
}

// fullKeyRead reports whether the client's user may read every key with
// the running call (SORT's BY and GET).
func (c *Client) fullKeyRead(args [][]byte) bool {
	u := c.user.Load()
	if u == nil || u.p().unrestricted {
		return true
	}
	ac, ok := aclResolve(c.cmd, args)
	if !ok {
		return true
	}
	return u.p().unrestrictedKeyRead(ac, args)
}

// ---- server state ----

type aclLogEntry struct {
	count    int64
	reason   int
	context  int
	object   string
	username string
	ctime    time.Time
	cinfo    string
}

type aclState struct {
	mu     sync.Mutex
	users  map[string]*aclUser
	def    *aclUser
	log    []*aclLogEntry // newest first
	logMax atomic.Int64
	// pubsubAll: acl-pubsub-default is allchannels
	pubsubAll atomic.Bool
	file      string
}

func defaultPerms() *aclPerms {
	p := &aclPerms{selectors: []*aclSelector{newSelector(true, false)}, flags: userOff}
	for _, op := range []string{"+@all", "~*", "&*", "on", "nopass"} {
		p.set(op, false)
	}
	return p.finish()
}

func (s *Server) initACL(password, file string) {
	a := &s.acl
	a.users = map[string]*aclUser{}
	a.def = &aclUser{name: "default"}
	a.def.perms.Store(defaultPerms())
	a.users["default"] = a.def
	a.logMax.Store(128)
	a.file = file
	if password != "" {
		s.setDefaultPassword(password)
	}
}

// LoadACLFile loads the configured ACL file at start-up.
func (s *Server) LoadACLFile() error {
	if s.acl.file == "" {
		return nil
	}
	if msg := s.aclLoad(nil); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// setDefaultPassword is requirepass: ">pass" on the default user, or nopass.
func (s *Server) setDefaultPassword(pw string) {
	a := &s.acl
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.def.p().clone()
	p.set("resetpass", false)
	if pw != "" {
		p.set(">"+pw, false)
	} else {
		p.set("nopass", false)
	}
	a.def.perms.Store(p.finish())
}

// authNeeded: a connection that has not authenticated may only run no-auth
// commands, unless the default user is enabled and has nopass.
func (s *Server) authNeeded() bool {
	p := s.acl.def.p()
	return p.flags&userNoPass == 0 || p.flags&userOn == 0
}

func (s *Server) defaultLoginOK() bool { return !s.authNeeded() }

// checkCredentials is ACLCheckUserCredentials.
func (s *Server) checkCredentials(user, pass []byte) *aclUser {
	s.acl.mu.Lock()
	u := s.acl.users[string(user)]
	s.acl.mu.Unlock()
	if u == nil {
		return nil
	}
	p := u.p()
	if p.flags&userOn == 0 {
		return nil
	}
	if p.flags&userNoPass != 0 {
		return u
	}
	h := hashPassword(string(pass))
	for _, x := range p.passwords {
		if subtle.ConstantTimeCompare([]byte(x), []byte(h)) == 1 {
			return u
		}
	}
	return nil
}

// authenticate logs c in as user, or logs the failure.
func (c *Client) authenticate(user, pass []byte, cmdName []byte) bool {
	u := c.srv.checkCredentials(user, pass)
	if u == nil {
		ctx := aclCtxToplevel
		if c.multi {
			ctx = aclCtxMulti
		}
		c.srv.aclLogAdd(c, aclDenyAuth, ctx, string(cmdName), string(user))
		return false
	}
	c.user.Store(u)
	c.authed = true
	return true
}

func (c *Client) userName() string {
	if u := c.user.Load(); u != nil {
		return u.name
	}
	return "default"
}

func (s *Server) aclLogAdd(c *Client, reason, ctx int, object, username string) {
	if username == "" {
		username = c.userName()
	}
	e := &aclLogEntry{count: 1, reason: reason, context: ctx, object: object, username: username,
		ctime: time.Now(), cinfo: c.clientInfo()}
	a := &s.acl
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := 0; i < len(a.log) && i < 10; i++ {
		m := a.log[i]
		d := e.ctime.Sub(m.ctime)
		if d < 0 {
			d = -d
		}
		if m.reason == e.reason && m.context == e.context && d <= 60*time.Second && m.object == e.object && m.username == e.username {
			m.cinfo, m.ctime = e.cinfo, e.ctime
			m.count++
			copy(a.log[1:i+1], a.log[:i])
			a.log[0] = m
			return
		}
	}
	a.log = append([]*aclLogEntry{e}, a.log...)
	if max := a.logMax.Load(); int64(len(a.log)) > max {
		a.log = a.log[:max]
	}
}

// aclCheckCall checks a call against the client's user before it runs or
// is queued; on a denial it logs, writes the error and returns false.
func (s *Server) aclCheckCall(c *Client, cmd *Command, args [][]byte, inExec bool) bool {
	ac, ok := aclResolve(cmd, args)
	if !ok {
		return true
	}
	u := c.user.Load()
	if u == nil {
		u = s.acl.def
	}
	r, idx := u.p().checkAll(ac, args)
	if r == aclOK {
		return true
	}
	ctx := aclCtxToplevel
	if c.multi || inExec {
		ctx = aclCtxMulti
	}
	// Redis names the refused command in the entry's client info
	c.cmd, c.cmdName = cmd, ac.name
	obj := ac.name
	if r != aclDenyCmd {
		obj = string(args[idx])
	}
	s.aclLogAdd(c, r, ctx, obj, "")
	if inExec {
		reason := "no permission to execute the command or subcommand"
		switch r {
		case aclDenyKey:
			reason = "no permission to touch the specified keys"
		case aclDenyChannel:
			reason = "no permission to access one of the channels used as arguments"
		}
		c.WriteError("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + reason)
		return false
	}
	switch r {
	case aclDenyCmd:
		s.reject(c, cmd, "NOPERM this user has no permissions to run the '"+ac.name+"' command")
	case aclDenyKey:
		s.reject(c, cmd, "NOPERM this user has no permissions to access one of the keys used as arguments")
	default:
		s.reject(c, cmd, "NOPERM this user has no permissions to access one of the channels used as arguments")
	}
	return false
}

// killUserClients disconnects the connections of a deleted or replaced user
// (the current one after its reply).
func (s *Server) killUserClients(self *Client, users map[*aclUser]bool) {
	for _, cl := range s.snapshotClients() {
		if users[cl.user.Load()] {
			if cl == self {
				cl.user.Store(s.acl.def)
				cl.authed = false
			}
			killClient(self, cl)
		}
	}
}

// killPubsubIfNeeded disconnects the subscribers of u whose subscriptions
// its new rules no longer allow (ACLKillPubsubClientsIfNeeded).
func (s *Server) killPubsubIfNeeded(self *Client, u *aclUser, old, nw *aclPerms) {
	var upcoming []string
	for _, sel := range nw.selectors {
		if sel.allChannels {
			return
		}
		upcoming = append(upcoming, sel.channels...)
	}
	match := true
	for _, sel := range old.selectors {
		if sel.allChannels {
			match = false
			break
		}
		for _, ch := range sel.channels {
			found := false
			for _, x := range upcoming {
				if x == ch {
					found = true
				}
			}
			if !found {
				match = false
			}
		}
	}
	if match {
		return
	}
	for _, cl := range s.snapshotClients() {
		if cl.user.Load() != u || !cl.subscribed.Load() {
			continue
		}
		sub := cl.sub
		if sub == nil {
			continue
		}
		kill := false
		for _, p := range sub.Patterns() {
			if !checkChannel(upcoming, []byte(p), true) {
				kill = true
			}
		}
		for _, ch := range append(sub.Channels(), sub.ShardChannels()...) {
			if !checkChannel(upcoming, []byte(ch), false) {
				kill = true
			}
		}
		if kill {
			killClient(self, cl)
		}
	}
}

// setUser is ACLStringSetUser: the rules apply to a copy, published only if
// all of them are valid. It returns an error message or "".
func (s *Server) setUser(self *Client, name string, ops []string) string {
	merged, bad := mergeSelectorArgs(ops)
	if bad >= 0 {
		return "Unmatched parenthesis in acl selector starting at '" + ops[bad] + "'."
	}
	a := &s.acl
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.users[name]
	var p *aclPerms
	if u != nil {
		p = u.p().clone()
	} else {
		p = &aclPerms{flags: userOff, selectors: []*aclSelector{newSelector(true, a.pubsubAll.Load())}}
	}
	for _, op := range merged {
		if err := p.set(op, a.pubsubAll.Load()); err != nil {
			return "Error in ACL SETUSER modifier '" + op + "': " + err.Error()
		}
	}
	p.finish()
	if u == nil {
		u = &aclUser{name: name}
		a.users[name] = u
	} else {
		s.killPubsubIfNeeded(self, u, u.p(), p)
	}
	u.perms.Store(p)
	return ""
}

// ---- ACL command ----

func init() {
	register(&Command{Name: "acl", Arity: -2, Flags: FlagNoLock | FlagAdmin | FlagNoScript | FlagLoading | FlagStale,
		Handler: cmdACL, Group: "server", Summary: "A container for Access List Control commands."})
	const f = FlagAdmin | FlagNoScript | FlagLoading | FlagStale
	registerSubcommands("acl",
		&subCommand{Name: "cat", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale, Summary: "Lists the ACL categories, or the commands inside a category."},
		&subCommand{Name: "deluser", Arity: -3, Flags: f, Summary: "Deletes ACL users, and terminates their connections."},
		&subCommand{Name: "dryrun", Arity: -4, Flags: f, Summary: "Simulates the execution of a command by a user, without executing the command."},
		&subCommand{Name: "genpass", Arity: -2, Flags: FlagNoScript | FlagLoading | FlagStale, Summary: "Generates a pseudorandom, secure password that can be used to identify ACL users."},
		&subCommand{Name: "getuser", Arity: 3, Flags: f, Summary: "Lists the ACL rules of a user."},
		&subCommand{Name: "help", Arity: 2, Flags: FlagLoading | FlagStale, Summary: "Returns helpful text about the different subcommands."},
		&subCommand{Name: "list", Arity: 2, Flags: f, Summary: "Dumps the effective rules in ACL file format."},
		&subCommand{Name: "load", Arity: 2, Flags: f, Summary: "Reloads the rules from the configured ACL file."},
		&subCommand{Name: "log", Arity: -2, Flags: f, Summary: "Lists recent security events generated due to ACL rules."},
		&subCommand{Name: "save", Arity: 2, Flags: f, Summary: "Saves the effective ACL rules in the configured ACL file."},
		&subCommand{Name: "setuser", Arity: -3, Flags: f, Summary: "Creates and modifies an ACL user and its rules."},
		&subCommand{Name: "users", Arity: 2, Flags: f, Summary: "Lists all ACL users."},
		&subCommand{Name: "whoami", Arity: 2, Flags: FlagNoScript | FlagLoading | FlagStale, Summary: "Returns the authenticated username of the current connection."},
	)
}

func (s *Server) sortedUsers() []*aclUser {
	s.acl.mu.Lock()
	defer s.acl.mu.Unlock()
	out := make([]*aclUser, 0, len(s.acl.users))
	for _, u := range s.acl.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func cmdACL(c *Client, args [][]byte) {
	if resolveSubcommand(c, args, "acl") == nil {
		return
	}
	s := c.srv
	sub := strings.ToLower(string(args[1]))
	n := len(args)
	switch {
	case sub == "setuser" && n >= 3:
		name := string(args[2])
		if hasSpaces(name) {
			c.WriteError("ERR Usernames can't contain spaces or null characters")
			return
		}
		ops := make([]string, 0, n-3)
		for _, a := range args[3:] {
			ops = append(ops, string(a))
		}
		if msg := s.setUser(c, name, ops); msg != "" {
			c.WriteError("ERR " + sanitizeErr(msg))
			return
		}
		c.WriteOK()
	case sub == "deluser" && n >= 3:
		for _, a := range args[2:] {
			if string(a) == "default" {
				c.WriteError("ERR The 'default' user cannot be removed")
				return
			}
		}
		s.acl.mu.Lock()
		gone := map[*aclUser]bool{}
		for _, a := range args[2:] {
			if u := s.acl.users[string(a)]; u != nil {
				delete(s.acl.users, u.name)
				u.deleted.Store(true)
				gone[u] = true
			}
		}
		s.acl.mu.Unlock()
		s.killUserClients(c, gone)
		c.WriteInt(len(gone))
	case sub == "getuser" && n == 3:
		s.acl.mu.Lock()
		u := s.acl.users[string(args[2])]
		s.acl.mu.Unlock()
		if u == nil {
			c.WriteNull()
			return
		}
		p := u.p()
		c.WriteMap(6)
		c.WriteBulkString("flags")
		var flags []string
		for _, f := range userFlagNames {
			if p.flags&f.f != 0 {
				flags = append(flags, f.name)
			}
		}
		writeBulkSet(c, flags)
		c.WriteBulkString("passwords")
		c.WriteBulkStrings(p.passwords)
		writeSelectorFields(c, p.selectors[0])
		c.WriteBulkString("selectors")
		c.WriteArray(len(p.selectors) - 1)
		for _, sel := range p.selectors[1:] {
			c.WriteMap(3)
			writeSelectorFields(c, sel)
		}
	case (sub == "list" || sub == "users") && n == 2:
		users := s.sortedUsers()
		c.WriteArray(len(users))
		for _, u := range users {
			if sub == "users" {
				c.WriteBulkString(u.name)
			} else {
				c.WriteBulkString("user " + u.name + " " + u.p().desc)
			}
		}
	case sub == "whoami" && n == 2:
		c.WriteBulkString(c.userName())
	case s.acl.file == "" && (sub == "load" || sub == "save"):
		c.WriteError("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
	case sub == "load" && n == 2:
		if msg := s.aclLoad(c); msg != "" {
			c.WriteError("ERR " + sanitizeErr(msg))
			return
		}
		c.WriteOK()
	case sub == "save" && n == 2:
		if err := s.aclSave(); err != nil {
			c.WriteError("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
			return
		}
		c.WriteOK()
	case sub == "cat" && n == 2:
		c.WriteArray(len(aclCategoryOrder))
		for _, cat := range aclCategoryOrder {
			c.WriteBulkString(cat[1:])
		}
	case sub == "cat" && n == 3:
		cat := aclCategoryBit(strings.ToLower(string(args[2])))
		if cat == 0 {
			c.WriteError("ERR Unknown category '" + truncate(string(args[2]), 128) + "'")
			return
		}
		aclCommands()
		var names []string
		for _, ac := range aclTab.top {
			if ac.cats&cat != 0 {
				names = append(names, ac.name)
			}
			for _, sc := range ac.subs {
				if sc.cats&cat != 0 {
					names = append(names, sc.name)
				}
			}
		}
		c.WriteBulkStrings(names)
	case sub == "genpass" && (n == 2 || n == 3):
		bits := int64(256)
		if n == 3 {
			v, ok := parseInt(args[2])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			bits = v
		}
		if bits <= 0 || bits > 4096 {
			c.WriteError("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
			return
		}
		buf := make([]byte, (bits+7)/8+1)
		rand.Read(buf)
		c.WriteBulkString(hex.EncodeToString(buf)[:(bits+3)/4])
	case sub == "log" && (n == 2 || n == 3):
		count := int64(10)
		if n == 3 {
			if eqFold(args[2], "reset") {
				s.acl.mu.Lock()
				s.acl.log = nil
				s.acl.mu.Unlock()
				c.WriteOK()
				return
			}
			v, ok := parseInt(args[2])
			if !ok {
				c.WriteError(msgNotInt)
				return
			}
			count = max(v, 0)
		}
		s.acl.mu.Lock()
		entries := make([]aclLogEntry, 0, min(int(count), len(s.acl.log)))
		for _, e := range s.acl.log[:min(int(count), len(s.acl.log))] {
			entries = append(entries, *e)
		}
		s.acl.mu.Unlock()
		now := time.Now()
		c.WriteArray(len(entries))
		for _, e := range entries {
			c.WriteMap(7)
			c.WriteBulkString("count")
			c.WriteInt64(e.count)
			c.WriteBulkString("reason")
			c.WriteBulkString([...]string{"unknown", "command", "key", "auth", "channel"}[e.reason])
			c.WriteBulkString("context")
			if e.context == aclCtxMulti {
				c.WriteBulkString("multi")
			} else {
				c.WriteBulkString("toplevel")
			}
			c.WriteBulkString("object")
			c.WriteBulkString(e.object)
			c.WriteBulkString("username")
			c.WriteBulkString(e.username)
			c.WriteBulkString("age-seconds")
			c.WriteDouble(float64(now.Sub(e.ctime).Milliseconds()) / 1000)
			c.WriteBulkString("client-info")
			c.WriteBulkString(e.cinfo)
		}
	case sub == "dryrun" && n >= 4:
		s.acl.mu.Lock()
		u := s.acl.users[string(args[2])]
		s.acl.mu.Unlock()
		if u == nil {
			c.WriteError("ERR User '" + sanitizeErr(string(args[2])) + "' not found")
			return
		}
		cargs := args[3:]
		cmd := lookupCommand(cargs[0])
		var ac *aclCmd
		if cmd != nil {
			aclCommands()
			ac = aclOf(cmd)
			if ac.subs != nil && len(cargs) >= 2 {
				ac = ac.subByName[strings.ToLower(string(cargs[1]))]
			}
		}
		if ac == nil {
			c.WriteError("ERR Command '" + sanitizeErr(string(cargs[0])) + "' not found")
			return
		}
		if (ac.arity > 0 && ac.arity != len(cargs)) || len(cargs) < -ac.arity {
			c.WriteError("ERR wrong number of arguments for '" + ac.name + "' command")
			return
		}
		r, idx := u.p().checkAll(ac, cargs)
		switch r {
		case aclOK:
			c.WriteOK()
		case aclDenyCmd:
			c.WriteBulkString("This user has no permissions to run the '" + ac.name + "' command")
		case aclDenyKey:
			c.WriteBulkString("This user has no permissions to access the '" + string(cargs[idx]) + "' key")
		default:
			c.WriteBulkString("This user has no permissions to access the '" + string(cargs[idx]) + "' channel")
		}
	case sub == "help" && n == 2:
		writeHelp(c, args[0],
			"CAT [<category>]",
			"    List all commands that belong to <category>, or all command categories",
			"    when no category is specified.",
			"DELUSER <username> [<username> ...]",
			"    Delete a list of users.",
			"DRYRUN <username> <command> [<arg> ...]",
			"    Returns whether the user can execute the given command without executing the command.",
			"GETUSER <username>",
			"    Get the user's details.",
			"GENPASS [<bits>]",
			"    Generate a secure 256-bit user password. The optional `bits` argument can",
			"    be used to specify a different size.",
			"LIST",
			"    Show users details in config file format.",
			"LOAD",
			"    Reload users from the ACL file.",
			"LOG [<count> | RESET]",
			"    Show the ACL log entries.",
			"SAVE",
			"    Save the current config to the ACL file.",
			"SETUSER <username> <attribute> [<attribute> ...]",
			"    Create or modify a user with the specified attributes.",
			"USERS",
			"    List all the registered usernames.",
			"WHOAMI",
			"    Return the current connection username.")
	default:
		c.WriteError(subSyntaxMsg(args))
	}
}

func writeSelectorFields(c *Client, sel *aclSelector) {
	c.WriteBulkString("commands")
	c.WriteBulkString(describeCommandRules(sel))
	c.WriteBulkString("keys")
	if sel.allKeys {
		c.WriteBulkString("~*")
	} else {
		c.WriteBulkString(sel.keysString())
	}
	c.WriteBulkString("channels")
	if sel.allChannels {
		c.WriteBulkString("&*")
	} else {
		parts := make([]string, len(sel.channels))
		for i, ch := range sel.channels {
			parts[i] = "&" + ch
		}
		c.WriteBulkString(strings.Join(parts, " "))
	}
}

// ---- ACL file ----

// aclLoad is ACLLoadFromFile: every line must be valid or nothing changes.
// It returns the errors, "" on success.
func (s *Server) aclLoad(self *Client) string {
	a := &s.acl
	data, err := os.ReadFile(a.file)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return "Error loading ACLs, opening file '" + a.file + "': " + msg
	}
	var errs strings.Builder
	all := a.pubsubAll.Load()
	loaded := map[string]*aclPerms{}
	for i, line := range strings.Split(string(data), "\n") {
		linenum := strconv.Itoa(i + 1)
		line = strings.Trim(line, " \t\r\n")
		if line == "" {
			continue
		}
		argv := strings.Split(line, " ")
		if argv[0] != "user" || len(argv) < 2 {
			errs.WriteString(a.file + ":" + linenum + " should start with user keyword followed by the username. ")
			continue
		}
		if hasSpaces(argv[1]) {
			errs.WriteString("'" + a.file + ":" + linenum + ": username '" + argv[1] + "' contains invalid characters. ")
			continue
		}
		if loaded[argv[1]] != nil {
			errs.WriteString("WARNING: Duplicate user '" + argv[1] + "' found on line " + linenum + ". ")
			continue
		}
		p := &aclPerms{flags: userOff, selectors: []*aclSelector{newSelector(true, all)}}
		loaded[argv[1]] = p
		merged, bad := mergeSelectorArgs(argv[2:])
		if bad >= 0 {
			errs.WriteString(a.file + ":" + linenum + ": Unmatched parenthesis in selector definition.")
		}
		syntax := false
		for _, op := range merged {
			op = strings.Trim(op, "\t\r\n")
			if err := p.set(op, all); err != nil {
				if err == errACLUnknown {
					errs.WriteString(a.file + ":" + linenum + ": Error in applying operation '" + op + "': " + err.Error() + ". ")
				} else if !syntax {
					errs.WriteString(a.file + ":" + linenum + ": " + err.Error() + ". ")
					syntax = true
				}
			}
		}
		p.finish()
	}
	if errs.Len() > 0 {
		return errs.String() + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
	}
	a.mu.Lock()
	old := a.users
	a.users = map[string]*aclUser{"default": a.def}
	for name, p := range loaded {
		if name == "default" {
			continue
		}
		u := &aclUser{name: name}
		u.perms.Store(p)
		a.users[name] = u
	}
	if p := loaded["default"]; p != nil {
		a.def.perms.Store(p)
	} else {
		a.def.perms.Store(defaultPerms())
	}
	a.mu.Unlock()
	gone := map[*aclUser]bool{}
	for _, u := range old {
		if u != a.def {
			u.deleted.Store(true)
			gone[u] = true
		}
	}
	s.killUserClients(self, gone)
	return ""
}

// aclSave is ACLSaveToFile: every user as an ACL LIST line, written to a
// temporary file renamed over the ACL file.
func (s *Server) aclSave() error {
	var b strings.Builder
	for _, u := range s.sortedUsers() {
		b.WriteString("user " + u.name + " " + u.p().desc + "\n")
	}
	tmp := s.acl.file + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.WriteString(b.String()); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.acl.file)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
