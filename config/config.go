// Package config loads userhub's settings: the defaults, then a YAML file,
// then USERHUB_* environment variables, then -set flags, each overriding the
// one before. Validate reports every problem at once, in words an operator
// can act on. One typed Config is passed down; no other package reads the
// environment or a global.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is every setting. The yaml tags are the contract: they name the
// keys in config.yaml, and (upper-cased, joined by "_", prefixed USERHUB_)
// the environment variables.
type Config struct {
	DataDir  string   `yaml:"data_dir"`
	Server   Server   `yaml:"server"`
	Admin    Admin    `yaml:"admin"`
	Database Database `yaml:"database"`
	Session  Session  `yaml:"session"`
	Auth     Auth     `yaml:"auth"`
	WebAuthn WebAuthn `yaml:"webauthn"`
	OIDC     OIDC     `yaml:"oidc"`
	API      API      `yaml:"api"`
	Audit    Audit    `yaml:"audit"`
	TLS      TLS      `yaml:"tls"`
	Cluster  Cluster  `yaml:"cluster"`
	Log      Log      `yaml:"log"`
}

// API configures the JSON API's rate limits: requests per minute per
// principal (each token, each session), and per client address for
// anonymous requests; 0 turns a limit off.
type API struct {
	RateLimit          int `yaml:"rate_limit"`
	AnonymousRateLimit int `yaml:"anonymous_rate_limit"`
}

// Audit configures the audit log: entries older than Retention are
// removed (checked hourly); 0 keeps them all.
type Audit struct {
	Retention time.Duration `yaml:"retention"`
}

// Cluster configures cluster mode: a master process that owns the
// listening sockets and supervises worker processes serving on them.
type Cluster struct {
	Workers string `yaml:"workers"` // "0" (one process), a number, or "auto" (one per CPU)
}

// maxWorkers bounds cluster.workers: beyond it, more processes only add
// memory and contention.
const maxWorkers = 64

// WorkerCount is the number of worker processes, 0 for single-process mode.
func (c Cluster) WorkerCount() int {
	if c.Workers == "auto" {
		// GOMAXPROCS, not NumCPU: it follows a container's CPU limit.
		return min(runtime.GOMAXPROCS(0), maxWorkers)
	}
	n, _ := strconv.Atoi(c.Workers)
	return n
}

// Server holds the HTTP listener's settings.
type Server struct {
	Addr              string        `yaml:"addr"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	DrainDelay        time.Duration `yaml:"drain_delay"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	TrustedProxies    []string      `yaml:"trusted_proxies"`
	TrustedOrigins    []string      `yaml:"trusted_origins"`
	HTTP2             bool          `yaml:"http2"`
	H2C               bool          `yaml:"h2c"`
}

// Admin is the admin listener: Prometheus metrics (/metrics) and Go's
// profiler (/debug/pprof/), apart from the public listener. In cluster
// mode the master serves it, for every worker.
type Admin struct {
	Addr string `yaml:"addr"` // host:port; "" turns it off
}

