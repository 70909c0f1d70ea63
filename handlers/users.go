package handlers

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/models"
)

// What the seed routes and the API share: users as JSON, ids, pages and
// cursors, and the changes, which the accounts service makes.

// userJSON is a user as the API shows it: never the password hash or the
// session version.
type userJSON struct {
	ID        int64       `json:"id"`
	Name      string      `json:"name"`
	Role      models.Role `json:"role"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

func toJSON(u models.User) userJSON {
	return userJSON{ID: u.ID, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
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

// listParams reads limit, q (a name prefix to search for) and cursor for a
// paged list.
func listParams(c *gin.Context, defaultLimit, maxLimit int) (models.ListQuery, error) {
	q := models.ListQuery{Limit: defaultLimit}
	var verr models.ValidationError
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			verr.Add("limit", "out_of_range", fmt.Sprintf("limit must be a whole number from 1 to %d", maxLimit))
		}
		q.Limit = n
	}
	if s := c.Query("q"); s != "" {
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > models.MaxNameLength {
			verr.Add("q", "invalid_search", fmt.Sprintf("q must be the start of a name: text of at most %d characters", models.MaxNameLength))
		}
		q.Prefix = s
	}
	if s, ok := c.GetQuery("cursor"); ok {
		after, afterName, ok := decodeCursor(s)
		if !ok || (afterName != "") != (q.Prefix != "") {
			verr.Add("cursor", "invalid_cursor", "cursor must be a value taken from a previous page's Link header")
		}
		q.After, q.AfterName = after, afterName
	}
	return q, verr.Err()
}

// listUsers reads limit, q and cursor and loads that page of users, newest
// first if asked.
func (h *Handlers) listUsers(c *gin.Context, defaultLimit, maxLimit int, newest bool) (models.ListQuery, models.Page, error) {
	q, err := listParams(c, defaultLimit, maxLimit)
	if err != nil {
		return q, models.Page{}, err
	}
	q.Newest = newest
	page, err := h.store.ListUsers(c.Request.Context(), q)
	return q, page, err
}

// A cursor is where a page ended: the id (in id order) or, marked with
// "@", the name key (in a search, which goes in name order),
// base64url-encoded so clients treat it as opaque (and the encoding can
// change without breaking them).
func nextCursor(q models.ListQuery, p models.Page) string {
	switch {
	case !p.More:
		return ""
	case q.Prefix != "":
		return base64.RawURLEncoding.EncodeToString([]byte("@" + models.NameKey(p.Last().Name)))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.Last().ID, 10)))
}

// decodeCursor reads a cursor: an id, or a name key.
func decodeCursor(s string) (after int64, afterName string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", false
	}
	if name, isName := strings.CutPrefix(string(b), "@"); isName {
		return 0, name, name != "" && utf8.ValidString(name)
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	return id, "", err == nil && id > 0
}

// setNextLink points to the page after p (RFC 8288), and returns its cursor
// ("" on the last page).
func setNextLink(c *gin.Context, q models.ListQuery, p models.Page) string {
	cursor := nextCursor(q, p)
	if cursor == "" {
		return ""
	}
	values := url.Values{"cursor": {cursor}, "limit": {strconv.Itoa(q.Limit)}}
	if q.Prefix != "" {
		values.Set("q", q.Prefix)
	}
	next := url.URL{Path: c.Request.URL.Path, RawQuery: values.Encode()}
	c.Header("Link", "<"+next.String()+`>; rel="next"`)
	return cursor
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
	writeJSON(c, http.StatusCreated, typeJSON, toJSON(u))
	return nil
}

// updateUser applies a change to the user named by :id and answers 200
// with the user.
func (h *Handlers) updateUser(c *gin.Context, change accounts.Change) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	u, err := h.accounts.Update(c.Request.Context(), principal(c), id, change)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(u))
	return nil
}

// patchUser: PATCH on both the seed route and the API changes the given
// fields (name, role, password).
func (h *Handlers) patchUser(c *gin.Context) error {
	var in struct {
		Name     *string      `json:"name"`
		Role     *models.Role `json:"role"`
		Password *string      `json:"password"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.updateUser(c, accounts.Change{Name: in.Name, Role: in.Role, Password: in.Password})
}

// deleteUser removes the user named by :id: 204 (admins only).
func (h *Handlers) deleteUser(c *gin.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	if err := h.accounts.Delete(c.Request.Context(), principal(c), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
