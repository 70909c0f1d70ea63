package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestShippedFileMatchesDefaults keeps config.yaml and Default() in step:
// the file documents the defaults, so it must decode to exactly them and
// name every setting.
func TestShippedFileMatchesDefaults(t *testing.T) {
	cfg, err := Load("../config.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Database.DSN = filepath.Join(want.DataDir, "userhub.db")
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("config.yaml decodes to\n%+v\nwant the defaults\n%+v", cfg, want)
	}
	data, _ := os.ReadFile("../config.yaml")
	for key := range leaves(&cfg).byKey {
		last := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(data), last+":") {
			t.Errorf("config.yaml does not show %s", key)
		}
	}
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("server:\n  addr: \":7000\"\n  read_timeout: 10s\nlog:\n  format: json\n"), 0o600)

	cfg, err := Load(file, []string{
		"USERHUB_SERVER_ADDR=127.0.0.1:7001", // env beats file
		"USERHUB_SERVER_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.1",
		"USERHUB_DATA_DIR=" + dir,
		"USERHUB_CONFIG=ignored",
		"USERHUB_TEST_POSTGRES_DSN=ignored",
		"USERHUB_UPDATE_SCREENSHOTS=1",
		"HOME=/root",
	}, []string{"server.addr=127.0.0.1:7002"}) // flag beats env
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:7002" || cfg.Server.ReadTimeout != 10*time.Second || cfg.Log.Format != "json" {
		t.Fatalf("got %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.Server.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}) {
		t.Fatalf("trusted proxies %q", cfg.Server.TrustedProxies)
	}
	if cfg.Database.DSN != filepath.Join(dir, "userhub.db") {
		t.Fatalf("sqlite dsn %q follows data_dir", cfg.Database.DSN)
	}
}

// TestProblemsAreAllReported checks that one run names every bad setting,
// with its key and what is allowed.
func TestProblemsAreAllReported(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("server:\n  adr: \":1\"\n  idle_timeout: 5\n"), 0o600)
	_, err := Load(file, []string{
		"USERHUB_SERVER_ADDR=nonsense",
		"USERHUB_DATABASE_DRIVER=mysql",
		"USERHUB_LOG_FORMAT=xml",
		"USERHUB_SERVER_READ_TIMEOUT=soon",
		"USERHUB_SERVR_ADDR=:1",
	}, []string{"log.level=loud", "nokey"})
	problems, ok := err.(Problems)
	if !ok {
		t.Fatalf("want Problems, got %v", err)
	}
	text := err.Error()
	for _, want := range []string{
		"line 2: server.adr: no such setting",                // unknown key in the file
		`line 3: server.idle_timeout: "5" is not a duration`, // a bare number is not a duration
		`server.addr: "nonsense"`,                            // bad value, with key and value
		"host:port",                                          // ... and what is allowed
		`database.driver: "mysql"`,                           //
		`"sqlite" or "postgres"`,                             //
		`log.format: "xml"`,                                  //
		"USERHUB_SERVER_READ_TIMEOUT",                        // unparsable env value
		"USERHUB_SERVR_ADDR: no such",                        // misspelt variable
		`log.level: "loud"`,                                  // bad -set value
		`-set "nokey": want key=value`,                       //
	} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not mention %q:\n%s", want, text)
		}
	}
	if len(problems) < 9 {
		t.Errorf("only %d problems reported", len(problems))
	}
}

func TestNamedFileMustExist(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil); err == nil {
		t.Fatal("a missing -config file was accepted")
	}
}

func TestRedacted(t *testing.T) {
	cfg := Default()
	cfg.Database.DSN = "postgres://u:hunter2@db/x"
	out, err := cfg.Redacted(func(string) string { return "postgres://u:REDACTED@db/x" })
	if err != nil || strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "read_header_timeout: 5s") {
		t.Fatalf("redacted output:\n%s", out)
	}
}

