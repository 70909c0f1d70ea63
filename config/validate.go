package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// Validate returns one line per invalid setting: the key, the value, and
// what is allowed. Nil means the configuration can be used.
func (c Config) Validate() Problems {
	var p Problems
	bad := func(key string, value any, allowed string) {
		p = append(p, fmt.Sprintf("%s: %q is not allowed; %s", key, fmt.Sprint(value), allowed))
	}

	if c.DataDir == "" {
		bad("data_dir", c.DataDir, "give a directory for the database and generated secrets, e.g. ./data")
	}

	if err := checkListenAddr(c.Server.Addr); err != nil {
		bad("server.addr", c.Server.Addr, err.Error())
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout},
		{"server.read_timeout", c.Server.ReadTimeout},
		{"server.write_timeout", c.Server.WriteTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
	} {
		if t.d < 100*time.Millisecond || t.d > 24*time.Hour {
			bad(t.key, t.d, "use a duration between 100ms and 24h, e.g. 30s")
		}
	}
	if n := c.Server.MaxHeaderBytes; n < 4<<10 || n > 1<<20 {
		bad("server.max_header_bytes", n, "use a size between 4096 and 1048576 bytes")
	}
	if n := c.Server.MaxBodyBytes; n < 1<<10 || n > 1<<30 {
		bad("server.max_body_bytes", n, "use a size between 1024 and 1073741824 bytes")
	}
	for _, proxy := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(proxy); err != nil {
			if _, err := netip.ParseAddr(proxy); err != nil {
				bad("server.trusted_proxies", proxy, "list IP addresses or CIDR ranges, e.g. 10.0.0.0/8")
			}
		}
	}
	for _, origin := range c.Server.TrustedOrigins {
		if u, err := url.Parse(origin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			bad("server.trusted_origins", origin, `list origins as scheme://host[:port], e.g. "https://admin.example.com"`)
		}
	}

	switch c.Database.Driver {
	case "sqlite":
	case "postgres":
		if c.Database.DSN == "" {
			bad("database.dsn", "", `postgres needs a DSN, e.g. "postgres://user:pass@127.0.0.1:5432/userhub"`)
		}
	default:
		bad("database.driver", c.Database.Driver, `use "sqlite" or "postgres"`)
	}
	if n := c.Database.MaxOpenConns; n < 0 || n > 1000 {
		bad("database.max_open_conns", n, "use 0 (automatic) or a number up to 1000")
	}

	if f := c.Log.Format; f != "text" && f != "json" {
		bad("log.format", f, `use "text" or "json"`)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, `use "debug", "info", "warn" or "error"`)
	}
	return p
}

// checkListenAddr accepts host:port with a numeric port (an empty host
// listens on every interface). Whether the host exists is found out when
// listening, which reports it in its own words.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf(`use host:port, e.g. ":8080" or "127.0.0.1:8080"`)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("the port must be a number from 0 to 65535")
	}
	return nil
}
