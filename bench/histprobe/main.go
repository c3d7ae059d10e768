// Command histprobe sends the chat history query to a running lux over
// raw RESP connections (no reply decoding into Go values, no allocation per
// reply) and prints latency percentiles: the server's latency as a client
// sees it, without client-side GC.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luxdb/lux-go/bench/internal/rawresp"
	"github.com/redis/go-redis/v9"
)

var (
	addr    = flag.String("addr", "127.0.0.1:7620", "server")
	hot     = flag.Int("hot", 20, "hot channels (2..hot+1)")
	first   = flag.Int("first", 2, "first channel")
	queries = flag.Int("queries", 2000, "queries per connection")
	conns   = flag.Int("c", 1, "connections")
	dur     = flag.Duration("d", 0, "run for this long instead of -queries")
	tget    = flag.Bool("tget", false, "follow each query with a pipeline of TGET users for its distinct authors")
	load    = flag.Int("load", 0, "load the chat schema and this many messages (as bench/tablestier) and exit")
	cold    = flag.Int("cold", 0, "first read this many cold channels (hot+2 ...) once each")
	goredis = flag.Bool("goredis", false, "use go-redis (Do().Slice(), as bench/tablestier) instead of raw RESP")
)

func main() {
	flag.Parse()
	if *load > 0 {
		loadChat(*load)
		return
	}
	if *cold > 0 {
		c := redis.NewClient(&redis.Options{Addr: *addr})
		var lat []time.Duration
		for i := 0; i < *cold; i++ {
			t := time.Now()
			res, err := c.Do(context.Background(), "TQUERY", "messages", "WHERE", "channel_id", "=", *first+*hot+i, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50).Slice()
			if err != nil || len(res) != 50 {
				fmt.Fprintln(os.Stderr, err, len(res))
				os.Exit(1)
			}
			lat = append(lat, time.Since(t))
		}
		slices.Sort(lat)
		fmt.Printf("cold: n=%d p50=%s p99=%s max=%s\n", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
		c.Close()
	}
	var mu sync.Mutex
	var all, tg []time.Duration
	var wg sync.WaitGroup
	deadline := time.Now().Add(*dur)
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			c2 := c
			if *goredis {
				c := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 4})
				ctx := context.Background()
				lat := make([]time.Duration, 0, *queries)
				for i := 0; ; i++ {
					if *dur > 0 {
						if time.Now().After(deadline) {
							break
						}
					} else if i >= *queries {
						break
					}
					t := time.Now()
					res, err := c.Do(ctx, "TQUERY", "messages", "WHERE", "channel_id", "=", *first+(i+c2*7)%*hot, "ORDER", "BY", "timestamp", "DESC", "LIMIT", 50).Slice()
					if err != nil || len(res) != 50 {
						fmt.Fprintln(os.Stderr, err, len(res))
						os.Exit(1)
					}
					lat = append(lat, time.Since(t))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
				return
			}
			nc, err := net.Dial("tcp", *addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			r := bufio.NewReaderSize(nc, 1<<16)
			reqs := make([][]byte, *hot)
			for i := range reqs {
				reqs[i] = rawresp.Append(nil, "TQUERY", "messages", "WHERE", "channel_id", "=", strconv.Itoa(*first+i), "ORDER", "BY", "timestamp", "DESC", "LIMIT", "50")
			}
			lat := make([]time.Duration, 0, *queries)
			var tl []time.Duration
			users := map[string]bool{}
			for i := 0; ; i++ {
				if *dur > 0 {
					if time.Now().After(deadline) {
						break
					}
				} else if i >= *queries {
					break
				}
				clear(users)
				t := time.Now()
				nc.Write(reqs[(i+c*7)%*hot])
				var authors func([]byte)
				if *tget {
					authors = rawresp.Following("user_id", users)
				}
				if _, err := rawresp.Read(r, authors); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				lat = append(lat, time.Since(t))
				if *tget {
					var p []byte
					for u := range users {
						p = rawresp.Append(p, "TGET", "users", u)
					}
					t := time.Now()
					nc.Write(p)
					for range users {
						if _, err := rawresp.Read(r, nil); err != nil {
							fmt.Fprintln(os.Stderr, err)
							os.Exit(1)
						}
					}
					tl = append(tl, time.Since(t))
				}
			}
			mu.Lock()
			all = append(all, lat...)
			tg = append(tg, tl...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	rep := func(name string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		slices.Sort(d)
		p := func(q float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*q))] }
		fmt.Printf("%s: n=%d p50=%s p90=%s p99=%s p99.9=%s max=%s\n", name, len(d), p(.5), p(.9), p(.99), p(.999), d[len(d)-1])
	}
	rep("history", all)
	rep("tget pipeline", tg)
}

func loadChat(count int) {
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: 20})
	for _, a := range [][]any{
		{"TCREATE", "users", "username:str:unique", "color:str", "last_seen:int"},
		{"TCREATE", "channels", "name:str:unique", "topic:str"},
		{"TCREATE", "messages", "channel_id:ref(channels)", "user_id:ref(users)", "content:str", "timestamp:int"},
	} {
		if err := c.Do(ctx, a...).Err(); err != nil {
			panic(err)
		}
	}
	p := c.Pipeline()
	for i := 1; i <= 1000; i++ {
		p.Do(ctx, "TINSERT", "users", "username", fmt.Sprintf("user%d", i), "color", "red", "last_seen", 1)
		p.Do(ctx, "TINSERT", "channels", "name", fmt.Sprintf("channel%d", i), "topic", "t")
	}
	if _, err := p.Exec(ctx); err != nil {
		panic(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				base := next.Add(64) - 64
				if base >= int64(count) {
					return
				}
				p := c.Pipeline()
				for i := base; i < min(base+64, int64(count)); i++ {
					p.Do(ctx, "TINSERT", "messages", "channel_id", 1+rng.IntN(1000), "user_id", 1+rng.IntN(1000),
						"content", fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog", i), "timestamp", 1732550000000+i)
				}
				p.Exec(ctx)
			}
		}(w)
	}
	wg.Wait()
}