// Database says which store to use.
type Database struct {
	Driver       string        `yaml:"driver"`
	DSN          string        `yaml:"dsn"`
	MaxOpenConns int           `yaml:"max_open_conns"`
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Session configures login sessions and their cookie.
type Session struct {
	Store           string        `yaml:"store"`
	Secret          string        `yaml:"secret"`
	RedisAddr       string        `yaml:"redis_addr"`
	RedisPassword   string        `yaml:"redis_password"`
	RedisDB         int           `yaml:"redis_db"`
	RedisPrefix     string        `yaml:"redis_prefix"`
	CookieName      string        `yaml:"cookie_name"`
	Path            string        `yaml:"path"`
	Domain          string        `yaml:"domain"`
	MaxAge          time.Duration `yaml:"max_age"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"`
	Secure          string        `yaml:"secure"`
	SameSite        string        `yaml:"same_site"`
}

// TLS configures HTTPS.
type TLS struct {
	Mode                  string   `yaml:"mode"`
	Addr                  string   `yaml:"addr"`
	CertFile              string   `yaml:"cert_file"`
	KeyFile               string   `yaml:"key_file"`
	CAFiles               []string `yaml:"ca_files"`
	Domains               []string `yaml:"domains"`
	Email                 string   `yaml:"email"`
	ACMEDirectory         string   `yaml:"acme_directory"`
	ACMECAFile            string   `yaml:"acme_ca_file"`
	Redirect              bool     `yaml:"redirect"`
	HSTSMaxAge            int      `yaml:"hsts_max_age"`
	HSTSIncludeSubdomains bool     `yaml:"hsts_include_subdomains"`
}

// TLSOn reports whether userhub serves HTTPS.
func (c Config) TLSOn() bool { return c.TLS.Mode != "off" }

// LetsEncrypt is Let's Encrypt's production ACME directory.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// Auth configures passwords and login throttling.
type Auth struct {
	PasswordMinLength int           `yaml:"password_min_length"`
	Argon2MemoryKiB   int           `yaml:"argon2_memory_kib"`
	Argon2Iterations  int           `yaml:"argon2_iterations"`
	Argon2Parallelism int           `yaml:"argon2_parallelism"`
	HashConcurrency   int           `yaml:"hash_concurrency"`
	HashWait          time.Duration `yaml:"hash_wait"`
	LoginLimitPerName int           `yaml:"login_limit_per_name"`
	LoginLimitPerIP   int           `yaml:"login_limit_per_ip"`
	LoginWindow       time.Duration `yaml:"login_window"`
	// Require2FAForAdmins sends an administrator without a second factor
	// to enrol one after login, and lets them do nothing else until then.
	Require2FAForAdmins bool `yaml:"require_2fa_for_admins"`
}

// WebAuthn configures passkeys: the relying party's id (the domain the
// passkeys belong to) and the origins the pages are served from. Empty:
// derived (see RelyingParty).
type WebAuthn struct {
	RPID    string   `yaml:"rp_id"`
	Origins []string `yaml:"origins"`
}

// RelyingParty returns the passkeys' relying party id and origins: the
// settings, or, where empty, the first of tls.domains (its https origins
// for every domain), else localhost on server.addr's port (http and
// https) and tls.addr's, for development.
func (c Config) RelyingParty() (rpID string, origins []string) {
	rpID, origins = c.WebAuthn.RPID, c.WebAuthn.Origins
	if rpID == "" {
		rpID = "localhost"
		if len(c.TLS.Domains) > 0 {
			rpID = c.TLS.Domains[0]
		}
	}
	if len(origins) > 0 {
		return rpID, origins
	}
	if len(c.TLS.Domains) > 0 {
		port := ""
		if _, p, err := net.SplitHostPort(c.TLS.Addr); err == nil && p != "443" && c.TLSOn() {
			port = ":" + p
		}
		for _, d := range c.TLS.Domains {
			origins = append(origins, "https://"+d+port)
		}
		return rpID, origins
	}
	port := "8080"
	if _, p, err := net.SplitHostPort(c.Server.Addr); err == nil && p != "" {
		port = p
	}
	origins = []string{"http://" + rpID + ":" + port, "https://" + rpID + ":" + port}
	if _, p, err := net.SplitHostPort(c.TLS.Addr); err == nil && p != "" && c.TLSOn() {
		origins = append(origins, "https://"+rpID+":"+p)
	}
	return rpID, origins
}

// OIDC configures single sign-on through an OpenID Connect provider
// (Keycloak, Dex, Authentik, Google, ...). It is on when Issuer is set.
type OIDC struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document says (https://id.example.com/realms/main).
	Issuer string `yaml:"issuer"`
	// Name is what the button says: "Sign in with <name>".
	Name     string `yaml:"name"`
	ClientID string `yaml:"client_id"`
	// ClientSecret, or ClientSecretFile naming a file that holds it (one
	// of the two; a file keeps it out of the configuration).
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is this server's callback, registered at the provider:
	// https://users.example.com/login/oidc/callback.
	RedirectURL string   `yaml:"redirect_url"`
	Scopes      []string `yaml:"scopes"`
	// NameClaim is the claim an account created at first login is named
	// after.
	NameClaim string `yaml:"name_claim"`
	// GroupsClaim lists the person's groups; members of AdminGroup are
	// administrators, everyone else a member, at each login ("": roles
	// are managed in userhub).
	GroupsClaim string `yaml:"groups_claim"`
	AdminGroup  string `yaml:"admin_group"`
	// CreateUsers creates an account at the first login of a subject that
	// is linked to none.
	CreateUsers bool `yaml:"create_users"`
	// DisablePasswordLogin leaves the provider as the only way in through
	// the web and the API; the command line still manages users.
	DisablePasswordLogin bool `yaml:"disable_password_login"`
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Log says how to write logs.
type Log struct {
	Format string `yaml:"format"`
	Level  string `yaml:"level"`
}

// Default returns the settings used when nothing overrides them. They match
// config.yaml, which a test keeps in step.
func Default() Config {
	return Config{
		DataDir: "./data",
		Server: Server{
			Addr:              ":8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
			DrainDelay:        5 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      1 << 20,
			TrustedProxies:    []string{},
			TrustedOrigins:    []string{},
			HTTP2:             true,
		},
		Admin:    Admin{Addr: "127.0.0.1:9090"},
		Database: Database{Driver: "sqlite", QueryTimeout: 5 * time.Second},
		Session: Session{
			Store:           "cookie",
			RedisAddr:       "127.0.0.1:6379",
			RedisPrefix:     "userhub:",
			CookieName:      "userhub_session",
			Path:            "/",
			MaxAge:          12 * time.Hour,
			IdleTimeout:     time.Hour,
			AbsoluteTimeout: 12 * time.Hour,
			Secure:          "auto",
			SameSite:        "lax",
		},
		Auth: Auth{
			PasswordMinLength: 12,
			Argon2MemoryKiB:   19 * 1024,
			Argon2Iterations:  2,
			Argon2Parallelism: 1,
			HashConcurrency:   0,
			HashWait:          5 * time.Second,
			LoginLimitPerName: 5,
			LoginLimitPerIP:   20,
			LoginWindow:       5 * time.Minute,
		},
		API:   API{RateLimit: 600, AnonymousRateLimit: 60},
		Audit: Audit{Retention: 365 * 24 * time.Hour},
		TLS: TLS{
			Mode:          "off",
			Addr:          ":8443",
			CAFiles:       []string{},
			Domains:       []string{},
			ACMEDirectory: LetsEncrypt,
			Redirect:      true,
			HSTSMaxAge:    31536000,
		},
		Cluster:  Cluster{Workers: "0"},
		Log:      Log{Format: "text", Level: "info"},
		WebAuthn: WebAuthn{Origins: []string{}},
		OIDC: OIDC{
			Scopes:      []string{"openid", "profile", "email"},
			NameClaim:   "preferred_username",
			GroupsClaim: "groups",
		},
	}
}

// DefaultFile is read when no -config flag or USERHUB_CONFIG names a file;
// unlike a named file, it may be absent.
const DefaultFile = "config.yaml"

// Problems is every reason a configuration was refused, one per line.
type Problems []string

func (p Problems) Error() string {
	return "invalid configuration:\n  " + strings.Join(p, "\n  ")
}

// Load builds the effective configuration from the file at path ("" for the
// default file, if present), the USERHUB_* variables in env, and the
// key=value overrides in sets. It returns Problems listing everything wrong.
func Load(path string, env []string, sets []string) (Config, error) {
	cfg := Default()
	var problems Problems

	explicit := path != ""
	if !explicit {
		path = DefaultFile
	}
	fields := leaves(&cfg)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		problems = append(problems, decodeYAML(data, path, fields)...)
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No file: the defaults serve.
	default:
		problems = append(problems, fmt.Sprintf("config file: %v", err))
	}

	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "USERHUB_") || ignoredEnv[name] || strings.HasPrefix(name, "USERHUB_TEST_") {
			continue
		}
		f, ok := fields.byEnv[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no such setting%s", name, fields.suggest(name, true)))
			continue
		}
		if err := f.set(value); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): %v", name, f.key, err))
		}
	}
	for _, kv := range sets {
		key, value, ok := strings.Cut(kv, "=")
		f, known := fields.byKey[key]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("-set %q: want key=value, e.g. -set server.addr=:9090", kv))
		case !known:
			problems = append(problems, fmt.Sprintf("-set %s: no such setting%s", key, fields.suggest(key, false)))
		default:
			if err := f.set(value); err != nil {
				problems = append(problems, fmt.Sprintf("-set %s: %v", key, err))
			}
		}
	}

	if cfg.Database.DSN == "" && cfg.Database.Driver == "sqlite" {
		cfg.Database.DSN = filepath.Join(cfg.DataDir, "userhub.db")
	}
	// Host names are compared in lower case (the HTTPS redirect checks the
	// request's host against them).
	for i, d := range cfg.TLS.Domains {
		cfg.TLS.Domains[i] = strings.ToLower(d)
	}
	problems = append(problems, cfg.Validate()...)
	if len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// ignoredEnv are USERHUB_ variables that are not settings: the file to
