package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate returns one line per invalid setting: the key, the value, and
// what is allowed. Nil means the configuration can be used.
func (c Config) Validate() Problems {
	var p Problems
	bad := func(key string, value any, allowed string) {
		p = append(p, fmt.Sprintf("%s: %q is not allowed; %s", key, fmt.Sprint(value), allowed))
	}

	if d := c.WebAuthn.RPID; d != "" && !validDomain(d) {
		bad("webauthn.rp_id", d, "give a domain name such as example.com (no scheme, port or IP address), or leave it empty to take the first of tls.domains")
	}
	rpID, _ := c.RelyingParty()
	for _, o := range c.WebAuthn.Origins {
		u, err := url.Parse(o)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			bad("webauthn.origins", o, "list origins such as https://example.com (a scheme, a host, a port if not the default; no path)")
		case u.Hostname() != rpID && !strings.HasSuffix(u.Hostname(), "."+rpID):
			bad("webauthn.origins", o, fmt.Sprintf("an origin's host must be webauthn.rp_id (%s) or below it", rpID))
		}
	}

	p = append(p, c.OIDC.validate()...)

	if c.DataDir == "" {
		bad("data_dir", c.DataDir, "give a directory for the database and generated secrets, e.g. ./data")
	}

	if err := checkListenAddr(c.Server.Addr); err != nil {
		bad("server.addr", c.Server.Addr, err.Error())
	}
	if c.Admin.Addr != "" {
		if err := checkListenAddr(c.Admin.Addr); err != nil {
			bad("admin.addr", c.Admin.Addr, err.Error()+`, or "" to turn the admin listener off`)
		} else if port := samePort(c.Admin.Addr, c.Server.Addr); port != "" {
			p = append(p, fmt.Sprintf("admin.addr: port %s is also server.addr's; the admin listener needs a port of its own", port))
		} else if port := samePort(c.Admin.Addr, c.TLS.Addr); port != "" && c.TLSOn() {
			p = append(p, fmt.Sprintf("admin.addr: port %s is also tls.addr's; the admin listener needs a port of its own", port))
		}
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
	if d := c.Audit.Retention; d != 0 && d < 24*time.Hour {
		bad("audit.retention", d, "use a duration of a day or more, e.g. 8760h (365 days), or 0 to keep every entry")
	}
	if d := c.Server.DrainDelay; d < 0 || d > 10*time.Minute {
		bad("server.drain_delay", d, "use a duration between 0s (no lame-duck period) and 10m, e.g. 5s")
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
	if d := c.Database.QueryTimeout; d < 100*time.Millisecond || d > 5*time.Minute {
		bad("database.query_timeout", d, "use a duration between 100ms and 5m, e.g. 5s")
	}

	switch c.Session.Store {
	case "cookie", "redis":
	default:
		bad("session.store", c.Session.Store, `use "cookie" (signed and encrypted, nothing to run) or "redis"`)
	}
	if c.Session.Secret != "" && len(c.Session.Secret) < 32 {
		p = append(p, "session.secret: too short; use at least 32 characters (or leave it empty to have one generated in data_dir)")
	}
	if c.Session.Store == "redis" {
		if _, _, err := net.SplitHostPort(c.Session.RedisAddr); err != nil {
			bad("session.redis_addr", c.Session.RedisAddr, `use host:port, e.g. "127.0.0.1:6379"`)
		}
	}
	if n := c.Session.RedisDB; n < 0 || n > 15 {
		bad("session.redis_db", n, "use a database number from 0 to 15")
	}
	if name := c.Session.CookieName; name == "" || strings.ContainsAny(name, " \t\r\n;,=\"") || strings.HasPrefix(name, "__") {
		bad("session.cookie_name", name, "use letters, digits, - and _ (the __Host- prefix is added by itself under TLS)")
	}
	if !strings.HasPrefix(c.Session.Path, "/") {
		bad("session.path", c.Session.Path, `use a path starting with "/"`)
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"session.max_age", c.Session.MaxAge},
		{"session.idle_timeout", c.Session.IdleTimeout},
		{"session.absolute_timeout", c.Session.AbsoluteTimeout},
	} {
		if t.d < time.Minute || t.d > 90*24*time.Hour {
			bad(t.key, t.d, "use a duration between 1m and 2160h (90 days)")
		}
	}
	if c.Session.IdleTimeout > c.Session.AbsoluteTimeout {
		p = append(p, "session.idle_timeout: longer than session.absolute_timeout, so it would never apply")
	}
	switch c.Session.Secure {
	case "auto", "true", "false":
	default:
		bad("session.secure", c.Session.Secure, `use "auto" (Secure under TLS), "true" or "false"`)
	}
	switch c.Session.SameSite {
	case "lax", "strict":
	case "none":
		if c.Session.Secure == "false" {
			p = append(p, `session.same_site: "none" needs session.secure "auto" or "true" (browsers refuse it otherwise)`)
		}
	default:
		bad("session.same_site", c.Session.SameSite, `use "lax", "strict" or "none"`)
	}

	if n := c.Auth.PasswordMinLength; n < 8 || n > 128 {
		bad("auth.password_min_length", n, "use a length from 8 to 128 characters")
	}
	if n := c.Auth.Argon2MemoryKiB; n < 19*1024 || n > 4<<20 {
		bad("auth.argon2_memory_kib", n, "use at least 19456 (OWASP's minimum for argon2id) and at most 4194304")
	}
	if n := c.Auth.Argon2Iterations; n < 2 || n > 100 {
		bad("auth.argon2_iterations", n, "use 2 (OWASP's minimum with 19 MiB) to 100")
	}
	if n := c.Auth.Argon2Parallelism; n < 1 || n > 16 {
		bad("auth.argon2_parallelism", n, "use 1 to 16")
	}
	if n := c.Auth.HashConcurrency; n < 0 || n > 256 {
		bad("auth.hash_concurrency", n, "use 0 (one per CPU) or up to 256")
	}
	if d := c.Auth.HashWait; d < 100*time.Millisecond || d > 5*time.Minute {
		bad("auth.hash_wait", d, "use a duration between 100ms and 5m, e.g. 5s")
	}
	if n := c.Auth.LoginLimitPerName; n < 1 || n > 1000 {
		bad("auth.login_limit_per_name", n, "use 1 to 1000 failed logins per window")
	}
	if n := c.Auth.LoginLimitPerIP; n < 1 || n > 100000 {
		bad("auth.login_limit_per_ip", n, "use 1 to 100000 failed logins per window")
	}
	if n := c.API.RateLimit; n < 0 || n > 1000000 {
		bad("api.rate_limit", n, "use a number of requests per minute from 0 (no limit) to 1000000")
	}
	if n := c.API.AnonymousRateLimit; n < 0 || n > 1000000 {
		bad("api.anonymous_rate_limit", n, "use a number of requests per minute from 0 (no limit) to 1000000")
	}
	if d := c.Auth.LoginWindow; d < time.Second || d > 24*time.Hour {
		bad("auth.login_window", d, "use a duration between 1s and 24h")
	}

	switch c.TLS.Mode {
	case "off", "self-signed":
	case "static":
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			p = append(p, "tls.mode: static needs tls.cert_file and tls.key_file (PEM files)")
		}
	case "autocert":
		if len(c.TLS.Domains) == 0 {
			p = append(p, "tls.mode: autocert needs tls.domains, the names to get certificates for (nothing else gets one)")
		}
		if u, err := url.Parse(c.TLS.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("tls.acme_directory", c.TLS.ACMEDirectory, "use the https URL of an ACME directory, e.g. "+LetsEncrypt)
		}
	default:
		bad("tls.mode", c.TLS.Mode, `use "off", "static" (certificate files), "autocert" (Let's Encrypt) or "self-signed" (development)`)
	}
	for _, d := range c.TLS.Domains {
		if !validHostname(d) {
			bad("tls.domains", d, "list host names such as example.com (no scheme, port, IP address or wildcard)")
		}
	}
	if c.TLS.Email != "" && (!strings.Contains(c.TLS.Email, "@") || strings.ContainsAny(c.TLS.Email, " <>")) {
		bad("tls.email", c.TLS.Email, "use an email address (or leave it empty)")
	}
	if c.TLSOn() {
		if err := checkListenAddr(c.TLS.Addr); err != nil {
			bad("tls.addr", c.TLS.Addr, err.Error())
		} else if _, tlsPort, _ := net.SplitHostPort(c.TLS.Addr); tlsPort != "0" {
			if _, httpPort, _ := net.SplitHostPort(c.Server.Addr); httpPort == tlsPort {
				p = append(p, fmt.Sprintf("tls.addr: port %s is also server.addr's; HTTP and HTTPS need a port each", tlsPort))
			}
		}
	}
	if n := c.TLS.HSTSMaxAge; n < 0 || n > 2*31536000 {
		bad("tls.hsts_max_age", n, "use seconds from 0 (no HSTS) to 63072000 (two years)")
	}

	if w := c.Cluster.Workers; w != "auto" {
		if n, err := strconv.Atoi(w); err != nil || n < 0 || n > maxWorkers {
			bad("cluster.workers", w, fmt.Sprintf(`use 0 (one process), a number of workers up to %d, or "auto" (one per CPU)`, maxWorkers))
		}
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

// validHostname accepts a DNS name with at least one dot or "localhost":
// letters, digits and hyphens in labels, no trailing dot.
func validHostname(h string) bool {
	if h == "localhost" {
		return true
	}
	if net.ParseIP(h) != nil || len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// samePort is the port two listen addresses share, "" if none (port 0
// picks a free one: never shared).
func samePort(a, b string) string {
	_, pa, errA := net.SplitHostPort(a)
	_, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return ""
	}
	return pa
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

// validDomain reports whether d is a domain name (letters, digits,
// hyphens, dots; not an IP address), as a passkey's relying party id must be.
func validDomain(d string) bool {
	if net.ParseIP(d) != nil || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validate checks the single sign-on settings, when they are on (or half
// set: a client id without an issuer is a mistake, not "off").
func (o OIDC) validate() Problems {
	var p Problems
	bad := func(key string, value any, allowed string) {
		p = append(p, fmt.Sprintf("%s: %q is not allowed; %s", key, fmt.Sprint(value), allowed))
	}
	if !o.Enabled() {
		if o.ClientID != "" || o.RedirectURL != "" || o.DisablePasswordLogin {
			p = append(p, "oidc.issuer: empty, but other oidc settings are set; give the provider's issuer URL (single sign-on) or clear the oidc settings")
		}
		return p
	}
	if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("oidc.issuer", o.Issuer, "give the provider's issuer URL, e.g. https://id.example.com/realms/main (as its /.well-known/openid-configuration says)")
	}
	if o.ClientID == "" {
		p = append(p, "oidc.client_id: empty; give the client id registered at the provider for userhub")
	}
	if o.ClientSecret != "" && o.ClientSecretFile != "" {
		p = append(p, "oidc.client_secret and oidc.client_secret_file: both set; give one of the two")
	}
	if u, err := url.Parse(o.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "/login/oidc/callback" || u.RawQuery != "" {
		bad("oidc.redirect_url", o.RedirectURL, "give this server's callback, https://<your host>/login/oidc/callback, also registered at the provider")
	}
	if !slices.Contains(o.Scopes, "openid") {
		bad("oidc.scopes", strings.Join(o.Scopes, " "), "include openid, e.g. [openid, profile, email]")
	}
	if o.NameClaim == "" {
		bad("oidc.name_claim", o.NameClaim, "name the claim new accounts are named after, e.g. preferred_username")
	}
	if o.AdminGroup != "" && o.GroupsClaim == "" {
		bad("oidc.groups_claim", o.GroupsClaim, "name the claim that lists the groups (e.g. groups), or clear oidc.admin_group")
	}
	return p
}
