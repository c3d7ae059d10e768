package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	goaway "github.com/TwiN/go-away"
	"github.com/redis/go-redis/v9"
)

// backend is everything the demo asks of the database. It is an ordinary
// client: a go-redis pool for commands (the subscriber connection lives in
// the hub), speaking the table commands and Redis commands over RESP.
type backend struct {
	rdb *redis.Client

	schemaMu sync.Mutex
	schemaOK bool

	profanity *goaway.ProfanityDetector

	// the online list, cached briefly: after a burst of presence changes
	// every socket asks for it at once
	onlineMu   sync.Mutex
	onlineAt   time.Time
	onlineList []User
}

// onlineCacheFor is how long an online list is reused.
const onlineCacheFor = 2 * time.Second

// schema is created on first use, so a demo nobody opens leaves the
// database untouched; "already exists" is the normal case after a restart
// or when several demo processes share one database.
var schema = [][]any{
	{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
	{"TCREATE", "channels", "name:str:unique", "topic:str"},
	{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int"},
}

// Keys and pub/sub channels the demo uses.
const (
	presencePrefix  = "presence:"       // presence:<user id> = online, EX 60
	ratePrefix      = "ratelimit:msg:"  // ratelimit:msg:<user id>, INCR + EXPIRE 10
	tokenPrefix     = "demo:usertoken:" // demo:usertoken:<user id> = the login token that owns the name
	pubPrefix       = "chat:"           // everything the hub subscribes to (PSUBSCRIBE chat:*)
	pubMsgPrefix    = "chat:msg:"       // chat:msg:<channel id>: message frames
	pubTypingPrefix = "chat:typing:"    // chat:typing:<channel id>: typing frames
	pubPresence     = "chat:presence"   // presence frames
	pubChannels     = "chat:channels"   // new channels
	presenceTTL     = 60 * time.Second
	defaultChannel  = "general"
	defaultTopic    = "Say hello to everyone"
)

func newBackend(rdb *redis.Client) *backend {
	return &backend{rdb: rdb, profanity: goaway.NewProfanityDetector().WithExactWord(true)}
}

// errUser is an error the client caused; code is the error frame's code.
type errUser struct{ code, msg string }

func (e *errUser) Error() string { return e.msg }

func userErr(code, msg string) error { return &errUser{code, msg} }

// ensureSchema creates the tables and the default channel once per process
// (again after a table went missing, e.g. after FLUSHALL).
func (b *backend) ensureSchema(ctx context.Context) error {
	b.schemaMu.Lock()
	defer b.schemaMu.Unlock()
	if b.schemaOK {
		return nil
	}
	for _, cmd := range schema {
		if err := b.rdb.Do(ctx, cmd...).Err(); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("%s %s: %w", cmd[0], cmd[1], err)
		}
	}
	err := b.rdb.Do(ctx, "TINSERT", "channels", "name", defaultChannel, "topic", defaultTopic).Err()
	if err != nil && !isUniqueViolation(err) {
		return fmt.Errorf("creating #%s: %w", defaultChannel, err)
	}
	b.schemaOK = true
	return nil
}

// forgetSchema makes the next ensureSchema check again; called when a
// command says a table does not exist.
func (b *backend) checkMissing(err error) {
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		b.schemaMu.Lock()
		b.schemaOK = false
		b.schemaMu.Unlock()
	}
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unique constraint violation")
}

// row is one TQUERY row: its id and its field/value pairs.
type row struct {
	id     int64
	fields map[string]string
}

func parseRows(v any) ([]row, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected TQUERY reply %T", v)
	}
	rows := make([]row, 0, len(arr))
	for _, e := range arr {
		r, ok := e.([]any)
		if !ok || len(r)%2 != 1 {
			return nil, fmt.Errorf("unexpected TQUERY row %T", e)
		}
		id, ok := r[0].(int64)
		if !ok {
			return nil, fmt.Errorf("unexpected TQUERY row id %T", r[0])
		}
		f, err := parsePairs(r[1:])
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{id, f})
	}
	return rows, nil
}

