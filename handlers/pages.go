package handlers

import (
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/locale"
	"userhub/models"
)

// The home page lists homeDefaultLimit users at a time, or another of
// homePageSizes; newest first unless asked otherwise.
const (
	homeDefaultLimit = 50
	homeDefaultOrder = models.OrderNewest
)

var homePageSizes = []int{10, 25, 50, 100}

// homePage is what home.html shows: one page of users, and the controls
// that chose it.
type homePage struct {
	Rows      []template.HTML // one a user; see userrows.go
	Query     models.ListQuery
	Count     string // "120 users"
	PageSizes []int
	FirstURL  string // "" on the first page
	PrevURL   string
	NextURL   string
	EmptyText string // why the page is empty; "" when it is not
	MinLength int    // of a password, for the forms' hints
}

// home: GET / -> the user list, rendered on the server; static/app.js
// searches as the admin types (fetching this page and taking its list),
// and adds, renames, suspends and deletes through the API without reloading.
func (h *Handlers) home(c *gin.Context) error {
	q, page, err := h.listUsers(c, homeDefaultLimit, slices.Max(homePageSizes), homeDefaultOrder)
	if errors.As(err, new(*models.ValidationError)) {
		// A cursor from an old bookmark, or a parameter typed by hand: the
		// list from its start, rather than an error page.
		c.Redirect(http.StatusSeeOther, "/")
		return nil
	}
	if err != nil {
		return err
	}
	pageURL := func(cursor string) string { return listURL("/", q, homeDefaultLimit, homeDefaultOrder, cursor) }
	if q.Backward && !page.More {
		// Back at the start: the first page itself, full, with no link
		// before it (users deleted meanwhile would make this one short).
		c.Redirect(http.StatusSeeOther, pageURL(""))
		return nil
	}
	total, err := h.store.CountUsers(c.Request.Context(), q.Filter)
	if err != nil {
		return err
	}
	me, lang := principal(c).User, language(c)
	rows, labels := homeRows(page.Users(), me.ID, lang)
	data := homePage{
		Rows:      userRowsHTML(rows, labels, me.IsAdmin()),
		Query:     q,
		Count:     countText(lang, total, q.Prefix != ""),
		PageSizes: homePageSizes,
		MinLength: h.accounts.MinPasswordLength(),
	}
	if !slices.Contains(data.PageSizes, q.Limit) { // ?limit=7, by hand: offered as it is
		data.PageSizes = slices.Sorted(slices.Values(append(slices.Clone(homePageSizes), q.Limit)))
	}
	switch {
	case page.Len() == 0 && q.FromCursor():
		data.EmptyText = locale.T(lang, "users.page_empty") // its users were deleted meanwhile
	case page.Len() == 0 && (q.Prefix != "" || q.Role != ""):
		data.EmptyText = locale.T(lang, "users.no_match")
	case page.Len() == 0:
		data.EmptyText = locale.T(lang, "users.empty")
	}
	prev, next := pageCursors(q, page)
	if q.FromCursor() {
		data.FirstURL = pageURL("")
	}
	if prev != "" {
		data.PrevURL = pageURL(prev)
	}
	if next != "" {
		data.NextURL = pageURL(next)
	}
	return h.renderPage(c, http.StatusOK, "home.html", "home", data)
}

// countText says how many users the list selects: "1 user", "1,234
// users", or for a search past models.CountLimit "More than 1,000 users".
func countText(lang string, n int, search bool) string {
	switch {
	case search && n > models.CountLimit:
		return locale.T(lang, "users.count_more", groupDigits(models.CountLimit))
	case n == 1:
		return locale.T(lang, "users.count_one")
	}
	return locale.T(lang, "users.count", groupDigits(n))
}

// groupDigits writes n with a comma every three digits, as both English
// and Korean do.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// account: GET /account, where users change their own name and password.
func (h *Handlers) account(c *gin.Context) error {
	return h.renderPage(c, http.StatusOK, "account.html", "account", struct{ MinLength int }{h.accounts.MinPasswordLength()})
}

// about: GET /about, the same for every visitor of a language.
func (h *Handlers) about(c *gin.Context) error {
	return h.renderConstantPage(c, "about.html", "about")
}
