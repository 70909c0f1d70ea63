package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/locale"
	"userhub/middleware"
	"userhub/models"
)

// bufPool recycles response buffers: bodies are rendered into a buffer
// first, so that a failure half way becomes a clean error response instead
// of half a page.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Content types, as shared header values: assigning one allocates nothing.
var (
	typeHTML    = []string{"text/html; charset=utf-8"}
	typeJSON    = []string{"application/json"}
	typeProblem = []string{"application/problem+json"}
	typeText    = []string{"text/plain; charset=utf-8"}
)

// writeBody sends a complete body with its type and length.
func writeBody(c *gin.Context, status int, contentType []string, body []byte) {
	h := c.Writer.Header()
	h["Content-Type"] = contentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Status(status)
	_, _ = c.Writer.Write(body)
}

// writeJSON encodes v as the response body.
func writeJSON(c *gin.Context, status int, contentType []string, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		// Only unencodable types fail here: a programming error.
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	writeBody(c, status, contentType, buf.Bytes())
}

// pages holds the parsed templates: each page file together with the layout.
type pages struct {
	byName map[string]*template.Template
}

// parsePages parses every page in fsys with layout.html. Page files define
// "title" and "content" blocks.
func parsePages(fsys fs.FS, funcs template.FuncMap) (*pages, error) {
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range names {
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(fsys, "layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// view is what every template gets: the language and its translations,
// which nav entry is current, the request id, and the page's own data.
type view struct {
	Lang      string
	Nav       string
	RequestID string
	Path      string       // the page's own URL, for forms that come back to it
	User      *models.User // the logged-in user, nil for visitors
	Data      any
}

// greeting is the data of the "greeting" template.
type greeting struct {
	View view
	Name string
}

// greet pairs the view with a name for the "greeting" template.
func greet(v view, name string) greeting { return greeting{View: v, Name: name} }

// T translates key into the page's language: {{.T "nav.home"}}.
func (v view) T(key string, args ...any) string { return locale.T(v.Lang, key, args...) }

// langCookie remembers the language chosen in the page.
const langCookie = "lang"

// language picks the language for a page.
func language(c *gin.Context) string {
	cookie, _ := c.Cookie(langCookie)
	return locale.Match(cookie, c.GetHeader("Accept-Language"))
}

// renderPage renders the page template name inside the layout.
func (h *Handlers) renderPage(c *gin.Context, status int, name, nav string, data any) error {
	v := view{Lang: language(c), Nav: nav, RequestID: middleware.GetRequestID(c), Path: c.Request.URL.RequestURI(), Data: data}
	if u, ok := auth.User(c); ok {
		v.User = &u
	}
	return h.pages.render(name, v, func(body []byte) { writePage(c, status, v.Lang, body) })
}

// renderConstantPage serves a page whose content depends only on the
// language for visitors: it is rendered once per language and then served
// from memory. Logged-in users see their name in it: rendered each time.
func (h *Handlers) renderConstantPage(c *gin.Context, name, nav string) error {
	if _, ok := auth.User(c); ok {
		return h.renderPage(c, http.StatusOK, name, nav, nil)
	}
	lang := language(c)
	key := name + " " + lang
	body, ok := h.constantPages.Load(key)
	if !ok {
		var rendered []byte
		if err := h.pages.render(name, view{Lang: lang, Nav: nav, Path: c.Request.URL.Path}, func(b []byte) { rendered = bytes.Clone(b) }); err != nil {
			return err
		}
		body, _ = h.constantPages.LoadOrStore(key, rendered)
	}
	writePage(c, http.StatusOK, lang, body.([]byte))
	return nil
}

func writePage(c *gin.Context, status int, lang string, body []byte) {
	h := c.Writer.Header()
	h["Content-Language"] = []string{lang}
	h.Add("Vary", "Accept-Language, Cookie")
	writeBody(c, status, typeHTML, body)
}

// render executes a page into a pooled buffer and hands the page to use,
// which must not keep the bytes (they go back to the pool). Rendering
// completes before anything is written, so a template error becomes a
// clean 500.
func (p *pages) render(name string, v view, use func(body []byte)) error {
	t, ok := p.byName[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := t.ExecuteTemplate(buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", path.Base(name), err)
	}
	use(buf.Bytes())
	return nil
}
