package postgrestest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server a test runs itself, in a data directory
// of its own on a free port of 127.0.0.1, so that it can stop it, freeze
// it, start it again, or make a replica of it and promote it, without
// touching the server other tests share. It is small (shared_buffers
// 16MB) and, unless ClusterOptions.Fsync, does not sync to disk: enough to
// test availability, not durability across a power loss.
//
// The server binaries (initdb, pg_ctl, pg_basebackup) are looked up on
// PATH, then in /usr/lib/postgresql/*/bin (Debian's place). As root, the
// server runs as the user postgres (or pihutest, created with useradd if
// there is neither), since PostgreSQL refuses to run as root.
type Cluster struct {
	tb   testing.TB
	bin  string
	user string // the OS user it runs as; "" for the current one
	dir  string // owned by user: data/, the log, the socket
	Port int
}

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// Fsync turns fsync on (off by default: faster, and the tests that
	// stop the server cleanly need no more).
	Fsync bool
}

// StartCluster creates a cluster (initdb) and starts it; it is stopped and
// removed when the test ends. It skips the test, as the other PostgreSQL
// tests do, when EnvURL is unset, and when the server binaries are not
// found.
func StartCluster(tb testing.TB, opts ClusterOptions) *Cluster {
	tb.Helper()
	URL(tb)
	bin, err := binDir()
	if err != nil {
		tb.Skipf("%v: the tests that run PostgreSQL servers of their own need them (Debian: apt-get install postgresql)", err)
	}
	c := &Cluster{tb: tb, bin: bin, user: runAs(tb)}
	c.dir = c.newDir("pihu-pg-")
	c.Port = freePort(tb)
	c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	fsync := "off"
	if opts.Fsync {
		fsync = "on"
	}
	c.configure(fmt.Sprintf(`
port = %d
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
shared_buffers = 16MB
max_connections = 60
fsync = %s
full_page_writes = %s
autovacuum = off
max_wal_senders = 4
wal_keep_size = 64MB
`, c.Port, c.dir, fsync, fsync))
	c.Start()
	return c
}

