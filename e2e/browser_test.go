package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser tests drive the system's Chromium, headless, through chromedp:
// what a person sees and does in the pages, with the real JavaScript.

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	if path := chromiumPath(); path != "" {
		return path
	}
	t.Skip("browser tests skipped: " + noChromium)
	return ""
}

const noChromium = "no Chromium (apt-get install -y chromium, or set USERHUB_TEST_CHROMIUM)"

// chromiumPath returns the browser to drive, or "" when there is none.
func chromiumPath() string {
	for _, path := range []string{os.Getenv("USERHUB_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	if path, err := exec.LookPath("chromium"); err == nil {
		return path
	}
	return ""
}

// browser is one headless Chromium with a fresh profile, and a tab in it.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	dialogs []string // what each confirm() said, until dialogsSeen
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser on a context without a deadline: a deadline on the
	// first run would stop the whole browser when it passes.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Accept every confirm() (the confirmations of deletes, role changes,
	// suspensions), keeping what each said.
	b := &browser{t: t, ctx: ctx}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

// dialogsSeen returns what the confirmations shown so far said, and
// forgets them.
func (b *browser) dialogsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := b.dialogs
	b.dialogs = nil
	return seen
}

// do runs steps, each bounded; on failure it saves a screenshot and the
// page's HTML next to the test output, and fails the test.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// run runs one action that returns a value.
func run[T any](b *browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// screenshotDir is where failing browser tests leave their screenshots.
func screenshotDir() string {
	if dir := os.Getenv("USERHUB_TEST_ARTIFACTS"); dir != "" {
		return dir
	}
	return "screenshots"
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(b.t.Name(), "_")
	dir, _ := filepath.Abs(screenshotDir())
	os.MkdirAll(dir, 0o755)
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(dir, name+".png")
		if os.WriteFile(path, png, 0o644) == nil {
			b.t.Logf("screenshot: %s", path)
		}
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		path := filepath.Join(dir, name+".html")
		if os.WriteFile(path, []byte(html), 0o644) == nil {
			b.t.Logf("page: %s", path)
		}
	}
	url, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Fatalf("%s (at %s): %v", what, url, err)
}

// waitJS waits until the JavaScript expression is true. Unlike
// chromedp.Poll it outlives page loads: a click that submits a form
// replaces the page the expression runs in, and it simply asks again.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(10 * time.Second)
		var lastErr error
		for time.Now().Before(deadline) {
			ok, err := chromedp.Evaluate[bool]("!!("+expr+")")(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			lastErr = err
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		return chromedp.Void{}, fmt.Errorf("timed out waiting for %s (last error: %v)", expr, lastErr)
	}
}

// waitText waits until the element sel contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`document.querySelector(%q) && document.querySelector(%q).textContent.includes(%q)`, sel, sel, text))
}

// waitURL waits until the page at path has loaded.
func waitURL(path string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`location.pathname === %q && document.readyState === "complete"`, path))
}

// login fills and sends the login form.
func (b *browser) login(base, name, password string) {
	b.t.Helper()
	b.do("log in as "+name,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), name),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
	)
}

