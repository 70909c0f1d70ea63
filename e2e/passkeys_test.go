package e2e

import (
	"net"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// addAuthenticator gives the browser's tab a virtual platform authenticator
// that keeps discoverable credentials and verifies its user (as a phone's
// fingerprint reader does), answering at once.
func (b *browser) addAuthenticator() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// TestBrowserPasskeys: in Chromium with a virtual authenticator, register a
// passkey on /account/security, log out, sign in with it on /login (no name
// typed) and land on the home page, see it used, remove it; a removed
// passkey no longer signs in.
func TestBrowserPasskeys(t *testing.T) {
	p := start(t)
	p.setup(t)
	_, port, _ := net.SplitHostPort(p.base[len("http://"):])
	base := "http://localhost:" + port // a passkey belongs to a domain, not an address
	b := newBrowser(t)
	b.addAuthenticator()
	b.login(base, "kim", adminPassword)
	b.do("the security page", waitURL("/"), chromedp.Navigate(base+"/account/security"), waitURL("/account/security"),
		waitText("#passkeys-empty", "You have no passkeys yet."),
		waitJS(`!document.getElementById('passkey-register').hidden`))
	b.do("add a passkey", setField("passkey-name", "test laptop"), chromedp.Click(chromedp.ID("passkey-register-submit")),
		waitText("#passkey-added", "The passkey was added."),
		waitText("table.passkeys tbody", "test laptop"), waitText("table.passkeys tbody", "Never"))

	b.do("log out", chromedp.Click(chromedp.ID("logout")), waitURL("/login"),
		waitJS(`!document.getElementById('passkey-login-box').hidden`))
	b.do("sign in with the passkey", waitText("#passkey-login", "Sign in with a passkey"),
		chromedp.Click(chromedp.ID("passkey-login")), waitURL("/"), waitText("h1", "Users"))
	b.do("the passkey has been used", chromedp.Navigate(base+"/account/security"), waitURL("/account/security"),
		waitJS(`!document.querySelector('table.passkeys tbody').textContent.includes('Never')`),
		waitText("table.passkeys tbody", "UTC"))

	b.do("remove it", chromedp.Click(chromedp.CSS(`table.passkeys button.danger`)),
		waitText("#passkey-removed", "The passkey was removed. It no longer signs you in."),
		waitText("#passkeys-empty", "You have no passkeys yet."))
	b.do("log out", chromedp.Click(chromedp.ID("logout")), waitURL("/login"),
		waitJS(`!document.getElementById('passkey-login-box').hidden`))
	b.do("the removed passkey is refused", chromedp.Click(chromedp.ID("passkey-login")),
		waitText("#passkey-status", "The passkey did not work."))
	if path := run(b, "where the browser is", chromedp.Evaluate[string](`location.pathname`)); path != "/login" {
		t.Fatalf("after a refused passkey the browser is at %s", path)
	}
}
