package main

import (
	"bufio"
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
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Exit codes of pihu scan, as grep has them: a key found is 1, none 0, and
// an error 2 (even if keys were found too: the scan may have missed some).
// A scan that skipped files it could not read found no key only in what it
// read, so without --allow-skipped it is 2 as well, or 1 if it found keys.
const (
	scanClean = 0
	scanFound = 1
	scanError = 2
)

const (
	// binarySniff is how much of a file is looked at for a NUL byte, the
	// sign of a binary file (git's rule), unless the NUL bytes are those
	// of UTF-16.
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
	// JSON prints the findings as one JSON object instead of lines
	// (--json, the same as --format json).
	JSON bool
	// Format is how the findings are printed: "text" (the default, one
	// line each), "json" or "sarif" (SARIF 2.1.0, for GitHub code
	// scanning and other SARIF viewers).
	Format string
	// AllowSkipped exits 0 when no key was found, even if some files
	// could not be read.
	AllowSkipped bool
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
	// Encoding is how the key was written: "" as itself, or "base64",
	// "percent" or "json-escape".
	Encoding string `json:"encoding"`

	secret string
}

// runScan runs `pihu scan [flags] [PATH…]` and returns its exit code; it
// prints its own errors.
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c scanConfig
	flags := newFlagSet("scan", stderr)
	flags.BoolVar(&c.Revoke, "revoke", false, "revoke the keys found: send them to the server's /v1/auth/leaked-keys")
	flags.BoolVar(&c.JSON, "json", false, "print the findings as JSON (--format json)")
	flags.StringVar(&c.Format, "format", "text", "how to print the findings: text, json or sarif (SARIF 2.1.0, for GitHub code scanning)")
	flags.BoolVar(&c.AllowSkipped, "allow-skipped", false, "exit 0 when no key was found even if some files could not be read (permission denied, UTF-32)")
	flags.StringVar(&c.Progress, "progress", "auto", "progress bar on standard error: auto (large trees, on a terminal), always or never")
	flags.StringVar(&c.APIURL, "api-url", env("PIHU_API_URL", "http://127.0.0.1:8080"), "the server --revoke reports to (PIHU_API_URL)")
	flags.Usage = func() {
		fmt.Fprint(stderr, "Usage: pihu scan [--revoke] [--json | --format text|json|sarif] [--allow-skipped] [--progress auto|always|never] [--api-url URL] [PATH…]\n\n"+
			"Finds Pihu API keys in files and folders (default: the current folder), as written or encoded\n"+
			"in base64, percent-encoding or JSON \\u escapes; UTF-16 files are decoded, .git folders and\n"+
			"symbolic links inside folders are passed over. Exit code: 1 if a key was found, 0 if none,\n"+
			"2 on an error or, without --allow-skipped, when a file could not be read (permission denied, UTF-32).\n\n")
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
	if err := c.checkFormat(); err != nil {
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

// checkFormat checks --format and folds --json into it.
func (c *scanConfig) checkFormat() error {
	switch c.Format {
	case "text", "json", "sarif":
	default:
		return fmt.Errorf("--format %q: use text, json or sarif", c.Format)
	}
	if c.JSON {
		if c.Format != "text" && c.Format != "json" {
			return fmt.Errorf("--json and --format %s: give one of them", c.Format)
		}
		c.Format = "json"
	}
	c.JSON = c.Format == "json"
	return nil
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
	scanned  int
	utf16    int    // of the files scanned, how many were UTF-16
	binary   int    // of the files scanned, how many were binary, read as bytes
	skipped  []skip // files it could not read: the scan is incomplete
	excluded []skip // files and folders passed over by choice
	findings []finding
}

// skip is a file or folder pihu scan did not read, and why.
type skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// file is a file to scan.
type file struct {
	path string
	size int64
}

func (s *scanner) run(ctx context.Context, paths []string) int {
	filesWithKeys := s.scanAll(ctx, s.collect(paths))
	revoked := -1
	if s.cfg.Revoke && len(s.findings) > 0 {
		n, err := s.revoke(ctx)
		if err != nil {
			s.fail("--revoke: %v", err)
		} else {
			revoked = n
		}
	}
	if s.cfg.Format == "sarif" {
		b, _ := json.MarshalIndent(newSARIF(s.findings), "", "  ")
		fmt.Fprintf(s.stdout, "%s\n", b)
	}
	if s.cfg.JSON {
		s.writeJSON(revoked)
	}
	s.summarise(filesWithKeys, revoked)
	switch {
	case s.errors > 0:
		return scanError
	case len(s.findings) > 0:
		return scanFound
	case len(s.skipped) > 0 && !s.cfg.AllowSkipped:
		return scanError
	default:
		return scanClean
	}
}

// scanAll scans files, with a progress bar when it helps, and returns how
// many held a key.
func (s *scanner) scanAll(ctx context.Context, files []file) int {
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
		defer s.bar.Finish()
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
	return filesWithKeys
}

// writeJSON writes --json's answer; revoked is -1 without --revoke.
func (s *scanner) writeJSON(revoked int) {
	out := struct {
		Findings []finding `json:"findings"`
		Scanned  int       `json:"scanned"`
		Skipped  []skip    `json:"skipped"`
		Excluded []skip    `json:"excluded"`
		Revoked  *int      `json:"revoked,omitempty"`
	}{Findings: s.findings, Scanned: s.scanned, Skipped: s.skipped, Excluded: s.excluded}
	if out.Findings == nil {
		out.Findings = []finding{}
	}
	if out.Skipped == nil {
		out.Skipped = []skip{}
	}
	if out.Excluded == nil {
		out.Excluded = []skip{}
	}
	if revoked >= 0 {
		out.Revoked = &revoked
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintf(s.stdout, "%s\n", terminalJSON(b))
}

// summarise writes the summary lines to standard error.
func (s *scanner) summarise(filesWithKeys, revoked int) {
	scanned := plural(s.scanned, "file") + " scanned"
	switch {
	case s.utf16 > 0 && s.binary > 0:
		scanned += fmt.Sprintf(" (%d from UTF-16, %d binary)", s.utf16, s.binary)
	case s.binary > 0:
		scanned += fmt.Sprintf(" (%d binary)", s.binary)
	case s.utf16 > 0:
		scanned += fmt.Sprintf(" (%d from UTF-16)", s.utf16)
	}
	fmt.Fprintf(s.stderr, "pihu scan: %s in %s; %s; %d skipped%s; %d excluded%s\n",
		plural(len(s.findings), "key"), plural(filesWithKeys, "file"), scanned,
		len(s.skipped), reasons(s.skipped), len(s.excluded), reasons(s.excluded))
	if len(s.skipped) > 0 && !s.cfg.AllowSkipped {
		fmt.Fprintf(s.stderr, "pihu scan: incomplete: %s could not be read, and may hold keys (--allow-skipped accepts this)\n",
			plural(len(s.skipped), "file"))
	}
	if revoked >= 0 {
		fmt.Fprintf(s.stderr, "pihu scan: the server revoked %d of the %s found (others were already revoked, expired, or not its keys)\n",
			revoked, plural(len(uniqueSecrets(s.findings)), "distinct key"))
	}
}

// reasons sums up why files were passed over: " (2 binary, 1 permission
// denied)" or " (2 .git folders)", the reasons in the order first met, or
// "" for none.
func reasons(skips []skip) string {
	if len(skips) == 0 {
		return ""
	}
	var order []string
	count := map[string]int{}
	for _, sk := range skips {
		if count[sk.Reason] == 0 {
			order = append(order, sk.Reason)
		}
		count[sk.Reason]++
	}
	parts := make([]string, len(order))
	for i, r := range order {
		if n := count[r]; n > 1 && (strings.HasSuffix(r, "folder") || strings.HasSuffix(r, "link") || strings.HasSuffix(r, "file")) {
			parts[i] = fmt.Sprintf("%d %ss", n, r)
		} else {
			parts[i] = fmt.Sprintf("%d %s", n, r)
		}
	}
	return " (" + strings.Join(parts, ", ") + ")"
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
	fmt.Fprintln(s.stderr, "pihu scan:", cell(pihu.MaskSecrets(fmt.Sprintf(format, args...))))
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

// collect lists the regular files under paths. A path given that is a
// symbolic link is followed; inside folders, .git folders and symbolic
// links are passed over (so that a scan stays in its tree and ends), and
// recorded as excluded.
func (s *scanner) collect(paths []string) []file {
	var files []file
	for _, root := range paths {
		info, err := os.Stat(root)
		switch {
		case err != nil:
			s.fail("%v", err)
		case info.IsDir():
			files = s.walk(files, root)
		case info.Mode().IsRegular():
			files = append(files, file{root, info.Size()})
		default:
			// Named, so not passed over: it was asked for.
			s.skip(root, "special file")
		}
	}
	return files
}

// walk appends to files those of the folder root, and notes the ones it
// passes over.
func (s *scanner) walk(files []file, root string) []file {
	// WalkDir does not follow a link, even the root: walk its target,
	// and show the paths under the name given.
	walkRoot := root
	if linfo, err := os.Lstat(root); err == nil && linfo.Mode()&fs.ModeSymlink != 0 {
		if walkRoot, err = filepath.EvalSymlinks(root); err != nil {
			s.fail("%v", err)
			return files
		}
	}
	filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
		shown := path
		if walkRoot != root {
			shown = filepath.Join(root, strings.TrimPrefix(path, walkRoot))
		}
		if err != nil {
			// A folder it cannot list: nothing in it is read.
			s.skip(shown, skipReason(err))
			return nil
		}
		f, ok, err := s.entry(d, shown, path == walkRoot)
		if ok {
			files = append(files, f)
		}
		return err
	})
	return files
}

// entry judges one entry of a walk: a file to scan (ok), or one passed
// over and noted; filepath.SkipDir for a .git folder below the root.
func (s *scanner) entry(d fs.DirEntry, shown string, root bool) (f file, ok bool, err error) {
	switch {
	case d.IsDir():
		if d.Name() == ".git" && !root {
			s.exclude(shown, ".git folder")
			return f, false, filepath.SkipDir
		}
	case d.Type()&fs.ModeSymlink != 0:
		s.exclude(shown, "symbolic link")
	case !d.Type().IsRegular():
		s.exclude(shown, "special file") // a device, socket or pipe
	default:
		info, err := d.Info()
		if err != nil {
			s.skip(shown, skipReason(err))
			return f, false, nil
		}
		return file{shown, info.Size()}, true, nil
	}
	return f, false, nil
}

// skip records a file or folder that could not be read, and says so
// unless skipping is allowed.
func (s *scanner) skip(path, reason string) {
	path = pihu.MaskSecrets(path)
	s.skipped = append(s.skipped, skip{path, reason})
	if !s.cfg.AllowSkipped {
		if s.bar != nil {
			s.bar.Clear()
		}
		fmt.Fprintf(s.stderr, "pihu scan: skipped %s: %s\n", cell(path), cell(reason))
	}
}

// exclude records a file or folder passed over by choice.
func (s *scanner) exclude(path, reason string) {
	s.excluded = append(s.excluded, skip{pihu.MaskSecrets(path), reason})
}

// skipReason says why a file could not be read, without its path.
func skipReason(err error) string {
	if errors.Is(err, fs.ErrPermission) {
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "read error: " + pihu.MaskSecrets(err.Error())
}

// scan reads one file, decoding UTF-16, and records the keys in it,
// printing each unless the output is JSON. A file that cannot be read to
// its end is skipped, but the keys found before are reported.
func (s *scanner) scan(f file) {
	fh, err := os.Open(f.path)
	if err != nil {
		s.skip(f.path, skipReason(err))
		return
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 64<<10)
	head, err := br.Peek(binarySniff)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		s.skip(f.path, skipReason(err))
		return
	}
	var r io.Reader = br
	enc := textEncoding(head)
	switch enc {
	case "":
	case "UTF-16LE":
		r = utf16Reader(br, unicode.LittleEndian)
	case "UTF-16BE":
		r = utf16Reader(br, unicode.BigEndian)
	case "binary":
		// A key is ASCII, and stands as it is in any binary that holds
		// it (a compiled program, an image's metadata, a database page):
		// read the bytes as they are rather than pass the file over.
		// Compressed data (zip, gzip) is not unpacked.
		s.binary++
	default:
		s.skip(f.path, enc)
		return
	}
	err = pihu.FindSecretsReader(r, func(m pihu.SecretMatch) {
		env, _ := pihu.ParseSecret(m.Secret)
		fd := finding{Path: pihu.MaskSecrets(f.path), Line: m.Line, Column: m.Column, Hint: pihu.Hint(m.Secret),
			Environment: string(env), Encoding: m.Encoding, secret: m.Secret}
		s.findings = append(s.findings, fd)
		if s.cfg.Format == "text" {
			if s.bar != nil {
				s.bar.Clear()
			}
			how := ""
			if fd.Encoding != "" {
				how = " (" + fd.Encoding + ")"
			}
			// A file's name is anyone's writing, like a key's: shown
			// escaped (see cell).
			fmt.Fprintf(s.stdout, "%s:%d:%d: %s%s\n", cell(fd.Path), fd.Line, fd.Column, fd.Hint, how)
		}
	})
	if err != nil {
		s.skip(f.path, skipReason(err))
		return
	}
	s.scanned++
	if strings.HasPrefix(enc, "UTF-16") {
		s.utf16++
	}
}

// textEncoding tells from the start of a file how to read it: "" as it is
// (UTF-8 or any ASCII-compatible encoding), "UTF-16LE" or "UTF-16BE" (a
// byte order mark, or NUL bytes in the same half of at least half the
// 2-byte units and never in the other, as in ASCII written in UTF-16), or
// why it cannot be read: "binary" (other NUL bytes) or "UTF-32". A text
// file with a stray NUL byte is binary, not UTF-16: read as UTF-16, its
// keys would be missed.
func textEncoding(head []byte) string {
	if bytes.HasPrefix(head, []byte{0xff, 0xfe, 0, 0}) || bytes.HasPrefix(head, []byte{0, 0, 0xfe, 0xff}) {
		return "UTF-32"
	}
	bom := bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff})
	if !bom && bytes.IndexByte(head, 0) < 0 {
		return ""
	}
	// A unit of two NUL bytes is U+0000, which no text holds.
	even, odd := 0, 0
	for i := 0; i+1 < len(head); i += 2 {
		if head[i] == 0 && head[i+1] == 0 {
			return "binary"
		}
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}):
		return "UTF-16LE"
	case bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return "UTF-16BE"
	case even == 0 && 2*odd >= len(head)/2:
		return "UTF-16LE"
	case odd == 0 && 2*even >= len(head)/2:
		return "UTF-16BE"
	}
	return "binary"
}

// utf16Reader decodes UTF-16 into UTF-8 as it reads, dropping a byte order
// mark; what is not valid UTF-16 (a lone surrogate, an odd last byte)
// becomes U+FFFD, as everywhere in Go.
func utf16Reader(r io.Reader, order unicode.Endianness) io.Reader {
	return transform.NewReader(r, unicode.UTF16(order, unicode.UseBOM).NewDecoder())
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