// TestBrowserAdminFlow: first-run setup, then an administrator adds a
// user, renames them, changes their role, deletes them, and logs out.
func TestBrowserAdminFlow(t *testing.T) {
	b := newBrowser(t)
	p := start(t)

	b.do("first visit goes to setup",
		chromedp.Navigate(p.base+"/"),
		waitURL("/setup"),
		waitText("h1", "Set up userhub"),
	)
	b.do("create the first administrator",
		chromedp.SendKeys(chromedp.ID("setup-name"), "kim"),
		chromedp.SendKeys(chromedp.ID("setup-password"), adminPassword),
		chromedp.SendKeys(chromedp.ID("setup-password-confirm"), adminPassword),
		chromedp.Click(chromedp.ID("setup-submit")),
		waitURL("/"),
		waitText("#home-greeting", "Hello, kim"),
	)
	b.do("log out and in again",
		chromedp.Click(chromedp.ID("logout")),
		waitURL("/login"),
		waitText("main", "You have logged out."),
	)
	b.login(p.base, "kim", adminPassword)
	b.do("home after login", waitURL("/"), waitText("#home-greeting", "Hello, kim"))

	b.do("add a user",
		chromedp.SendKeys(chromedp.ID("add-name"), "lee"),
		chromedp.SendKeys(chromedp.ID("add-password"), "a long secret phrase"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)),
		waitText("#add-status", "Added lee."),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"]`)),
		waitText(`tr[data-name="lee"] .role`, "Member"),
	)
	b.do("a duplicate name is refused with a message",
		chromedp.SendKeys(chromedp.ID("add-name"), "LEE"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)),
		waitText("#add-status", "Another user already has this name"),
		chromedp.Clear(chromedp.ID("add-name")),
	)
	b.do("rename",
		chromedp.Click(chromedp.CSS(`tr[data-name="lee"] button[data-action="rename"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"] input[type="text"]`)),
		chromedp.SetValue(chromedp.CSS(`tr[data-name="lee"] input[type="text"]`), "park"),
		chromedp.Click(chromedp.CSS(`tr[data-name="lee"] button[data-action="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="park"]`)),
		waitText(`tr[data-name="park"] [role="status"]`, "Renamed to park."),
	)
	b.do("make administrator",
		chromedp.Click(chromedp.CSS(`tr[data-name="park"] button[data-action="role"]`)),
		waitText(`tr[data-name="park"] .role`, "Administrator"),
		waitText(`tr[data-name="park"] [role="status"]`, "park is now an administrator."),
	)
	b.do("the changes are on the server: reload",
		chromedp.Reload(),
		waitText(`tr[data-name="park"] .role`, "Administrator"),
	)
	b.do("delete, with a confirmation",
		chromedp.Click(chromedp.CSS(`tr[data-name="park"] button[data-action="delete"]`)),
		waitText("#status", "Deleted park."),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-name="park"]`)),
	)
	b.do("the audit log says who did what",
		chromedp.Click(chromedp.CSS(`a[href="/admin/audit"]`)),
		waitURL("/admin/audit"),
		waitText("h1", "Audit log"),
		waitText("#audit-log tbody tr:first-child", "User deleted"),
		waitText("#audit-log tbody tr:first-child", "park"),
		waitText("#audit-log", "User renamed"),
		waitText("#audit-log", "from: lee"),
		waitText("#audit-log", "Role changed"),
		waitText("#audit-log", "First administrator created"),
	)
	b.do("filtered by action",
		chromedp.SetValue(chromedp.ID("audit-action"), "user.renamed"),
		chromedp.Click(chromedp.CSS(`#audit-filter button[type="submit"]`)),
		waitJS(`location.search.includes("action=user.renamed")`),
		waitText("#audit-log", "User renamed"),
		waitJS(`document.querySelectorAll("#audit-log tbody tr").length === 1`),
	)
	b.do("log out",
		chromedp.Click(chromedp.ID("logout")),
		waitURL("/login"),
		chromedp.Navigate(p.base+"/"),
		waitURL("/login"),
	)
}

// TestBrowserMemberView: a member sees no admin controls, and a request an
// administrator could make, forged from the member's page, is refused.
func TestBrowserMemberView(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	if resp, body := doWith(t, admin, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"lee","password":"a long secret phrase"}`); resp.StatusCode != 201 {
		t.Fatalf("create lee: %s %s", resp.Status, body)
	}
	b := newBrowser(t)
	b.login(p.base, "lee", "a long secret phrase")
	b.do("the member's home", waitURL("/"), waitText("#home-greeting", "Hello, lee"), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="kim"]`)))

	controls := run(b, "count admin controls", chromedp.Evaluate[int](
		`document.querySelectorAll('#add-user, button[data-action], #select-all, .select-row, #bulk').length`))
	if controls != 0 {
		t.Fatalf("the member's page shows %d admin controls", controls)
	}
	for _, forged := range []struct{ method, path, body string }{
		{"POST", "/user", `{"name":"mallory"}`},
		{"POST", "/api/v1/users", `{"name":"mallory","role":"admin"}`},
		{"PATCH", "/user/2", `{"role":"admin"}`},
		{"DELETE", "/user/1", ``},
		{"PATCH", "/api/v1/users/1", `{"password":"taken over password"}`},
	} {
		status := run(b, "forged "+forged.method+" "+forged.path, chromedp.Evaluate[int](fmt.Sprintf(
			`fetch(%q, {method: %q, headers: {'Content-Type': 'application/json'}, body: %q || undefined}).then(r => r.status)`,
			forged.path, forged.method, forged.body), chromedp.EvalAwaitPromise))
		if status != 403 {
			t.Errorf("forged %s %s from the member's page: %d, want 403", forged.method, forged.path, status)
		}
	}
	// The member can change their own name on the account page.
	b.do("rename self",
		chromedp.Navigate(p.base+"/account"),
		chromedp.WaitVisible(chromedp.ID("account-name-input")),
		chromedp.SetValue(chromedp.ID("account-name-input"), "lee2"),
		chromedp.Click(chromedp.CSS(`#account-name button[type="submit"]`)),
		waitText("#status", "Renamed to lee2."),
		waitText(".nav-user", "lee2"),
	)
}

