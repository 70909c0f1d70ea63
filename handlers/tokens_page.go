package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/models"
)

// The page /account/tokens: a person's own personal access tokens, made
// and revoked with plain forms (no script needed). A new token's secret is
// shown on the answer to the form that made it, once: only its hash is kept.

type tokensPage struct {
	Tokens    []tokenRow
	New       *accounts.CreatedToken
	Revoked   bool
	CanAdmin  bool
	Errors    []string // translation keys
	Name      string
	Scope     map[string]bool
	Lifetimes []lifetimeOption
}

type tokenRow struct {
	ID                         int64
	Name, Prefix, Scopes       string
	Created, Expires, LastUsed string
	Expired                    bool
}

type lifetimeOption struct {
	Value, Label string
	Selected     bool
}

// tokenLifetimes are the form's choices: the API takes any duration.
var tokenLifetimes = []struct{ value, label string }{
	{"168h", "tokens.expires.7d"}, {"720h", "tokens.expires.30d"}, {"2160h", "tokens.expires.90d"},
	{"8760h", "tokens.expires.1y"}, {"", "tokens.expires.never"},
}

// tokenFieldErrors translates the token rules' field errors.
var tokenFieldErrors = map[string]string{
	"name:required": "tokens.error.name_required", "name:too_long": "tokens.error.name_too_long", "name:invalid": "tokens.error.name_invalid",
	"scopes:required": "tokens.error.scopes_required", "scopes:invalid_scope": "tokens.error.scopes_required",
	"scopes:admin_scope_for_admins": "tokens.error.admin_scope", "expires_in:out_of_range": "tokens.error.lifetime",
	"expires_in:invalid_duration": "tokens.error.lifetime",
}

// renderTokens renders the page for the logged-in user, with page's form
// state and outcome.
func (h *Handlers) renderTokens(c *gin.Context, status int, page tokensPage) error {
	p := principal(c)
	tokens, err := h.accounts.Tokens(c.Request.Context(), p, 0)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, t := range tokens {
		row := tokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: models.JoinScopes(t.Scopes, ", "), Created: displayTime(t.CreatedAt), Expired: t.Expired(now)}
		if !t.ExpiresAt.IsZero() {
			row.Expires = displayTime(t.ExpiresAt)
		}
		if !t.LastUsedAt.IsZero() {
			row.LastUsed = displayTime(t.LastUsedAt)
		}
		page.Tokens = append(page.Tokens, row)
	}
	page.CanAdmin = p.User.IsAdmin()
	if page.Scope == nil {
		page.Scope = map[string]bool{"read": true}
	}
	chosen := c.PostForm("expires_in")
	if c.Request.Method == http.MethodGet || page.New != nil {
		chosen = "720h"
	}
	for _, l := range tokenLifetimes {
		page.Lifetimes = append(page.Lifetimes, lifetimeOption{Value: l.value, Label: l.label, Selected: l.value == chosen})
	}
	return h.renderPage(c, status, "account_tokens.html", "account", page)
}

// tokensPageGet: GET /account/tokens.
func (h *Handlers) tokensPageGet(c *gin.Context) error {
	return h.renderTokens(c, http.StatusOK, tokensPage{Revoked: c.Query("revoked") == "1"})
}

// tokensPageCreate: POST /account/tokens (the form) -> the page with the
// new token shown once, or with what is wrong (422).
func (h *Handlers) tokensPageCreate(c *gin.Context) error {
	page := tokensPage{Name: c.PostForm("name"), Scope: map[string]bool{}}
	var scopes []models.Scope
	for _, s := range c.PostFormArray("scopes") {
		scopes = append(scopes, models.Scope(s))
		page.Scope[s] = true
	}
	lifetime, err := parseLifetime(c.PostForm("expires_in"))
	if err == nil {
		var made accounts.CreatedToken
		made, err = h.accounts.CreateToken(c.Request.Context(), principal(c), accounts.NewToken{Name: page.Name, Scopes: scopes, ExpiresIn: lifetime})
		if err == nil {
			return h.renderTokens(c, http.StatusCreated, tokensPage{New: &made})
		}
	}
	var verr *models.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	for _, f := range verr.Fields {
		key, ok := tokenFieldErrors[f.Field+":"+f.Code]
		if !ok {
			key = "tokens.error.invalid"
		}
		page.Errors = append(page.Errors, key)
	}
	return h.renderTokens(c, http.StatusUnprocessableEntity, page)
}

// tokensPageRevoke: POST /account/tokens/:id/revoke -> back to the page,
// which says so.
func (h *Handlers) tokensPageRevoke(c *gin.Context) error {
	if err := h.revokeToken(c); err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/account/tokens?revoked=1")
	return nil
}
