// Package metrics is what userhub tells Prometheus: requests by route
// template, method and status class, their latency, requests in flight,
// logins by outcome, live sessions, the database pools, the read cache, and
// the build. It serves them, with pprof, on the admin listener (admin.addr),
// never on the public one. In cluster mode the master serves one scrape for
// every worker (Workers).
//
// It implements the small interfaces the rest of the program reports
// through (middleware.RequestObserver, accounts.LoginObserver); those
// packages know nothing of Prometheus.
package metrics

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"userhub/accounts"
	"userhub/buildinfo"
)

// Sources are what the gauges read at scrape time; a nil one is left out.
type Sources struct {
	Build buildinfo.Info
	// LiveSessions counts the sessions that have not ended.
	LiveSessions func(ctx context.Context, now time.Time) (int, error)
	// Pools are the database connection pools' statistics, by pool name.
	Pools func() map[string]sql.DBStats
	// Cache is the read cache's hits and misses so far.
	Cache func() (hits, misses uint64)
}

// sessionsTimeout bounds the live-session count at scrape time: a slow
// database leaves the gauge out of that scrape rather than holding it.
const sessionsTimeout = 2 * time.Second

// Metrics holds one process's metrics.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	logins   *prometheus.CounterVec
}

// New registers every metric of a serving process.
func New(src Sources) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userhub_http_requests_total",
			Help: "HTTP requests answered, by route template (unmatched: no route), method and status class (2xx..5xx).",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "userhub_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: prometheus.DefBuckets,
			// Native histograms too, for a Prometheus that scrapes them
			// (--enable-feature=native-histograms): buckets at most 10% wide.
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "userhub_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "userhub_logins_total",
			Help: "Login attempts by outcome: ok, bad_credentials, throttled, suspended, second_factor_pending, error.",
		}, []string{"outcome"}),
	}
	for _, o := range accounts.LoginOutcomes {
		m.logins.WithLabelValues(string(o)) // every outcome shows, at 0
	}
	m.registry.MustRegister(m.requests, m.latency, m.inFlight, m.logins, buildInfo(src.Build),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	if src.LiveSessions != nil {
		m.registry.MustRegister(sessionsCollector{count: src.LiveSessions})
	}
	if src.Pools != nil {
		m.registry.MustRegister(poolCollector{stats: src.Pools})
	}
	if src.Cache != nil {
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "userhub_cache_hits_total",
				Help: "Reads the read cache answered from memory.",
			}, func() float64 { h, _ := src.Cache(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "userhub_cache_misses_total",
				Help: "Reads the read cache passed to the database.",
			}, func() float64 { _, m := src.Cache(); return float64(m) }))
	}
	return m
}

// Gatherer is what /metrics serves.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.registry }

// Started implements middleware.RequestObserver.
func (m *Metrics) Started() { m.inFlight.Inc() }

// Finished implements middleware.RequestObserver.
func (m *Metrics) Finished(route, method string, status int, elapsed time.Duration) {
	m.inFlight.Dec()
	m.requests.WithLabelValues(route, method, statusClass(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// Login implements accounts.LoginObserver.
func (m *Metrics) Login(o accounts.LoginOutcome) { m.logins.WithLabelValues(string(o)).Inc() }

// buildInfo is userhub_build_info{version, revision} 1.
func buildInfo(b buildinfo.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "userhub_build_info",
		Help:        "The running build: always 1, with its version and git revision.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision},
	})
	g.Set(1)
	return g
}

// statusClass is "2xx" for 200..299, and so on.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// sessionsCollector counts the live sessions at scrape time; when the
// database does not answer in time, the scrape goes without the gauge.
type sessionsCollector struct {
	count func(ctx context.Context, now time.Time) (int, error)
}

var sessionsDesc = prometheus.NewDesc("userhub_sessions_active",
	"Sessions that have not ended (not expired, logged out or ended by their user), counted at scrape time.", nil, nil)

func (c sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

func (c sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), sessionsTimeout)
	defer cancel()
	if n, err := c.count(ctx, time.Now()); err == nil {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n))
	}
}