func parsePairs(r []any) (map[string]string, error) {
	f := make(map[string]string, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		k, ok1 := r[i].(string)
		v, ok2 := r[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unexpected field pair %T %T", r[i], r[i+1])
		}
		f[k] = v
	}
	return f, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// login finds or creates the user name and claims it with token: the first
// login stores a token for the user (SET NX), later logins must present it.
// An empty token asks for a new one, which only works for a new name.
func (b *backend) login(ctx context.Context, name, color, token string) (User, string, error) {
	if !validName(name) {
		return User{}, "", userErr(errInvalidName, fmt.Sprintf("a name is 1 to %d letters, digits, '_', '.' or '-'", MaxName))
	}
	if !validColor(color) {
		return User{}, "", userErr(errInvalidColor, "a colour is #rrggbb")
	}
	if len(token) > 64 {
		return User{}, "", userErr(errBadRequest, "token too long")
	}
	if err := b.ensureSchema(ctx); err != nil {
		return User{}, "", err
	}
	now := time.Now().UnixMilli()
	var id int64
	for try := 0; id == 0 && try < 3; try++ {
		v, err := b.rdb.Do(ctx, "TQUERY", "users", "WHERE", "username", "=", name, "LIMIT", 1).Result()
		if err != nil {
			b.checkMissing(err)
			return User{}, "", err
		}
		rows, err := parseRows(v)
		if err != nil {
			return User{}, "", err
		}
		if len(rows) > 0 {
			id = rows[0].id
			break
		}
		id, err = b.rdb.Do(ctx, "TINSERT", "users", "username", name, "color", color, "last_seen", now).Int64()
		if isUniqueViolation(err) {
			id = 0 // someone else took it in between: look it up again
			continue
		}
		if err != nil {
			return User{}, "", err
		}
	}
	if id == 0 {
		return User{}, "", errors.New("user lookup did not settle")
	}
	if token == "" {
		token = newToken()
	}
	key := tokenPrefix + strconv.FormatInt(id, 10)
	ok, err := b.rdb.SetNX(ctx, key, token, 0).Result()
	if err != nil {
		return User{}, "", err
	}
	if !ok {
		owner, err := b.rdb.Get(ctx, key).Result()
		if err != nil {
			return User{}, "", err
		}
		if subtle.ConstantTimeCompare([]byte(owner), []byte(token)) != 1 {
			return User{}, "", userErr(errNameTaken, fmt.Sprintf("the name %q is taken", name))
		}
	}
	if err := b.rdb.Do(ctx, "TUPDATE", "users", id, "color", color, "last_seen", now).Err(); err != nil {
		return User{}, "", err
	}
	return User{ID: id, Name: name, Color: color}, token, nil
}

// channels lists every channel by name.
func (b *backend) channels(ctx context.Context) ([]Channel, error) {
	v, err := b.rdb.Do(ctx, "TQUERY", "channels", "ORDER", "BY", "name", "ASC", "LIMIT", 500).Result()
	if err != nil {
		b.checkMissing(err)
		return nil, err
	}
	rows, err := parseRows(v)
	if err != nil {
		return nil, err
	}
	out := make([]Channel, 0, len(rows))
	for _, r := range rows {
		out = append(out, Channel{ID: r.id, Name: r.fields["name"], Topic: r.fields["topic"]})
	}
	return out, nil
}

// createChannel inserts a channel and announces it.
func (b *backend) createChannel(ctx context.Context, name, topic string) (Channel, error) {
	name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "#")))
	if !validChannelName(name) {
		return Channel{}, userErr(errBadRequest, fmt.Sprintf("a channel name is 1 to %d lower-case letters, digits, '_' or '-'", MaxChannelName))
	}
	topic = cleanText(strings.ReplaceAll(topic, "\n", " "))
	if n := len([]rune(topic)); n > MaxTopic {
		return Channel{}, userErr(errTooLong, fmt.Sprintf("a topic is at most %d characters", MaxTopic))
	}
	if err := b.ensureSchema(ctx); err != nil {
		return Channel{}, err
	}
	id, err := b.rdb.Do(ctx, "TINSERT", "channels", "name", name, "topic", topic).Int64()
	if isUniqueViolation(err) {
		return Channel{}, userErr(errChannelExists, fmt.Sprintf("#%s already exists", name))
	}
	if err != nil {
		b.checkMissing(err)
		return Channel{}, err
	}
	ch := Channel{ID: id, Name: name, Topic: topic}
	if err := b.rdb.Publish(ctx, pubChannels, encode(channelFrame{Type: "channel", Channel: ch})).Err(); err != nil {
		return Channel{}, err
	}
	return ch, nil
}

