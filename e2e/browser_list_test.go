package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// Browser tests of what an administrator does with the user list beyond
// one row at a time: search, filter, sort, page, select several; and of
// what a person sees when their session ends under them (issue 10).

const memberPassword = "a long secret phrase"

// setField sets a form field's value as a person's typing or choosing
// would, with the events that follow.
func setField(id, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.getElementById(%q);
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, id, value))
}

// rowNames are the names the list shows, in order, as a person reads them.
func rowNames(b *browser) []string {
	return run(b, "the names in the list", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#users tbody .name-text')].map((el) => el.innerText)`))
}

// TestBrowserListControls: search as you type, the role filter, the sort,
// the page size with next and previous, the count, last login and the
// no-password mark, all as a person sees them.
func TestBrowserListControls(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	for i := range 24 {
		addUser(t, admin, p.base, fmt.Sprintf(`{"name":"user%02d"}`, i))
	}
	addUser(t, admin, p.base, `{"name":"park","role":"admin","password":"`+memberPassword+`"}`)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	b.do("the list counts everyone", waitURL("/"), waitText("#count", "26 users"))

	b.do("search as you type",
		chromedp.SendKeys(chromedp.ID("search"), "user1"),
		waitText("#count", "10 users"),
		waitJS(`location.search.includes('q=user1')`),
	)
	if names := rowNames(b); len(names) != 10 || names[0] != "user10" || names[9] != "user19" {
		t.Errorf("searching user1 shows %q, want user10 to user19 in name order", names)
	}
	if hint := run(b, "the sort hint", chromedp.Evaluate[bool](`!document.getElementById('sort-hint').hidden`)); !hint {
		t.Error("a search does not say its results come in name order")
	}
	b.do("a search that finds nobody says so",
		chromedp.SendKeys(chromedp.ID("search"), "x"),
		waitText("#empty", "No user matches."),
		waitText("#count", "0 users"),
	)

	b.do("clear the search, only administrators",
		setField("search", ""),
		setField("filter-role", "admin"),
		waitText("#count", "2 users"),
	)
	if names := rowNames(b); strings.Join(names, " ") != "park kim" {
		t.Errorf("administrators, newest first: %q, want park kim", names)
	}
	// kim logged in; park never has; user00 has no password.
	if got := run(b, "kim's last login", chromedp.Evaluate[string](`document.querySelector('tr[data-name="kim"] td:nth-child(5)').innerText`)); got == "Never" || got == "" {
		t.Errorf("kim's last login reads %q, want a time", got)
	}
	b.do("park has never logged in", waitText(`tr[data-name="park"] td:nth-child(5)`, "Never"))

	b.do("every role, by name, 10 a page",
		chromedp.Navigate(p.base+"/"),
		waitURL("/"),
		setField("sort", "name"),
		setField("limit", "10"),
		waitJS(`location.search.includes('sort=name') && location.search.includes('limit=10')`),
		waitText(`#users tbody tr:first-child .name-text`, "kim"),
	)
	if names := rowNames(b); len(names) != 10 || names[1] != "park" || names[2] != "user00" {
		t.Errorf("by name, 10 a page: %q", names)
	}
	b.do("the no-password mark shows", chromedp.WaitVisible(chromedp.CSS(`tr[data-name="user00"] [data-badge="no-password"]`)),
		waitText(`tr[data-name="user00"] td.name`, "No password"))
	if shown := run(b, "kim's mark", chromedp.Evaluate[bool](`document.querySelector('tr[data-name="kim"] [data-badge="no-password"]').checkVisibility()`)); shown {
		t.Error("kim, who has a password, is marked as having none")
	}
	b.do("next page",
		chromedp.Click(chromedp.CSS(`#pager a[rel="next"]`)),
		waitText(`#users tbody tr:first-child .name-text`, "user08"),
		chromedp.WaitVisible(chromedp.CSS(`#pager a[rel="prev"]`)),
	)
	b.do("previous page",
		chromedp.Click(chromedp.CSS(`#pager a[rel="prev"]`)),
		waitText(`#users tbody tr:first-child .name-text`, "kim"),
	)
	if got := run(b, "the sort kept", chromedp.Value(chromedp.ID("sort"))); got != "name" {
		t.Errorf("after paging the sort reads %q, want name", got)
	}
}

// TestBrowserSuspend: an administrator suspends a member who is using the
// site; the member's next click lands on the login page saying the
// session ended, and their password is refused with the reason; restored,
// they log in again.
func TestBrowserSuspend(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	id := addUser(t, admin, p.base, `{"name":"lee","password":"`+memberPassword+`"}`)
	member := newBrowser(t)
	member.login(p.base, "lee", memberPassword)
	member.do("lee's home", waitURL("/"), waitText("#home-greeting", "Hello, lee"))

	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	row := fmt.Sprintf(`tr[data-id="%d"]`, id)
	b.do("suspend lee",
		waitURL("/"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="suspend"]`)),
		waitText(row+` [role="status"]`, "lee is suspended and has been logged out."),
		chromedp.WaitVisible(chromedp.CSS(row+` [data-badge="suspended"]`)),
		waitText(row+` button[data-action="suspend"]`, "Restore"),
	)
	if d := b.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], "Suspend lee?") {
		t.Errorf("the confirmation said %q", d)
	}
	member.do("lee's session has ended",
		chromedp.Navigate(p.base+"/account"),
		waitURL("/login"),
		waitText("#login-ended", "Your session has ended. Log in again."),
	)
	member.login(p.base, "lee", memberPassword)
	member.do("lee's password is refused, with the reason", waitText("#login-error", "This account is suspended."))

	b.do("restore lee",
		chromedp.Click(chromedp.CSS(row+` button[data-action="suspend"]`)),
		waitText(row+` [role="status"]`, "lee can log in again."),
		chromedp.WaitNotVisible(chromedp.CSS(row+` [data-badge="suspended"]`)),
	)
	member.login(p.base, "lee", memberPassword)
	member.do("lee is back", waitURL("/"), waitText("#home-greeting", "Hello, lee"))
}

// TestBrowserBulkActions: several users selected, one confirmation, each
// row updated, one summary.
func TestBrowserBulkActions(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	for _, name := range []string{"a1", "a2", "a3", "b1", "b2"} {
		addUser(t, admin, p.base, `{"name":"`+name+`"}`)
	}
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	sel := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(`tr[data-name="` + name + `"] .select-row`))
	}
	b.do("select three and suspend them",
		waitURL("/"),
		sel("a1"), sel("a2"), sel("a3"),
		waitText("#bulk-count", "3 selected"),
		chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="suspend"]`)),
		waitText("#status", "Suspended 3 users."),
	)
	if d := b.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], "Suspend 3 users?") {
		t.Errorf("the confirmations said %q, want one for the three", d)
	}
	suspended := run(b, "suspended rows", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('#users tbody tr')].filter((tr) => tr.querySelector('[data-badge="suspended"]').checkVisibility()).map((tr) => tr.dataset.name)`))
	if strings.Join(suspended, " ") != "a3 a2 a1" {
		t.Errorf("rows marked suspended: %q, want a3 a2 a1", suspended)
	}
	b.do("restore two of them, without a confirmation",
		sel("a1"), sel("a2"),
		chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="restore"]`)),
		waitText("#status", "Restored 2 users."),
		chromedp.WaitNotVisible(chromedp.CSS(`tr[data-name="a1"] [data-badge="suspended"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="a3"] [data-badge="suspended"]`)),
	)
	if d := b.dialogsSeen(); len(d) != 0 {
		t.Errorf("restoring asked %q", d)
	}
	b.do("select all, then delete two of them",
		chromedp.Click(chromedp.ID("select-all")),
		waitText("#bulk-count", "5 selected"),
		chromedp.Click(chromedp.ID("select-all")),
		waitText("#bulk-count", "0 selected"),
		sel("b1"), sel("b2"),
		chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="delete"]`)),
		waitText("#status", "Deleted 2 users."),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-name="b1"]`)),
		waitText("#count", "4 users"),
	)
	if d := b.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], "Delete 2 users?") {
		t.Errorf("the confirmations said %q", d)
	}
	b.do("nothing selected: the bulk buttons say what to do",
		chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="restore"]`)),
		waitText("#status", "Select users first"),
	)
	// On the server too.
	resp, body := doWith(t, admin, "GET", p.base+"/api/v1/users?q=a", "", "")
	if resp.StatusCode != http.StatusOK || strings.Count(body, `"suspended":true`) != 1 {
		t.Errorf("the server's a-users: %s %s", resp.Status, body)
	}
}

// TestBrowserConfirmations: a role change asks first and names the user,
// and so does the message after; Set password asks for the password twice
// and shows the rules; deleting one's own account warns that it is one's
// own, then shows the login page saying the session ended.
func TestBrowserConfirmations(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	id := addUser(t, admin, p.base, `{"name":"lee"}`)
	addUser(t, admin, p.base, `{"name":"park","role":"admin","password":"`+memberPassword+`"}`)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	row := fmt.Sprintf(`tr[data-id="%d"]`, id)
	b.do("make lee an administrator",
		waitURL("/"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="role"]`)),
		waitText(row+` [role="status"]`, "lee is now an administrator."),
	)
	if d := b.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], "Make lee an administrator?") {
		t.Errorf("the role confirmation said %q", d)
	}

	b.do("set lee's password: the rules show, and two differing passwords are refused",
		chromedp.Click(chromedp.CSS(row+` button[data-action="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+` input[id^="password-confirm-"]`)),
		waitText(row+` .inline-form .hint`, "At least 12 characters"),
		chromedp.SendKeys(chromedp.CSS(row+` input[id^="password-"]:not([id^="password-confirm-"])`), "one long password"),
		chromedp.SendKeys(chromedp.CSS(row+` input[id^="password-confirm-"]`), "another long password"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="save"]`)),
		waitText(row+` [role="alert"]`, "The two passwords differ."),
	)
	b.do("the same password twice is set",
		chromedp.SetValue(chromedp.CSS(row+` input[id^="password-confirm-"]`), "one long password"),
		chromedp.Click(chromedp.CSS(row+` button[data-action="save"]`)),
		waitText(row+` [role="status"]`, "New password set for lee"),
	)
	if d := b.dialogsSeen(); len(d) != 0 {
		t.Errorf("setting a password asked %q", d)
	}

	b.do("delete kim's own account",
		chromedp.Click(chromedp.CSS(`tr[data-name="kim"] button[data-action="delete"]`)),
		waitURL("/login"),
		waitText("#login-ended", "Your session has ended. Log in again."),
	)
	if d := b.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], "This is your own account, kim.") {
		t.Errorf("the self-delete confirmation said %q", d)
	}
}

