package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/store/storetest"
	"github.com/digestbot/digestbot/subscribers"
	"github.com/digestbot/digestbot/telegram/telegramtest"
)

// TestE2EThreeInstances: three `digestbot serve` processes on one
// PostgreSQL, as an operator runs them. One leads (polls Telegram updates,
// with no 409 from overlapping polls); an edition started through one
// instance's admin API is delivered by all three exactly once, and their
// Telegram messages together keep the one limit (at most 30 in any
// sliding second, 0 × 429). Then the leader is killed with -9 in the
// middle of a second send: another instance leads within 30 s, the dead
// one's batches finish on the other two, and nobody is lost.
func TestE2EThreeInstances(t *testing.T) {
	t.Parallel()
	const (
		emails   = 20000
		chats    = 1000
		rate     = 30
		killMail = 2000 // the second send's size
		killChat = 300
	)
	dir := t.TempDir()
	bin := filepath.Join(dir, "digestbot")
	if err := buildBinary(bin); err != nil {
		t.Fatalf("cannot build the digestbot binary: %v", err)
	}

	t.Run("deliver", func(t *testing.T) {
		c := startCluster(t, bin, emails, chats, rate, "")
		c.send(t)
		c.waitDelivered(t, emails, chats, 3*time.Minute)
		c.checkExactlyOnce(t, emails, chats, 0)
		if n := c.leaders(); n != 1 {
			t.Errorf("%d instances say they lead, want 1", n)
		}
		st := c.tg.Stats()
		t.Logf("3 instances: %d emails, %d Telegram messages at %.1f/s (peak %d in a second), %d × 429, %d getUpdates, %d × 409",
			c.sink.Total(), st.Sent, st.Rate(), c.tg.MaxInWindow(time.Second), st.TooManyRequests, st.Polls, st.Conflicts)
		if st.Polls == 0 {
			t.Error("no instance polled Telegram updates")
		}
		// Each instance's /metrics counts what it sent: summed, every
		// message once; one instance says it leads.
		var emailSent, tgSent, leading float64
		for _, p := range c.procs {
			m := scrape(t, p.addr)
			emailSent += m[`digestbot_messages_total{channel="email",outcome="sent"}`]
			tgSent += m[`digestbot_messages_total{channel="telegram",outcome="sent"}`]
			leading += m["digestbot_leader"]
		}
		if emailSent != emails || tgSent != chats || leading != 1 {
			t.Errorf("metrics over the instances: %v emails and %v Telegram messages sent (want %d, %d), %v leaders (want 1)",
				emailSent, tgSent, emails, chats, leading)
		}
	})

	t.Run("kill the leader mid-send", func(t *testing.T) {
		// Short slices and the shortest rescue the config allows, so that
		// the dead instance's batches are taken over within a minute.
		c := startCluster(t, bin, killMail, killChat, rate, "slice_time = \"2s\"\nrescue_after = \"22s\"\n")
		lead := c.leader(t)
		c.send(t)
		waitFor(t, 2*time.Minute, "a third of the Telegram messages", func() bool { return c.tg.Stats().Sent >= killChat/3 })
		if err := c.procs[lead].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		<-c.procs[lead].dead
		waitFor(t, 30*time.Second, "another instance to lead", func() bool { return c.leaders() == 1 })
		t.Logf("instance %d killed; instance %d leads after %s", lead, c.leader(t), time.Since(killed).Round(100*time.Millisecond))
		// The dead instance's running batches are taken over after
		// delivery.rescue_after (22 s here) on River's rescue round.
		c.waitDelivered(t, killMail, killChat, 3*time.Minute)
		c.checkExactlyOnce(t, killMail, killChat, 64)
	})
}

// cluster is three serve processes sharing a database, an SMTP sink and a
// fake Bot API.
type cluster struct {
	procs []*proc
	sink  *smtpSink
	tg    *telegramtest.Server
	dsn   string
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	dead chan struct{}
}