func TestSessionAndAuthProblems(t *testing.T) {
	_, err := Load("", []string{
		"USERHUB_SESSION_STORE=memcached",
		"USERHUB_SESSION_SECRET=short",
		"USERHUB_SESSION_SAME_SITE=none",
		"USERHUB_SESSION_SECURE=false",
		"USERHUB_SESSION_COOKIE_NAME=bad name",
		"USERHUB_AUTH_PASSWORD_MIN_LENGTH=6",
		"USERHUB_AUTH_ARGON2_MEMORY_KIB=1024",
	}, nil)
	for _, want := range []string{
		`session.store: "memcached"`, "session.secret: too short", `session.same_site: "none" needs`,
		`session.cookie_name: "bad name"`, `auth.password_min_length: "6"`, "OWASP",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if cfg, err := Load("", []string{"USERHUB_SESSION_SECRET=0123456789abcdef0123456789abcdef"}, nil); err != nil {
		t.Fatal(err)
	} else if out, _ := cfg.Redacted(func(s string) string { return s }); strings.Contains(string(out), "0123456789abcdef") {
		t.Errorf("the session secret is printed:\n%s", out)
	}
}

// TLS, cluster and admin settings: what is refused, and what the values mean.
func TestTLSAndClusterSettings(t *testing.T) {
	for _, tt := range []struct {
		env  []string
		want string // a problem the settings must produce ("" = none)
	}{
		{[]string{"USERHUB_TLS_MODE=static"}, "tls.mode: static needs tls.cert_file and tls.key_file"},
		{[]string{"USERHUB_TLS_MODE=autocert"}, "tls.mode: autocert needs tls.domains"},
		{[]string{"USERHUB_TLS_MODE=autocert", "USERHUB_TLS_DOMAINS=example.com", "USERHUB_TLS_ACME_DIRECTORY=http://acme.test/dir"}, `tls.acme_directory: "http://acme.test/dir"`},
		{[]string{"USERHUB_TLS_MODE=ftp"}, `tls.mode: "ftp"`},
		{[]string{"USERHUB_TLS_DOMAINS=https://example.com"}, `tls.domains: "https://example.com"`},
		{[]string{"USERHUB_TLS_DOMAINS=*.example.com"}, `tls.domains: "*.example.com"`},
		{[]string{"USERHUB_TLS_MODE=self-signed", "USERHUB_SERVER_ADDR=:8443"}, "tls.addr: port 8443 is also server.addr's"},
		{[]string{"USERHUB_TLS_HSTS_MAX_AGE=-1"}, "tls.hsts_max_age"},
		{[]string{"USERHUB_CLUSTER_WORKERS=65"}, `cluster.workers: "65"`},
		{[]string{"USERHUB_CLUSTER_WORKERS=-1"}, `cluster.workers: "-1"`},
		{[]string{"USERHUB_CLUSTER_WORKERS=many"}, `cluster.workers: "many"`},
		{[]string{"USERHUB_TLS_MODE=self-signed", "USERHUB_TLS_DOMAINS=App.Example.com"}, ""},
		{[]string{"USERHUB_CLUSTER_WORKERS=auto"}, ""},
		{[]string{"USERHUB_ADMIN_ADDR=9090"}, `admin.addr: "9090" is not allowed`},
		{[]string{"USERHUB_ADMIN_ADDR=127.0.0.1:8080"}, "admin.addr: port 8080 is also server.addr's"},
		{[]string{"USERHUB_TLS_MODE=self-signed", "USERHUB_ADMIN_ADDR=:8443"}, "admin.addr: port 8443 is also tls.addr's"},
		{[]string{"USERHUB_ADMIN_ADDR=:8443"}, ""}, // TLS off: tls.addr is not bound
		{[]string{"USERHUB_ADMIN_ADDR="}, ""},      // off
	} {
		cfg, err := Load("", tt.env, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v refused: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: problems %v, want one with %q", tt.env, err, tt.want)
		case tt.want == "" && len(cfg.TLS.Domains) > 0 && cfg.TLS.Domains[0] != "app.example.com":
			t.Errorf("tls.domains %q: not lower-cased", cfg.TLS.Domains)
		}
	}
}

// The waits (auth.hash_wait, database.query_timeout): what is refused,
// and that the environment sets them.
func TestWaits(t *testing.T) {
	hashWait := func(c Config) time.Duration { return c.Auth.HashWait }
	queryTimeout := func(c Config) time.Duration { return c.Database.QueryTimeout }
	for _, tt := range []struct {
		env  []string
		get  func(Config) time.Duration
		want string        // a problem the settings must produce ("" = none)
		wait time.Duration // the effective value when accepted
	}{
		{nil, hashWait, "", 5 * time.Second},
		{[]string{"USERHUB_AUTH_HASH_WAIT=100ms"}, hashWait, "", 100 * time.Millisecond},
		{[]string{"USERHUB_AUTH_HASH_WAIT=2m"}, hashWait, "", 2 * time.Minute},
		{[]string{"USERHUB_AUTH_HASH_WAIT=5m"}, hashWait, "", 5 * time.Minute},
		{[]string{"USERHUB_AUTH_HASH_WAIT=99ms"}, hashWait, `auth.hash_wait: "99ms" is not allowed; use a duration between 100ms and 5m`, 0},
		{[]string{"USERHUB_AUTH_HASH_WAIT=0s"}, hashWait, `auth.hash_wait: "0s"`, 0},
		{[]string{"USERHUB_AUTH_HASH_WAIT=-1s"}, hashWait, `auth.hash_wait: "-1s"`, 0},
		{[]string{"USERHUB_AUTH_HASH_WAIT=5m1s"}, hashWait, `auth.hash_wait: "5m1s"`, 0},
		{[]string{"USERHUB_AUTH_HASH_WAIT=5"}, hashWait, `USERHUB_AUTH_HASH_WAIT (auth.hash_wait): "5" is not a duration`, 0},
		{nil, queryTimeout, "", 5 * time.Second},
		{[]string{"USERHUB_DATABASE_QUERY_TIMEOUT=250ms"}, queryTimeout, "", 250 * time.Millisecond},
		{[]string{"USERHUB_DATABASE_QUERY_TIMEOUT=50ms"}, queryTimeout, `database.query_timeout: "50ms" is not allowed; use a duration between 100ms and 5m`, 0},
		{[]string{"USERHUB_DATABASE_QUERY_TIMEOUT=1h"}, queryTimeout, `database.query_timeout: "1h0m0s"`, 0},
	} {
		cfg, err := Load("", tt.env, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v refused: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: problems %v, want one with %q", tt.env, err, tt.want)
		case tt.want == "" && tt.get(cfg) != tt.wait:
			t.Errorf("%v: %v, want %v", tt.env, tt.get(cfg), tt.wait)
		}
	}
}

func TestWorkerCount(t *testing.T) {
	for workers, want := range map[string]int{"0": 0, "3": 3, "auto": min(runtime.GOMAXPROCS(0), maxWorkers)} {
		if got := (Cluster{Workers: workers}).WorkerCount(); got != want {
			t.Errorf("cluster.workers %s: %d workers, want %d", workers, got, want)
		}
	}
}

// A setting that is not one says what was probably meant; a file indented
// with tabs says so, not the parser's words.
func TestTyposAreNamed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tt := range []struct {
		file string
		env  []string
		sets []string
		want string
	}{
		{file: write("typo.yaml", "server:\n  adr: \":9090\"\n"), want: "typo.yaml line 2: server.adr: no such setting; did you mean server.addr?"},
		{file: write("tab.yaml", "server:\n\taddr: \":9090\"\n"), want: "tab.yaml line 2: indented with a tab; YAML indents with spaces only"},
		{env: []string{"USERHUB_SERVER_ADR=:9090"}, want: "USERHUB_SERVER_ADR: no such setting; did you mean USERHUB_SERVER_ADDR?"},
		{sets: []string{"session.idle_timeut=1h"}, want: "-set session.idle_timeut: no such setting; did you mean session.idle_timeout?"},
		{env: []string{"USERHUB_NOTHING_LIKE_IT=1"}, want: "USERHUB_NOTHING_LIKE_IT: no such setting (see config.yaml for the names)"},
	} {
		_, err := Load(tt.file, tt.env, tt.sets)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %v %v: %v, want %q", tt.file, tt.env, tt.sets, err, tt.want)
		}
	}
}

