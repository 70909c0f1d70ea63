package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// assets are the static files, read once from the embedded file system and
// served from memory with a content hash as ETag and version.
type assets struct {
	files map[string]asset
}

type asset struct {
	body        []byte
	contentType []string
	version     string // first hex digits of the content hash
	etag        string
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string]asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		version := hex.EncodeToString(sum[:])[:16]
		ct := mime.TypeByExtension(path.Ext(name))
		if path.Ext(name) == ".ico" {
			ct = "image/x-icon" // not in Go's built-in table
		}
		if ct == "" {
			return fmt.Errorf("static file %s: unknown content type", name)
		}
		// A weak ETag: gzip may re-encode the body, and the content is the
		// same either way.
		a.files[name] = asset{body: body, contentType: []string{ct}, version: version, etag: `W/"` + version + `"`}
		return nil
	})
	return a, err
}

// url returns the versioned URL of a static file, for templates: a new
// build changes the URL, so browsers may cache each version for a year.
func (a *assets) url(name string) (string, error) {
	f, ok := a.files[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/static/" + name + "?v=" + f.version, nil
}

// static: GET /static/*path.
func (h *Handlers) static(c *gin.Context) error {
	return h.serveAsset(c, strings.TrimPrefix(c.Param("path"), "/"))
}

// favicon: GET /favicon.ico, which browsers ask for on their own.
func (h *Handlers) favicon(c *gin.Context) error {
	return h.serveAsset(c, "favicon.ico")
}

func (h *Handlers) serveAsset(c *gin.Context, name string) error {
	f, ok := h.assets.files[name]
	if !ok {
		return errNoRoute
	}
	hdr := c.Writer.Header()
	hdr.Set("ETag", f.etag)
	if c.Query("v") == f.version {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "public, max-age=3600")
	}
	if etagMatches(c.GetHeader("If-None-Match"), f.version) {
		c.Status(http.StatusNotModified)
		return nil
	}
	writeBody(c, http.StatusOK, f.contentType, f.body)
	return nil
}

// etagMatches applies If-None-Match's weak comparison: any listed tag with
// the same opaque value matches, W/ or not; "*" matches everything.
func etagMatches(header, version string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == `"`+version+`"` {
			return true
		}
	}
	return false
}