// history answers a page of a channel's messages, oldest first, in two
// round trips: the TQUERY, then one pipeline of TGET users for the distinct
// authors. before > 0 pages back (timestamp < before); after > 0 asks for
// what a reconnecting client missed (timestamp >= after). more reports that
// the page is full, so older messages (or, with after, a gap) may exist.
func (b *backend) history(ctx context.Context, channel, before, after int64) (msgs []Message, more bool, err error) {
	args := []any{"TQUERY", "messages", "WHERE", "channel_id", "=", channel}
	if before > 0 {
		args = append(args, "AND", "timestamp", "<", before)
	}
	if after > 0 {
		args = append(args, "AND", "timestamp", ">=", after)
	}
	args = append(args, "ORDER", "BY", "timestamp", "DESC", "LIMIT", HistoryPage)
	v, err := b.rdb.Do(ctx, args...).Result()
	if err != nil {
		b.checkMissing(err)
		return nil, false, err
	}
	rows, err := parseRows(v)
	if err != nil {
		return nil, false, err
	}
	var authors []int64
	seen := map[int64]bool{}
	for _, r := range rows {
		uid := atoi(r.fields["user_id"])
		if !seen[uid] {
			seen[uid] = true
			authors = append(authors, uid)
		}
	}
	users, err := b.users(ctx, authors)
	if err != nil {
		return nil, false, err
	}
	msgs = make([]Message, len(rows))
	for i, r := range rows {
		uid := atoi(r.fields["user_id"])
		// newest first from the query; the page wants oldest first
		msgs[len(rows)-1-i] = Message{ID: r.id, Channel: channel, User: users[uid],
			Text: r.fields["content"], TS: atoi(r.fields["timestamp"])}
	}
	return msgs, len(rows) == HistoryPage, nil
}