// TestRelyingParty: the passkeys' relying party and origins, set or
// derived, and the settings refused.
func TestRelyingParty(t *testing.T) {
	tests := []struct {
		name    string
		adjust  func(*Config)
		rpID    string
		origins []string
		problem string
	}{
		{"development", func(c *Config) {}, "localhost", []string{"http://localhost:8080", "https://localhost:8080"}, ""},
		{"self-signed", func(c *Config) { c.TLS.Mode = "self-signed" }, "localhost",
			[]string{"http://localhost:8080", "https://localhost:8080", "https://localhost:8443"}, ""},
		{"tls domains", func(c *Config) {
			c.TLS.Mode, c.TLS.Addr, c.TLS.Domains = "autocert", ":443", []string{"example.com", "www.example.com"}
		},
			"example.com", []string{"https://example.com", "https://www.example.com"}, ""},
		{"set", func(c *Config) {
			c.WebAuthn.RPID, c.WebAuthn.Origins = "example.org", []string{"https://id.example.org"}
		},
			"example.org", []string{"https://id.example.org"}, ""},
		{"an IP address", func(c *Config) { c.WebAuthn.RPID = "10.0.0.1" }, "", nil, "webauthn.rp_id"},
		{"an origin elsewhere", func(c *Config) { c.WebAuthn.RPID, c.WebAuthn.Origins = "example.org", []string{"https://example.com"} },
			"", nil, "webauthn.origins: \"https://example.com\" is not allowed; an origin's host must be webauthn.rp_id"},
		{"an origin with a path", func(c *Config) { c.WebAuthn.Origins = []string{"http://localhost:8080/app"} }, "", nil, "webauthn.origins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.adjust(&c)
			problems := strings.Join(c.Validate(), "\n")
			if tt.problem != "" {
				if !strings.Contains(problems, tt.problem) {
					t.Fatalf("problems %q, want one with %q", problems, tt.problem)
				}
				return
			}
			rpID, origins := c.RelyingParty()
			if strings.Contains(problems, "webauthn") || rpID != tt.rpID || strings.Join(origins, " ") != strings.Join(tt.origins, " ") {
				t.Fatalf("%s %v (problems %q), want %s %v", rpID, origins, problems, tt.rpID, tt.origins)
			}
		})
	}
}