// read, and what `make screenshots` sets for its test (so that a shell
// that exported it still starts userhub).
var ignoredEnv = map[string]bool{"USERHUB_CONFIG": true, "USERHUB_UPDATE_SCREENSHOTS": true}

// decodeYAML applies a config file's settings to fields. Scalar values go
// through the same parser as environment variables, so a value means the
// same wherever it is written. An unknown key is a problem: a typo silently
// ignored is a setting silently not applied.
func decodeYAML(data []byte, path string, fields fieldIndex) Problems {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		for i, line := range strings.Split(string(data), "\n") {
			if indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]; strings.Contains(indent, "\t") {
				return Problems{fmt.Sprintf("%s line %d: indented with a tab; YAML indents with spaces only", path, i+1)}
			}
		}
		return Problems{fmt.Sprintf("%s: %v", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: no settings
	}
	var p Problems
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			p = append(p, fmt.Sprintf("%s line %d: %s should be a mapping of settings", path, n.Line, strings.TrimSuffix(prefix, ".")))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			if f, ok := fields.byKey[key]; ok {
				if err := f.setNode(v); err != nil {
					p = append(p, fmt.Sprintf("%s line %d: %s: %v", path, v.Line, key, err))
				}
				continue
			}
			if fields.isSection(key) {
				walk(v, key+".")
				continue
			}
			p = append(p, fmt.Sprintf("%s line %d: %s: no such setting%s", path, k.Line, key, fields.suggest(key, false)))
		}
	}
	walk(doc.Content[0], "")
	return p
}