// TestBrowserEndedSessionSaysSo: when an administrator sets a member's
// password, the member's next action on the page (a fetch) and next page
// (a navigation) both land on the login page saying the session ended.
func TestBrowserEndedSessionSaysSo(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	id := addUser(t, admin, p.base, `{"name":"lee","password":"`+memberPassword+`"}`)
	b := newBrowser(t)
	b.login(p.base, "lee", memberPassword)
	b.do("lee's account page", waitURL("/"), chromedp.Navigate(p.base+"/account"), chromedp.WaitVisible(chromedp.ID("account-name-input")))

	if resp, body := doWith(t, admin, "PATCH", fmt.Sprintf("%s/api/v1/users/%d", p.base, id), jsonCT, `{"password":"set by an administrator"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("set lee's password: %s %s", resp.Status, body)
	}
	b.do("a rename after the session ended",
		chromedp.SetValue(chromedp.ID("account-name-input"), "lee2"),
		chromedp.Click(chromedp.CSS(`#account-name button[type="submit"]`)),
		waitURL("/login"),
		waitText("#login-ended", "Your session has ended. Log in again."),
	)
	b.login(p.base, "lee", "set by an administrator")
	b.do("logged in again", waitURL("/"), waitText("#home-greeting", "Hello, lee"))

	if resp, body := doWith(t, admin, "PATCH", fmt.Sprintf("%s/api/v1/users/%d", p.base, id), jsonCT, `{"password":"set once more, by an admin"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("set lee's password again: %s %s", resp.Status, body)
	}
	b.do("a page after the session ended",
		chromedp.Navigate(p.base+"/"),
		waitURL("/login"),
		waitText("#login-ended", "Your session has ended. Log in again."),
	)
}

// TestBrowserPhoneLabels: on a phone, where the table's header is hidden,
// each value in a user's card is named ("Role: Member").
func TestBrowserPhoneLabels(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	addUser(t, admin, p.base, `{"name":"lee"}`)
	b := newBrowser(t)
	b.do("phone", chromedp.Emulate(device.IPhone12))
	b.login(p.base, "kim", adminPassword)
	b.do("home", waitURL("/"), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="lee"]`)))
	text := run(b, "lee's card", chromedp.Evaluate[string](`(() => {
		const tr = document.querySelector('tr[data-name="lee"]');
		return [...tr.cells].map((td) => getComputedStyle(td, '::before').content.replace(/^"|"$/g, '') + td.innerText.split('\n')[0]).join(' | ');
	})()`))
	for _, want := range []string{"Role: Member", "Created: ", "Last login: Never"} {
		if !strings.Contains(text, want) {
			t.Errorf("lee's card reads %q, lacking %q", text, want)
		}
	}
	if hidden := run(b, "the header", chromedp.Evaluate[bool](`document.querySelector('#users thead').getBoundingClientRect().right <= 0`)); !hidden {
		t.Error("the table header is visible on the phone, so this test checks nothing")
	}
}