// TestOIDCSettings: single sign-on is off by default, on with an issuer;
// every problem is named at once; the client secret is never printed.
func TestOIDCSettings(t *testing.T) {
	if Default().OIDC.Enabled() {
		t.Fatal("single sign-on on by default")
	}
	_, err := Load("", []string{
		"USERHUB_OIDC_ISSUER=id.example.com",
		"USERHUB_OIDC_CLIENT_SECRET=s3cret",
		"USERHUB_OIDC_CLIENT_SECRET_FILE=/etc/userhub/secret",
		"USERHUB_OIDC_REDIRECT_URL=https://users.example.com/callback",
		"USERHUB_OIDC_SCOPES=profile,email",
		"USERHUB_OIDC_GROUPS_CLAIM=",
		"USERHUB_OIDC_ADMIN_GROUP=admins",
	}, nil)
	for _, want := range []string{
		`oidc.issuer: "id.example.com" is not allowed`, "oidc.client_id: empty", "oidc.client_secret and oidc.client_secret_file: both set",
		`oidc.redirect_url: "https://users.example.com/callback" is not allowed; give this server's callback`,
		`oidc.scopes: "profile email" is not allowed; include openid`, `oidc.groups_claim: "" is not allowed`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if _, err := Load("", []string{"USERHUB_OIDC_DISABLE_PASSWORD_LOGIN=true"}, nil); err == nil || !strings.Contains(err.Error(), "oidc.issuer: empty, but other oidc settings are set") {
		t.Errorf("password login off without a provider: %v", err)
	}
	cfg, err := Load("", []string{
		"USERHUB_OIDC_ISSUER=https://id.example.com/realms/main",
		"USERHUB_OIDC_CLIENT_ID=userhub",
		"USERHUB_OIDC_CLIENT_SECRET=s3cret-s3cret",
		"USERHUB_OIDC_REDIRECT_URL=https://users.example.com/login/oidc/callback",
	}, nil)
	if err != nil || !cfg.OIDC.Enabled() || cfg.OIDC.NameClaim != "preferred_username" {
		t.Fatalf("a good configuration: %+v, %v", cfg.OIDC, err)
	}
	if out, _ := cfg.Redacted(func(s string) string { return s }); strings.Contains(string(out), "s3cret-s3cret") {
		t.Errorf("the client secret is printed:\n%s", out)
	}
}
