package demo

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The wire protocol (docs/DEMO.md is its reference). A client opens /ws with
// the WebSocket subprotocol Subprotocol; every frame in both directions is
// one JSON object (a text message) whose "type" says what it is.
const (
	// Subprotocol names version 1 of the protocol. A handshake without it
	// is closed with 1002: a future version gets a new name, and a client
	// never talks to a server that reads its frames differently.
	Subprotocol = "lux-chat.v1"
	// ProtocolVersion is reported in the hello frame.
	ProtocolVersion = 1
)

// Limits of the protocol; each is documented in docs/DEMO.md.
const (
	// MaxFrame is the read limit: a larger frame closes the socket (1009).
	MaxFrame = 8 << 10
	// MaxText is the longest message text in characters (runes).
	MaxText = 1000
	// MaxName is the longest user name, MaxChannelName the longest
	// channel name, MaxTopic the longest channel topic (characters).
	MaxName        = 24
	MaxChannelName = 32
	MaxTopic       = 120
	// MaxNonce bounds the client's nonce echoed in acks and errors.
	MaxNonce = 64
	// MaxJoined bounds the channels one socket may join at once.
	MaxJoined = 100
	// HistoryPage is the number of messages per history reply.
	HistoryPage = 50
	// MaxOnline bounds the online list sent to a client.
	MaxOnline = 200
	// RateLimit messages per RateWindowSeconds per user (INCR + EXPIRE).
	RateLimit         = 5
	RateWindowSeconds = 10
)

// Error codes of error frames.
const (
	errBadJSON         = "bad_json"
	errUnknownType     = "unknown_type"
	errBadRequest      = "bad_request"
	errNotLoggedIn     = "not_logged_in"
	errNameTaken       = "name_taken"
	errInvalidName     = "invalid_name"
	errInvalidColor    = "invalid_color"
	errEmpty           = "empty"
	errTooLong         = "too_long"
	errRateLimited     = "rate_limited"
	errFlood           = "flood"
	errNoSuchChannel   = "no_such_channel"
	errChannelExists   = "channel_exists"
	errTooManyJoined   = "too_many_channels"
	errUnavailable     = "unavailable"
	errAlreadyLoggedIn = "already_logged_in"
)

// request is every client frame; which fields count depends on Type.
type request struct {
	Type    string `json:"type"`
	Name    string `json:"name,omitempty"`
	Color   string `json:"color,omitempty"`
	Token   string `json:"token,omitempty"`
	Topic   string `json:"topic,omitempty"`
	Channel int64  `json:"channel,omitempty"`
	Text    string `json:"text,omitempty"`
	Nonce   string `json:"nonce,omitempty"`
	Before  int64  `json:"before,omitempty"`
	After   int64  `json:"after,omitempty"`
}

// User is a row of the users table as the page sees it.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// Channel is a row of the channels table.
type Channel struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Topic string `json:"topic"`
}

// Message is a row of the messages table with its author.
type Message struct {
	ID      int64  `json:"id"`
	Channel int64  `json:"channel"`
	User    User   `json:"user"`
	Text    string `json:"text"`
	TS      int64  `json:"ts"`
	// Nonce is the sender's nonce, so the sending page can match the
	// broadcast to its pending message whichever of it and the ack
	// arrives first.
	Nonce string `json:"nonce,omitempty"`
}

// Server frames.
type (
	helloFrame struct {
		Type     string `json:"type"` // "hello"
		Protocol int    `json:"protocol"`
		Limits   limits `json:"limits"`
	}
	limits struct {
		MaxFrame   int `json:"max_frame"`
		MaxText    int `json:"max_text"`
		RateLimit  int `json:"rate_limit"`
		RateWindow int `json:"rate_window_s"`
	}
	loginOKFrame struct {
		Type  string `json:"type"` // "login_ok"
		User  User   `json:"user"`
		Token string `json:"token"`
	}
	channelsFrame struct {
		Type     string    `json:"type"` // "channels"
		Channels []Channel `json:"channels"`
	}
	channelFrame struct {
		Type    string  `json:"type"` // "channel"
		Channel Channel `json:"channel"`
	}
	historyFrame struct {
		Type     string    `json:"type"` // "history"
		Channel  int64     `json:"channel"`
		Messages []Message `json:"messages"`        // oldest first
		More     bool      `json:"more"`            // older messages exist
		Older    bool      `json:"older,omitempty"` // an answer to "history"
		After    int64     `json:"after,omitempty"` // the join's "after", echoed
		Reset    bool      `json:"reset,omitempty"` // "after" missed more than a page: replace, don't merge
	}
	messageFrame struct {
		Type    string  `json:"type"` // "message"
		Message Message `json:"message"`
	}
	ackFrame struct {
		Type    string  `json:"type"` // "ack"
		Nonce   string  `json:"nonce"`
		Message Message `json:"message"`
	}
	typingFrame struct {
		Type    string `json:"type"` // "typing"
		Channel int64  `json:"channel"`
		User    User   `json:"user"`
	}
	presenceFrame struct {
		Type   string `json:"type"` // "presence"
		User   User   `json:"user"`
		Online bool   `json:"online"`
	}
	onlineFrame struct {
		Type  string `json:"type"` // "online"
		Users []User `json:"users"`
	}
	errorFrame struct {
		Type    string `json:"type"` // "error"
		Code    string `json:"code"`
		Message string `json:"message"`
		Ref     string `json:"ref,omitempty"`
		Nonce   string `json:"nonce,omitempty"`
		Channel int64  `json:"channel,omitempty"`
	}
	resyncFrame struct {
		Type string `json:"type"` // "resync"
	}
)

// encode marshals a frame; frames are plain structs, so it cannot fail.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("demo: encoding a frame: " + err.Error())
	}
	return b
}

var (
	nameRE    = regexp.MustCompile(`^[\p{L}\p{N}_.-]+$`)
	channelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	colorRE   = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

func validName(s string) bool {
	return s != "" && utf8.RuneCountInString(s) <= MaxName && nameRE.MatchString(s)
}

func validChannelName(s string) bool {
	return len(s) <= MaxChannelName && channelRE.MatchString(s)
}

func validColor(s string) bool { return colorRE.MatchString(s) }

// cleanText normalises a message or topic: invalid UTF-8 and control
// characters other than newline and tab are dropped, surrounding space
// trimmed. Whatever the user typed is stored as text; the page renders it
// as text, so markup needs no escaping here.
func cleanText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}