// TestBrowserTokens: from the account page, a person makes an API token,
// sees it once, a program uses it, and the person revokes it; the page
// says each step in words.
func TestBrowserTokens(t *testing.T) {
	p := start(t)
	p.setup(t)
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	b.do("the account page links to the tokens", waitURL("/"), chromedp.Navigate(p.base+"/account"),
		chromedp.Click(chromedp.ID("tokens-link")), waitURL("/account/tokens"),
		waitText("#tokens-empty", "You have no tokens yet."))
	b.do("create a token",
		setField("token-name", "nightly backup"),
		chromedp.Click(chromedp.CSS(`input[name="scopes"][value="write"]`)),
		chromedp.Click(chromedp.ID("token-submit")),
		waitText(".token-new .status", "Copy this token now. It is shown only this once"),
		waitText("#token-new-heading", "Token “nightly backup” created"),
	)
	secret := run(b, "the token shown", chromedp.Evaluate[string](`document.getElementById('token-secret').value`))
	if !strings.HasPrefix(secret, "uh_") {
		t.Fatalf("the page shows %q as the token", secret)
	}
	useToken := func() int {
		req, _ := http.NewRequest("GET", p.base+"/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := useToken(); code != http.StatusOK {
		t.Fatalf("a program with the token from the page: %d", code)
	}
	b.do("the list names it by its start, never whole",
		chromedp.Navigate(p.base+"/account/tokens"),
		waitText("table.tokens tbody", "nightly backup"),
		waitText("table.tokens tbody", secret[:9]+"…"),
		waitText("table.tokens tbody", "read, write"),
	)
	if page := run(b, "the page's text", chromedp.Evaluate[string](`document.body.innerText`)); strings.Contains(page, secret) {
		t.Fatal("the list page shows the whole token")
	}
	b.do("revoke it", chromedp.Click(chromedp.CSS(`table.tokens button.danger`)),
		waitText("#token-revoked", "The token was revoked. It no longer works."),
		waitText("#tokens-empty", "You have no tokens yet."))
	if code := useToken(); code != http.StatusUnauthorized {
		t.Errorf("the revoked token: %d, want 401", code)
	}
}

// TestBrowserSessions: a person sees where they are logged in (this
// browser marked, a program's session beside it) and ends the other
// sessions; the program's cookie stops working at once.
func TestBrowserSessions(t *testing.T) {
	p := start(t)
	program := p.setup(t) // a session of a Go program
	b := newBrowser(t)
	b.login(p.base, "kim", adminPassword)
	b.do("the sessions page, from the account page", waitURL("/"), chromedp.Navigate(p.base+"/account"),
		chromedp.Click(chromedp.ID("sessions-link")), waitURL("/account/sessions"),
		waitText("table.sessions tbody", "This session"),
		waitText("table.sessions tbody", "Go program"),
		waitText("table.sessions tbody", "Chrome, Linux"),
	)
	b.do("end the others", chromedp.Click(chromedp.ID("end-others")),
		waitText("#sessions-ended", "Sessions ended: 1. They are logged out now."))
	if rows := run(b, "rows left", chromedp.Evaluate[int](`document.querySelectorAll('table.sessions tbody tr').length`)); rows != 1 {
		t.Errorf("%d sessions listed after ending the others, want 1", rows)
	}
	resp, _ := doWith(t, program, "GET", p.base+"/api/v1/me", "", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the program's session after it was ended: %d, want 401", resp.StatusCode)
	}
}