// TestBrowserWrongPassword: the login page says so, and stays.
func TestBrowserWrongPassword(t *testing.T) {
	p := start(t)
	p.setup(t)
	b := newBrowser(t)
	b.login(p.base, "kim", "not the password at all")
	b.do("the error shows", waitText("#login-error", "Wrong name or password."), waitURL("/login"))
	if v := run(b, "name kept", chromedp.Value(chromedp.ID("login-name"))); v != "kim" {
		t.Errorf("the name field holds %q after a failed login", v)
	}
	if v := run(b, "password not kept", chromedp.Value(chromedp.ID("login-password"))); v != "" {
		t.Error("the password field is refilled after a failed login")
	}
}

// TestBrowserKorean: the language switch turns the pages Korean and keeps
// them so; the home page greets as the seed does ("kim님 안녕하세요").
func TestBrowserKorean(t *testing.T) {
	p := start(t)
	p.setup(t)
	b := newBrowser(t)
	b.do("switch to Korean on the login page",
		chromedp.Navigate(p.base+"/login"),
		waitText("h1", "Log in"),
		chromedp.Click(chromedp.CSS(`.lang-switch button[value="ko"]`)),
		waitURL("/login"),
		waitText("h1", "로그인"),
	)
	if lang := run(b, "html lang", chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "ko" {
		t.Fatalf("html lang %q", lang)
	}
	b.login(p.base, "kim", adminPassword)
	b.do("home in Korean",
		waitURL("/"),
		waitText("#home-greeting", "kim님 안녕하세요"),
		waitText("h1", "사용자"),
		waitText("#logout", "로그아웃"),
	)
	b.do("a message from the JavaScript, in Korean",
		chromedp.SendKeys(chromedp.ID("add-name"), "김철수"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)),
		waitText("#add-status", "김철수 사용자를 추가했습니다."),
	)
	b.do("back to English",
		chromedp.Click(chromedp.CSS(`.lang-switch button[value="en"]`)),
		waitText("#home-greeting", "Hello, kim"),
	)
	body := run(b, "page text", chromedp.Text(chromedp.CSS("body")))
	if strings.Contains(body, "로그아웃") {
		t.Error("Korean left on the English page")
	}
}

// addUser adds a user through the API as the administrator c is logged
// in as, and returns its id.
func addUser(t *testing.T, c *http.Client, base, body string) int64 {
	t.Helper()
	resp, answer := doWith(t, c, "POST", base+"/api/v1/users", jsonCT, body)
	var user struct{ ID int64 }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(answer), &user) != nil {
		t.Fatalf("create user %s: %s %s", body, resp.Status, answer)
	}
	return user.ID
}

// seen is where a message is on screen, as a person would find it: the
// element showing text, whether a screen reader is told of it, and where it
// lies against the viewport and against the row it belongs to.
type seen struct {
	Found     bool    // some element shows the text
	Announced string  // the live region it is in: "alert", "status" or ""
	Top       float64 // its box, in viewport pixels
	Bottom    float64
	Viewport  float64 // window.innerHeight
	InRow     bool    // its box lies within the row's box
}

