package e2e

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The screenshots in docs/screenshots/, which the README shows, are taken by
// TestScreenshots from the pages as they are, so that they never show a page
// that no longer exists.
const (
	screenshotWidth     = 1280      // a desktop
	screenshotMinHeight = 800       // the viewport; a longer page gets a taller picture
	screenshotMaxHeight = 2400      // a picture for a README, not a whole long list
	screenshotMaxBytes  = 300 << 10 // they are committed: keep them small
)

// screenshotUsers are the users the user list shows besides kim, the
// administrator who set userhub up.
var screenshotUsers = []string{
	`{"name":"lee","password":"a long secret phrase"}`,
	`{"name":"park","role":"admin","password":"another long phrase"}`,
	`{"name":"choi"}`,
	`{"name":"김민지","password":"tea at five every day"}`,
	`{"name":"Maria Santos"}`,
}

// TestScreenshots takes PNG screenshots of the login page and of the user
// list (as an administrator, with a handful of users), in English and in
// Korean, 1280 px wide, and checks that each is a PNG of the size asked for
// and small enough to commit. It writes them into docs/screenshots/ (as
// {login,users}-{en,ko}.png) only with USERHUB_UPDATE_SCREENSHOTS=1, which
// `make screenshots` sets; otherwise into a temporary directory, so that
// running the tests leaves the tree as it was.
func TestScreenshots(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("USERHUB_UPDATE_SCREENSHOTS") == "1" {
		// Screenshots for the docs must not be skipped quietly, nor show
		// Korean as empty boxes.
		if chromiumPath() == "" {
			t.Fatal("USERHUB_UPDATE_SCREENSHOTS=1, but " + noChromium)
		}
		if err := koreanFont(); err != nil {
			t.Fatalf("USERHUB_UPDATE_SCREENSHOTS=1, but %v", err)
		}
		dir = filepath.Join("..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else if err := koreanFont(); err != nil {
		t.Logf("the Korean screenshots will not read right: %v", err)
	}

	p := start(t)
	admin := p.setup(t)
	for _, u := range screenshotUsers {
		addUser(t, admin, p.base, u)
	}
	b := newBrowser(t)
	b.do("a desktop", chromedp.EmulateViewport(screenshotWidth, screenshotMinHeight), waitJS(fmt.Sprintf(`window.innerWidth === %d`, screenshotWidth)))

	b.do("the login page in English",
		chromedp.Navigate(p.base+"/login"),
		waitURL("/login"),
		waitText("h1", "Log in"),
	)
	b.screenshot(dir, "login-en.png")

	b.do("the login page in Korean",
		chromedp.Click(chromedp.CSS(`.lang-switch button[value="ko"]`)),
		waitURL("/login"),
		waitText("h1", "로그인"),
	)
	b.screenshot(dir, "login-ko.png")

	b.login(p.base, "kim", adminPassword)
	b.do("the user list in Korean",
		waitURL("/"),
		waitText("#home-greeting", "kim님 안녕하세요"),
		waitMessage("Maria Santos"),
	)
	b.screenshot(dir, "users-ko.png")

	b.do("the user list in English",
		chromedp.Click(chromedp.CSS(`.lang-switch button[value="en"]`)),
		waitURL("/"),
		waitText("#home-greeting", "Hello, kim"),
		waitMessage("Maria Santos"),
	)
	b.screenshot(dir, "users-en.png")
}

// screenshot takes a PNG of the page as a person sees it, 1280 px wide and
// as tall as the page (within limits), checks it, and writes it to
// dir/name.
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	// Nothing half-done in the picture: the fonts loaded, no focus ring or
	// caret (the login page puts the focus on the name field).
	b.do(name+": settle",
		waitJS(`document.readyState === "complete" && document.fonts.status === "loaded"`),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
	)
	height := run(b, name+": page height", chromedp.Evaluate[int64](`Math.ceil(document.documentElement.scrollHeight)`))
	height = min(max(height, screenshotMinHeight), screenshotMaxHeight)
	b.do(name+": viewport", chromedp.EmulateViewport(screenshotWidth, height))
	shot := run(b, name+": screenshot", chromedp.FullScreenshot(100))
	b.do(name+": viewport back", chromedp.EmulateViewport(screenshotWidth, screenshotMinHeight))

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		b.t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if size := img.Bounds().Size(); size.X != screenshotWidth || int64(size.Y) != height {
		b.t.Errorf("%s: %d×%d px, want %d×%d", name, size.X, size.Y, screenshotWidth, height)
	}
	if len(shot) > screenshotMaxBytes {
		b.t.Errorf("%s: %d KB, more than the %d KB a committed screenshot may take", name, len(shot)>>10, screenshotMaxBytes>>10)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("%s: %d×%d px, %d KB", path, screenshotWidth, height, len(shot)>>10)
}

// koreanFont says why Chromium would draw Korean as empty boxes: no font
// with Hangul that fontconfig knows of (Debian: apt-get install -y
// fonts-nanum), or nil.
func koreanFont() error {
	out, err := exec.Command("fc-list", ":lang=ko", "family").Output()
	if err != nil {
		return fmt.Errorf("cannot list the fonts with fc-list: %v", err)
	}
	if strings.TrimSpace(string(out)) == "" {
		return fmt.Errorf("no Korean font is installed (apt-get install -y fonts-nanum)")
	}
	return nil
}