// field is one leaf setting, addressable for overrides.
type field struct {
	key string // server.addr
	v   reflect.Value
}

type fieldIndex struct {
	byKey, byEnv map[string]field
}

// leaves indexes every leaf setting of cfg by key and by environment name.
func leaves(cfg *Config) fieldIndex {
	idx := fieldIndex{byKey: map[string]field{}, byEnv: map[string]field{}}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			key := prefix + t.Field(i).Tag.Get("yaml")
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(fv, key+".")
				continue
			}
			f := field{key: key, v: fv}
			idx.byKey[key] = f
			idx.byEnv[EnvName(key)] = f
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	return idx
}

// EnvName is the environment variable that overrides key: server.addr ->
// USERHUB_SERVER_ADDR.
func EnvName(key string) string {
	return "USERHUB_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// suggest is the end of a "no such setting" problem: the setting the name
// is closest to (a typo, or a word left out), or where the names are.
func (idx fieldIndex) suggest(name string, env bool) string {
	best, bestDistance := "", len(name)/3+1 // further than that is not a typo
	for key := range idx.byKey {
		candidate := key
		if env {
			candidate = EnvName(key)
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(candidate)); d < bestDistance || (d == bestDistance && candidate < best) {
			best, bestDistance = candidate, d
		}
	}
	if best == "" {
		return " (see config.yaml for the names)"
	}
	return "; did you mean " + best + "?"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// isSection reports whether key names a group of settings, such as "server".
func (idx fieldIndex) isSection(key string) bool {
	for k := range idx.byKey {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// setNode sets the field from a YAML value: a list for list settings, a
// scalar for the rest.
func (f field) setNode(n *yaml.Node) error {
	if _, isList := f.v.Interface().([]string); isList {
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("want a list, e.g. [a, b]")
		}
		list := []string{}
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("list items must be plain values")
			}
			list = append(list, item.Value)
		}
		f.v.Set(reflect.ValueOf(list))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single value")
	}
	return f.set(n.Value)
}

// set parses s into the field according to its type.
func (f field) set(s string) error {
	switch f.v.Interface().(type) {
	case string:
		f.v.SetString(s)
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.v.SetBool(b)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration; use a number with a unit, e.g. 30s or 2m", s)
		}
		f.v.SetInt(int64(d))
	case int, int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.v.SetInt(n)
	case []string:
		list := []string{}
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		f.v.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("setting of type %s cannot be overridden", f.v.Type())
	}
	return nil
}

// Redacted returns the configuration as YAML with secrets hidden, for
// `userhub config`.
func (c Config) Redacted(redactDSN func(string) string) ([]byte, error) {
	c.Database.DSN = redactDSN(c.Database.DSN)
	for _, secret := range []*string{&c.Session.Secret, &c.Session.RedisPassword, &c.OIDC.ClientSecret} {
		if *secret != "" {
			*secret = "REDACTED"
		}
	}
	return yaml.Marshal(c)
}