// findMessage looks for the smallest visible element whose visible text
// contains text, and measures it against row (a CSS selector; "" for none).
func findMessage(text, row string) chromedp.Action[seen] {
	return chromedp.Evaluate[seen](fmt.Sprintf(`(() => {
		const text = %q, row = %q && document.querySelector(%q);
		const shown = [...document.querySelectorAll('main *')].filter((el) =>
			el.innerText && el.innerText.includes(text) && el.getClientRects().length > 0 &&
			![...el.children].some((c) => c.innerText && c.innerText.includes(text)));
		if (!shown.length) return {Found: false};
		const el = shown[0], r = el.getBoundingClientRect();
		const live = el.closest('[role="alert"], [aria-live="assertive"]') ? 'alert' :
			el.closest('[role="status"], [aria-live="polite"]') ? 'status' : '';
		const rr = row ? row.getBoundingClientRect() : null;
		return {Found: true, Announced: live, Top: r.top, Bottom: r.bottom, Viewport: window.innerHeight,
			InRow: !!rr && r.top >= rr.top - 1 && r.bottom <= rr.bottom + 1};
	})()`, text, row, row))
}

// waitMessage waits until some element on the page shows text.
func waitMessage(text string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`[...document.querySelectorAll('main *')].some((el) => el.innerText && el.innerText.includes(%q))`, text))
}

