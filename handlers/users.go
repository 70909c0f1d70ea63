package handlers

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/models"
)

// What the seed routes and the API share: users as JSON, ids, pages and
// cursors, and the changes, which the accounts service makes.

// userJSON is a user as the API shows it: never the password hash or the
// session version. LastLoginAt is null until the first login.
type userJSON struct {
	ID          int64       `json:"id"`
	Name        string      `json:"name"`
	Role        models.Role `json:"role"`
	HasPassword bool        `json:"has_password"`
	Suspended   bool        `json:"suspended"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	LastLoginAt *time.Time  `json:"last_login_at"`
}

func toJSON(u models.User) userJSON {
	j := userJSON{ID: u.ID, Name: u.Name, Role: u.Role, HasPassword: u.HasPassword(), Suspended: u.Suspended,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if !u.LastLoginAt.IsZero() {
		j.LastLoginAt = &u.LastLoginAt
	}
	return j
}

// userLocation is the URL of a user in the versioned API, which the seed's
// POST /user also answers with (the seed has no GET for one user).
func userLocation(id int64) string { return "/api/v1/users/" + strconv.FormatInt(id, 10) }

// userID reads the :id path parameter. Anything but a positive integer
// names no user: 404, like an unknown id.
func userID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, models.ErrNotFound
	}
	return id, nil
}

// listParams reads a paged list's parameters: limit, q (a name prefix to
// search for), role, sort (oldest, newest or name; a search is in name
// order) and cursor.
func listParams(c *gin.Context, defaultLimit, maxLimit int, defaultOrder models.Order) (models.ListQuery, error) {
	q := models.ListQuery{Limit: defaultLimit, Order: defaultOrder}
	var verr models.ValidationError
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			verr.Add("limit", "out_of_range", fmt.Sprintf("limit must be a whole number from 1 to %d", maxLimit))
		}
		q.Limit = n
	}
	if s := c.Query("q"); s != "" {
		if !nameLike(s) || utf8.RuneCountInString(s) > models.MaxNameLength {
			verr.Add("q", "invalid_search", fmt.Sprintf("q must be the start of a name: text of at most %d characters", models.MaxNameLength))
		}
		q.Prefix = s
	}
	if s := c.Query("role"); s != "" {
		q.Role = models.Role(s)
		if !q.Role.Valid() {
			verr.Add("role", "invalid_role", fmt.Sprintf("role must be %q or %q", models.RoleAdmin, models.RoleMember))
		}
	}
	if s := c.Query("sort"); s != "" {
		q.Order = models.Order(s)
		if !q.Order.Valid() {
			verr.Add("sort", "invalid_sort", fmt.Sprintf("sort must be %q, %q or %q", models.OrderOldest, models.OrderNewest, models.OrderName))
		}
	}
	if s, ok := c.GetQuery("cursor"); ok {
		var byName, ok bool
		q.After, q.AfterName, q.Backward, byName, ok = decodeCursor(s)
		if !ok || byName != q.ByName() {
			verr.Add("cursor", "invalid_cursor", "cursor must be a value taken from a previous page (its Link header or next_cursor)")
		}
	}
	return q, verr.Err()
}

// nameLike reports whether s could be (the start of) a name: UTF-8 text
// without control characters, which no name holds (and PostgreSQL refuses
// a NUL in any text).
func nameLike(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// listUsers reads a list's parameters and loads that page of users.
func (h *Handlers) listUsers(c *gin.Context, defaultLimit, maxLimit int, defaultOrder models.Order) (models.ListQuery, models.Page, error) {
	q, err := listParams(c, defaultLimit, maxLimit, defaultOrder)
	if err != nil {
		return q, models.Page{}, err
	}
	page, err := h.store.ListUsers(c.Request.Context(), q)
	return q, page, err
}

// A cursor is a page's edge: the id (in id order) or, marked with "@",
// the name key (in name order) of the user the next page starts after;
// marked with "<" too, of the user the previous page ends before. It is
// base64url-encoded so clients treat it as opaque (and the encoding can
// change without breaking them).
func encodeCursor(q models.ListQuery, u models.User, backward bool) string {
	key := strconv.FormatInt(u.ID, 10)
	if q.ByName() {
		key = "@" + models.NameKey(u.Name)
	}
	if backward {
		key = "<" + key
	}
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeCursor reads a cursor: an id or a name key, and its direction.
func decodeCursor(s string) (after int64, afterName string, backward, byName, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", false, false, false
	}
	key, backward := strings.CutPrefix(string(b), "<")
	if name, isName := strings.CutPrefix(key, "@"); isName {
		return 0, name, backward, true, name != "" && nameLike(name)
	}
	id, err := strconv.ParseInt(key, 10, 64)
	return id, "", backward, false, err == nil && id > 0
}

// pageCursors returns the cursors of the pages before and after p, which
// q read ("" where there is none).
func pageCursors(q models.ListQuery, p models.Page) (prev, next string) {
	if p.Len() == 0 {
		return "", ""
	}
	if (!q.Backward && q.FromCursor()) || (q.Backward && p.More) {
		prev = encodeCursor(q, p.First(), true)
	}
	if q.Backward || p.More {
		next = encodeCursor(q, p.Last(), false)
	}
	return prev, next
}

// listURL is path with q's parameters (those that are not defaults) and
// cursor.
func listURL(path string, q models.ListQuery, defaultLimit int, defaultOrder models.Order, cursor string) string {
	values := url.Values{}
	if q.Prefix != "" {
		values.Set("q", q.Prefix)
	}
	if q.Role != "" {
		values.Set("role", string(q.Role))
	}
	if q.Order != defaultOrder { // kept through a search, which is in name order, for after it
		values.Set("sort", string(q.Order))
	}
	if q.Limit != defaultLimit {
		values.Set("limit", strconv.Itoa(q.Limit))
	}
	if cursor != "" {
		values.Set("cursor", cursor)
	}
	u := url.URL{Path: path, RawQuery: values.Encode()}
	return u.String()
}

// setPageLinks points to the pages before and after p (RFC 8288 Link,
// rel prev and next), and returns their cursors.
func setPageLinks(c *gin.Context, q models.ListQuery, p models.Page, defaultLimit int, defaultOrder models.Order) (prev, next string) {
	prev, next = pageCursors(q, p)
	var links []string
	if prev != "" {
		links = append(links, "<"+listURL(c.Request.URL.Path, q, defaultLimit, defaultOrder, prev)+`>; rel="prev"`)
	}
	if next != "" {
		links = append(links, "<"+listURL(c.Request.URL.Path, q, defaultLimit, defaultOrder, next)+`>; rel="next"`)
	}
	if len(links) > 0 {
		c.Header("Link", strings.Join(links, ", "))
	}
	return prev, next
}

// principal is the request's principal; routes that change users run
// after RequireLogin, so there is one.
func principal(c *gin.Context) auth.Principal {
	p, _ := auth.From(c)
	return p
}

// createUser creates a user (admins only) and answers 201 with the user
// and its Location.
func (h *Handlers) createUser(c *gin.Context, n accounts.NewAccount) error {
	u, err := h.accounts.Create(c.Request.Context(), principal(c), n)
	if err != nil {
		return err
	}
	c.Header("Location", userLocation(u.ID))
	writeUser(c, http.StatusCreated, u)
	return nil
}

// updateUser applies a change to the user named by :id and answers 200
// with the user; with If-Match, only to the user as the client read it
// (else 412).
func (h *Handlers) updateUser(c *gin.Context, change accounts.Change) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	change.Check = ifMatch(c)
	u, err := h.accounts.Update(c.Request.Context(), principal(c), id, change)
	if err != nil {
		return err
	}
	writeUser(c, http.StatusOK, u)
	return nil
}

// patchUser: PATCH on both the seed route and the API changes the given
// fields (name, role, password, suspended).
func (h *Handlers) patchUser(c *gin.Context) error {
	var in struct {
		Name      *string      `json:"name"`
		Role      *models.Role `json:"role"`
		Password  *string      `json:"password"`
		Suspended *bool        `json:"suspended"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.updateUser(c, accounts.Change{Name: in.Name, Role: in.Role, Password: in.Password, Suspended: in.Suspended})
}

// deleteUser removes the user named by :id: 204 (admins only); with
// If-Match, only the user as the client read it (else 412).
func (h *Handlers) deleteUser(c *gin.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	if err := h.accounts.Delete(c.Request.Context(), principal(c), id, ifMatch(c)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
