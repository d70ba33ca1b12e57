package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pihu-ai/pihu"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Exit codes of pihu scan, as grep has them: a key found is 1, none 0, and
// an error 2 (even if keys were found too: the scan may have missed some).
const (
	scanClean = 0
	scanFound = 1
	scanError = 2
)

const (
	// maxScanFile is the largest file pihu scan reads; bigger ones are
	// data, not code or configuration, and are skipped.
	maxScanFile = 10 << 20
	// binarySniff is how much of a file is looked at for a NUL byte, the
	// sign of a binary file (git's rule).
	binarySniff = 8000
	// largeTree is when a tree is large enough to show progress: this
	// many files, or largeTreeBytes.
	largeTree      = 1000
	largeTreeBytes = 64 << 20
)

// scanConfig is the configuration of pihu scan.
type scanConfig struct {
	// Revoke sends the keys found to the server's leaked-keys endpoint.
	Revoke bool
	// JSON prints the findings as one JSON object instead of lines.
	JSON bool
	// Progress is "auto" (a progress bar when standard error is a
	// terminal and the tree is large), "always" or "never".
	Progress string
	// APIURL is the server --revoke reports to: --api-url, PIHU_API_URL,
	// default http://127.0.0.1:8080.
	APIURL string
}

// finding is one key found, as pihu scan shows it: never the key itself.
type finding struct {
	Path        string `json:"path"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Hint        string `json:"hint"`
	Environment string `json:"environment"`

	secret string
}

// runScan runs `pihu scan [flags] [PATH…]` and returns its exit code; it
// prints its own errors.
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c scanConfig
	flags := newFlagSet("scan", stderr)
	flags.BoolVar(&c.Revoke, "revoke", false, "revoke the keys found: send them to the server's /v1/auth/leaked-keys")
	flags.BoolVar(&c.JSON, "json", false, "print the findings as JSON")
	flags.StringVar(&c.Progress, "progress", "auto", "progress bar on standard error: auto (large trees, on a terminal), always or never")
	flags.StringVar(&c.APIURL, "api-url", env("PIHU_API_URL", "http://127.0.0.1:8080"), "the server --revoke reports to (PIHU_API_URL)")
	flags.Usage = func() {
		fmt.Fprint(stderr, "Usage: pihu scan [--revoke] [--json] [--progress auto|always|never] [--api-url URL] [PATH…]\n\n"+
			"Finds Pihu API keys in files and folders (default: the current folder), skipping .git,\n"+
			"binary files and files over 10 MiB. Exit code: 1 if a key was found, 0 if none, 2 on an error.\n\n")
		flags.PrintDefaults()
	}
	paths, err := parseInterspersed(flags, args)
	if errors.Is(err, flag.ErrHelp) {
		return scanClean
	}
	if err != nil {
		fmt.Fprintln(stderr, "pihu:", err)
		return exitUsage
	}
	if c.Progress != "auto" && c.Progress != "always" && c.Progress != "never" {
		fmt.Fprintf(stderr, "pihu: --progress %q: use auto, always or never\n", c.Progress)
		return exitUsage
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	s := &scanner{cfg: c, stdout: stdout, stderr: stderr}
	return s.run(ctx, paths)
}

// parseInterspersed parses flags wherever they stand among the paths, as
// in `pihu scan . --revoke`; everything after "--" is a path.
func parseInterspersed(flags *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var paths []string
	for {
		if err := flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = flags.Args()
		if len(args) == 0 {
			return append(paths, rest...), nil
		}
		paths = append(paths, args[0])
		args = args[1:]
	}
}

type scanner struct {
	cfg            scanConfig
	stdout, stderr io.Writer
	bar            *progressbar.ProgressBar

	errors   int
	skipped  int
	scanned  int
	findings []finding
}

// file is a file to scan.
type file struct {
	path string
	size int64
}

func (s *scanner) run(ctx context.Context, paths []string) int {
	files := s.collect(paths)
	var total int64
	for _, f := range files {
		total += f.size
	}
	if s.showProgress(len(files), total) {
		s.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(s.stderr),
			progressbar.OptionSetDescription("scanning"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	filesWithKeys := 0
	for _, f := range files {
		if ctx.Err() != nil {
			s.fail("scan interrupted")
			break
		}
		n := len(s.findings)
		s.scan(f)
		if len(s.findings) > n {
			filesWithKeys++
		}
		if s.bar != nil {
			s.bar.Add64(f.size)
		}
	}
	if s.bar != nil {
		s.bar.Finish()
	}

	revoked := -1
	if s.cfg.Revoke && len(s.findings) > 0 {
		n, err := s.revoke(ctx)
		if err != nil {
			s.fail("--revoke: %v", err)
		} else {
			revoked = n
		}
	}
	if s.cfg.JSON {
		out := struct {
			Findings []finding `json:"findings"`
			Revoked  *int      `json:"revoked,omitempty"`
		}{Findings: s.findings}
		if out.Findings == nil {
			out.Findings = []finding{}
		}
		if revoked >= 0 {
			out.Revoked = &revoked
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(s.stdout, "%s\n", b)
	}
	fmt.Fprintf(s.stderr, "pihu scan: %s in %s; %s scanned, %d skipped (.git, binary or over 10 MiB)\n",
		plural(len(s.findings), "key"), plural(filesWithKeys, "file"), plural(s.scanned, "file"), s.skipped)
	if revoked >= 0 {
		fmt.Fprintf(s.stderr, "pihu scan: the server revoked %d of the %s found (others were already revoked, expired, or not its keys)\n",
			revoked, plural(len(uniqueSecrets(s.findings)), "distinct key"))
	}
	switch {
	case s.errors > 0:
		return scanError
	case len(s.findings) > 0:
		return scanFound
	default:
		return scanClean
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// fail reports an error on standard error, keys masked, and remembers it
// for the exit code.
func (s *scanner) fail(format string, args ...any) {
	s.errors++
	if s.bar != nil {
		s.bar.Clear()
	}
	fmt.Fprintln(s.stderr, "pihu scan:", pihu.MaskSecrets(fmt.Sprintf(format, args...)))
}

// showProgress decides whether to draw a progress bar.
func (s *scanner) showProgress(files int, bytes int64) bool {
	switch s.cfg.Progress {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := s.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && (files >= largeTree || bytes >= largeTreeBytes)
}

// collect lists the regular files under paths, skipping .git folders,
// files over maxScanFile and anything that is not a regular file (links
// are not followed, so that a scan stays in its tree and ends).
func (s *scanner) collect(paths []string) []file {
	var files []file
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			s.fail("%v", err)
			continue
		}
		if !info.IsDir() {
			if s.keep(root, info) {
				files = append(files, file{root, info.Size()})
			}
			continue
		}
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				s.fail("%v", err)
				return nil
			}
			if d.IsDir() {
				if d.Name() == ".git" && path != root {
					s.skipped++
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				s.fail("%v", err)
				return nil
			}
			if s.keep(path, info) {
				files = append(files, file{path, info.Size()})
			}
			return nil
		})
	}
	return files
}

// keep reports whether a file is one to read: regular, and not too big.
func (s *scanner) keep(path string, info fs.FileInfo) bool {
	if !info.Mode().IsRegular() || info.Size() > maxScanFile {
		s.skipped++
		return false
	}
	return true
}

// scan reads one file and records the keys in it, printing each unless
// the output is JSON.
func (s *scanner) scan(f file) {
	fh, err := os.Open(f.path)
	if err != nil {
		s.fail("%v", err)
		return
	}
	defer fh.Close()
	// A file that grew since it was listed is read up to the limit, and
	// skipped if it went past it.
	data, err := io.ReadAll(io.LimitReader(fh, maxScanFile+1))
	if err != nil {
		s.fail("%v", err)
		return
	}
	if len(data) > maxScanFile || bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		s.skipped++
		return
	}
	s.scanned++
	for _, m := range pihu.FindSecrets(data) {
		env, _ := pihu.ParseSecret(m.Secret)
		fd := finding{Path: pihu.MaskSecrets(f.path), Line: m.Line, Column: m.Column, Hint: pihu.Hint(m.Secret), Environment: string(env), secret: m.Secret}
		s.findings = append(s.findings, fd)
		if !s.cfg.JSON {
			if s.bar != nil {
				s.bar.Clear()
			}
			fmt.Fprintf(s.stdout, "%s:%d:%d: %s\n", fd.Path, fd.Line, fd.Column, fd.Hint)
		}
	}
}

func uniqueSecrets(findings []finding) []string {
	seen := make(map[string]bool, len(findings))
	var out []string
	for _, f := range findings {
		if !seen[f.secret] {
			seen[f.secret] = true
			out = append(out, f.secret)
		}
	}
	return out
}

// revoke reports the keys found to the server, in batches of at most
// pihu.MaxLeakedKeys, and returns how many it revoked. A 429 is waited
// out, up to a minute at a time.
func (s *scanner) revoke(ctx context.Context) (int, error) {
	url := strings.TrimRight(s.cfg.APIURL, "/") + "/v1/auth/leaked-keys"
	client := &http.Client{Timeout: 30 * time.Second}
	secrets := uniqueSecrets(s.findings)
	revoked := 0
	for len(secrets) > 0 {
		batch := secrets[:min(len(secrets), pihu.MaxLeakedKeys)]
		body, _ := json.Marshal(map[string][]string{"keys": batch})
		n, wait, err := postLeaked(ctx, client, url, body)
		if err != nil {
			return revoked, err
		}
		if wait > 0 {
			if wait > time.Minute {
				return revoked, fmt.Errorf("%s asks to wait %v before the next report", url, wait)
			}
			select {
			case <-ctx.Done():
				return revoked, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		revoked += n
		secrets = secrets[len(batch):]
	}
	return revoked, nil
}

// postLeaked sends one report and returns the count revoked, or how long
// to wait before sending it again.
func postLeaked(ctx context.Context, client *http.Client, url string, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err // names the method and URL, never the body
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return 0, time.Duration(max(secs, 1)) * time.Second, nil
	}
	var out struct {
		Revoked *int `json:"revoked"`
		Error   *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil || (res.StatusCode == http.StatusOK && out.Revoked == nil) {
		return 0, 0, fmt.Errorf("POST %s: %s, and not the answer of a Pihu server", url, res.Status)
	}
	if res.StatusCode != http.StatusOK {
		msg := res.Status
		if out.Error != nil {
			msg += ": " + out.Error.Message
		}
		return 0, 0, fmt.Errorf("POST %s: %s", url, msg)
	}
	return *out.Revoked, 0, nil
}
