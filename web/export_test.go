package web

import (
	"io/fs"
	"slices"
)

// PageNames are the pages New parses, for the tests.
func PageNames() []string { return slices.Clone(pageNames) }

// ParsePages parses the pages from files as New does, for the tests.
func ParsePages(files fs.FS) error {
	_, err := parsePages(files)
	return err
}

// BrowserName is browserName, for the tests.
var BrowserName = browserName
