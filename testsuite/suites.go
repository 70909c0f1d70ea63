package main

// suite is a test that needs something a machine may not have.
type suite struct {
	test  string // as go test names it
	needs string
}

// optionalSuites are the tests that skip, with a message, when what they
// need is missing.
var optionalSuites = []suite{
	{"TestContract/SQLite", "nothing: always runs"},
	{"TestContract/CachedSQLite", "nothing: always runs"},
	{"TestContract/PostgreSQL", "PostgreSQL"},
	{"TestContract/CachedPostgreSQL", "PostgreSQL"},
	{"TestMigrateIsIdempotent/PostgreSQL", "PostgreSQL"},
	{"TestDataSurvivesRestart/PostgreSQL", "PostgreSQL"},
	{"TestChangesReachOtherInstances", "PostgreSQL"},
	{"TestSharedSecret", "PostgreSQL"},
	{"TestInstancesShareTheSessionSecret/cookie", "PostgreSQL"},
	{"TestInstancesShareTheSessionSecret/redis", "PostgreSQL and Redis"},
	{"TestRedisCounterContract", "Redis"},
	{"TestSessionsEnd/redis", "Redis"},
	{"TestLoginThrottling/redis", "Redis"},
	{"TestAccountsOverHTTP/redis", "Redis"},
	{"TestBrowserAdminFlow", "Chromium"},
	{"TestBrowserMemberView", "Chromium"},
	{"TestBrowserWrongPassword", "Chromium"},
	{"TestBrowserKorean", "Chromium"},
	{"TestBrowserRenameShowsNewName", "Chromium"},
	{"TestBrowserRowFeedbackInView", "Chromium"},
	{"TestBrowserLongNameFits", "Chromium"},
	{"TestBrowserRowCellsAlign", "Chromium"},
	{"TestBrowserSetupShowsEveryProblem", "Chromium"},
	{"TestBrowserListControls", "Chromium"},
	{"TestBrowserSuspend", "Chromium"},
	{"TestBrowserBulkActions", "Chromium"},
	{"TestBrowserConfirmations", "Chromium"},
	{"TestBrowserEndedSessionSaysSo", "Chromium"},
	{"TestBrowserPhoneLabels", "Chromium"},
	{"TestBrowserAPIDocs", "Chromium"},
	{"TestScreenshots", "Chromium"},
	{"TestAxe", "Chromium and axe-core (from npm)"},
	{"TestREADMEExamples", "bash and curl"},
	{"TestPostgresDown", "PostgreSQL's binaries, for a throwaway instance"},
	{"TestPostgresFrozen", "PostgreSQL's binaries, for a throwaway instance"},
	{"TestRedisDown", "redis-server, for a throwaway instance"},
	{"TestDiskFull", "mount, for a small tmpfs"},
	{"TestHAProxyConfig", "HAProxy"},
	{"TestSystemdUnit", "nothing: always runs (systemd-analyze verify, where installed)"},
	{"TestHAProxyInstancesAgree", "HAProxy, PostgreSQL and redis-server"},
	{"TestHAProxyRollingRestart", "HAProxy, PostgreSQL and redis-server"},
	{"TestHAProxyInstanceKilled", "HAProxy, PostgreSQL and redis-server"},
	{"TestHAProxyRedisDown", "HAProxy, PostgreSQL and redis-server"},
	{"TestAutocert/tls-alpn-01", "Pebble, built from the Go module proxy"},
	{"TestAutocert/http-01", "Pebble, built from the Go module proxy"},
}
