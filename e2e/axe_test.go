package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axe-core, the accessibility checker, is not in the repository: .ci/run
// installs it from npm (a pinned version, its integrity checked); locally
//
//	npm install --prefix e2e/testdata/axe --save-exact axe-core@4.14.1
//
// puts it where TestAxe looks (USERHUB_TEST_AXE names another file).

// axeVersion is the axe-core the project checks with; .ci/run installs it.
const axeVersion = "4.14.1"

// axeDefault is where `npm install --prefix e2e/testdata/axe` puts axe,
// relative to this package (a test's working directory).
const axeDefault = "testdata/axe/node_modules/axe-core/axe.min.js"

// axeSource returns axe.min.js, or skips the test.
func axeSource(t *testing.T) string {
	path := os.Getenv("USERHUB_TEST_AXE")
	if path == "" {
		path = axeDefault
	}
	src, err := os.ReadFile(path)
	if err != nil {
		abs, _ := filepath.Abs(path)
		t.Skipf("axe suite skipped: no axe-core at %s (npm install --prefix e2e/testdata/axe --save-exact axe-core@%s, from the repository's root; or set USERHUB_TEST_AXE to an axe.min.js)", abs, axeVersion)
	}
	return string(src)
}

// axeRun runs axe on the page with the WCAG 2.0 and 2.1 A and AA rules and
// returns what it reports, each node with what it needs to find and fix.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}).then((r) => {
	const rules = (list) => list.map((v) => ({ID: v.id, Impact: v.impact || '', Help: v.help, HelpURL: v.helpUrl,
		Nodes: v.nodes.map((n) => ({Target: n.target.map(String), HTML: n.html, Summary: n.failureSummary || ''}))}));
	return {Violations: rules(r.violations), Incomplete: rules(r.incomplete), Passed: r.passes.length};
})`

type axeNode struct {
	Target        []string
	HTML, Summary string
}

type axeRule struct {
	ID, Impact, Help, HelpURL string
	Nodes                     []axeNode
}

type axeResults struct {
	Violations, Incomplete []axeRule
	Passed                 int // rules that found elements to check, and no fault
}

// String says what to fix: the rule, and the first three elements that
// break it, each with its selector, its HTML and axe's explanation.
func (r axeRule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s [%s]", r.ID, r.Impact, r.Help, r.HelpURL)
	for i, n := range r.Nodes {
		if i == 3 {
			fmt.Fprintf(&b, "\n      ... and %d more", len(r.Nodes)-3)
			break
		}
		fmt.Fprintf(&b, "\n      %s\n        %s", strings.Join(n.Target, " "), n.HTML)
		if n.Summary != "" {
			fmt.Fprintf(&b, "\n        %s", strings.ReplaceAll(n.Summary, "\n", "\n        "))
		}
	}
	return b.String()
}

// setLanguage switches the browser to lang with the page's own switch,
// as a person does (the choice is a cookie, kept for the next pages).
func (b *browser) setLanguage(base, lang string) {
	b.t.Helper()
	b.do("open a page", chromedp.Navigate(base+"/about"), waitJS(`document.readyState === "complete"`))
	if cur := run(b, "html lang", chromedp.Evaluate[string](`document.documentElement.lang`)); cur == lang {
		return
	}
	b.do("switch to "+lang,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.lang-switch button[value=%q]`, lang))),
		waitJS(fmt.Sprintf(`document.documentElement.lang === %q && document.readyState === "complete"`, lang)),
	)
}

