package handlers

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/middleware"
	"userhub/models"
	"userhub/ratelimit"
	"userhub/sessions"
	"userhub/sso"
)

// Deps is what the HTTP layer needs from the rest of the program.
type Deps struct {
	Config config.Config
	// Store answers the reads (lists, one user) and the readiness check;
	// every change goes through Accounts.
	Store    models.UserStore
	Accounts *accounts.Service
	Sessions *sessions.Manager
	Logger   *slog.Logger
	// Templates holds layout.html and one file per page; Static is served
	// under /static/.
	Templates, Static fs.FS
	// Ready are readiness checks by service ("redis"), beside the
	// database's (the store's Ping).
	Ready map[string]func(context.Context) error
	// Draining reports that the server is stopping (server.drain_delay):
	// /readyz then answers 503. Nil: never.
	Draining func() bool
	// Counter counts the API's requests for its rate limits (the login
	// limits' counter: the database or Redis); nil: no limits.
	Counter models.Counter
	// Idempotency keeps the answers to creates sent with an
	// Idempotency-Key; nil: the header is ignored.
	Idempotency models.IdempotencyStore
	// Requests is told of every request (the metrics); nil: nobody.
	Requests middleware.RequestObserver
	// SetupToken opens the setup page to visitors from other machines
	// while no user exists (the link in the log); "": only from loopback.
	SetupToken string
	// Ceremonies keeps the passkey ceremonies between their two requests.
	Ceremonies *sessions.Ceremonies
	// SSO signs people in through the OpenID Connect provider (nil:
	// single sign-on is off); OIDCFlows keeps its flows between the
	// redirect to the provider and the answer.
	SSO       *sso.Client
	OIDCFlows *sessions.Ceremonies
}

// Handlers serves every route; New wires it into the engine.
type Handlers struct {
	store    models.UserStore
	accounts *accounts.Service
	sessions *sessions.Manager
	log      *slog.Logger
	pages    *pages
	assets   *assets
	ready    map[string]func(context.Context) error
	draining func() bool
	// limits are the API's rate limits: per principal, per anonymous
	// client address (nil: none).
	limits, anonymousLimits *ratelimit.Limiter
	// idempotency keeps the answers to creates sent with an
	// Idempotency-Key (nil: the header is ignored).
	idempotency models.IdempotencyStore
	ceremonies  *sessions.Ceremonies
	sso         *sso.Client
	oidcFlows   *sessions.Ceremonies
	// oidcPasswordOff: oidc.disable_password_login (the login page hides
	// its password form); oidcAfterLogout: where the provider's logout
	// sends the browser back to.
	oidcPasswordOff bool
	oidcAfterLogout string
	setupToken      string
	// challenge is the WWW-Authenticate header of every 401.
	challenge string
	// jsonPrefixes are the paths whose routes answer JSON (see group).
	jsonPrefixes []string
	// constantPages holds pages rendered once per language ("about.html en").
	constantPages sync.Map
	// setupDone is set once a user exists (see setUp).
	setupDone atomic.Bool
}

