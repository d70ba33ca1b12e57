package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/pihu-ai/pihu/sqlite"
	"github.com/pihu-ai/pihu/web"
)

var (
	secretShape    = regexp.MustCompile(`ph_live_[0-9A-Za-z]{40,}`)
	setupLinkShape = regexp.MustCompile(`http://\S+/setup\?token=\S+`)
)

// firstStartTest is a first start on an empty database in a folder of its
// own, with stderr (prints and log) in a buffer.
type firstStartTest struct {
	firstStart
	store  *sqlite.DB
	stderr *bytes.Buffer
}

func newFirstStart(t *testing.T, terminal bool) *firstStartTest {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pihu.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var stderr bytes.Buffer
	return &firstStartTest{
		firstStart: firstStart{
			Dashboard: "http://127.0.0.1:8080/", KeyFile: ownerKeyFile("sqlite:" + path), SetupFile: setupLinkFile("sqlite:" + path),
			Terminal: terminal, Stderr: &stderr, Logger: slog.New(slog.NewTextHandler(&stderr, nil)),
		},
		store: db, stderr: &stderr,
	}
}

// checkOwner checks that secret is the owner key of the one account,
// "Default", and that the key's creation is in its audit log, by the
// operator.
func (f *firstStartTest) checkOwner(t *testing.T, secret string) {
	t.Helper()
	k, err := f.store.KeyByDigest(t.Context(), pihu.Digest(secret))
	if err != nil {
		t.Fatalf("the key given is not in the store: %v", err)
	}
	a, err := f.store.Account(t.Context(), k.AccountID)
	if err != nil || a.Name != "Default" {
		t.Fatalf("account: got %+v (%v), want Default", a, err)
	}
	if n, _ := f.store.CountAccounts(t.Context()); n != 1 {
		t.Errorf("accounts: got %d, want 1", n)
	}
	events, _, err := f.store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: a.ID, Target: k.ID, Limit: 10})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit events: got %v (%v), want one", events, err)
	}
	if ev := events[0]; ev.Action != pihu.ActionKeyCreated || ev.Actor != pihu.ActorOperator || ev.Target != k.ID || ev.IP != "" {
		t.Errorf("audit event: got %+v, want api_key.created of %s by the operator", ev, k.ID)
	}
}

// checkSetupLink checks that link is the setup link of the one account's
// owner user, who has no email nor password yet: using it sets them, once.
func (f *firstStartTest) checkSetupLink(t *testing.T, link string) {
	t.Helper()
	prefix := strings.TrimSuffix(f.Dashboard, "/") + "/setup?token="
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("setup link: got %q, want %s…", link, prefix)
	}
	list, err := f.store.ListAccounts(t.Context(), time.Now())
	if err != nil || len(list) != 1 {
		t.Fatalf("accounts: %v, %v", list, err)
	}
	users, err := f.store.ListUsers(t.Context(), list[0].ID)
	if err != nil || len(users) != 1 {
		t.Fatalf("users: got %v (%v), want the owner", users, err)
	}
	if u := users[0]; u.Role != pihu.RoleOwner || u.Email != "" || u.PasswordHash != "" {
		t.Errorf("owner user: got %+v, want an owner without email nor password", u)
	}
	events, _, _ := f.store.ListAuditEvents(t.Context(), pihu.AuditFilter{AccountID: list[0].ID, Target: users[0].ID, Limit: 10})
	if len(events) != 1 || events[0].Action != pihu.ActionUserInvited || events[0].Actor != pihu.ActorOperator {
		t.Errorf("events of the owner user: got %v, want its invitation by the operator", events)
	}
	token := strings.TrimPrefix(link, prefix)
	u, err := f.store.UseLink(t.Context(), web.LinkDigest(token), "ops@example.com", "$argon2id$hash", time.Now().Add(23*time.Hour))
	if err != nil || u.ID != users[0].ID || u.Email != "ops@example.com" {
		t.Fatalf("using the setup link: got %+v, %v", u, err)
	}
	if _, err := f.store.UseLink(t.Context(), web.LinkDigest(token), "", "$argon2id$hash", time.Now()); pihu.ErrorCode(err) != pihu.ENotFound {
		t.Errorf("using the setup link twice: got %v, want not_found", err)
	}
}

