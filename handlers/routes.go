package handlers

import (
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"

	"userhub/middleware"
	"userhub/models"
)

// Deps is what the HTTP layer needs from the rest of the program.
type Deps struct {
	Store     models.UserStore
	Logger    *slog.Logger
	Templates fs.FS // layout.html and one file per page
	Static    fs.FS // served under /static/
	// MaxBodyBytes caps request bodies (413 beyond).
	MaxBodyBytes int64
	// TrustedProxies may set the client address with X-Forwarded-For.
	TrustedProxies []string
	// TrustedOrigins may send cross-origin state-changing requests.
	TrustedOrigins []string
}

// Handlers serves every route; New wires it into the engine.
type Handlers struct {
	store  models.UserStore
	log    *slog.Logger
	pages  *pages
	assets *assets
	// constantPages holds pages rendered once per language ("about.html en").
	constantPages sync.Map
}

// New builds the whole HTTP handler: the middleware chain and the route
// table below, in one screen.
func New(d Deps) (http.Handler, error) {
	h := &Handlers{store: d.Store, log: d.Logger}
	var err error
	if h.assets, err = loadAssets(d.Static); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(d.Templates, template.FuncMap{"asset": h.assets.url}); err != nil {
		return nil, err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	// Gin trusts every proxy unless told otherwise; nil trusts none, so the
	// client address is the socket's.
	var proxies []string
	if len(d.TrustedProxies) > 0 {
		proxies = d.TrustedProxies
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	crossOrigin, err := middleware.CrossOrigin(d.TrustedOrigins, h.fail)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_origins: %w", err)
	}

	r.Use(
		middleware.RequestID(),
		middleware.AccessLog(d.Logger),
		middleware.Recovery(d.Logger, h.fail),
		middleware.SecurityHeaders(),
		crossOrigin,
		middleware.BodyLimit(d.MaxBodyBytes, h.fail),
		gzip.Gzip(gzip.DefaultCompression, gzip.WithExcludedExtensions([]string{".ico", ".png"})),
	)
	r.NoRoute(func(c *gin.Context) { h.fail(c, errNoRoute) })
	r.NoMethod(func(c *gin.Context) { h.fail(c, errMethod) }) // gin has set Allow

	// Public: health checks and static files.
	get(r, "/healthz", h.healthz)
	get(r, "/readyz", h.readyz)
	get(r, "/static/*path", h.static)
	get(r, "/favicon.ico", h.favicon)

	// Pages.
	pages := r.Group("/")
	get(pages, "/", h.home)
	get(pages, "/about", h.about)

	// The seed's REST routes.
	seed := r.Group("/")
	get(seed, "/users", h.seedListUsers)
	seed.POST("/user", h.seedCreateUser)
	seed.PUT("/user/:id", h.seedReplaceUser)
	seed.PATCH("/user/:id", h.patchUser)
	seed.DELETE("/user/:id", h.deleteUser)

	// The versioned JSON API.
	api := r.Group("/api/v1")
	get(api, "/users", h.apiListUsers)
	api.POST("/users", h.apiCreateUser)
	get(api, "/users/:id", h.apiGetUser)
	api.PUT("/users/:id", h.apiReplaceUser)
	api.PATCH("/users/:id", h.patchUser)
	api.DELETE("/users/:id", h.deleteUser)

	addOptions(r)
	return r, nil
}

// get registers a GET route and its HEAD twin (gin does not answer HEAD
// for GET routes by itself; net/http drops the body of a HEAD response).
func get(r gin.IRoutes, path string, h gin.HandlerFunc) {
	r.GET(path, h)
	r.HEAD(path, h)
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