// binDir returns the directory of the PostgreSQL server binaries: that of
// pg_ctl on PATH (its link resolved: Debian links some binaries from
// elsewhere), or the newest /usr/lib/postgresql/*/bin, whichever has them
// all.
func binDir() (string, error) {
	var dirs []string
	if p, err := osexec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest version first.
	slices.SortFunc(found, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range append(dirs, found...) {
		all := true
		for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, name)); err != nil {
				all = false
			}
		}
		if all {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, postgres) beside pg_ctl on PATH nor in /usr/lib/postgresql/*/bin")
}

// runAs returns the user a cluster runs as: "" (the current one) unless
// the test runs as root, which PostgreSQL refuses.
func runAs(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		return ""
	}
	for _, name := range []string{"postgres", "pihutest"} {
		if _, err := user.Lookup(name); err == nil {
			return name
		}
	}
	out, err := osexec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pihutest").CombinedOutput()
	if err != nil {
		tb.Fatalf("useradd pihutest, to run PostgreSQL as: %v\n%s", err, out)
	}
	return "pihutest"
}

// newDir makes a directory owned by the cluster's user, removed when the
// test ends.
func (c *Cluster) newDir(prefix string) string {
	c.tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(func() { os.RemoveAll(dir) })
	if c.user != "" {
		u, err := user.Lookup(c.user)
		if err != nil {
			c.tb.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			c.tb.Fatal(err)
		}
	}
	return dir
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) log() string  { return filepath.Join(c.dir, "postgres.log") }

// command returns the command running binary name of the cluster with
// args, as the cluster's user.
func (c *Cluster) command(name string, args ...string) *osexec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.user == "" {
		return osexec.Command(path, args...)
	}
	return osexec.Command("runuser", append([]string{"-u", c.user, "--", path}, args...)...)
}

// run runs binary name with args, and fails the test if it fails.
func (c *Cluster) run(name string, args ...string) {
	c.tb.Helper()
	cmd := c.command(name, args...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		c.tb.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out.String(), c.logTail())
	}
}

// configure appends settings to postgresql.conf.
func (c *Cluster) configure(settings string) {
	c.tb.Helper()
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(settings); err != nil {
		c.tb.Fatal(err)
	}
}

// logTail is the end of the server's log, for a failure's message.
func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.log())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// URL is the libpq URL of the cluster's database postgres, as the
// superuser.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Host is the cluster's host:port.
func (c *Cluster) Host() string { return "127.0.0.1:" + strconv.Itoa(c.Port) }

// Start starts the server and waits until it takes connections. The
// server is stopped when the test ends.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", c.log(), "-w", "-t", "60", "start")
	c.tb.Cleanup(func() { c.stop("immediate") })
}

// Stop stops the server cleanly (pg_ctl stop -m fast): the clients are
// disconnected, and whatever was committed is on disk and, for a primary,
// sent to its replicas.
func (c *Cluster) Stop() {
	c.tb.Helper()
	c.stop("fast")
}

func (c *Cluster) stop(mode string) {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err != nil {
		return // not running
	}
	c.thaw()
	cmd := c.command("pg_ctl", "-D", c.data(), "-m", mode, "-w", "-t", "60", "stop")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.tb.Logf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// pid is the postmaster's process id.
func (c *Cluster) pid() int {
	c.tb.Helper()
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		c.tb.Fatalf("the server is not running: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		c.tb.Fatal(err)
	}
	return pid
}

// processes returns the postmaster and its children.
func (c *Cluster) processes() []int {
	c.tb.Helper()
	pm := c.pid()
	pids := []int{pm}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, not ")".
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 {
			if ppid, _ := strconv.Atoi(fields[1]); ppid == pm {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// Freeze stops the server's processes (SIGSTOP), the postmaster first so
// that it starts no new one: connections open and new ones are accepted
// by the kernel, and nothing answers, as with a server stuck on its disk
// or a network that drops packets. Thaw resumes them.
func (c *Cluster) Freeze() {
	c.tb.Helper()
	for _, pid := range c.processes() {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	c.tb.Cleanup(c.thaw)
}

// Thaw resumes the processes Freeze stopped.
func (c *Cluster) Thaw() {
	c.tb.Helper()
	c.thaw()
}

func (c *Cluster) thaw() {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return
	}
	pm, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pm == 0 {
		return
	}
	pids := c.processes()
	for _, pid := range slices.Backward(pids) { // the postmaster last
		syscall.Kill(pid, syscall.SIGCONT)
	}
}

// Replica makes a streaming replica of the cluster (pg_basebackup -R),
// on a port of its own, and starts it.
func (c *Cluster) Replica() *Cluster {
	c.tb.Helper()
	r := &Cluster{tb: c.tb, bin: c.bin, user: c.user}
	r.dir = r.newDir("pihu-pg-replica-")
	r.Port = freePort(c.tb)
	r.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "postgres",
		"-D", r.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	r.configure(fmt.Sprintf("\nport = %d\nunix_socket_directories = '%s'\n", r.Port, r.dir))
	r.Start()
	return r
}

// Promote promotes a replica to primary (pg_ctl promote), on a new
// timeline, and waits until it takes writes.
func (c *Cluster) Promote() {
	c.tb.Helper()
	c.run("pg_ctl", "-D", c.data(), "-w", "-t", "60", "promote")
}

// Exec runs sql on the cluster's database postgres, as the superuser.
func (c *Cluster) Exec(sql string) {
	c.tb.Helper()
	c.ExecIn("postgres", sql)
}

// ExecIn runs sql on the cluster's database named database, as the
// superuser.
func (c *Cluster) ExecIn(database, sql string) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, strings.Replace(c.URL(), "/postgres?", "/"+database+"?", 1))
	if err != nil {
		c.tb.Fatalf("connecting to the cluster on port %d: %v", c.Port, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		c.tb.Fatalf("%s: %v", sql, err)
	}
}

// Count runs sql, a query of one number, on the cluster's database
// postgres, as the superuser, and returns the number.
func (c *Cluster) Count(sql string, args ...any) int64 {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.tb.Fatalf("connecting to the cluster on port %d: %v", c.Port, err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		c.tb.Fatalf("%s: %v", sql, err)
	}
	return n
}