// keyFiles returns the files beside the database whose names start with
// the key file's.
func (f *firstStartTest) keyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(f.KeyFile + "*")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readSecretFile checks that path is readable only by its owner and returns
// the line it holds.
func readSecretFile(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o600 {
		t.Errorf("%s: mode got %v, want -rw------- (0600)", filepath.Base(path), info.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// readKeyFile checks that path is readable only by its owner and holds one
// key, and returns it.
func readKeyFile(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o600 {
		t.Errorf("%s: mode got %v, want -rw------- (0600)", filepath.Base(path), info.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSuffix(string(b), "\n")
	if secretShape.FindString(secret) != secret {
		t.Fatalf("%s: got %q, want one key", filepath.Base(path), b)
	}
	return secret
}

func TestFirstStart(t *testing.T) {
	t.Run("Terminal", func(t *testing.T) {
		f := newFirstStart(t, true)
		if err := f.run(t.Context(), f.store); err != nil {
			t.Fatal(err)
		}
		out := f.stderr.String()
		var secret string
		for _, line := range strings.Split(out, "\n") {
			if secretShape.MatchString(line) {
				if secret != "" || line != secretShape.FindString(line) {
					t.Fatalf("want the key once, alone on its line:\n%s", out)
				}
				secret = line
			}
		}
		if secret == "" || !strings.Contains(out, f.Dashboard) {
			t.Fatalf("want the key and the dashboard's address:\n%s", out)
		}
		f.checkOwner(t, secret)
		link := setupLinkShape.FindString(out)
		if link == "" || !strings.Contains(out, "\n"+link+"\n") || strings.Count(out, "token=") != 1 {
			t.Fatalf("want the setup link once, alone on its line:\n%s", out)
		}
		f.checkSetupLink(t, link)
		if files := f.keyFiles(t); len(files) != 0 {
			t.Errorf("key files on a terminal: got %v, want none", files)
		}
	})

	t.Run("NotTerminal", func(t *testing.T) {
		f := newFirstStart(t, false)
		if err := f.run(t.Context(), f.store); err != nil {
			t.Fatal(err)
		}
		out := f.stderr.String()
		if secretShape.MatchString(out) {
			t.Fatalf("the key is on stderr:\n%s", out)
		}
		if !strings.Contains(out, "owner_key_file="+f.KeyFile) || !strings.Contains(out, "dashboard="+f.Dashboard) || !strings.Contains(out, "delete the file") {
			t.Errorf("want the key file's path, the dashboard and what to do in the log:\n%s", out)
		}
		if files := f.keyFiles(t); len(files) != 1 || files[0] != f.KeyFile {
			t.Fatalf("key files: got %v, want %s only", files, f.KeyFile)
		}
		f.checkOwner(t, readKeyFile(t, f.KeyFile))
		if strings.Contains(out, "token=") {
			t.Fatalf("the setup link is on stderr:\n%s", out)
		}
		if !strings.Contains(out, "setup_link_file="+f.SetupFile) {
			t.Errorf("want the setup link file's path in the log:\n%s", out)
		}
		f.checkSetupLink(t, readSecretFile(t, f.SetupFile))
	})

	// With the default database, a path relative to the working folder,
	// the log names the file by its absolute path.
	t.Run("RelativePath", func(t *testing.T) {
		f := newFirstStart(t, false)
		dir := filepath.Dir(f.KeyFile)
		t.Chdir(dir)
		f.KeyFile = ownerKeyFile("sqlite:pihu.db")
		if err := f.run(t.Context(), f.store); err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dir, "pihu.db.owner-key")
		if !strings.Contains(f.stderr.String(), "owner_key_file="+want+" ") {
			t.Errorf("want owner_key_file=%s in the log:\n%s", want, f.stderr.String())
		}
		f.checkOwner(t, readKeyFile(t, want))
	})

	// A file already where the key would go is neither replaced nor
	// written through: the key goes to a new file beside it.
	t.Run("KeyFileTaken", func(t *testing.T) {
		f := newFirstStart(t, false)
		target := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.WriteFile(target, []byte("theirs"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, f.KeyFile); err != nil {
			t.Fatal(err)
		}
		if err := f.run(t.Context(), f.store); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(target); string(b) != "theirs" {
			t.Errorf("the file the link points to: got %q, want it unchanged", b)
		}
		files := f.keyFiles(t)
		if len(files) != 2 {
			t.Fatalf("key files: got %v, want the link and a new file", files)
		}
		path := files[0]
		if path == f.KeyFile {
			path = files[1]
		}
		if !strings.Contains(f.stderr.String(), "owner_key_file="+path) {
			t.Errorf("want %s in the log:\n%s", path, f.stderr.String())
		}
		f.checkOwner(t, readKeyFile(t, path))
	})

	for _, terminal := range []bool{true, false} {
		name := map[bool]string{true: "LaterStartTerminal", false: "LaterStartNotTerminal"}[terminal]
		t.Run(name, func(t *testing.T) {
			f := newFirstStart(t, terminal)
			if err := f.run(t.Context(), f.store); err != nil {
				t.Fatal(err)
			}
			os.Remove(f.KeyFile)
			f.stderr.Reset()
			if err := f.run(t.Context(), f.store); err != nil {
				t.Fatal(err)
			}
			if f.stderr.Len() != 0 || len(f.keyFiles(t)) != 0 {
				t.Errorf("a later start: printed %q and left %v, want nothing", f.stderr.String(), f.keyFiles(t))
			}
			if n, _ := f.store.CountAccounts(t.Context()); n != 1 {
				t.Errorf("accounts: got %d, want 1", n)
			}
		})
	}

	// A server that lost the race to create the account leaves no file.
	t.Run("LostRace", func(t *testing.T) {
		f := newFirstStart(t, false)
		racer := &raceStore{DB: f.store}
		if err := f.run(t.Context(), racer); err != nil {
			t.Fatal(err)
		}
		if f.stderr.Len() != 0 || len(f.keyFiles(t)) != 0 {
			t.Errorf("the loser printed %q and left %v, want nothing", f.stderr.String(), f.keyFiles(t))
		}
		if links, _ := filepath.Glob(f.SetupFile + "*"); len(links) != 0 {
			t.Errorf("the loser left setup links %v", links)
		}
		if n, _ := f.store.CountAccounts(t.Context()); n != 1 {
			t.Errorf("accounts: got %d, want the winner's only", n)
		}
	})
}

// raceStore is a store on which another server creates the first account
// between the check for one and the attempt to create it.
type raceStore struct{ *sqlite.DB }

func (s *raceStore) CreateFirstAccount(ctx context.Context, a *pihu.Account, owner *pihu.Key, events ...*pihu.AuditEvent) (bool, error) {
	other, otherKey, _, _, err := newAccount("Default", time.Now())
	if err != nil {
		return false, err
	}
	if _, err := s.DB.CreateFirstAccount(ctx, other, otherKey); err != nil {
		return false, err
	}
	return s.DB.CreateFirstAccount(ctx, a, owner, events...)
}

func TestOwnerKeyFile(t *testing.T) {
	for url, want := range map[string]string{
		"sqlite:pihu.db":            "pihu.db.owner-key",
		"sqlite:///var/lib/pihu.db": "/var/lib/pihu.db.owner-key",
		"sqlite:data/x.sqlite":      "data/x.sqlite.owner-key",
	} {
		if got := ownerKeyFile(url); got != want {
			t.Errorf("ownerKeyFile(%q): got %q, want %q", url, got, want)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "pipe": w} {
		if isTerminal(w) {
			t.Errorf("isTerminal(%s): got true, want false", name)
		}
	}
}
