package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// totpCode is secret's authenticator code steps steps (30 s each) from
// now: the server accepts one step either side, each step once.
func totpCode(t testing.TB, secret string, steps int) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP turns an authenticator app on for the session's user through
// the API, and returns its secret and recovery codes.
func enrolTOTP(t *testing.T, base, session string) (secret string, recovery []string) {
	t.Helper()
	r, body := raw(t, "POST", base+"/api/v1/me/totp", "", "", session)
	var begun struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
	}
	if r.StatusCode != 201 || jsonUnmarshal(body, &begun) != nil || !strings.HasPrefix(begun.URL, "otpauth://totp/") {
		t.Fatalf("enrol: %d %s", r.StatusCode, body)
	}
	r, body = raw(t, "POST", base+"/api/v1/me/totp/confirm", jsonCT, `{"code":"`+totpCode(t, begun.Secret, 0)+`"}`, session)
	var confirmed struct {
		Codes []string `json:"recovery_codes"`
	}
	if r.StatusCode != 200 || jsonUnmarshal(body, &confirmed) != nil || len(confirmed.Codes) != 10 {
		t.Fatalf("confirm: %d %s", r.StatusCode, body)
	}
	return begun.Secret, confirmed.Codes
}

// TestTOTPOverHTTP: an authenticator app through the API of the running
// binary, each step a request and what it must answer: enrol, confirm, a
// password alone is refused, a current code logs in once, a recovery code
// once, wrong codes reach the throttle; `userhub user reset-2fa` lets the
// password alone in again.
func TestTOTPOverHTTP(t *testing.T) {
	p := start(t)
	p.setup(t)
	kim := sessionOf(t, apiLogin(t, p.base, "kim", adminPassword, ""))
	secret, recovery := enrolTOTP(t, p.base, kim)
	login := func(extra string) string {
		return `{"name":"kim","password":"` + adminPassword + `"` + extra + `}`
	}
	steps := []struct {
		name   string
		body   func() string
		status int
		want   string
	}{
		{"no code", func() string { return login("") }, 401, `"code":"second_factor_required"`},
		{"a current code", func() string { return login(`,"totp":"` + totpCode(t, secret, 1) + `"`) }, 200, `"name":"kim"`},
		{"the same code again", func() string { return login(`,"totp":"` + totpCode(t, secret, 1) + `"`) }, 401, `"code":"invalid_second_factor"`},
		{"a recovery code", func() string { return login(`,"recovery_code":"` + recovery[0] + `"`) }, 200, `"name":"kim"`},
		{"the recovery code again", func() string { return login(`,"recovery_code":"` + recovery[0] + `"`) }, 401, `"code":"invalid_second_factor"`},
	}
	for _, s := range steps {
		if r, body := raw(t, "POST", p.base+"/api/v1/login", jsonCT, s.body(), ""); r.StatusCode != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("%s: %d %s, want %d %s", s.name, r.StatusCode, body, s.status, s.want)
		}
	}
	// The step before counted one failure (the recovery code used twice);
	// four more reach the limit of five, and the next is refused.
	for i := 2; i <= 6; i++ {
		r, body := raw(t, "POST", p.base+"/api/v1/login", jsonCT, login(`,"totp":"000000"`), "")
		want := 401
		if i == 6 {
			want = 429
		}
		if r.StatusCode != want {
			t.Fatalf("wrong code %d: %d %s, want %d", i, r.StatusCode, body, want)
		}
		if want == 429 && r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}

	cmd := exec.Command(binary, "user", "reset-2fa", "kim")
	cmd.Env = []string{"USERHUB_DATA_DIR=" + p.dataDir, "PATH=" + os.Getenv("PATH")}
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "second factors and passkeys of kim removed") {
		t.Fatalf("userhub user reset-2fa kim: %v\n%s", err, out)
	}
	if r, _ := raw(t, "GET", p.base+"/api/v1/me", "", "", kim); r.StatusCode != 401 {
		t.Errorf("kim's session after reset-2fa: %d, want 401", r.StatusCode)
	}
	if strings.Contains(p.output(), secret) || strings.Contains(p.output(), recovery[1]) {
		t.Error("the log holds the secret or a recovery code")
	}
}

// TestBrowserTOTP: enrol an authenticator app on /account/security (the
// secret read from the page, its code computed here), log out, log in with
// the password and then the code on /login/2fa, and land on the home page;
// the second step in Korean too.
func TestBrowserTOTP(t *testing.T) {
	p := start(t)
	p.setup(t)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	b.do("the account page links to the security page", waitURL("/"), chromedp.Navigate(p.base+"/account"),
		chromedp.Click(chromedp.ID("security-link")), waitURL("/account/security"),
		waitText("#totp-state", "No authenticator app is set up."))
	b.do("set up an authenticator app", chromedp.Click(chromedp.ID("totp-begin")), waitURL("/account/security"),
		waitText("main", "Scan this QR code with your authenticator app"),
		waitJS(`document.getElementById('totp-qr').complete && document.getElementById('totp-qr').naturalWidth > 0`))
	secret := run(b, "the secret on the page", chromedp.Evaluate[string](`document.getElementById('totp-secret').textContent`))
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("the page shows %q as the secret", secret)
	}
	b.do("turn it on", setField("totp-code", totpCode(t, secret, 0)), chromedp.Click(chromedp.ID("totp-confirm-submit")),
		waitText("#recovery-heading", "The authenticator app is on"),
		waitText(".recovery-codes .status", "they are shown only this once"))
	codes := run(b, "the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes li').length`))
	if codes != 10 {
		t.Fatalf("%d recovery codes shown, want 10", codes)
	}
	b.do("the page says so", chromedp.Navigate(p.base+"/account/security"),
		waitText("#totp-state", "An authenticator app is set up"), waitText("#totp-state", "Recovery codes left: 10."))

	logOutAndIn := func() {
		b.do("log out", chromedp.Click(chromedp.ID("logout")), waitURL("/login"))
		b.login(p.base, "kim", adminPassword)
		b.do("the second step", waitURL("/login/2fa"))
	}
	logOutAndIn()
	b.do("a wrong code", waitText("#login-2fa-intro", "Type the code your authenticator app shows now"),
		setField("login-code", "000000"), chromedp.Click(chromedp.ID("login-2fa-submit")),
		waitText("#login-error", "That code is not right, or was used already."))
	b.do("the right code", setField("login-code", totpCode(t, secret, 1)), chromedp.Click(chromedp.ID("login-2fa-submit")),
		waitURL("/"), waitText("h1", "Users"))

	// In Korean.
	b.setLanguage(p.base, "ko")
	b.do("log out", chromedp.Navigate(p.base+"/"), waitURL("/"),
		chromedp.Click(chromedp.ID("logout")), waitURL("/login"))
	b.login(p.base, "kim", adminPassword)
	b.do("the second step in Korean", waitURL("/login/2fa"),
		waitText("#login-2fa-intro", "인증 앱에 지금 표시된 코드나 복구 코드 하나를 입력하세요."))
}