// TestBrowserRenameShowsNewName: after a rename, the row reads the new
// name at once, not the old one until a reload (issue 10, bug 1).
func TestBrowserRenameShowsNewName(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	id := addUser(t, admin, p.base, `{"name":"park"}`)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	row := fmt.Sprintf(`tr[data-id="%d"]`, id)
	b.do("rename park to jung",
		waitURL("/"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="rename"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+` input[type="text"]`)),
		chromedp.SetValue(chromedp.CSS(row+` input[type="text"]`), "jung"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="save"]`)),
		waitMessage("Renamed to jung."),
		chromedp.WaitNotPresent(chromedp.CSS(row+` input[type="text"]`)),
	)
	// The name cell also marks a user without a password.
	if name := run(b, "the row's name", chromedp.Evaluate[string](`document.querySelector('`+row+` td.name').innerText`)); !strings.HasPrefix(name, "jung") || strings.Contains(name, "park") {
		t.Errorf("after renaming park to jung the row reads %q", name)
	}
	if m := run(b, "the message", findMessage("Renamed to jung.", row)); !m.InRow || m.Announced != "status" {
		t.Errorf("the rename message is not in the row as a status: %+v", m)
	}
	b.do("the new name is on the server", chromedp.Reload(), waitText(row+" td.name", "jung"))
}

// TestBrowserRowFeedbackInView: an action that fails on the last row of a
// long page says so next to that row, in view, as an alert; a success there
// is shown the same way, as a status (issue 10, bug 2).
func TestBrowserRowFeedbackInView(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	for i := 1; i <= 55; i++ {
		addUser(t, admin, p.base, fmt.Sprintf(`{"name":"user%02d"}`, i))
	}
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	last := `#users tbody tr:last-child`
	b.do("open the password form on the last row",
		waitURL("/"),
		waitText(last+" td.name", "user06"), // 50 a page, newest first
		chromedp.ScrollIntoView(chromedp.CSS(last)),
		chromedp.Click(chromedp.CSS(last+` button[data-action="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(last+` input[type="password"]`)),
		chromedp.SendKeys(chromedp.CSS(last+` input[type="password"]`), "short"),
		chromedp.SendKeys(chromedp.CSS(last+` input[id^="password-confirm-"]`), "short"),
		chromedp.Click(chromedp.CSS(last+` button[data-action="save"]`)),
		waitMessage("The password is too short."),
	)
	m := run(b, "the error", findMessage("The password is too short.", last))
	if m.Top < 0 || m.Bottom > m.Viewport {
		t.Errorf("the error is out of view: at %.0f to %.0f px, the viewport is %.0f px high", m.Top, m.Bottom, m.Viewport)
	}
	if !m.InRow || m.Announced != "alert" {
		t.Errorf("the error is not in the row as an alert: %+v", m)
	}

	b.do("a good password",
		chromedp.Clear(chromedp.CSS(last+` input[type="password"]`)),
		chromedp.Clear(chromedp.CSS(last+` input[id^="password-confirm-"]`)),
		chromedp.SendKeys(chromedp.CSS(last+` input[type="password"]`), "a long enough phrase"),
		chromedp.SendKeys(chromedp.CSS(last+` input[id^="password-confirm-"]`), "a long enough phrase"),
		chromedp.Click(chromedp.CSS(last+` button[data-action="save"]`)),
		waitMessage("New password set for user06"),
	)
	m = run(b, "the success", findMessage("New password set for user06", last))
	if m.Top < 0 || m.Bottom > m.Viewport || !m.InRow || m.Announced != "status" {
		t.Errorf("the success message is not in the row, in view, as a status: %+v", m)
	}
	if n := run(b, "old error", chromedp.Evaluate[bool](`document.querySelector('main').innerText.includes('The password is too short.')`)); n {
		t.Error("the error still shows after the password was set")
	}
}

// longName is a name of 64 characters (the most allowed) without a space.
var longName = strings.Repeat("abcdefgh", 8)

// TestBrowserLongNameFits: a 64-character name without spaces wraps: the
// phone page is no wider than the phone, and on a desktop the table stays
// in its column (issue 10, bug 3).
func TestBrowserLongNameFits(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	addUser(t, admin, p.base, `{"name":"`+longName+`","role":"admin","password":"a long secret phrase"}`)
	b := newBrowser(t)
	b.do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	b.login(p.base, longName, "a long secret phrase")
	b.do("home", waitURL("/"), waitText("#users", longName))
	type widths struct{ Page, Viewport float64 }
	w := run(b, "page width on a phone", chromedp.Evaluate[widths](`({Page: document.documentElement.scrollWidth, Viewport: window.innerWidth})`))
	if w.Viewport != 390 || w.Page > 390 {
		t.Errorf("on a phone 390 px wide the page is %.0f px wide (viewport %.0f)", w.Page, w.Viewport)
	}
	if name := run(b, "the name shown", chromedp.Evaluate[string](`document.querySelector('#users tr[data-name] .name-text').innerText`)); strings.ReplaceAll(name, "\n", "") != longName {
		t.Errorf("the name cell shows %q, want the whole name", name)
	}

	b.do("a desktop", chromedp.EmulateViewport(1280, 900), waitJS(`window.innerWidth === 1280`))
	type fit struct{ Table, Column, Page, Viewport float64 }
	f := run(b, "table width on a desktop", chromedp.Evaluate[fit](`(() => {
		const main = document.querySelector('main'), pad = parseFloat(getComputedStyle(main).paddingRight);
		return {Table: document.getElementById('users').getBoundingClientRect().right,
			Column: main.getBoundingClientRect().right - pad,
			Page: document.documentElement.scrollWidth, Viewport: window.innerWidth};
	})()`))
	if f.Table > f.Column+0.5 || f.Page > f.Viewport {
		t.Errorf("on a desktop the table ends at %.1f px, past its column's %.1f px (page %.0f px wide, viewport %.0f)", f.Table, f.Column, f.Page, f.Viewport)
	}
}

// TestBrowserRowCellsAlign: on a desktop every cell of a row spans the
// whole row (the row borders line up), and each row's buttons are laid out
// evenly, never one alone on a line under three (issue 10, bug 4).
func TestBrowserRowCellsAlign(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	addUser(t, admin, p.base, `{"name":"lee"}`)
	addUser(t, admin, p.base, `{"name":"park","role":"admin"}`)
	addUser(t, admin, p.base, `{"name":"Maria Fernanda dos Santos Oliveira Pereira da Silva"}`)
	addUser(t, admin, p.base, `{"name":"김철수"}`)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	b.do("home on a desktop", chromedp.EmulateViewport(1280, 900), waitURL("/"), waitText("#users", "김철수"))
	type row struct {
		Name           string
		Tops, Bottoms  []float64 // of the row, then of each cell
		ButtonsPerLine []int
	}
	rows := run(b, "measure the rows", chromedp.Evaluate[[]row](`[...document.querySelectorAll('#users tbody tr')].map((tr) => {
		const boxes = [tr, ...tr.cells].map((el) => el.getBoundingClientRect());
		const lines = new Map();
		tr.querySelectorAll('button[data-action]').forEach((b) => {
			const top = Math.round(b.getBoundingClientRect().top);
			lines.set(top, (lines.get(top) || 0) + 1);
		});
		return {Name: tr.dataset.name, Tops: boxes.map((r) => r.top), Bottoms: boxes.map((r) => r.bottom),
			ButtonsPerLine: [...lines.keys()].sort((a, b) => a - b).map((k) => lines.get(k))};
	})`))
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	for _, r := range rows {
		for i := 1; i < len(r.Tops); i++ {
			if math.Abs(r.Tops[i]-r.Tops[0]) > 0.5 || math.Abs(r.Bottoms[i]-r.Bottoms[0]) > 0.5 {
				t.Errorf("row %q: cell %d spans %.1f to %.1f px, the row %.1f to %.1f px", r.Name, i, r.Tops[i], r.Bottoms[i], r.Tops[0], r.Bottoms[0])
			}
		}
		if slices.Max(r.ButtonsPerLine)-slices.Min(r.ButtonsPerLine) > 1 {
			t.Errorf("row %q: the buttons are uneven, %v a line", r.Name, r.ButtonsPerLine)
		}
	}
}

// TestBrowserSetupShowsEveryProblem: a failed setup shows every problem
// next to its field, says the password fields were emptied, and puts the
// focus on the first field in trouble (issue 10, bug 5).
func TestBrowserSetupShowsEveryProblem(t *testing.T) {
	p := start(t)
	b := newBrowser(t)
	for _, tt := range []struct {
		name, password, confirm string
		errors                  map[string]string // input id -> its message
		focus                   string
	}{
		{"", "short", "short", map[string]string{"setup-name": "Enter a name.", "setup-password": "The password is too short."}, "setup-name"},
		{"kim", "short", "other", map[string]string{"setup-password": "The password is too short."}, "setup-password"},
		{"kim", adminPassword, "something else", map[string]string{"setup-password-confirm": "The two passwords differ."}, "setup-password-confirm"},
	} {
		b.do(fmt.Sprintf("submit name %q, password %q", tt.name, tt.password),
			chromedp.Navigate(p.base+"/setup"),
			chromedp.WaitVisible(chromedp.ID("setup-name")),
			chromedp.SendKeys(chromedp.ID("setup-name"), tt.name),
			chromedp.SendKeys(chromedp.ID("setup-password"), tt.password),
			chromedp.SendKeys(chromedp.ID("setup-password-confirm"), tt.confirm),
			chromedp.Click(chromedp.ID("setup-submit")),
			waitJS(`document.readyState === "complete" && document.querySelector('.field-error')`),
		)
		type field struct {
			ID, Value, Error string
			Invalid          bool
		}
		fields := run(b, "the fields", chromedp.Evaluate[[]field](`[...document.querySelectorAll('#main input')].map((input) => {
			// The message a person reads under the field: the next error before the next input.
			let error = '';
			for (let el = input.nextElementSibling; el && el.tagName !== 'INPUT'; el = el.nextElementSibling) {
				if (el.classList.contains('field-error') && el.getClientRects().length) error = el.innerText;
			}
			return {ID: input.id, Value: input.value, Error: error, Invalid: input.getAttribute('aria-invalid') === 'true'};
		})`))
		for _, f := range fields {
			if want := tt.errors[f.ID]; f.Error != want || f.Invalid != (want != "") {
				t.Errorf("%+v: field %s shows %q (aria-invalid %v), want %q", tt, f.ID, f.Error, f.Invalid, want)
			}
			if f.ID == "setup-name" && f.Value != tt.name {
				t.Errorf("%+v: the name field holds %q", tt, f.Value)
			}
			if f.ID != "setup-name" && f.Value != "" {
				t.Errorf("%+v: password field %s is refilled", tt, f.ID)
			}
		}
		if focus := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focus != tt.focus {
			t.Errorf("%+v: the focus is on %q, want %q", tt, focus, tt.focus)
		}
		if m := run(b, "the note", findMessage("type the password again", "")); !m.Found {
			t.Errorf("%+v: nothing says the password fields were emptied", tt)
		}
	}
}
