package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/models"
)

// Personal access tokens: /api/v1/tokens, and the page /account/tokens.

type tokenJSON struct {
	ID         int64          `json:"id"`
	Name       string         `json:"name"`
	Prefix     string         `json:"prefix"`
	Scopes     []models.Scope `json:"scopes"`
	UserID     int64          `json:"user_id"`
	CreatedAt  time.Time      `json:"created_at"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	LastUsedAt *time.Time     `json:"last_used_at"`
}

func toTokenJSON(t models.Token) tokenJSON {
	j := tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scopes: t.Scopes, UserID: t.UserID, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		j.ExpiresAt = &t.ExpiresAt
	}
	if !t.LastUsedAt.IsZero() {
		j.LastUsedAt = &t.LastUsedAt
	}
	return j
}

// parseLifetime reads a token's lifetime: a Go duration ("720h"), or ""
// for a token that never expires.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, models.Invalid("expires_in", "invalid_duration", `expires_in is a duration such as "720h" (30 days) or "8760h" (a year)`)
	}
	return d, nil
}

// apiCreateToken: POST /api/v1/tokens {"name", "scopes", "expires_in"?} ->
// 201 with the token's secret, shown this once.
func (h *Handlers) apiCreateToken(c *gin.Context) error {
	var in struct {
		Name      *string        `json:"name" required:"true"`
		Scopes    []models.Scope `json:"scopes" required:"true"`
		ExpiresIn string         `json:"expires_in"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	lifetime, err := parseLifetime(in.ExpiresIn)
	if err != nil {
		return err
	}
	t, err := h.accounts.CreateToken(c.Request.Context(), principal(c), accounts.NewToken{Name: *in.Name, Scopes: in.Scopes, ExpiresIn: lifetime})
	if err != nil {
		return err
	}
	c.Header("Location", "/api/v1/tokens/"+strconv.FormatInt(t.ID, 10))
	writeJSON(c, http.StatusCreated, typeJSON, struct {
		tokenJSON
		Token string `json:"token"`
	}{toTokenJSON(t.Token), t.Secret})
	return nil
}

// apiListTokens: GET /api/v1/tokens[?user=ID] -> {"tokens": [...]}: the
// caller's own, or (administrators) another user's.
func (h *Handlers) apiListTokens(c *gin.Context) error {
	var user int64
	if s, ok := c.GetQuery("user"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return models.Invalid("user", "invalid", "user is a user's id")
		}
		user = n
	}
	tokens, err := h.accounts.Tokens(c.Request.Context(), principal(c), user)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = toTokenJSON(t)
	}
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"tokens": out})
	return nil
}

// revokeToken revokes the token named by :id, for the request's principal.
func (h *Handlers) revokeToken(c *gin.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return models.ErrNoToken
	}
	return h.accounts.RevokeToken(c.Request.Context(), principal(c), id)
}

// apiRevokeToken: DELETE /api/v1/tokens/:id -> 204; it stops working at once.
func (h *Handlers) apiRevokeToken(c *gin.Context) error {
	if err := h.revokeToken(c); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
