package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser tests drive the system's Chromium, headless, through chromedp:
// what a person sees and does in the pages, with the real JavaScript.

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
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
	t.Skip("browser tests skipped: no Chromium (apt-get install -y chromium, or set USERHUB_TEST_CHROMIUM)")
	return ""
}

// browser is one headless Chromium with a fresh profile, and a tab in it.
type browser struct {
	t   *testing.T
	ctx context.Context
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
	// Accept every confirm() (the delete confirmation).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return &browser{t: t, ctx: ctx}
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
		waitText("#status", "Added lee."),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"]`)),
		waitText(`tr[data-name="lee"] .role`, "Member"),
	)
	b.do("a duplicate name is refused with a message",
		chromedp.SendKeys(chromedp.ID("add-name"), "LEE"),
		chromedp.Click(chromedp.CSS(`#add-user button[type="submit"]`)),
		waitText("#status", "Another user already has this name"),
		chromedp.Clear(chromedp.ID("add-name")),
	)
	b.do("rename",
		chromedp.Click(chromedp.CSS(`tr[data-name="lee"] button[data-action="rename"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"] input[type="text"]`)),
		chromedp.SetValue(chromedp.CSS(`tr[data-name="lee"] input[type="text"]`), "park"),
		chromedp.Click(chromedp.CSS(`tr[data-name="lee"] button[data-action="save"]`)),
		waitText("#status", "Renamed to park."),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="park"]`)),
	)
	b.do("make administrator",
		chromedp.Click(chromedp.CSS(`tr[data-name="park"] button[data-action="role"]`)),
		waitText(`tr[data-name="park"] .role`, "Administrator"),
		waitText("#status", "The role is now: Administrator."),
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
		`document.querySelectorAll('#add-user, button[data-action], #users th:nth-child(4)').length`))
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
		waitText("#status", "김철수 사용자를 추가했습니다."),
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
