package metrics

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reports database/sql's pool statistics, under the names
// client_golang's DBStatsCollector uses (go_sql_*), one db_name per pool.
// It reads values rather than holding the *sql.DB, which the store keeps
// to itself.
type poolCollector struct {
	stats func() map[string]sql.DBStats
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("go_sql_"+name, help, []string{"db_name"}, nil)
}

var (
	poolMaxOpen        = poolDesc("max_open_connections", "Maximum number of open connections to the database.")
	poolOpen           = poolDesc("open_connections", "The number of established connections both in use and idle.")
	poolInUse          = poolDesc("in_use_connections", "The number of connections currently in use.")
	poolIdle           = poolDesc("idle_connections", "The number of idle connections.")
	poolWaitCount      = poolDesc("wait_count_total", "The total number of connections waited for.")
	poolWaitDuration   = poolDesc("wait_duration_seconds_total", "The total time blocked waiting for a new connection.")
	poolIdleClosed     = poolDesc("max_idle_closed_total", "The total number of connections closed due to SetMaxIdleConns.")
	poolIdleTimeClosed = poolDesc("max_idle_time_closed_total", "The total number of connections closed due to SetConnMaxIdleTime.")
	poolLifeClosed     = poolDesc("max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime.")
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolMaxOpen, poolOpen, poolInUse, poolIdle, poolWaitCount, poolWaitDuration, poolIdleClosed, poolIdleTimeClosed, poolLifeClosed} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.stats() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, name)
		}
		gauge(poolMaxOpen, float64(s.MaxOpenConnections))
		gauge(poolOpen, float64(s.OpenConnections))
		gauge(poolInUse, float64(s.InUse))
		gauge(poolIdle, float64(s.Idle))
		counter(poolWaitCount, float64(s.WaitCount))
		counter(poolWaitDuration, s.WaitDuration.Seconds())
		counter(poolIdleClosed, float64(s.MaxIdleClosed))
		counter(poolIdleTimeClosed, float64(s.MaxIdleTimeClosed))
		counter(poolLifeClosed, float64(s.MaxLifetimeClosed))
	}
}
