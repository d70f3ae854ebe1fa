package storetest

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/digestbot/digestbot/store"
)

// EnvPostgresURL names an environment variable that, when set, points the
// tests at an existing PostgreSQL server instead of a throwaway one. Its
// user must be allowed to create databases.
const EnvPostgresURL = "STORETEST_POSTGRES_URL"

// server is the one PostgreSQL server of this test binary. This is the one
// piece of package-level state in the project, on purpose: the server is
// shared by every test of the binary (starting one takes about a second) and
// Main must find it to stop it.
var server pgServer

// mainRunning is set by Main: without it nobody would stop the server.
var mainRunning bool

// Main runs the tests of a package (call it from TestMain) and then stops
// the PostgreSQL server if a test started one, removing its files.
func Main(m *testing.M) {
	mainRunning = true
	code := m.Run()
	if err := server.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

type pgServer struct {
	mu      sync.Mutex
	started bool
	skip    string // why PostgreSQL tests are skipped ("" when they run)
	err     error  // the start failed

	dir      string    // temporary directory: data/, sock/, postgres.log
	cmd      *exec.Cmd // the postmaster, possibly under runuser
	exited   chan struct{}
	adminURL string // the server's "postgres" database
	admin    *sql.DB
	template string // a migrated database that new ones copy
	next     int    // to name databases

	standalone bool // started by StartServer, stopped by Server.Stop (no TestMain)

	relaunch func() error // starts the stopped server again, same data and port
}

// database creates a database and returns its DSN; it is dropped when the
// test ends. migrated databases are copies of a template migrated once,
// which is what a fresh database after Migrate is, only faster.
func (p *pgServer) database(t testing.TB, migrated bool) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.started = true
		p.err = p.start()
	}
	if p.skip != "" {
		// CI sets DIGESTBOT_REQUIRE_POSTGRES: there a missing PostgreSQL is
		// a broken install step, not a reason to skip half the suite.
		if os.Getenv("DIGESTBOT_REQUIRE_POSTGRES") != "" {
			t.Fatalf("storetest: %s (DIGESTBOT_REQUIRE_POSTGRES is set)", p.skip)
		}
		t.Skip(p.skip)
	}
	if p.err != nil {
		t.Fatalf("storetest: postgres: %v", p.err)
	}
	ctx := context.Background()
	if migrated && p.template == "" {
		name, err := p.create(ctx, "")
		if err != nil {
			t.Fatalf("storetest: postgres: %v", err)
		}
		s, err := store.Open(ctx, store.Postgres, p.dsn(name), Logger())
		if err != nil {
			t.Fatalf("storetest: postgres: %v", err)
		}
		err = s.Migrate(ctx)
		// Closed before use as a template: PostgreSQL copies no database
		// that has connections.
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("storetest: postgres: migrate template: %v", err)
		}
		p.template = name
	}
	tmpl := ""
	if migrated {
		tmpl = p.template
	}
	name, err := p.create(ctx, tmpl)
	if err != nil {
		t.Fatalf("storetest: postgres: %v", err)
	}
	t.Cleanup(func() {
		// WITH (FORCE) ends sessions a test left open (PostgreSQL 13+).
		if _, err := p.admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("storetest: postgres: drop %s: %v", name, err)
		}
	})
	return p.dsn(name)
}

func (p *pgServer) create(ctx context.Context, template string) (string, error) {
	p.next++
	name := fmt.Sprintf("storetest_%d_%d", os.Getpid(), p.next)
	q := `CREATE DATABASE ` + name
	if template != "" {
		// FILE_COPY: with fsync off, copying the files beats WAL-logging them (PostgreSQL 15+ default).
		q += ` TEMPLATE ` + template + ` STRATEGY FILE_COPY`
	}
	if _, err := p.admin.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return name, nil
}

func (p *pgServer) dsn(database string) string {
	u, err := url.Parse(p.adminURL)
	if err != nil {
		panic(err) // adminURL was connected to already
	}
	u.Path = "/" + database
	q := u.Query()
	if !q.Has("sslmode") {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// start starts the server, or sets p.skip when it cannot be found.
func (p *pgServer) start() error {
	if u := os.Getenv(EnvPostgresURL); u != "" {
		p.adminURL = u
		return p.connectAdmin(30 * time.Second)
	}
	if !mainRunning && !p.standalone {
		return errors.New("the package's TestMain must call storetest.Main(m), which stops the PostgreSQL server when the tests end")
	}
	bin, err := findPostgresBin()
	if err != nil {
		p.skip = "storetest: PostgreSQL binaries (initdb, postgres) were not found in /usr/lib/postgresql/*/bin or PATH; " +
			"install PostgreSQL to run the postgres tests (" + err.Error() + ")"
		return nil
	}

	p.dir, err = os.MkdirTemp("", "storetest-pg-")
	if err != nil {
		return err
	}
	data, sock := filepath.Join(p.dir, "data"), filepath.Join(p.dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return err
	}
	// initdb and postgres refuse to run as root: as root (CI), run them as
	// the postgres user, owner of the directory.
	var prefix []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{p.dir, sock} {
			if err := os.Chown(d, uid, gid); err != nil {
				return err
			}
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}

	initdb := command(prefix, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}

	// A port that was free a moment ago; a clash is retried.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = p.launch(prefix, bin, data, sock, port); lastErr == nil {
			p.relaunch = func() error { return p.launch(prefix, bin, data, sock, port) }
			return nil
		}
	}
	return lastErr
}

