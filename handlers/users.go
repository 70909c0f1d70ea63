package handlers

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/middleware"
	"userhub/models"
)

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

// listParams reads limit and cursor for a paged list.
func listParams(c *gin.Context, defaultLimit, maxLimit int) (models.ListQuery, error) {
	q := models.ListQuery{Limit: defaultLimit}
	var verr models.ValidationError
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			verr.Fields = append(verr.Fields, models.FieldError{Field: "limit", Code: "out_of_range",
				Message: fmt.Sprintf("limit must be a whole number from 1 to %d", maxLimit)})
		}
		q.Limit = n
	}
	if s, ok := c.GetQuery("cursor"); ok {
		after, ok := decodeCursor(s)
		if !ok {
			verr.Fields = append(verr.Fields, models.FieldError{Field: "cursor", Code: "invalid_cursor",
				Message: "cursor must be a value taken from a previous page's Link header"})
		}
		q.After = after
	}
	if len(verr.Fields) > 0 {
		return q, &verr
	}
	return q, nil
}

// listUsers reads limit and cursor and loads that page of users, newest
// first if asked. On an error it has answered, and ok is false.
func (h *Handlers) listUsers(c *gin.Context, defaultLimit, maxLimit int, newest bool) (q models.ListQuery, page models.Page, ok bool) {
	q, err := listParams(c, defaultLimit, maxLimit)
	if err == nil {
		q.Newest = newest
		page, err = h.store.ListUsers(c.Request.Context(), q)
	}
	if err != nil {
		h.fail(c, err)
		return q, page, false
	}
	return q, page, true
}

// A cursor is the id the page ended with, base64url-encoded so clients
// treat it as opaque (and the encoding can change without breaking them).
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	return id, err == nil && id > 0
}

// setNextLink points to the page after p (RFC 8288), and returns its cursor
// ("" on the last page).
func setNextLink(c *gin.Context, p models.Page, limit int) string {
	if !p.More {
		return ""
	}
	cursor := encodeCursor(p.Users[len(p.Users)-1].ID)
	next := url.URL{Path: c.Request.URL.Path, RawQuery: url.Values{"cursor": {cursor}, "limit": {strconv.Itoa(limit)}}.Encode()}
	c.Header("Link", "<"+next.String()+`>; rel="next"`)
	return cursor
}

// userInput is what the API lets a client set on a user. Decoding refuses
// any other field, so no request can set what the route does not offer.
type userInput struct {
	Name     *string      `json:"name"`
	Role     *models.Role `json:"role"`
	Password *string      `json:"password"`
}

// require reports the named fields that are missing.
func (in userInput) require(fields ...string) error {
	missing := map[string]bool{}
	for _, f := range fields {
		missing[f] = f == "name" && in.Name == nil || f == "role" && in.Role == nil
	}
	return required(missing)
}

// hashPassword checks a new password against the policy (for the user
// named name) and hashes it; nil stays nil.
func (h *Handlers) hashPassword(c *gin.Context, password *string, name string) (*string, error) {
	if password == nil {
		return nil, nil
	}
	if err := h.policy.Check("password", *password, name); err != nil {
		return nil, err
	}
	hash, err := h.hasher.Hash(c.Request.Context(), *password)
	return &hash, err
}

// createUser creates a user from a decoded input (admins only, by route)
// and answers 201 with the user and its Location. A user created without
// a password cannot log in until an administrator sets one.
func (h *Handlers) createUser(c *gin.Context, in userInput) {
	n := models.NewUser{}
	if in.Name != nil {
		n.Name = *in.Name
	}
	if in.Role != nil {
		n.Role = *in.Role
	}
	if _, err := n.Normalize(); err != nil {
		h.fail(c, err) // before hashing: a bad name costs no hash
		return
	}
	hash, err := h.hashPassword(c, in.Password, n.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	if hash != nil {
		n.PasswordHash = *hash
	}
	u, err := h.store.CreateUser(c.Request.Context(), n)
	if err != nil {
		h.fail(c, err)
		return
	}
	actor, _ := middleware.CurrentUser(c)
	h.log.Info("user created", "user", u.Name, "role", u.Role, "by", actor.Name)
	c.Header("Location", userLocation(u.ID))
	writeJSON(c, http.StatusCreated, typeJSON, toJSON(u))
}

// authorizeChange says whether actor may apply in to user id: an admin may
// change anyone (but sets their own password through /api/v1/me/password,
// which asks for the current one); a member may only rename themselves.
func authorizeChange(actor models.User, id int64, in userInput) error {
	if actor.IsAdmin() {
		if in.Password != nil && id == actor.ID {
			return &models.ForbiddenError{Reason: "change your own password with PUT /api/v1/me/password, which asks for the current one"}
		}
		return nil
	}
	switch {
	case id != actor.ID:
		return &models.ForbiddenError{Reason: "members may change only their own account"}
	case in.Role != nil && *in.Role != actor.Role:
		return &models.ForbiddenError{Reason: "only administrators may change roles"}
	case in.Password != nil:
		return &models.ForbiddenError{Reason: "change your password with PUT /api/v1/me/password"}
	}
	return nil
}

// updateUser applies a decoded input to the user named by :id.
func (h *Handlers) updateUser(c *gin.Context, in userInput) {
	id, err := userID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	actor, _ := middleware.CurrentUser(c)
	if err := authorizeChange(actor, id, in); err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	target, err := h.store.User(ctx, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	change := models.UserChange{Name: in.Name, Role: in.Role}
	if change, err = change.Normalize(); err != nil {
		h.fail(c, err)
		return
	}
	name := target.Name
	if in.Name != nil {
		name = *change.Name
	}
	if change.PasswordHash, err = h.hashPassword(c, in.Password, name); err != nil {
		h.fail(c, err)
		return
	}
	u := target
	if change.Name != nil || change.Role != nil || change.PasswordHash != nil {
		if u, err = h.store.UpdateUser(ctx, id, change); err != nil {
			h.fail(c, err)
			return
		}
		h.log.Info("user changed", "user", u.Name, "id", u.ID, "by", actor.Name,
			"name_changed", change.Name != nil, "role", u.Role, "password_set", change.PasswordHash != nil)
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(u))
}

// deleteUser removes the user named by :id: 204 (admins only, by route).
func (h *Handlers) deleteUser(c *gin.Context) {
	id, err := userID(c)
	if err == nil {
		err = h.store.DeleteUser(c.Request.Context(), id)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	actor, _ := middleware.CurrentUser(c)
	h.log.Info("user deleted", "id", id, "by", actor.Name)
	c.Status(http.StatusNoContent)
}

// patchUser changes the given fields (name, role, password): PATCH on
// both the seed route and the API.
func (h *Handlers) patchUser(c *gin.Context) {
	var in userInput
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	h.updateUser(c, in)
}
