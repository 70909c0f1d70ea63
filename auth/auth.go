// Package auth says who is making a request. One Authenticate step turns
// the request's credential (a session cookie today; a bearer token or an
// identity provider's login later) into a Principal and puts it in the
// request's context; RequireLogin and RequireAdmin look only at the
// Principal, never at how it was made.
//
// It does not check passwords or keep sessions: accounts/ does the one,
// sessions/ the other, and each hands a Principal here.
package auth

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/middleware"
	"userhub/models"
)

// Method is how a principal proved who they are.
type Method string

// The methods.
const (
	// MethodSession: a session cookie, from a login with a password.
	MethodSession Method = "session"
	// MethodOperator: the `userhub user` commands. Whoever can run them
	// can write the database already, so they act with every right.
	MethodOperator Method = "operator"
	// MethodToken: a personal access token (Authorization: Bearer), on
	// the API only; it acts within its scopes.
	MethodToken Method = "token"
)

// Principal is who makes a request, and how they proved it.
type Principal struct {
	User   models.User
	Method Method
	// SessionID names the session the request came with ("" without one).
	SessionID string
	// SecondFactorPending: the password was right, but the login still
	// needs its second factor; until then the principal is not logged in.
	SecondFactorPending bool
	// MustEnrol: logged in, but an administrator who must enrol a second
	// factor (auth.require_2fa_for_admins) before doing anything else.
	MustEnrol bool
	// Token is the personal access token of a MethodToken principal.
	Token models.Token
}

// HasScope reports whether p may act with scope s: a token principal
// within its token's scopes, anyone else always.
func (p Principal) HasScope(s models.Scope) bool {
	return p.Method != MethodToken || p.Token.Has(s)
}

// Operator is the principal of the operator's commands.
func Operator() Principal { return Principal{Method: MethodOperator} }

// LoggedIn reports whether p has completed a login.
func (p Principal) LoggedIn() bool { return p.User.ID != 0 && !p.SecondFactorPending }

// IsAdmin reports whether p may do an administrator's work: an admin's
// token needs the admin scope for it.
func (p Principal) IsAdmin() bool {
	return p.Method == MethodOperator || (p.LoggedIn() && p.User.IsAdmin() && p.HasScope(models.ScopeAdmin))
}

// LacksAdminScope reports whether p is an administrator's token without
// the admin scope: what an administrator may do, it may not.
func (p Principal) LacksAdminScope() bool {
	return p.Method == MethodToken && p.User.IsAdmin() && !p.Token.Has(models.ScopeAdmin)
}

// principalKey is where the principal lives in the gin context.
const principalKey = "userhub.principal"

// From returns the principal of the request, if it has one.
func From(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok || v == nil {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}

// User returns the logged-in user of the request, if any.
func User(c *gin.Context) (models.User, bool) {
	p, ok := From(c)
	if !ok || !p.LoggedIn() {
		return models.User{}, false
	}
	return p.User, true
}

// Set makes p the principal of the request. Answers to a request with a
// principal hold personal data: no cache may keep them.
func Set(c *gin.Context, p Principal) {
	c.Set(principalKey, p)
	c.Set(middleware.LogUserKey, p.User.Name)
	c.Header("Cache-Control", "no-store")
}

// Clear makes the request anonymous from here on (after a logout).
func Clear(c *gin.Context) { c.Set(principalKey, nil) }

// Credential is one kind of proof a request can carry.
type Credential interface {
	// Principal returns who the request's credential of this kind proves
	// to be. found is false when the request carries none, or one that no
	// longer works (forged, expired, revoked: the request goes on
	// anonymous). An error means the credential could not be checked now
	// (its store does not answer): not the client's fault.
	Principal(c *gin.Context) (p Principal, found bool, err error)
	// Challenge is the WWW-Authenticate challenge (RFC 9110 11.6.1) that
	// tells a client how to obtain this credential.
	Challenge() string
}

// Authenticator finds the principal of each request from its credentials.
type Authenticator struct {
	credentials []Credential
	fail        middleware.Fail
}

// New returns an Authenticator trying credentials in order; fail answers
// a credential that could not be checked.
func New(fail middleware.Fail, credentials ...Credential) *Authenticator {
	return &Authenticator{credentials: credentials, fail: fail}
}

// Authenticate is the middleware: the first credential found makes the
// request's principal; without one the request goes on anonymous.
func (a *Authenticator) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		for _, cred := range a.credentials {
			p, found, err := cred.Principal(c)
			if err != nil {
				a.fail(c, err)
				return
			}
			if found {
				Set(c, p)
				break
			}
		}
		c.Next()
	}
}

