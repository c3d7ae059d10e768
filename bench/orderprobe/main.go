// Command orderprobe measures arrival order across connections as a go-redis
// user sees it (issue 11): for each round it subscribes a fresh PubSub to a
// fresh channel (go-redis sends SUBSCRIBE without waiting for the
// confirmation) and at once publishes on that channel from the client's pool,
// then counts the publishes that reached no subscriber. Redis executes
// commands in socket-readiness order, so the SUBSCRIBE, written first, is
// always there before the PUBLISH; a server that executes connections in
// another order loses messages.
//
//	go run ./bench/orderprobe -addrs redis=127.0.0.1:6379,lux=127.0.0.1:6380 -rounds 300 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addrs := flag.String("addrs", "lux=127.0.0.1:6379", "name=host:port,... (probed in turn, in this order)")
	rounds := flag.Int("rounds", 300, "subscribe-then-publish rounds per run")
	runs := flag.Int("runs", 5, "runs per server")
	flag.Parse()
	ctx := context.Background()
	fmt.Println("| server | run | rounds | publishes that reached no subscriber |")
	fmt.Println("|---|---:|---:|---:|")
	for _, nv := range strings.Split(*addrs, ",") {
		name, addr, ok := strings.Cut(nv, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "bad -addrs entry", nv)
			os.Exit(2)
		}
		total := 0
		for run := 1; run <= *runs; run++ {
			cl := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
			if err := cl.Ping(ctx).Err(); err != nil {
				fmt.Fprintln(os.Stderr, name, err)
				os.Exit(1)
			}
			lost := 0
			for i := 0; i < *rounds; i++ {
				ch := fmt.Sprintf("orderprobe:%d:%d:%d", time.Now().UnixNano(), run, i)
				ps := cl.Subscribe(ctx, ch)
				n, err := cl.Publish(ctx, ch, "hello").Result()
				if err != nil {
					fmt.Fprintln(os.Stderr, name, err)
					os.Exit(1)
				}
				if n == 0 {
					lost++
				}
				ps.Close()
			}
			cl.Close()
			total += lost
			fmt.Printf("| %s | %d | %d | %d |\n", name, run, *rounds, lost)
		}
		fmt.Printf("| %s | all | %d | %d |\n", name, *rounds**runs, total)
	}
}