// users reads users by id in one pipeline of TGETs; a missing row becomes a
// placeholder rather than failing the whole page.
func (b *backend) users(ctx context.Context, ids []int64) (map[int64]User, error) {
	out := make(map[int64]User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Do(ctx, "TGET", "users", id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isRedisError(err) {
		return nil, err
	}
	for i, id := range ids {
		u := User{ID: id, Name: "unknown", Color: "#888888"}
		if v, err := cmds[i].Slice(); err == nil {
			if f, err := parsePairs(v); err == nil {
				u.Name, u.Color = f["username"], f["color"]
			}
		}
		out[id] = u
	}
	return out, nil
}

func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// send stores and publishes a message: the rate limit (INCR + EXPIRE in one
// round trip), the profanity filter, TINSERT, then PUBLISH.
func (b *backend) send(ctx context.Context, u User, channel int64, text, nonce string) (Message, error) {
	text = cleanText(text)
	if text == "" {
		return Message{}, userErr(errEmpty, "empty message")
	}
	if utf8Len(text) > MaxText {
		return Message{}, userErr(errTooLong, fmt.Sprintf("a message is at most %d characters", MaxText))
	}
	if channel <= 0 {
		return Message{}, userErr(errNoSuchChannel, "no such channel")
	}
	key := ratePrefix + strconv.FormatInt(u.ID, 10)
	pipe := b.rdb.Pipeline()
	incr := pipe.Incr(ctx, key)
	pipe.ExpireNX(ctx, key, RateWindowSeconds*time.Second)
	if _, err := pipe.Exec(ctx); err != nil {
		return Message{}, err
	}
	if incr.Val() > RateLimit {
		return Message{}, userErr(errRateLimited, "slow down")
	}
	text = b.censor(text)
	now := time.Now().UnixMilli()
	id, err := b.rdb.Do(ctx, "TINSERT", "messages", "channel_id", channel, "user_id", u.ID,
		"content", text, "timestamp", now).Int64()
	if err != nil {
		if strings.Contains(err.Error(), "foreign key violation") {
			if strings.Contains(err.Error(), "user_id") {
				return Message{}, userErr(errNotLoggedIn, "your user is gone; log in again")
			}
			return Message{}, userErr(errNoSuchChannel, "no such channel")
		}
		b.checkMissing(err)
		return Message{}, err
	}
	m := Message{ID: id, Channel: channel, User: u, Text: text, TS: now, Nonce: nonce}
	frame := encode(messageFrame{Type: "message", Message: m})
	if err := b.rdb.Publish(ctx, pubMsgPrefix+strconv.FormatInt(channel, 10), frame).Err(); err != nil {
		return m, err
	}
	return m, nil
}

func utf8Len(s string) int { return len([]rune(s)) }

// censor stars out profane words, matching whole words only (go-away's
// exact-word mode): "class" and "assistant" stay as they are. go-away's own
// Censor matches substrings and indexes runes of the lower-cased text into
// the original, which breaks on letters whose lower case has another
// length, so words are cut here and each is checked alone.
func (b *backend) censor(text string) (out string) {
	defer func() {
		if recover() != nil {
			out = text
		}
	}()
	rs := []rune(text)
	changed := false
	for i := 0; i < len(rs); {
		if !isWordRune(rs[i]) {
			i++
			continue
		}
		j := i
		for j < len(rs) && isWordRune(rs[j]) {
			j++
		}
		if b.profanity.IsProfane(string(rs[i:j])) {
			for k := i; k < j; k++ {
				rs[k] = '*'
			}
			changed = true
		}
		i = j
	}
	if !changed {
		return text
	}
	return string(rs)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func (b *backend) publishTyping(ctx context.Context, u User, channel int64) error {
	return b.rdb.Publish(ctx, pubTypingPrefix+strconv.FormatInt(channel, 10),
		encode(typingFrame{Type: "typing", Channel: channel, User: u})).Err()
}

// setOnline refreshes presence keys for users (one pipeline) and, when
// announce, publishes that they came online.
func (b *backend) setOnline(ctx context.Context, users []User, announce bool) error {
	if len(users) == 0 {
		return nil
	}
	pipe := b.rdb.Pipeline()
	for _, u := range users {
		pipe.Set(ctx, presencePrefix+strconv.FormatInt(u.ID, 10), "online", presenceTTL)
		if announce {
			pipe.Publish(ctx, pubPresence, encode(presenceFrame{Type: "presence", User: u, Online: true}))
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// setOffline deletes a user's presence key and announces it.
func (b *backend) setOffline(ctx context.Context, u User) error {
	pipe := b.rdb.Pipeline()
	pipe.Del(ctx, presencePrefix+strconv.FormatInt(u.ID, 10))
	pipe.Publish(ctx, pubPresence, encode(presenceFrame{Type: "presence", User: u, Online: false}))
	_, err := pipe.Exec(ctx)
	return err
}

// online lists users with a presence key (SCAN MATCH presence:*, then one
// pipeline of TGETs), at most onlineCacheFor old.
func (b *backend) online(ctx context.Context) ([]User, error) {
	b.onlineMu.Lock()
	defer b.onlineMu.Unlock()
	if b.onlineList != nil && time.Since(b.onlineAt) < onlineCacheFor {
		return b.onlineList, nil
	}
	users, err := b.scanOnline(ctx)
	if err != nil {
		return nil, err
	}
	b.onlineList, b.onlineAt = users, time.Now()
	return users, nil
}

func (b *backend) scanOnline(ctx context.Context) ([]User, error) {
	var ids []int64
	seen := map[int64]bool{}
	var cursor uint64
	for i := 0; i < 100; i++ {
		keys, next, err := b.rdb.Scan(ctx, cursor, presencePrefix+"*", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if id := atoi(strings.TrimPrefix(k, presencePrefix)); id > 0 && !seen[id] && len(ids) < MaxOnline {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		cursor = next
		if cursor == 0 || len(ids) >= MaxOnline {
			break
		}
	}
	m, err := b.users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		if u := m[id]; u.Name != "unknown" {
			out = append(out, u)
		}
	}
	return out, nil
}