// Challenge lists the challenges of every credential, for the
// WWW-Authenticate header of a 401.
func (a *Authenticator) Challenge() string {
	var challenges []string
	for _, cred := range a.credentials {
		if ch := cred.Challenge(); ch != "" {
			challenges = append(challenges, ch)
		}
	}
	return strings.Join(challenges, ", ")
}

// endedKey marks a request that came with a session that has ended.
const endedKey = "userhub.session_ended"

// MarkEnded records that the request's session has ended (timed out,
// logged out elsewhere, password changed, suspended), for RequireLogin to
// send a page's visitor to a login page that says so rather than a bare one.
func MarkEnded(c *gin.Context) { c.Set(endedKey, true) }

// RequireLogin refuses requests without a logged-in principal: API routes
// with 401 (models.ErrNotAuthenticated), pages with a redirect to the
// login page that comes back here afterwards.
func RequireLogin(fail middleware.Fail, page bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := User(c); ok {
			c.Next()
			return
		}
		if page && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) {
			to := "/login?next=" + url.QueryEscape(c.Request.URL.RequestURI())
			if c.GetBool(endedKey) {
				to += "&ended=1" // the login page says why the person is there
			}
			c.Redirect(http.StatusSeeOther, to)
			c.Abort()
			return
		}
		fail(c, models.ErrNotAuthenticated)
	}
}

// RequireEnrolled holds a principal who must enrol a second factor
// (Principal.MustEnrol) to the requests allowed lets through: a visit
// (GET) to a page (isPage) is sent to enrolPage, anything else refused
// with models.ErrEnrolmentRequired.
func RequireEnrolled(fail middleware.Fail, enrolPage string, allowed, isPage func(*http.Request) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := From(c)
		if !ok || !p.MustEnrol || allowed(c.Request) {
			c.Next()
			return
		}
		if isPage(c.Request) && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) {
			c.Redirect(http.StatusSeeOther, enrolPage)
			c.Abort()
			return
		}
		fail(c, models.ErrEnrolmentRequired)
	}
}

// RequireAdmin refuses principals who are not administrators (403). It
// runs after RequireLogin.
func RequireAdmin(fail middleware.Fail) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := From(c)
		switch {
		case ok && p.IsAdmin():
			c.Next()
		case ok && p.LacksAdminScope():
			fail(c, models.ErrNeedsScope(models.ScopeAdmin))
		default:
			fail(c, &models.ForbiddenError{Reason: "only administrators may do this"})
		}
	}
}

// Bearer is the credential of an Authorization: Bearer header on the
// paths under APIPrefix (pages ignore the header: a page is for a person
// with a session). Check turns the token into a principal, or fails with
// models.ErrBadToken. A request that carries a bearer token is judged by
// it alone: a bad one is refused (401), never passed on to the session
// cookie the same request may carry.
type Bearer struct {
	APIPrefix string
	Check     func(ctx context.Context, token string) (Principal, error)
}

// Principal implements Credential.
func (b Bearer) Principal(c *gin.Context) (Principal, bool, error) {
	token, ok := BearerToken(c.Request, b.APIPrefix)
	if !ok {
		return Principal{}, false, nil
	}
	p, err := b.Check(c.Request.Context(), token)
	if err != nil {
		return Principal{}, false, err
	}
	return p, true, nil
}

// Challenge implements Credential.
func (b Bearer) Challenge() string { return `Bearer realm="userhub"` }

// BearerToken returns the token of r's Authorization: Bearer header, if r
// is for a path under apiPrefix and has one.
func BearerToken(r *http.Request, apiPrefix string) (string, bool) {
	if !strings.HasPrefix(r.URL.Path, apiPrefix) {
		return "", false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// RequireScopes refuses a token principal a request its token's scopes do
// not cover (403 naming the scope): reading (GET, HEAD) needs read or
// write, any other method write. Others pass.
func RequireScopes(fail middleware.Fail) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := From(c)
		if !ok || p.Method != MethodToken {
			c.Next()
			return
		}
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead:
			if !p.Token.Has(models.ScopeRead) && !p.Token.Has(models.ScopeWrite) {
				fail(c, models.ErrNeedsScope(models.ScopeRead))
				return
			}
		default:
			if !p.Token.Has(models.ScopeWrite) {
				fail(c, models.ErrNeedsScope(models.ScopeWrite))
				return
			}
		}
		c.Next()
	}
}
