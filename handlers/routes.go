package handlers

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-contrib/gzip"
	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"

	"userhub/config"
	"userhub/middleware"
	"userhub/models"
)

// Store is what the handlers keep their data in.
type Store interface {
	models.UserStore
	models.Revocations
}

// Deps is what the HTTP layer needs from the rest of the program.
type Deps struct {
	Config config.Config
	Store  Store
	// SessionStore keeps sessions (gin-contrib/sessions: cookie or Redis).
	SessionStore sessions.Store
	// Counter keeps login-throttling counts (the database, or Redis).
	Counter models.Counter
	Hasher  *models.Hasher
	Logger  *slog.Logger
	// Templates holds layout.html and one file per page; Static is served
	// under /static/.
	Templates, Static fs.FS
	// Ready are extra readiness checks (Redis), beside the database's.
	Ready []func(context.Context) error
}

// Handlers serves every route; New wires it into the engine.
type Handlers struct {
	store    Store
	log      *slog.Logger
	pages    *pages
	assets   *assets
	sessions *middleware.Sessions
	throttle *middleware.LoginThrottle
	hasher   *models.Hasher
	policy   models.PasswordPolicy
	ready    []func(context.Context) error
	// constantPages holds pages rendered once per language ("about.html en").
	constantPages sync.Map
	// setupDone is set once a user exists (see setUp).
	setupDone atomic.Bool
}

// New builds the whole HTTP handler: the middleware chain and the route
// table below, in one screen. Every route needs a logged-in user unless it
// is in the public block; admin-only routes say so.
func New(d Deps) (*gin.Engine, error) {
	h := &Handlers{
		store:  d.Store,
		log:    d.Logger,
		hasher: d.Hasher,
		policy: models.PasswordPolicy{MinLength: d.Config.Auth.PasswordMinLength},
		ready:  d.Ready,
		throttle: &middleware.LoginThrottle{
			Counter: d.Counter,
			PerName: d.Config.Auth.LoginLimitPerName,
			PerIP:   d.Config.Auth.LoginLimitPerIP,
			Window:  d.Config.Auth.LoginWindow,
		},
	}
	h.sessions = middleware.NewSessions(d.SessionStore, d.Config.Session, d.Store, d.Store, d.Logger, h.fail)
	var err error
	if h.assets, err = loadAssets(d.Static); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(d.Templates, template.FuncMap{"asset": h.assets.url, "greet": greet}); err != nil {
		return nil, err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
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
	crossOrigin, err := middleware.CrossOrigin(d.Config.Server.TrustedOrigins, h.fail)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_origins: %w", err)
	}

	r.Use(
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
	get(r, "/healthz", h.healthz)
	get(r, "/readyz", h.readyz)
	get(r, "/static/*path", h.static)
	get(r, "/favicon.ico", h.favicon)

	r.Use(
		crossOrigin,
		middleware.BodyLimit(d.Config.Server.MaxBodyBytes, h.fail),
		h.sessions.Authenticate(),
	)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errMethod) }) // gin has set Allow

	loggedIn := middleware.RequireLogin(h.fail, false)
	loggedInPage := middleware.RequireLogin(h.fail, true)
	admin := middleware.RequireAdmin(h.fail)

	// Public: the about page, and the ways in.
	get(r, "/about", h.firstRun, h.about)
	get(r, "/login", h.firstRun, h.loginPage)
	r.POST("/login", h.loginSubmit)
	get(r, "/setup", h.setupPage)
	r.POST("/setup", h.setupSubmit)
	r.POST("/lang", h.setLanguage)
	r.POST("/api/v1/login", h.apiLogin)

	// Pages for logged-in users; while no user exists, to /setup.
	pages := r.Group("/", h.firstRun, loggedInPage)
	get(pages, "/", h.home)
	get(pages, "/account", h.account)
	pages.POST("/logout", h.logout)

	// The seed's REST routes. Members may rename themselves (PUT, PATCH).
	seed := r.Group("/", loggedIn)
	get(seed, "/users", h.seedListUsers)
	seed.POST("/user", admin, h.seedCreateUser)
	seed.PUT("/user/:id", h.seedReplaceUser)
	seed.PATCH("/user/:id", h.patchUser)
	seed.DELETE("/user/:id", admin, h.deleteUser)

	// The versioned JSON API.
	api := r.Group("/api/v1", loggedIn)
	api.POST("/logout", h.apiLogout)
	get(api, "/me", h.apiMe)
	api.PUT("/me/password", h.apiChangePassword)
	get(api, "/users", h.apiListUsers)
	api.POST("/users", admin, h.apiCreateUser)
	get(api, "/users/:id", h.apiGetUser)
	api.PUT("/users/:id", h.apiReplaceUser)
	api.PATCH("/users/:id", h.patchUser)
	api.DELETE("/users/:id", admin, h.deleteUser)

	addOptions(r)
	return r, nil
}

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