// launch runs the postmaster as a child of this process and waits until it
// accepts connections.
func (p *pgServer) launch(prefix []string, bin, data, sock string, port int) error {
	logf, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	// Durability is worth nothing here: no fsync makes CREATE DATABASE and
	// commits fast.
	cmd := command(prefix, filepath.Join(bin, "postgres"), "-D", data, "-k", sock, "-h", "127.0.0.1",
		"-p", strconv.Itoa(port), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB", "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	// If this process dies without running Main's teardown (a panic, a
	// kill), the kernel sends SIGTERM to the child (runuser passes it on to
	// postgres), so no server outlives the test binary. The signal follows
	// the death of the thread that started the child, hence the locked
	// thread that lives as long as the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread exits with this goroutine, after the child.
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	p.cmd, p.exited = cmd, exited
	p.adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", port)
	if err := p.connectAdmin(60 * time.Second); err != nil {
		_ = p.stopServer()
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		return fmt.Errorf("postgres did not start: %w\n%s", err, lastLines(string(log), 20))
	}
	return nil
}

// connectAdmin connects to the server's postgres database, retrying until
// the server is up.
func (p *pgServer) connectAdmin(timeout time.Duration) error {
	db, err := sql.Open("pgx", p.dsn("postgres"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			p.admin = db
			return nil
		}
		if p.exited != nil {
			select {
			case <-p.exited:
				_ = db.Close()
				return fmt.Errorf("postgres exited: %w", err)
			default:
			}
		}
		if time.Now().After(deadline) {
			_ = db.Close()
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the server (when this binary started one) and removes its files.
func (p *pgServer) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admin != nil {
		_ = p.admin.Close()
		p.admin = nil
	}
	err := p.stopServer()
	if p.dir != "" {
		if rerr := os.RemoveAll(p.dir); rerr != nil && err == nil {
			err = rerr
		}
		p.dir = ""
	}
	return err
}

// stopServer asks the postmaster for a fast shutdown (SIGINT: roll back open
// transactions, end sessions, exit) and waits for it.
func (p *pgServer) stopServer() error {
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	// Signal postgres itself, not runuser, which would not pass SIGINT on.
	pid := p.cmd.Process.Pid
	if b, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil {
			pid = n
		}
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-p.exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
	return errors.New("postgres did not stop within 30s; killed")
}

// command runs name with args, under prefix (runuser) when there is one.
func command(prefix []string, name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, prefix...), name), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	// initdb picks the locale from the environment: keep it predictable.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	return cmd
}

// findPostgresBin returns the directory holding initdb and postgres: the
// newest /usr/lib/postgresql/N/bin (Debian and Ubuntu), else the PATH.
func findPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", err
	}
	// The PATH may hold a symlink to the real bin directory.
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	d := filepath.Dir(initdb)
	if !isExec(filepath.Join(d, "postgres")) {
		return "", fmt.Errorf("no postgres beside %s", initdb)
	}
	return d, nil
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Server is a throwaway PostgreSQL server for programs outside the tests
// (bench/): the same server the tests start, from the system binaries,
// with its files removed by Stop.
type Server struct{ p *pgServer }

// StartServer starts one. ErrNoPostgres (wrapped) when the binaries are
// missing.
func StartServer() (*Server, error) {
	p := &pgServer{standalone: true}
	if err := p.start(); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("storetest: start postgres: %w", err)
	}
	if p.skip != "" {
		return nil, fmt.Errorf("%w: %s", ErrNoPostgres, p.skip)
	}
	return &Server{p: p}, nil
}

// ErrNoPostgres: no PostgreSQL binaries on this machine.
var ErrNoPostgres = errors.New("no PostgreSQL")

// CreateDatabase creates an empty database and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	name, err := s.p.create(ctx, "")
	if err != nil {
		return "", err
	}
	return s.p.dsn(name), nil
}

// Stop stops the server and removes its files.
func (s *Server) Stop() error { return s.p.stop() }

// Restart stops the server (a fast shutdown: sessions are cut, open
// transactions rolled back), keeps it down for down, and starts it again
// on the same data and port (the fault suite's "PostgreSQL restarted").
func (s *Server) Restart(down time.Duration) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.p.relaunch == nil {
		return errors.New("storetest: restart: not a server started here")
	}
	if s.p.admin != nil {
		_ = s.p.admin.Close()
		s.p.admin = nil
	}
	if err := s.p.stopServer(); err != nil {
		return fmt.Errorf("storetest: restart: %w", err)
	}
	time.Sleep(down)
	if err := s.p.relaunch(); err != nil {
		return fmt.Errorf("storetest: restart: %w", err)
	}
	return nil
}
