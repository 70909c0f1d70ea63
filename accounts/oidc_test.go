package accounts_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
	"userhub/store"
)

const issuer = "https://id.example.com"

// oidcWorld is a service with single sign-on under o, over a fresh
// database with kim (admin, password) and lee (member, password).
func oidcWorld(t *testing.T, o accounts.OIDCOptions) (*accounts.Service, *store.Store, *outcomes) {
	t.Helper()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "o.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	seen := &outcomes{}
	svc := accounts.New(accounts.Options{Store: db, Counter: db, Passkeys: db, SecondFactors: db, OIDCLinks: db, OIDC: o, Audit: db,
		Auth: config.Default().Auth, Logins: seen, Log: slog.New(slog.DiscardHandler),
		Hasher: accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 2, 10*time.Second)})
	pw := password
	for _, u := range []struct {
		name string
		role models.Role
	}{{"kim", models.RoleAdmin}, {"lee", models.RoleMember}} {
		if _, err := svc.Create(ctx, auth.Operator(), accounts.NewAccount{Name: u.name, Role: u.role, Password: &pw}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, db, seen
}

func session(t *testing.T, db *store.Store, name string) auth.Principal {
	t.Helper()
	u, err := db.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return auth.Principal{User: u, Method: auth.MethodSession}
}

func identity(sub, name string, groups ...string) models.OIDCIdentity {
	return models.OIDCIdentity{Issuer: issuer, Subject: sub, Name: name, Groups: groups, HasGroups: groups != nil}
}

// TestOIDCLoginFindsOnlyLinks: a sign-in finds the account linked to its
// issuer and subject, never one by the name claim; without create_users an
// unlinked subject logs nobody in.
func TestOIDCLoginFindsOnlyLinks(t *testing.T) {
	svc, db, seen := oidcWorld(t, accounts.OIDCOptions{})
	// The provider calls this person "kim": that is not kim's account.
	_, err := svc.LogInWithOIDC(ctx, identity("s-1", "kim"), "192.0.2.1")
	if !errors.Is(err, models.ErrNoOIDCLink) {
		t.Fatalf("unlinked subject named kim: %v, want ErrNoOIDCLink", err)
	}
	if err := svc.LinkOIDC(ctx, session(t, db, "lee"), identity("s-1", "kim")); err != nil {
		t.Fatal(err)
	}
	l, err := svc.LogInWithOIDC(ctx, identity("s-1", "kim"), "192.0.2.1")
	if err != nil || l.User.Name != "lee" {
		t.Fatalf("linked subject: %+v, %v; want lee", l.User, err)
	}
	// The same subject at another issuer is another person.
	other := identity("s-1", "lee")
	other.Issuer = "https://other.example.com"
	if _, err := svc.LogInWithOIDC(ctx, other, "192.0.2.1"); !errors.Is(err, models.ErrNoOIDCLink) {
		t.Fatalf("same subject, other issuer: %v", err)
	}
	if want := (outcomes{accounts.LoginNotLinked, accounts.LoginOK, accounts.LoginNotLinked}); !slices.Equal(*seen, want) {
		t.Errorf("observed %v, want %v", *seen, want)
	}
	// A subject linked already cannot be linked again, to anyone.
	if err := svc.LinkOIDC(ctx, session(t, db, "kim"), identity("s-1", "x")); !errors.Is(err, models.ErrOIDCLinkTaken) {
		t.Errorf("second link of s-1: %v", err)
	}
}

// TestOIDCCreatesUsers: with create_users, a first sign-in makes an
// account named after the claim, made valid and unique, and links it; the
// next sign-in finds the same account.
func TestOIDCCreatesUsers(t *testing.T) {
	svc, _, _ := oidcWorld(t, accounts.OIDCOptions{CreateUsers: true})
	for _, tt := range []struct {
		sub, claim, want string
	}{
		{"s-1", "han", "han"},
		{"s-2", "kim", "kim-2"}, // kim exists (and is someone else)
		{"s-3", "KIM", "kim-3"}, // names ignore case
		{"s-4", "", "user"},
		{"s-5", "bad\u0000name", "badname"},
		{"s-8", "kim lee\u200b", "kim-lee"},
		{"s-6", strings.Repeat("a", 80), strings.Repeat("a", 64)},
		{"s-7", strings.Repeat("a", 80), strings.Repeat("a", 62) + "-2"},
	} {
		l, err := svc.LogInWithOIDC(ctx, identity(tt.sub, tt.claim), "192.0.2.1")
		if err != nil || !strings.EqualFold(l.User.Name, tt.want) || l.User.Role != models.RoleMember {
			t.Errorf("claim %q: %+v, %v; want a member named %s", tt.claim, l.User, err, tt.want)
		}
		again, err := svc.LogInWithOIDC(ctx, identity(tt.sub, "renamed at the provider"), "192.0.2.1")
		if err != nil || again.User.ID != l.User.ID {
			t.Errorf("second sign-in of %s: %+v, %v; want the same account", tt.sub, again.User, err)
		}
	}
}

// TestOIDCRoleFollowsGroups: with an admin group, the role is the groups
// claim's at each login; without the claim it stays; the last
// administrator stays one.
func TestOIDCRoleFollowsGroups(t *testing.T) {
	svc, db, _ := oidcWorld(t, accounts.OIDCOptions{CreateUsers: true, AdminGroup: "admins"})
	login := func(id models.OIDCIdentity) models.User {
		t.Helper()
		l, err := svc.LogInWithOIDC(ctx, id, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		return l.User
	}
	if u := login(identity("ann", "ann", "admins", "staff")); u.Role != models.RoleAdmin {
		t.Errorf("created in admins: %s", u.Role)
	}
	if u := login(identity("bo", "bo", "staff")); u.Role != models.RoleMember {
		t.Errorf("created outside admins: %s", u.Role)
	}
	if u := login(identity("bo", "bo", "admins")); u.Role != models.RoleAdmin {
		t.Errorf("bo joined admins: %s", u.Role)
	}
	// No groups claim at all (Dex leaves out an empty one): in no group.
	if u := login(identity("bo", "bo")); u.Role != models.RoleMember {
		t.Errorf("no groups claim: role %s, want member", u.Role)
	}
	if u := login(identity("bo", "bo", "admins")); u.Role != models.RoleAdmin {
		t.Errorf("bo back in admins: %s", u.Role)
	}
	if u := login(identity("bo", "bo", "staff")); u.Role != models.RoleMember {
		t.Errorf("bo left admins: %s", u.Role)
	}
	// kim and ann are the admins; kim leaves (by a link), then ann leaves
	// the group: ann stays the last admin.
	if err := svc.LinkOIDC(ctx, session(t, db, "kim"), identity("kim", "kim")); err != nil {
		t.Fatal(err)
	}
	if u := login(identity("kim", "kim", "staff")); u.Role != models.RoleMember {
		t.Errorf("kim left admins: %s", u.Role)
	}
	if u := login(identity("ann", "ann", "staff")); u.Role != models.RoleAdmin {
		t.Errorf("the last admin left the group: %s; want admin still", u.Role)
	}
}

// TestOIDCSkipsOwnSecondFactorAndSuspension: the provider's login is
// trusted whole (an account's TOTP is not asked for), but a suspended
// account stays out.
func TestOIDCSuspendedStaysOut(t *testing.T) {
	svc, db, seen := oidcWorld(t, accounts.OIDCOptions{})
	lee := session(t, db, "lee")
	if err := svc.LinkOIDC(ctx, lee, identity("s-lee", "lee")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateUser(ctx, lee.User.ID, models.UserChange{Suspended: new(true)}); err != nil {
		t.Fatal(err)
	}
	*seen = nil
	if _, err := svc.LogInWithOIDC(ctx, identity("s-lee", "lee"), "192.0.2.1"); !errors.Is(err, models.ErrSuspended) {
		t.Fatalf("suspended: %v", err)
	}
	if !slices.Equal(*seen, outcomes{accounts.LoginSuspended}) {
		t.Errorf("observed %v", *seen)
	}
	entries, _, err := db.AuditLog(ctx, models.AuditQuery{Action: models.AuditLoginFailed, Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].TargetName != "lee" || entries[0].Details["reason"] != "the account is suspended" {
		t.Errorf("the audit log's failed logins: %+v, %v", entries, err)
	}
}

// TestOIDCUnlinkKeepsAWayIn: a link goes unless it is the last way in; a
// password counts only while password login is on.
func TestOIDCUnlinkKeepsAWayIn(t *testing.T) {
	for _, off := range []bool{false, true} {
		svc, db, _ := oidcWorld(t, accounts.OIDCOptions{CreateUsers: true, PasswordLoginOff: off})
		// A provider-made account: no password, no passkey, one link.
		l, err := svc.LogInWithOIDC(ctx, identity("s-new", "new"), "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		fresh := auth.Principal{User: l.User, Method: auth.MethodSession}
		if err := svc.UnlinkOIDC(ctx, fresh, issuer, "s-new"); !errors.Is(err, accounts.ErrLastWayIn) {
			t.Errorf("off=%v: unlinking the only way in: %v", off, err)
		}
		lee := session(t, db, "lee")
		if err := svc.LinkOIDC(ctx, lee, identity("s-lee", "lee")); err != nil {
			t.Fatal(err)
		}
		err = svc.UnlinkOIDC(ctx, lee, issuer, "s-lee")
		switch {
		case off && !errors.Is(err, accounts.ErrLastWayIn):
			t.Errorf("password login off: a password is no way in, unlink gave %v", err)
		case !off && err != nil:
			t.Errorf("lee has a password: unlink gave %v", err)
		}
		if err := svc.UnlinkOIDC(ctx, session(t, db, "kim"), issuer, "s-new"); !errors.Is(err, models.ErrNoOIDCLink) {
			t.Errorf("unlinking another's link: %v", err)
		}
		if err := svc.UnlinkOIDC(ctx, auth.Principal{User: lee.User, Method: auth.MethodToken}, issuer, "s-lee"); err == nil {
			t.Error("a token unlinked")
		}
	}
}

// TestPasswordLoginOff: with disable_password_login, the right password
// logs nobody in, and says why.
func TestPasswordLoginOff(t *testing.T) {
	svc, _, seen := oidcWorld(t, accounts.OIDCOptions{PasswordLoginOff: true})
	*seen = nil
	if _, err := svc.Authenticate(ctx, "kim", password, "192.0.2.1"); !errors.Is(err, accounts.ErrPasswordLoginOff) {
		t.Fatalf("password login: %v", err)
	}
	if !slices.Equal(*seen, outcomes{accounts.LoginPasswordOff}) {
		t.Errorf("observed %v", *seen)
	}
}

// TestOIDCAudited: what single sign-on changes is in the audit log: the
// account it creates, the role from the groups claim, the login (method
// oidc), a link and an unlink.
func TestOIDCAudited(t *testing.T) {
	svc, db, _ := oidcWorld(t, accounts.OIDCOptions{CreateUsers: true, AdminGroup: "admins"})
	if _, err := svc.LogInWithOIDC(ctx, identity("s-ann", "ann", "staff"), "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.LogInWithOIDC(ctx, identity("s-ann", "ann", "admins"), "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	lee := session(t, db, "lee")
	if err := svc.LinkOIDC(ctx, lee, identity("s-lee", "lee")); err != nil {
		t.Fatal(err)
	}
	if err := svc.UnlinkOIDC(ctx, lee, issuer, "s-lee"); err != nil {
		t.Fatal(err)
	}
	entries, _, err := db.AuditLog(ctx, models.AuditQuery{Oldest: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.ActorName+">"+e.TargetName+" "+e.Details["method"]+e.Details["to"]+e.Details["issuer"])
	}
	for _, want := range []string{
		"user.created (single sign-on)>ann " + issuer, "login ann>ann oidc", "user.role_changed (single sign-on)>ann admin",
		"oidc.linked lee>lee " + issuer, "oidc.unlinked lee>lee " + issuer,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestOIDCOperatorLinks: only the operator links or unlinks another's
// account; a linked subject signs in to it.
func TestOIDCOperatorLinks(t *testing.T) {
	svc, db, _ := oidcWorld(t, accounts.OIDCOptions{PasswordLoginOff: true})
	lee := session(t, db, "lee").User
	if err := svc.LinkOIDCFor(ctx, session(t, db, "kim"), lee, issuer, "s-lee"); err == nil {
		t.Error("an administrator's session linked lee")
	}
	if err := svc.LinkOIDCFor(ctx, auth.Operator(), lee, issuer, ""); err == nil {
		t.Error("an empty subject linked")
	}
	if err := svc.LinkOIDCFor(ctx, auth.Operator(), lee, issuer, "s-lee"); err != nil {
		t.Fatal(err)
	}
	if l, err := svc.LogInWithOIDC(ctx, identity("s-lee", "someone"), "192.0.2.1"); err != nil || l.User.ID != lee.ID {
		t.Fatalf("s-lee: %+v, %v", l.User, err)
	}
	if n, err := svc.UnlinkOIDCFor(ctx, auth.Operator(), lee); err != nil || n != 1 {
		t.Fatalf("unlink: %d, %v", n, err)
	}
	if _, err := svc.LogInWithOIDC(ctx, identity("s-lee", "someone"), "192.0.2.1"); !errors.Is(err, models.ErrNoOIDCLink) {
		t.Errorf("after unlink: %v", err)
	}
}