func startCluster(t *testing.T, bin string, emails, chats, rate int, delivery string) *cluster {
	t.Helper()
	ctx := context.Background()
	c := &cluster{sink: startSink(t, false), dsn: storetest.PostgresDSN(t)}
	c.tg = telegramtest.NewServer(telegramtest.Options{GlobalRate: float64(rate), SlidingWindow: true, AllChatsKnown: true})
	t.Cleanup(c.tg.Close)

	st, err := store.Open(ctx, store.Postgres, c.dsn, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	subs := make([]subscribers.Subscription, 0, emails+chats)
	for i := range emails {
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Email, Address: fmt.Sprintf("reader%05d@example.com", i),
			Status: subscribers.Active, Source: subscribers.SourceImport})
	}
	for i := range chats {
		subs = append(subs, subscribers.Subscription{Channel: subscribers.Telegram, Address: fmt.Sprint(10000 + i),
			Status: subscribers.Active, Source: subscribers.SourceImport})
	}
	if n, err := st.CreateSubscriptions(ctx, subs); err != nil || n != len(subs) {
		t.Fatalf("subscriptions: %d of %d: %v", n, len(subs), err)
	}

	dir := t.TempDir()
	tgConf := fmt.Sprintf("token = %q\napi_endpoint = %q\nrate_per_second = %d", c.tg.Token(), c.tg.Endpoint(), rate)
	for i := range 3 {
		addr := freeAddr(t)
		cfg := writeConfig(t, dir, fmt.Sprintf("instance%d.toml", i), e2eConfig{
			SMTPPort: c.sink.Port, MaxItems: 5, Telegram: tgConf, PostgresDSN: c.dsn, Listen: addr,
			Delivery: delivery,
		})
		if i == 0 {
			importFixtures(t, cfg)
		}
		p := &proc{addr: addr, logs: &syncBuffer{}, dead: make(chan struct{})}
		p.cmd = exec.Command(bin, "serve", "--config", cfg)
		p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = p.cmd.Wait(); close(p.dead) }()
		c.procs = append(c.procs, p)
	}
	t.Cleanup(func() {
		for i, p := range c.procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.dead:
			case <-time.After(60 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.dead
			}
			if t.Failed() {
				t.Logf("instance %d output:\n%s", i, p.logs)
			}
		}
	})
	for i, p := range c.procs {
		waitFor(t, time.Minute, fmt.Sprintf("instance %d to answer /healthz", i), func() bool {
			resp, err := http.Get("http://" + p.addr + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	waitFor(t, 30*time.Second, "one instance to lead", func() bool { return c.leaders() == 1 })
	return c
}

// send starts today's edition through the first live instance's admin API.
func (c *cluster) send(t *testing.T) {
	t.Helper()
	for _, p := range c.procs {
		if p.gone() {
			continue
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/api/v1/editions", nil)
		req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST /api/v1/editions: %s, want 202", resp.Status)
		}
		return
	}
	t.Fatal("no live instance")
}

func (c *cluster) waitDelivered(t *testing.T, emails, chats int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d emails and %d Telegram messages", emails, chats), func() bool {
		return len(c.sink.Counts()) >= emails && c.tg.Stats().Sent >= int64(chats)
	})
	time.Sleep(2 * time.Second) // a repeat would arrive now
}

// checkExactlyOnce: every reader got the digest, at most repeats of them
// twice, and the Telegram limit held.
func (c *cluster) checkExactlyOnce(t *testing.T, emails, chats, repeats int) {
	t.Helper()
	counts := c.sink.Counts()
	lost, twice := 0, 0
	for i := range emails {
		switch n := counts[fmt.Sprintf("reader%05d@example.com", i)]; {
		case n == 0:
			lost++
		case n > 1:
			twice += n - 1
		}
	}
	for i := range chats {
		switch n := len(c.tg.Messages(int64(10000 + i))); {
		case n == 0:
			lost++
		case n > 1:
			twice += n - 1
		}
	}
	if lost > 0 || twice > repeats {
		t.Errorf("%d readers got nothing, %d messages repeated (at most %d allowed)", lost, twice, repeats)
	}
	st := c.tg.Stats()
	// Three processes on a loaded 2-core machine (the CI runs this beside
	// other packages' tests, and a stalled process wakes up to 25 ms late
	// for a slot it still uses) may send a few ms closer than the shared
	// schedule says: an odd 429 then comes back with retry_after and is
	// sent again, at no loss. The bench (bench/telegram) holds 0 × 429 on
	// a quiet machine; this test holds the limit itself and at most 1 % of
	// the messages refused (a broken shared pace draws hundreds: three
	// instances each at the full rate).
	if peak := c.tg.MaxInWindow(time.Second); peak > 30 || st.TooManyRequests > max(3, st.Sent/100) {
		t.Errorf("Telegram limit: %d messages in one second (limit 30), %d × 429", peak, st.TooManyRequests)
	}
	if st.Conflicts > 0 {
		t.Errorf("%d getUpdates answered 409: two instances polled at once", st.Conflicts)
	}
	t.Logf("lost %d, repeated %d; Telegram %.1f msg/s, peak %d in a second", lost, twice, st.Rate(), c.tg.MaxInWindow(time.Second))
}

// leaders counts the live instances whose last leadership line says they
// lead.
func (c *cluster) leaders() int {
	n := 0
	for _, p := range c.procs {
		if !p.gone() && p.leads() {
			n++
		}
	}
	return n
}

func (c *cluster) leader(t *testing.T) int {
	t.Helper()
	for i, p := range c.procs {
		if !p.gone() && p.leads() {
			return i
		}
	}
	t.Fatal("no instance leads")
	return -1
}

func (p *proc) leads() bool {
	logs := p.logs.String()
	return strings.LastIndex(logs, "leader: this instance leads") > strings.LastIndex(logs, "leader: lease lost")
}

func (p *proc) gone() bool {
	select {
	case <-p.dead:
		return true
	default:
		return false
	}
}

// freeAddr is a loopback address with a port free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads an instance's /metrics as sample → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