// TestAxe runs axe-core in the browser tests' Chromium on every kind of
// page, in English and Korean, at desktop and phone width, and fails on any
// violation of WCAG 2.1 A or AA, naming the elements to fix (issue 10).
func TestAxe(t *testing.T) {
	chromium(t)
	src := axeSource(t)

	// A server before its setup, for the setup page; and one set up, with
	// a few users: an administrator, a member, a 64-character name.
	fresh := start(t)
	p := start(t)
	admin := p.setup(t)
	addUser(t, admin, p.base, `{"name":"lee","password":"a long secret phrase"}`)
	addUser(t, admin, p.base, `{"name":"park","role":"admin"}`)
	addUser(t, admin, p.base, `{"name":"`+longName+`"}`)
	addUser(t, admin, p.base, `{"name":"김철수"}`)
	addUser(t, admin, p.base, `{"name":"choi","password":"a long secret phrase"}`)
	enrolTOTP(t, p.base, sessionOf(t, apiLogin(t, p.base, "choi", "a long secret phrase", "")))

	// A browser for each kind of visitor (each its own cookies).
	browsers := map[string]*browser{
		"fresh":   newBrowser(t), // the server before setup
		"anon":    newBrowser(t), // logged out
		"admin":   newBrowser(t),
		"member":  newBrowser(t),
		"twostep": newBrowser(t), // a user with an authenticator app, between password and code
	}
	bases := map[string]string{"fresh": fresh.base, "anon": p.base, "admin": p.base, "member": p.base, "twostep": p.base}
	browsers["admin"].login(p.base, "kim", adminPassword)
	browsers["admin"].do("admin logged in", waitURL("/"))
	browsers["member"].login(p.base, "lee", "a long secret phrase")
	browsers["member"].do("member logged in", waitURL("/"))

	pages := []struct {
		name, who string
		open      func(b *browser, base string) // goes to the page and waits until it is ready
	}{
		{"setup", "fresh", func(b *browser, base string) {
			b.do("setup page", chromedp.Navigate(base+"/setup"), waitURL("/setup"), chromedp.WaitVisible(chromedp.ID("setup-name")))
		}},
		{"setup-errors", "fresh", func(b *browser, base string) {
			b.do("setup page with every problem",
				chromedp.Navigate(base+"/setup"), waitURL("/setup"),
				chromedp.Click(chromedp.ID("setup-submit")),
				waitJS(`document.readyState === "complete" && document.querySelector('.field-error')`),
			)
		}},
		{"login", "anon", func(b *browser, base string) {
			b.do("login page", chromedp.Navigate(base+"/login"), waitURL("/login"), chromedp.WaitVisible(chromedp.ID("login-name")))
		}},
		{"login-error", "anon", func(b *browser, base string) {
			b.login(base, "kim", "not the password at all")
			b.do("the error shows", waitURL("/login"), chromedp.WaitVisible(chromedp.ID("login-error")))
		}},
		{"users-admin", "admin", func(b *browser, base string) {
			b.do("user list", chromedp.Navigate(base+"/"), waitURL("/"), waitText("#users", longName), chromedp.WaitVisible(chromedp.ID("add-user")))
		}},
		{"users-admin-actions", "admin", func(b *browser, base string) {
			// What app.js writes into the page: a row after a role change
			// (relabelled), and the inline rename form.
			b.do("change a role, open a rename form",
				chromedp.Navigate(base+"/"), waitURL("/"), waitText("#users", longName),
				chromedp.Click(chromedp.CSS(`tr[data-name="park"] button[data-action="role"]`)),
				waitJS(`document.querySelector('tr[data-name="park"] .row-note.ok').textContent !== ''`),
				// The button now says the other role; its name says it too, and whose.
				waitJS(`(() => { const b = document.querySelector('tr[data-name="park"] button[data-action="role"]');
					const name = b.getAttribute('aria-label') || ''; return name.includes(b.textContent) && name.includes('park'); })()`),
				chromedp.Click(chromedp.CSS(`tr[data-name="lee"] button[data-action="rename"]`)),
				chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"] input[type="text"]`)),
			)
		}},
		{"users-member", "member", func(b *browser, base string) {
			b.do("user list", chromedp.Navigate(base+"/"), waitURL("/"), waitText("#users", longName))
		}},
		{"audit", "admin", func(b *browser, base string) {
			b.do("audit log", chromedp.Navigate(base+"/admin/audit"), waitURL("/admin/audit"), waitText("#audit-log", longName))
		}},
		{"account", "member", func(b *browser, base string) {
			b.do("account page", chromedp.Navigate(base+"/account"), waitURL("/account"), chromedp.WaitVisible(chromedp.ID("account-name-input")))
		}},
		{"security", "admin", func(b *browser, base string) {
			// With a new authenticator secret: its QR code, the key, the confirm form.
			b.do("security page", chromedp.Navigate(base+"/account/security"), waitURL("/account/security"),
				waitJS(`document.getElementById('totp-qr') || document.getElementById('totp-begin')`))
			if run(b, "a secret shown?", chromedp.Evaluate[bool](`!document.getElementById('totp-qr')`)) {
				b.do("set up an authenticator app", chromedp.Click(chromedp.ID("totp-begin")), waitURL("/account/security"))
			}
			b.do("the QR code and the passkeys", chromedp.WaitVisible(chromedp.ID("totp-qr")), chromedp.WaitVisible(chromedp.ID("passkey-register")))
		}},
		{"login-2fa", "twostep", func(b *browser, base string) {
			b.login(base, "choi", "a long secret phrase")
			b.do("the second step", waitURL("/login/2fa"), chromedp.WaitVisible(chromedp.ID("login-code")))
		}},
		{"error-404", "admin", func(b *browser, base string) {
			b.do("404 page", chromedp.Navigate(base+"/no-such-page"), waitURL("/no-such-page"), chromedp.WaitVisible(chromedp.CSS(".error-status")))
		}},
		{"about", "anon", func(b *browser, base string) {
			b.do("about page", chromedp.Navigate(base+"/about"), waitURL("/about"), chromedp.WaitVisible(chromedp.CSS("h1")))
		}},
	}
	viewports := []struct {
		name string
		size chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch)},
	}

	logged := false
	for _, lang := range []string{"en", "ko"} {
		for who, b := range browsers {
			b.setLanguage(bases[who], lang)
		}
		for _, vp := range viewports {
			for _, pg := range pages {
				t.Run(lang+"/"+vp.name+"/"+pg.name, func(t *testing.T) {
					b := &browser{t: t, ctx: browsers[pg.who].ctx}
					b.do("size the viewport", vp.size)
					pg.open(b, bases[pg.who])
					if got := run(b, "html lang", chromedp.Evaluate[string](`document.documentElement.lang`)); got != lang {
						t.Fatalf("the page's language is %q, want %q", got, lang)
					}
					// DevTools' Runtime.evaluate is not bound by the page's
					// Content-Security-Policy (no inline script).
					version := run(b, "inject axe", chromedp.Evaluate[string](src+"\n;axe.version"))
					if !logged {
						t.Logf("axe-core %s", version)
						logged = true
					}
					res := run(b, "run axe", chromedp.Evaluate[axeResults](axeRun, chromedp.EvalAwaitPromise))
					t.Logf("%d rules passed, %d violated, %d need review", res.Passed, len(res.Violations), len(res.Incomplete))
					for _, r := range res.Incomplete {
						t.Logf("needs a person's review: %s", r)
					}
					for _, r := range res.Violations {
						t.Errorf("%s", r)
					}
				})
			}
		}
	}
}