// New builds the whole HTTP handler: the middleware chain and the route
// table below, in one screen. Every route needs a logged-in user unless it
// is in the public block; admin-only routes say so. Each group says once
// whether it answers JSON; the rest are pages.
func New(d Deps) (*gin.Engine, error) {
	h := &Handlers{
		store:       d.Store,
		accounts:    d.Accounts,
		sessions:    d.Sessions,
		log:         d.Logger,
		ready:       map[string]func(context.Context) error{"database": d.Store.Ping},
		draining:    d.Draining,
		idempotency: d.Idempotency,
		setupToken:  d.SetupToken,
		ceremonies:  d.Ceremonies,
		sso:         d.SSO,
		oidcFlows:   d.OIDCFlows,
	}
	if d.SSO != nil {
		h.oidcPasswordOff = d.Config.OIDC.DisablePasswordLogin
		h.oidcAfterLogout = afterLogoutURL(d.Config.OIDC.RedirectURL)
	}
	maps.Copy(h.ready, d.Ready)
	if d.Counter != nil && d.Config.API.RateLimit > 0 {
		h.limits = ratelimit.New(d.Counter, d.Config.API.RateLimit, time.Minute)
	}
	if d.Counter != nil && d.Config.API.AnonymousRateLimit > 0 {
		h.anonymousLimits = ratelimit.New(d.Counter, d.Config.API.AnonymousRateLimit, time.Minute)
	}
	bearer := auth.Bearer{APIPrefix: apiPrefix, Check: d.Accounts.TokenPrincipal}
	authenticator := auth.New(h.fail, bearer, d.Sessions)
	h.challenge = authenticator.Challenge()
	var err error
	if h.assets, err = loadAssets(d.Static); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(d.Templates, template.FuncMap{"asset": h.assets.url, "greet": greet}); err != nil {
		return nil, err
	}

	r := gin.New()
	r.HandleMethodNotAllowed = true
	// No redirect from /users/ to /users: Gin builds its Location from
	// X-Forwarded-Prefix, which any client sets, into a cacheable 301 to
	// anywhere. A path with a slash too many is not found.
	r.RedirectTrailingSlash = false
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	// Gin trusts every proxy unless told otherwise; nil trusts none, so the
	// client address is the socket's.
	var proxies []string
	if len(d.Config.Server.TrustedProxies) > 0 {
		proxies = d.Config.Server.TrustedProxies
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	// A bearer token is not ambient (a browser never adds one by itself), so
	// requests with one need no cross-origin check: the token decides.
	hasBearer := func(r *http.Request) bool { _, ok := auth.BearerToken(r, apiPrefix); return ok }
	crossOrigin, err := middleware.CrossOrigin(d.Config.Server.TrustedOrigins, hasBearer, h.fail)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_origins: %w", err)
	}

	forwarded, err := middleware.ForwardedHTTPS(d.Config.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	if d.Requests != nil {
		r.Use(middleware.Observe(d.Requests)) // first: it times the whole answer
	}
	r.Use(
		forwarded,
		middleware.RequestID(),
		middleware.AccessLog(d.Logger),
		middleware.Recovery(d.Logger, h.fail),
		middleware.SecurityHeaders(),
	)
	if d.Config.TLSOn() && d.Config.TLS.HSTSMaxAge > 0 {
		r.Use(middleware.HSTS(d.Config.TLS.HSTSMaxAge, d.Config.TLS.HSTSIncludeSubdomains))
	}
	r.Use(gzip.Gzip(gzip.DefaultCompression, gzip.WithExcludedExtensions([]string{".ico", ".png"})))

	// Without a session (gin gives a route the middleware added before it):
	// these are the same for everyone and cacheable, so they must not cost
	// a session lookup, fail while Redis is down, or carry a Set-Cookie
	// into a shared cache.
	get(h.group(r, "/healthz", asJSON), "", h.handle(h.healthz))
	get(h.group(r, "/readyz", asJSON), "", h.handle(h.readyz))
	get(r, "/api/v1/openapi.json", h.handle(h.openAPIDocument))
	get(r, "/static/*path", h.handle(h.static))
	get(r, "/favicon.ico", h.handle(h.favicon))

	r.Use(
		crossOrigin,
		middleware.AuditOrigin(),
		middleware.BodyLimit(d.Config.Server.MaxBodyBytes, h.fail),
		authenticator.Authenticate(),
		auth.RequireEnrolled(h.fail, "/account/security", enrolmentAllowed, func(r *http.Request) bool { return !h.answersJSON(r.URL.Path) }),
	)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errMethod) }) // gin has set Allow

	loggedIn := auth.RequireLogin(h.fail, false)
	loggedInPage := auth.RequireLogin(h.fail, true)
	admin := auth.RequireAdmin(h.fail)

	// Public pages: the about page, the API reference, and the ways in.
	get(r, "/about", h.firstRun, h.handle(h.about))
	get(r, "/api/docs", h.handle(h.apiDocs))
	get(r, "/login", h.firstRun, h.handle(h.loginPage))
	r.POST("/login", h.handle(h.loginSubmit))
	get(r, "/login/oidc", h.handle(h.oidcStart))
	get(r, "/login/oidc/callback", h.handle(h.oidcCallback))
	get(r, "/login/2fa", h.handle(h.secondStepGet))
	r.POST("/login/2fa", h.handle(h.secondStepSubmit))
	get(r, "/setup", h.handle(h.setupPage))
	r.POST("/setup", h.handle(h.setupSubmit))
	r.POST("/lang", h.handle(h.setLanguage))

	// Pages for logged-in users; while no user exists, to /setup.
	pages := r.Group("/", h.firstRun, loggedInPage)
	get(pages, "/", h.handle(h.home))
	get(pages, "/account", h.handle(h.account))
	get(pages, "/account/tokens", h.handle(h.tokensPageGet))
	pages.POST("/account/tokens", h.handle(h.tokensPageCreate))
	pages.POST("/account/tokens/:id/revoke", h.handle(h.tokensPageRevoke))
	get(pages, "/account/security", h.handle(h.securityPageGet))
	pages.POST("/account/security/totp", h.handle(h.securityPageBegin))
	pages.POST("/account/security/totp/confirm", h.handle(h.securityPageConfirm))
	pages.POST("/account/security/totp/remove", h.handle(h.securityPageRemove))
	pages.POST("/account/security/passkeys/:id/remove", h.handle(h.securityPageRemovePasskey))
	get(pages, "/account/security/oidc/link", h.handle(h.oidcLink))
	pages.POST("/account/security/oidc/unlink", h.handle(h.oidcUnlink))
	get(pages, "/account/sessions", h.handle(h.sessionsPageGet))
	pages.POST("/account/sessions/end-others", h.handle(h.sessionsPageEndOthers))
	pages.POST("/account/sessions/:id/end", h.handle(h.sessionsPageEnd))
	pages.POST("/logout", h.handle(h.logout))
	get(pages, "/admin/audit", admin, h.handle(h.auditPageGet))

	// The seed's REST routes. Members may rename themselves (PUT, PATCH).
	get(h.group(r, "/users", asJSON, loggedIn), "", h.handle(h.seedListUsers))
	seed := h.group(r, "/user", asJSON, loggedIn)
	seed.POST("", admin, h.idempotent, h.handle(h.seedCreateUser))
	seed.PUT("/:id", h.handle(h.seedReplaceUser))
	seed.PATCH("/:id", h.handle(h.patchUser))
	seed.DELETE("/:id", admin, h.handle(h.deleteUser))

	// The versioned JSON API.
	api := h.group(r, "/api", asJSON, h.rateLimit)
	api.POST("/v1/login", h.handle(h.apiLogin))
	api.POST("/v1/login/passkey/options", h.handle(h.apiPasskeyLoginOptions))
	api.POST("/v1/login/passkey", h.handle(h.apiPasskeyLogin))
	v1 := api.Group("/v1", loggedIn, auth.RequireScopes(h.fail))
	v1.POST("/logout", h.sessionOnly, h.handle(h.apiLogout))
	get(v1, "/me", h.handle(h.apiMe))
	v1.PUT("/me/password", h.sessionOnly, h.handle(h.apiChangePassword))
	v1.POST("/me/totp", h.sessionOnly, h.handle(h.apiBeginTOTP))
	v1.POST("/me/totp/confirm", h.sessionOnly, h.handle(h.apiConfirmTOTP))
	v1.DELETE("/me/totp", h.sessionOnly, h.handle(h.apiDisableTOTP))
	get(v1, "/me/passkeys", h.handle(h.apiListPasskeys))
	v1.POST("/me/passkeys/options", h.sessionOnly, h.handle(h.apiPasskeyOptions))
	v1.POST("/me/passkeys", h.sessionOnly, h.handle(h.apiAddPasskey))
	v1.DELETE("/me/passkeys/:id", h.sessionOnly, h.handle(h.apiRemovePasskey))
	get(v1, "/me/sessions", h.handle(h.apiMySessions))
	v1.DELETE("/me/sessions", h.sessionOnly, h.handle(h.apiEndMySessions))
	v1.DELETE("/me/sessions/:id", h.sessionOnly, h.handle(h.apiEndMySession))
	get(v1, "/users", h.handle(h.apiListUsers))
	v1.POST("/users", admin, h.idempotent, h.handle(h.apiCreateUser))
	get(v1, "/users/:id", h.handle(h.apiGetUser))
	v1.PUT("/users/:id", h.handle(h.apiReplaceUser))
	v1.PATCH("/users/:id", h.handle(h.patchUser))
	v1.DELETE("/users/:id", admin, h.handle(h.deleteUser))
	v1.POST("/tokens", h.handle(h.apiCreateToken))
	get(v1, "/tokens", h.handle(h.apiListTokens))
	v1.DELETE("/tokens/:id", h.handle(h.apiRevokeToken))
	get(v1, "/audit", admin, h.handle(h.apiAudit))

	addOptions(r)
	return r, nil
}

// apiPrefix is where bearer tokens work; pages ignore them.
const apiPrefix = "/api/"

// get registers a GET route and its HEAD twin (gin does not answer HEAD
// for GET routes by itself; net/http drops the body of a HEAD response).
func get(r gin.IRoutes, path string, h ...gin.HandlerFunc) {
	r.GET(path, h...)
	r.HEAD(path, h...)
}

// addOptions answers OPTIONS on every route with 204 and the Allow header
// listing the path's methods, derived from the table so it cannot drift.
func addOptions(r *gin.Engine) {
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range r.Routes() {
		if _, seen := allowed[rt.Path]; !seen {
			paths = append(paths, rt.Path)
		}
		allowed[rt.Path] = append(allowed[rt.Path], rt.Method)
	}
	for _, p := range paths {
		methods := append(allowed[p], http.MethodOptions)
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		r.OPTIONS(p, func(c *gin.Context) {
			c.Header("Allow", allow)
			c.Status(http.StatusNoContent)
		})
	}
}
