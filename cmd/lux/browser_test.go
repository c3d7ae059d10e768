package main

// Browser tests of the chat demo in real headless Chromium (Debian's
// `chromium` package; chromedp drives it over the DevTools protocol). Each
// user has a browser context of their own (separate storage, as separate
// browsers would). Screenshots go to $LUX_TEST_ARTIFACTS (default: a new
// directory under the system temp dir, printed by the test).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium for the test and returns a function
// that opens a tab in a fresh browser context (a user of its own).
func browser(t *testing.T) (newUser func() context.Context) {
	t.Helper()
	exe := requireTool(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // Debian's chromium as root needs it; the pages are our own
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	if err := chromedp.Do(root); err != nil { // starts the browser, no timeout
		cancelRoot()
		cancelAlloc()
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return func() context.Context {
		ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("new browser context: %v", err)
		}
		t.Cleanup(cancel)
		return ctx
	}
}

// do runs actions in a tab with a time limit.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until a JavaScript expression is truthy in the tab.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
		t.Fatalf("%s: %v\n--- page text ---\n%s", what, err, text)
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

func listHas(text string) string {
	return "document.querySelector('#message-list').textContent.includes(" + jsString(text) + ")"
}

// login opens the page and joins as name.
func login(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	do(t, ctx, name+" opens the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SetValue(chromedp.CSS("#login-name"), name),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	waitJS(t, ctx, name+" logged in", "document.querySelector('#login').hidden && document.querySelector('#me').textContent.includes("+jsString(name)+")")
	waitJS(t, ctx, name+" in #general", "document.querySelector('#channel-name').textContent === '#general'")
}

// say types a message and presses Enter.
func say(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	do(t, ctx, "send "+text, chromedp.SendKeys(chromedp.CSS("#input"), text+"\r"))
}

func artifactsDir(t *testing.T) string {
	dir := os.Getenv("LUX_TEST_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "lux-browser-artifacts-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "browser test artifacts (screenshots): %s\n", dir)
	t.Logf("artifacts in %s", dir)
	return dir
}

func screenshot(t *testing.T, ctx context.Context, dir, name string, width, height int64, dark bool) {
	t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// chromedp's Enter leaves a stray newline in the composer after the
	// page has sent and cleared it (a real keyboard does not)
	evalJS[bool](t, ctx, `(() => { const i = document.querySelector('#input'); i.value = ''; i.dispatchEvent(new Event('input')); return true })()`)
	err := chromedp.Do(tctx,
		chromedp.EmulateViewport(width, height),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		}),
		chromedp.Sleep(300*time.Millisecond), // layout and the sidebar transition
	)
	var png []byte
	if err == nil {
		png, err = chromedp.Run(tctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserChat(t *testing.T) {
	newUser := browser(t)
	p, base := startWithDemo(t)
	alice, bob := newUser(), newUser()
	login(t, alice, base, "alice")
	login(t, bob, base, "bob")

	// presence: each sees the other online
	waitJS(t, alice, "alice sees bob online", `document.querySelector('#online [data-user="bob"]')`)
	waitJS(t, bob, "bob sees alice online", `document.querySelector('#online [data-user="alice"]')`)

	// one sends, the other sees it; the sender's copy is confirmed
	say(t, alice, "hello from alice")
	waitJS(t, bob, "bob sees alice's message", listHas("hello from alice"))
	waitJS(t, alice, "alice's message confirmed", `!document.querySelector('#message-list .pending') && `+listHas("hello from alice"))

	// typing appears for the other one and goes away
	do(t, bob, "bob types", chromedp.SendKeys(chromedp.CSS("#input"), "thinking"))
	waitJS(t, alice, "alice sees bob typing", `document.querySelector('#typing').textContent.includes('bob is typing')`)
	waitJS(t, alice, "typing indicator gone", `document.querySelector('#typing').textContent === ''`)
	evalJS[bool](t, bob, `(document.querySelector('#input').value = '') === ''`)

	// a script in a message is shown as text and never runs
	evil := `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`
	say(t, alice, evil)
	waitJS(t, bob, "bob sees the markup as text", listHas(evil))
	if n := evalJS[int](t, bob, `document.querySelectorAll('#message-list script, #message-list img').length`); n != 0 {
		t.Fatalf("message markup became %d elements", n)
	}
	if v := evalJS[bool](t, bob, `window.__pwned === undefined`); !v {
		t.Fatal("a script in a message ran")
	}

	// the sixth message within 10 s shows "slow down"
	for i := 1; i <= 6; i++ {
		say(t, bob, fmt.Sprintf("burst %d", i))
	}
	waitJS(t, bob, `bob is told to slow down`, `document.querySelector('#notice').textContent.toLowerCase().includes('slow down')`)
	waitJS(t, alice, "alice gets the five", listHas("burst 5"))
	if evalJS[bool](t, alice, listHas("burst 6")) {
		t.Fatal("the sixth message of the burst was delivered")
	}

	// a taken name is refused clearly
	mallory := newUser()
	do(t, mallory, "mallory tries alice",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-name")),
		chromedp.SetValue(chromedp.CSS("#login-name"), "alice"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	waitJS(t, mallory, "name taken shown", `document.querySelector('#login-error').textContent.includes('taken') && !document.querySelector('#login').hidden`)

	// channels: alice makes one with a topic; bob sees it appear, and an
	// unread badge when alice writes there
	do(t, alice, "alice creates #random",
		chromedp.SetValue(chromedp.CSS("#new-channel-name"), "random"),
		chromedp.SetValue(chromedp.CSS("#new-channel-topic"), "anything goes"),
		chromedp.Click(chromedp.CSS(`#new-channel button[type="submit"]`)),
	)
	waitJS(t, alice, "alice is in #random", `document.querySelector('#channel-name').textContent === '#random' && document.querySelector('#channel-topic').textContent === 'anything goes'`)
	waitJS(t, bob, "bob sees #random", `[...document.querySelectorAll('#channels .name')].some(e => e.textContent === 'random')`)
	say(t, alice, "over here")
	waitJS(t, bob, "bob has one unread", `document.querySelector('#channels .badge')?.textContent === '1'`)
	evalJS[bool](t, alice, `([...document.querySelectorAll('#channels button')].find(b => b.textContent.includes('general')).click(), true)`)
	waitJS(t, alice, "alice back in #general", `document.querySelector('#channel-name').textContent === '#general' && `+listHas("hello from alice"))

	// screenshots, desktop and phone width, light and dark
	dir := artifactsDir(t)
	screenshot(t, alice, dir, "desktop.png", 1280, 800, false)
	screenshot(t, alice, dir, "desktop-dark.png", 1280, 800, true)
	screenshot(t, alice, dir, "phone.png", 390, 844, false)
	screenshot(t, alice, dir, "phone-dark.png", 390, 844, true)
	screenshot(t, bob, dir, "desktop-unread.png", 1280, 800, false)
	do(t, alice, "back to desktop", chromedp.EmulateViewport(1280, 800))

	// history survives a reload (the page logs in again by itself)
	do(t, alice, "alice reloads", chromedp.Reload())
	waitJS(t, alice, "history after reload", listHas("hello from alice")+" && "+listHas("burst 5"))

	// and a server restart: the open pages reconnect and resync
	p.Restart()
	waitHTTP(t, base+"/healthz")
	waitJS(t, alice, "alice reconnected", `document.querySelector('#status').dataset.state === 'online' && document.querySelector('#me').textContent.includes('alice')`)
	waitJS(t, bob, "bob reconnected", `document.querySelector('#status').dataset.state === 'online' && document.querySelector('#me').textContent.includes('bob')`)
	say(t, alice, "after the restart")
	waitJS(t, bob, "delivery after the restart", listHas("after the restart"))
	do(t, bob, "bob reloads", chromedp.Reload())
	waitJS(t, bob, "history after restart and reload", listHas("hello from alice")+" && "+listHas("after the restart"))

	// bob leaves: alice sees him go
	do(t, bob, "bob closes the page", chromedp.Navigate("about:blank"))
	waitJS(t, alice, "bob gone from the online list", `!document.querySelector('#online [data-user="bob"]')`)
	if strings.Contains(p.Output(), "panic") {
		t.Fatalf("server output mentions a panic:\n%s", p.Output())
	}
}
