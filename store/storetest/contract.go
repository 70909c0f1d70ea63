// Package storetest is the contract every models.UserStore must meet: one
// suite, run against SQLite always and PostgreSQL when it is available, so
// both stores behave the same to the layers above.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"userhub/models"
)

// Opener makes a fresh, empty database for one test and returns a function
// that opens a migrated store on it. Tests call open more than once to check
// that data survives a reopen; the opener closes what it opened when t ends.
type Opener func(t *testing.T) (open func() models.UserStore)

// Run runs the whole contract, each case on a database of its own.
func Run(t *testing.T, newDB Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() models.UserStore)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"NamesAreUniqueIgnoringCase", testNamesUnique},
		{"InvalidInputIsRefused", testInvalidInput},
		{"UnknownIDIsNotFound", testNotFound},
		{"ListPagesWithKeyset", testList},
		{"PrefixSearch", testPrefixSearch},
		{"UpdateChangesOnlyGivenFields", testUpdate},
		{"PasswordChangeBumpsSessionVersion", testPasswordBump},
		{"LastAdminCannotBeRemoved", testLastAdmin},
		{"ConcurrentDemotionsKeepOneAdmin", testConcurrentDemotions},
		{"ConcurrentCreatesOfOneName", testConcurrentCreates},
		{"Delete", testDelete},
		{"DataSurvivesReopen", testReopen},
		{"ReadsSeeOtherWriters", testOtherWriters},
		{"EndSessionsMovesTheVersion", testEndSessions},
		{"RevokedSessionsStayRevoked", testRevocations},
		{"FirstUserOnlyOnce", testFirstUser},
		{"SuspensionEndsSessionsAndKeepsAnAdmin", testSuspension},
		{"RecordLoginChangesOnlyLastLogin", testRecordLogin},
		{"PreconditionsGuardChanges", testPreconditions},
		{"ConcurrentChangesFromOneReadMakeOne", testLostUpdate},
		{"Tokens", testTokens},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"SecondFactors", testSecondFactors},
		{"Passkeys", testPasskeys},
		{"OIDCLinks", testOIDCLinks},
		{"SessionList", testSessionList},
		{"AuditLog", testAuditLog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newDB(t))
		})
	}
}

var ctx = context.Background()

// mustCreate creates a user; admins get a password (hash), so that they
// count as admins who can log in.
func mustCreate(t *testing.T, s models.UserStore, name string, role models.Role) models.User {
	t.Helper()
	n := models.NewUser{Name: name, Role: role}
	if role == models.RoleAdmin {
		n.PasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	}
	u, err := s.CreateUser(ctx, n)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func testCreateAndRead(t *testing.T, open func() models.UserStore) {
	s := open()
	before := time.Now().Add(-time.Second)
	u := mustCreate(t, s, "  Kim ", "")
	if u.ID <= 0 || u.Name != "Kim" || u.Role != models.RoleMember || u.PasswordHash != "" || u.SessionVersion != 1 {
		t.Fatalf("created %+v", u)
	}
	if u.CreatedAt.Before(before) || !u.CreatedAt.Equal(u.UpdatedAt) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("times %v %v", u.CreatedAt, u.UpdatedAt)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil || got != u {
		t.Fatalf("User(%d) = %+v, %v; want %+v", u.ID, got, err, u)
	}
	byName, err := s.UserByName(ctx, "KIM")
	if err != nil || byName != u {
		t.Fatalf("UserByName(KIM) = %+v, %v", byName, err)
	}
	korean := mustCreate(t, s, "김철수", models.RoleAdmin)
	if got, _ := s.UserByName(ctx, "김철수"); got.ID != korean.ID || got.Role != models.RoleAdmin {
		t.Fatalf("korean name round trip: %+v", got)
	}
	if n, err := s.CountUsers(ctx, models.Filter{}); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
}

func testNamesUnique(t *testing.T, open func() models.UserStore) {
	s := open()
	kim := mustCreate(t, s, "kim", "")
	for _, name := range []string{"kim", "KIM", " Kim "} {
		_, err := s.CreateUser(ctx, models.NewUser{Name: name})
		wantErr(t, err, models.ErrNameTaken)
	}
	mustCreate(t, s, "straße", "")
	_, err := s.CreateUser(ctx, models.NewUser{Name: "STRASSE"})
	wantErr(t, err, models.ErrNameTaken)

	lee := mustCreate(t, s, "lee", "")
	taken := "KIM"
	_, err = s.UpdateUser(ctx, lee.ID, models.UserChange{Name: &taken})
	wantErr(t, err, models.ErrNameTaken)
	// A user may change the case of their own name.
	recased := "Kim"
	if u, err := s.UpdateUser(ctx, kim.ID, models.UserChange{Name: &recased}); err != nil || u.Name != "Kim" {
		t.Fatalf("recase own name: %+v, %v", u, err)
	}
}

func testInvalidInput(t *testing.T, open func() models.UserStore) {
	s := open()
	var verr *models.ValidationError
	if _, err := s.CreateUser(ctx, models.NewUser{Name: ""}); !errors.As(err, &verr) {
		t.Fatalf("empty name: %v", err)
	}
	u := mustCreate(t, s, "kim", "")
	bad := models.Role("root")
	if _, err := s.UpdateUser(ctx, u.ID, models.UserChange{Role: &bad}); !errors.As(err, &verr) {
		t.Fatalf("bad role: %v", err)
	}
	if n, _ := s.CountUsers(ctx, models.Filter{}); n != 1 {
		t.Fatalf("refused input was stored: %d users", n)
	}
}

func testNotFound(t *testing.T, open func() models.UserStore) {
	s := open()
	name := "x"
	role := models.RoleMember
	_, err := s.User(ctx, 999)
	wantErr(t, err, models.ErrNotFound)
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, err, models.ErrNotFound)
	_, err = s.UpdateUser(ctx, 999, models.UserChange{Name: &name})
	wantErr(t, err, models.ErrNotFound)
	_, err = s.UpdateUser(ctx, 999, models.UserChange{Role: &role})
	wantErr(t, err, models.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx, 999, nil), models.ErrNotFound)
}

func testList(t *testing.T, open func() models.UserStore) {
	s := open()
	if p, err := s.ListUsers(ctx, models.ListQuery{Limit: 10}); err != nil || p.Len() != 0 || p.More {
		t.Fatalf("empty list: %+v, %v", p, err)
	}
	// Seven users, created in this order; every third an admin.
	names := []string{"lee", "Kim", "park", "choi", "jung", "Kang", "cho"}
	var all []models.User
	for i, name := range names {
		role := models.RoleMember
		if i%3 == 0 {
			role = models.RoleAdmin
		}
		all = append(all, mustCreate(t, s, name, role))
	}
	for _, tt := range []struct {
		order models.Order
		role  models.Role
		want  string // the names, in list order
	}{
		{"", "", "lee Kim park choi jung Kang cho"},
		{models.OrderNewest, "", "cho Kang jung choi park Kim lee"},
		{models.OrderName, "", "cho choi jung Kang Kim lee park"},
		{"", models.RoleAdmin, "lee choi cho"},
		{models.OrderNewest, models.RoleMember, "Kang jung park Kim"},
		{models.OrderName, models.RoleMember, "jung Kang Kim park"},
	} {
		what := fmt.Sprintf("order %q, role %q", tt.order, tt.role)
		var pages []models.Page
		q := models.ListQuery{Filter: models.Filter{Role: tt.role}, Order: tt.order, Limit: 2}
		for {
			if len(pages) > 4 {
				t.Fatalf("%s: too many pages", what)
			}
			p, err := s.ListUsers(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			pages = append(pages, p)
			if !p.More {
				break
			}
			q.After, q.AfterName = p.Last().ID, models.NameKey(p.Last().Name)
		}
		if got := pageNames(pages); got != tt.want {
			t.Errorf("%s: %q, want %q", what, got, tt.want)
		}
		// Backward from the last page's first user, each page must be the
		// one read forward before it.
		for i := len(pages) - 1; i > 0; i-- {
			q.After, q.AfterName, q.Backward = pages[i].First().ID, models.NameKey(pages[i].First().Name), true
			p, err := s.ListUsers(ctx, q)
			if err != nil {
				t.Fatalf("%s, backward: %v", what, err)
			}
			if got, want := pageNames([]models.Page{p}), pageNames(pages[i-1:i]); got != want || p.More != (i > 1) {
				t.Errorf("%s: the page before page %d is %q (more before: %v), want %q (%v)", what, i+1, got, p.More, want, i > 1)
			}
		}
		if n, err := s.CountUsers(ctx, q.Filter); err != nil || n != len(strings.Fields(tt.want)) {
			t.Errorf("%s: CountUsers = %d, %v; want %d", what, n, err, len(strings.Fields(tt.want)))
		}
	}
	// The counts follow role changes and deletions.
	member := models.RoleMember
	if _, err := s.UpdateUser(ctx, all[3].ID, models.UserChange{Role: &member}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, all[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	for role, want := range map[models.Role]int{"": 6, models.RoleAdmin: 2, models.RoleMember: 4} {
		if n, err := s.CountUsers(ctx, models.Filter{Role: role}); err != nil || n != want {
			t.Errorf("after a demotion and a deletion, CountUsers(role %q) = %d, %v; want %d", role, n, err, want)
		}
	}
}

// pageNames lists the names on pages, in order, separated by spaces.
func pageNames(pages []models.Page) string {
	var names []string
	for _, p := range pages {
		for _, u := range p.All() {
			names = append(names, u.Name)
		}
	}
	return strings.Join(names, " ")
}

func testPrefixSearch(t *testing.T, open func() models.UserStore) {
	s := open()
	for _, name := range []string{"kimchi", "Kim", "lee", "KIMBERLY", "김철수", "김영희", "ki", "akim"} {
		mustCreate(t, s, name, "")
	}
	search := func(prefix string, limit int) []string {
		t.Helper()
		var names []string
		q := models.ListQuery{Filter: models.Filter{Prefix: prefix}, Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("too many pages")
			}
			p, err := s.ListUsers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range p.All() {
				names = append(names, u.Name)
			}
			if !p.More {
				return names
			}
			q.AfterName = models.NameKey(p.Last().Name)
		}
	}
	for _, tt := range []struct {
		prefix string
		limit  int
		want   string
	}{
		{"kim", 10, "Kim KIMBERLY kimchi"}, // name order, case ignored
		{"KIM", 2, "Kim KIMBERLY kimchi"},  // over two pages
		{"k", 1, "ki Kim KIMBERLY kimchi"},
		{"김", 10, "김영희 김철수"},
		{"kimc", 10, "kimchi"},
		{"zzz", 10, ""},
	} {
		if got := strings.Join(search(tt.prefix, tt.limit), " "); got != tt.want {
			t.Errorf("prefix %q, %d a page: %q, want %q", tt.prefix, tt.limit, got, tt.want)
		}
		if n, err := s.CountUsers(ctx, models.Filter{Prefix: tt.prefix}); err != nil || n != len(strings.Fields(tt.want)) {
			t.Errorf("CountUsers(prefix %q) = %d, %v; want %d", tt.prefix, n, err, len(strings.Fields(tt.want)))
		}
	}
}

func testUpdate(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", "")
	time.Sleep(2 * time.Millisecond) // so updated_at can differ
	name := " Park "
	renamed, err := s.UpdateUser(ctx, u.ID, models.UserChange{Name: &name})
	if err != nil || renamed.Name != "Park" || renamed.Role != models.RoleMember {
		t.Fatalf("rename: %+v, %v", renamed, err)
	}
	if !renamed.CreatedAt.Equal(u.CreatedAt) || !renamed.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("times after update: created %v->%v updated %v->%v", u.CreatedAt, renamed.CreatedAt, u.UpdatedAt, renamed.UpdatedAt)
	}
	admin := models.RoleAdmin
	promoted, err := s.UpdateUser(ctx, u.ID, models.UserChange{Role: &admin})
	if err != nil || promoted.Name != "Park" || promoted.Role != models.RoleAdmin || promoted.SessionVersion != 1 {
		t.Fatalf("promote: %+v, %v", promoted, err)
	}
	if _, err := s.UserByName(ctx, "kim"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("old name still found: %v", err)
	}
	// The old name is free again.
	mustCreate(t, s, "KIM", "")
}

func testPasswordBump(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", "")
	hash := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	changed, err := s.UpdateUser(ctx, u.ID, models.UserChange{PasswordHash: &hash})
	if err != nil || changed.PasswordHash != hash || changed.SessionVersion != u.SessionVersion+1 {
		t.Fatalf("password change: %+v, %v", changed, err)
	}
}

func testLastAdmin(t *testing.T, open func() models.UserStore) {
	s := open()
	a := mustCreate(t, s, "root", models.RoleAdmin)
	member := models.RoleMember
	_, err := s.UpdateUser(ctx, a.ID, models.UserChange{Role: &member})
	wantErr(t, err, models.ErrLastAdmin)
	wantErr(t, s.DeleteUser(ctx, a.ID, nil), models.ErrLastAdmin)

	b := mustCreate(t, s, "second", models.RoleAdmin)
	if _, err := s.UpdateUser(ctx, a.ID, models.UserChange{Role: &member}); err != nil {
		t.Fatalf("demote with another admin present: %v", err)
	}
	wantErr(t, s.DeleteUser(ctx, b.ID, nil), models.ErrLastAdmin)
	if err := s.DeleteUser(ctx, a.ID, nil); err != nil {
		t.Fatalf("delete a member: %v", err)
	}
	if got, _ := s.User(ctx, b.ID); got.Role != models.RoleAdmin {
		t.Fatalf("the remaining admin is %+v", got)
	}
	// An admin without a password cannot log in: it does not count.
	nopass, err := s.CreateUser(ctx, models.NewUser{Name: "nopass", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateUser(ctx, b.ID, models.UserChange{Role: &member})
	wantErr(t, err, models.ErrLastAdmin)
	if err := s.DeleteUser(ctx, nopass.ID, nil); err != nil {
		t.Fatalf("delete an admin without a password: %v", err)
	}
}

func testConcurrentDemotions(t *testing.T, open func() models.UserStore) {
	s := open()
	const n = 4
	var ids []int64
	for i := range n {
		ids = append(ids, mustCreate(t, s, fmt.Sprintf("admin%d", i), models.RoleAdmin).ID)
	}
	member := models.RoleMember
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = s.UpdateUser(ctx, id, models.UserChange{Role: &member})
			} else {
				errs[i] = s.DeleteUser(ctx, id, nil)
			}
		})
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, models.ErrLastAdmin):
			refused++
		case err != nil:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	admins := 0
	p, _ := s.ListUsers(ctx, models.ListQuery{Limit: 10})
	for _, u := range p.All() {
		if u.IsAdmin() {
			admins++
		}
	}
	if refused != 1 || admins != 1 {
		t.Fatalf("%d refused, %d admins left; want 1 and 1", refused, admins)
	}
}

func testConcurrentCreates(t *testing.T, open func() models.UserStore) {
	s := open()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateUser(ctx, models.NewUser{Name: []string{"dup", "DUP"}[i%2]})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, models.ErrNameTaken):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates of one name succeeded, want 1", ok)
	}
}

func testDelete(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", "")
	if err := s.DeleteUser(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.User(ctx, u.ID)
	wantErr(t, err, models.ErrNotFound)
	wantErr(t, s.DeleteUser(ctx, u.ID, nil), models.ErrNotFound)
	// ids are not reused: a session naming the old id must never match a new user.
	if again := mustCreate(t, s, "kim", ""); again.ID == u.ID {
		t.Fatalf("id %d reused", u.ID)
	}
}

func testReopen(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", models.RoleAdmin)
	if c, ok := s.(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := open().User(ctx, u.ID)
	if err != nil || got != u {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, u)
	}
}

// testOtherWriters opens two stores on one database, as two cluster workers
// do, and checks that each read sees what the other store committed just
// before, however the store speeds up its reads.
func testOtherWriters(t *testing.T, open func() models.UserStore) {
	a, b := open(), open()
	kim := mustCreate(t, a, "kim", models.RoleAdmin)
	q := models.ListQuery{Limit: 10}
	for round := range 3 {
		// Read through a (warming whatever it keeps), write through b, read a again.
		if _, err := a.ListUsers(ctx, q); err != nil {
			t.Fatal(err)
		}
		a.CountUsers(ctx, models.Filter{})
		a.User(ctx, kim.ID)
		name := fmt.Sprintf("kim%d", round)
		if _, err := b.UpdateUser(ctx, kim.ID, models.UserChange{Name: &name}); err != nil {
			t.Fatal(err)
		}
		added := mustCreate(t, b, fmt.Sprintf("other%d", round), "")
		p, err := a.ListUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Last(); got.ID != added.ID {
			t.Fatalf("round %d: the list read after another store's insert ends with %+v", round, got)
		}
		if u, _ := a.User(ctx, kim.ID); u.Name != name {
			t.Fatalf("round %d: a user read after another store's rename is %q", round, u.Name)
		}
		if n, _ := a.CountUsers(ctx, models.Filter{}); n != round+2 {
			t.Fatalf("round %d: count %d after another store's insert", round, n)
		}
		if err := b.DeleteUser(ctx, added.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.User(ctx, added.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("round %d: a user deleted by another store is still found: %v", round, err)
		}
		mustCreate(t, b, fmt.Sprintf("again%d", round), "")
	}
}

func testEndSessions(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", "")
	ended, err := s.EndSessions(ctx, u.ID)
	if err != nil || ended.SessionVersion != u.SessionVersion+1 || ended.Name != "kim" {
		t.Fatalf("EndSessions: %+v, %v", ended, err)
	}
	if got, _ := s.User(ctx, u.ID); got.SessionVersion != ended.SessionVersion {
		t.Fatalf("read back version %d, want %d", got.SessionVersion, ended.SessionVersion)
	}
	_, err = s.EndSessions(ctx, 999)
	wantErr(t, err, models.ErrNotFound)

	// A rehash of the same password keeps the sessions; a new password ends them.
	hash := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
	kept, err := s.UpdateUser(ctx, u.ID, models.UserChange{PasswordHash: &hash, KeepSessions: true})
	if err != nil || kept.SessionVersion != ended.SessionVersion || kept.PasswordHash != hash {
		t.Fatalf("rehash: %+v, %v", kept, err)
	}
}

func testRevocations(t *testing.T, open func() models.UserStore) {
	a, ok := open().(models.Revocations)
	if !ok {
		t.Skip("this store keeps no revocations")
	}
	b := open().(models.Revocations)
	revoked := func(s models.Revocations, sid string) bool {
		t.Helper()
		r, err := s.SessionRevoked(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if revoked(a, "s1") {
		t.Fatal("a session never revoked is revoked")
	}
	if first, err := b.RevokeSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil || !first {
		t.Fatalf("the first revocation of s1: first %v, %v", first, err)
	}
	if !revoked(a, "s1") || revoked(a, "s2") {
		t.Fatal("revoking s1 through another store: not seen, or seen for s2")
	}
	// Revoking twice is fine, and says it was not the first; an expired
	// entry is cleaned up by the next revocation.
	if first, err := a.RevokeSession(ctx, "s1", time.Now().Add(time.Hour)); err != nil || first {
		t.Fatalf("the second revocation of s1: first %v, %v", first, err)
	}
	if _, err := a.RevokeSession(ctx, "old", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeSession(ctx, "s3", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Many at once, through two stores: exactly one is the first.
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			if first, err := s.RevokeSession(ctx, "once", time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			} else if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if n := firsts.Load(); n != 1 {
		t.Errorf("%d of 8 concurrent revocations of one id were the first, want 1", n)
	}
	if revoked(a, "old") || !revoked(a, "s1") || !revoked(a, "s3") {
		t.Fatal("cleanup removed the wrong entries")
	}
}

// RunCounter is the contract of a models.Counter: newCounter returns
// counters sharing one backing store (two processes, say).
func RunCounter(t *testing.T, newCounter func(t *testing.T) (a, b models.Counter)) {
	count := func(t *testing.T, c models.Counter, key string, window time.Duration) (int, time.Duration) {
		t.Helper()
		n, left, err := c.Count(ctx, key, window)
		if err != nil {
			t.Fatalf("Count(%s): %v", key, err)
		}
		return n, left
	}
	add := func(t *testing.T, c models.Counter, key string, window time.Duration) (int, time.Duration) {
		t.Helper()
		n, left, err := c.Add(ctx, key, 1, window)
		if err != nil {
			t.Fatalf("Add(%s): %v", key, err)
		}
		return n, left
	}
	t.Run("AddsSeveralAtOnce", func(t *testing.T) {
		a, b := newCounter(t)
		if n, _, err := a.Add(ctx, "api:s:1", 60, time.Minute); err != nil || n != 60 {
			t.Fatalf("add 60: %d, %v", n, err)
		}
		if n, _, err := b.Add(ctx, "api:s:1", 5, time.Minute); err != nil || n != 65 {
			t.Fatalf("add 5 more elsewhere: %d, %v", n, err)
		}
	})
	t.Run("CountsWithinAWindow", func(t *testing.T) {
		a, b := newCounter(t)
		key := "name:kim"
		if n, left := count(t, a, key, time.Minute); n != 0 || left != 0 {
			t.Fatalf("fresh key: %d, %v left", n, left)
		}
		var left time.Duration
		for i := 1; i <= 3; i++ {
			c := a
			if i%2 == 0 {
				c = b // the other process counts into the same window
			}
			var n int
			if n, left = add(t, c, key, time.Minute); n != i || left <= 0 || left > time.Minute {
				t.Fatalf("add %d: %d, %v left", i, n, left)
			}
			// Apart in time, so that a window that slid with each event
			// would show.
			time.Sleep(10 * time.Millisecond)
		}
		if left > time.Minute-20*time.Millisecond {
			t.Fatalf("the window moved with the events: %v left after 20 ms", left)
		}
		if n, l := count(t, b, key, time.Minute); n != 3 || l > left || l < left-time.Second {
			t.Fatalf("count %d, %v left; want 3, about %v", n, l, left)
		}
		if n, _ := count(t, b, "name:other", time.Minute); n != 0 {
			t.Fatal("keys share counts")
		}
		if err := b.Reset(ctx, key); err != nil {
			t.Fatal(err)
		}
		if n, _ := count(t, a, key, time.Minute); n != 0 {
			t.Fatalf("after reset: %d", n)
		}
		if n, _ := add(t, a, key, time.Minute); n != 1 {
			t.Fatalf("reset, then add: %d", n)
		}
	})
	t.Run("WindowCloses", func(t *testing.T) {
		a, _ := newCounter(t)
		add(t, a, "ip:1", 150*time.Millisecond)
		add(t, a, "ip:1", 150*time.Millisecond)
		time.Sleep(250 * time.Millisecond)
		if n, _ := count(t, a, "ip:1", 150*time.Millisecond); n != 0 {
			t.Fatalf("a closed window counts %d", n)
		}
		if n, _ := add(t, a, "ip:1", time.Minute); n != 1 {
			t.Fatalf("a new window starts at %d", n)
		}
	})
	t.Run("ConcurrentAddsAllCount", func(t *testing.T) {
		a, b := newCounter(t)
		var wg sync.WaitGroup
		for i := range 20 {
			c := a
			if i%2 == 0 {
				c = b
			}
			wg.Go(func() {
				if _, _, err := c.Add(ctx, "name:burst", 1, time.Minute); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n, _ := count(t, a, "name:burst", time.Minute); n != 20 {
			t.Fatalf("20 concurrent adds counted %d", n)
		}
	})
}

func testFirstUser(t *testing.T, open func() models.UserStore) {
	s := open()
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateUser(ctx, models.NewUser{Name: fmt.Sprintf("admin%d", i), Role: models.RoleAdmin, PasswordHash: "x", First: true})
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, models.ErrSetupDone):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if count, _ := s.CountUsers(ctx, models.Filter{}); created != 1 || count != 1 {
		t.Fatalf("%d first users created, %d stored; want 1", created, count)
	}
	// Afterwards only ordinary users can be made.
	_, err := s.CreateUser(ctx, models.NewUser{Name: "late", Role: models.RoleAdmin, PasswordHash: "x", First: true})
	wantErr(t, err, models.ErrSetupDone)
	mustCreate(t, s, "ordinary", models.RoleMember)
}

func testSuspension(t *testing.T, open func() models.UserStore) {
	s := open()
	admin := mustCreate(t, s, "kim", models.RoleAdmin)
	other := mustCreate(t, s, "lee", models.RoleAdmin)
	member := mustCreate(t, s, "park", models.RoleMember)
	yes, no := true, false

	suspended, err := s.UpdateUser(ctx, member.ID, models.UserChange{Suspended: &yes})
	if err != nil || !suspended.Suspended || suspended.SessionVersion != member.SessionVersion+1 {
		t.Fatalf("suspend: %+v, %v; want suspended with the session version moved on", suspended, err)
	}
	if got, _ := s.User(ctx, member.ID); !got.Suspended {
		t.Fatal("read back: not suspended")
	}
	restored, err := s.UpdateUser(ctx, member.ID, models.UserChange{Suspended: &no})
	if err != nil || restored.Suspended || restored.SessionVersion != suspended.SessionVersion {
		t.Fatalf("restore: %+v, %v; want restored, sessions as they were", restored, err)
	}

	// Two admins: one may be suspended, not then the other, who would be
	// the last admin able to log in; nor may they be demoted or deleted.
	if _, err := s.UpdateUser(ctx, other.ID, models.UserChange{Suspended: &yes}); err != nil {
		t.Fatalf("suspend one of two admins: %v", err)
	}
	_, err = s.UpdateUser(ctx, admin.ID, models.UserChange{Suspended: &yes})
	wantErr(t, err, models.ErrLastAdmin)
	memberRole := models.RoleMember
	_, err = s.UpdateUser(ctx, admin.ID, models.UserChange{Role: &memberRole})
	wantErr(t, err, models.ErrLastAdmin)
	wantErr(t, s.DeleteUser(ctx, admin.ID, nil), models.ErrLastAdmin)
	if _, err := s.UpdateUser(ctx, other.ID, models.UserChange{Suspended: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, admin.ID, models.UserChange{Suspended: &yes}); err != nil {
		t.Fatalf("suspend an admin once another is restored: %v", err)
	}
}

func testRecordLogin(t *testing.T, open func() models.UserStore) {
	s := open()
	u := mustCreate(t, s, "kim", "")
	if !u.LastLoginAt.IsZero() {
		t.Fatalf("a new user's last login: %v, want none", u.LastLoginAt)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.RecordLogin(ctx, u.ID, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil || !got.LastLoginAt.Equal(at) || !got.UpdatedAt.Equal(u.UpdatedAt) || got.SessionVersion != u.SessionVersion {
		t.Fatalf("after RecordLogin(%v): %+v, %v; want only the last login changed", at, got, err)
	}
	if err := s.RecordLogin(ctx, 9999, at); err != nil {
		t.Fatalf("RecordLogin of a deleted user: %v, want nil (the login raced a deletion)", err)
	}
}

// sameAs is the precondition "the user is still as read" (an HTTP If-Match).
func sameAs(read models.User) models.Precondition {
	return func(now models.User) error {
		if now != read {
			return models.ErrPreconditionFailed
		}
		return nil
	}
}

func testPreconditions(t *testing.T, open func() models.UserStore) {
	s := open()
	read := mustCreate(t, s, "kim", "")
	// The check sees the user as stored.
	var seen models.User
	look := func(u models.User) error { seen = u; return nil }
	name := "kim2"
	renamed, err := s.UpdateUser(ctx, read.ID, models.UserChange{Name: &name, Check: look})
	if err != nil || seen != read || renamed.Name != "kim2" {
		t.Fatalf("update with a passing check: %v; it saw %+v, want %+v", err, seen, read)
	}
	// A check that fails cancels the change; the stale read fails now.
	name = "kim3"
	_, err = s.UpdateUser(ctx, read.ID, models.UserChange{Name: &name, Check: sameAs(read)})
	wantErr(t, err, models.ErrPreconditionFailed)
	wantErr(t, s.DeleteUser(ctx, read.ID, sameAs(read)), models.ErrPreconditionFailed)
	if now, err := s.User(ctx, read.ID); err != nil || now.Name != "kim2" {
		t.Fatalf("after refused changes: %+v, %v; want kim2 still there", now, err)
	}
	// With the current read, both work.
	if err := s.DeleteUser(ctx, renamed.ID, sameAs(renamed)); err != nil {
		t.Fatal(err)
	}
	// A check on an unknown user: not found, the check is not called.
	called := false
	_, err = s.UpdateUser(ctx, 999, models.UserChange{Name: &name, Check: func(models.User) error { called = true; return nil }})
	wantErr(t, err, models.ErrNotFound)
	if called {
		t.Error("the check was called for a user that does not exist")
	}
}

// testLostUpdate: clients that read the same user and each change it on
// condition that it is still as read: exactly one change is made.
func testLostUpdate(t *testing.T, open func() models.UserStore) {
	s := open()
	read := mustCreate(t, s, "kim", "")
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("kim%d", i)
			_, errs[i] = s.UpdateUser(ctx, read.ID, models.UserChange{Name: &name, Check: sameAs(read)})
		})
	}
	wg.Wait()
	made := 0
	for _, err := range errs {
		switch {
		case err == nil:
			made++
		case !errors.Is(err, models.ErrPreconditionFailed):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if made != 1 {
		t.Fatalf("%d of %d changes from one read were made, want 1: %v", made, n, errs)
	}
}

// testTokens: a token is found by its hash with its user, listed newest
// first, deleted only by its owner (or with user 0), and goes with its user.
func testTokens(t *testing.T, open func() models.UserStore) {
	s := open()
	ts, ok := s.(models.TokenStore)
	if !ok {
		t.Log("this store keeps no tokens (the read cache does not cache them)")
		return
	}
	kim := mustCreate(t, s, "kim", models.RoleAdmin)
	lee := mustCreate(t, s, "lee", "")
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	make := func(user models.User, name string, hash byte, scopes ...models.Scope) models.Token {
		t.Helper()
		tok, err := ts.CreateToken(ctx, models.Token{UserID: user.ID, Name: name, Prefix: "uh_" + name, Hash: []byte{hash, 1, 2, 3},
			Scopes: scopes, UserVersion: user.SessionVersion, ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first := make(kim, "backup", 1, models.ScopeRead)
	second := make(kim, "deploy", 2, models.ScopeWrite, models.ScopeAdmin)
	other := make(lee, "script", 3, models.ScopeRead)
	if first.ID == 0 || first.CreatedAt.IsZero() || !first.ExpiresAt.Equal(expires) || !first.LastUsedAt.IsZero() {
		t.Fatalf("created %+v", first)
	}
	got, user, err := ts.TokenByHash(ctx, []byte{2, 1, 2, 3})
	if err != nil || got.ID != second.ID || got.Name != "deploy" || !got.Has(models.ScopeAdmin) || !got.Has(models.ScopeWrite) || got.Has(models.ScopeRead) ||
		user.ID != kim.ID || user.Name != "kim" || user.Role != models.RoleAdmin || got.UserVersion != kim.SessionVersion {
		t.Fatalf("by hash: %+v, %+v, %v", got, user, err)
	}
	_, _, err = ts.TokenByHash(ctx, []byte{9})
	wantErr(t, err, models.ErrNoToken)
	list, err := ts.Tokens(ctx, kim.ID)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("kim's tokens: %+v, %v", list, err)
	}
	if all, err := ts.Tokens(ctx, 0); err != nil || len(all) != 3 || all[0].ID != other.ID {
		t.Fatalf("everyone's tokens: %+v, %v", all, err)
	}
	// Used: last used moves, nothing else.
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := ts.TokenUsed(ctx, first.ID, at); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := ts.TokenByHash(ctx, first.Hash); !got.LastUsedAt.Equal(at) {
		t.Errorf("last used %v, want %v", got.LastUsedAt, at)
	}
	// Only its owner deletes it (or anyone, with user 0).
	wantErr(t, ts.DeleteToken(ctx, other.ID, kim.ID), models.ErrNoToken)
	if err := ts.DeleteToken(ctx, first.ID, kim.ID); err != nil {
		t.Fatal(err)
	}
	if err := ts.DeleteToken(ctx, other.ID, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, ts.DeleteToken(ctx, first.ID, 0), models.ErrNoToken)
	_, _, err = ts.TokenByHash(ctx, first.Hash)
	wantErr(t, err, models.ErrNoToken)
	// A user's tokens go with the user; a token for nobody is refused.
	if err := s.DeleteUser(ctx, lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	leeToken := make(mustCreate(t, s, "park", ""), "x", 4, models.ScopeRead)
	if err := s.DeleteUser(ctx, leeToken.UserID, nil); err != nil {
		t.Fatal(err)
	}
	_, _, err = ts.TokenByHash(ctx, leeToken.Hash)
	wantErr(t, err, models.ErrNoToken)
	_, err = ts.CreateToken(ctx, models.Token{UserID: 999, Name: "x", Prefix: "uh_x", Hash: []byte{5}, Scopes: []models.Scope{models.ScopeRead}})
	wantErr(t, err, models.ErrNotFound)
}

// testIdempotencyKeys: one request claims a key; the others see it
// running, then its answer; a released key is claimed again, and so is one
// whose time is up; scopes do not share keys.
func testIdempotencyKeys(t *testing.T, open func() models.UserStore) {
	s, ok := open().(models.IdempotencyStore)
	if !ok {
		t.Log("this store keeps no idempotency keys (the read cache does not)")
		return
	}
	req := []byte("POST /api/v1/users {name: park}")
	claim := func(scope, key string, ttl time.Duration) (models.StoredAnswer, bool) {
		t.Helper()
		held, claimed, err := s.ClaimIdempotencyKey(ctx, scope, key, req, ttl, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return held, claimed
	}
	if _, claimed := claim("u:1", "k1", time.Hour); !claimed {
		t.Fatal("a new key was not claimed")
	}
	if held, claimed := claim("u:1", "k1", time.Hour); claimed || held.Status != 0 || string(held.Request) != string(req) {
		t.Fatalf("a running key: %+v, claimed %v", held, claimed)
	}
	if _, claimed := claim("t:1", "k1", time.Hour); !claimed {
		t.Fatal("another scope's key of the same name was not claimed")
	}
	answer := models.StoredAnswer{Status: 201, Location: "/api/v1/users/4", Body: []byte(`{"id":4}`)}
	if err := s.SaveIdempotentAnswer(ctx, "u:1", "k1", answer); err != nil {
		t.Fatal(err)
	}
	if held, claimed := claim("u:1", "k1", time.Hour); claimed || held.Status != 201 || held.Location != answer.Location || string(held.Body) != string(answer.Body) {
		t.Fatalf("an answered key: %+v, claimed %v", held, claimed)
	}
	if err := s.ReleaseIdempotencyKey(ctx, "u:1", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, claimed := claim("u:1", "k1", time.Hour); !claimed {
		t.Fatal("a released key was not claimed again")
	}
	// A running claim whose process died (older than the lease): claimed anew.
	time.Sleep(5 * time.Millisecond)
	if _, claimed := claim("u:1", "k1", time.Millisecond); !claimed {
		t.Fatal("a claim older than its lease was not claimed again")
	}
	// An answer older than the time kept: claimed anew; younger: kept,
	// however old its lease.
	if err := s.SaveIdempotentAnswer(ctx, "u:1", "k1", answer); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if held, claimed, err := s.ClaimIdempotencyKey(ctx, "u:1", "k1", req, time.Hour, time.Millisecond); err != nil || claimed || held.Status != 201 {
		t.Fatalf("an answer within its time, past the lease: %+v, claimed %v, %v", held, claimed, err)
	}
	if _, claimed := claim("u:1", "k1", time.Millisecond); !claimed {
		t.Fatal("an answer whose time is up was not claimed again")
	}
	// Of several claims at once, one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, claimed, err := s.ClaimIdempotencyKey(ctx, "u:2", "race", req, time.Hour, time.Hour); err == nil && claimed {
				wins.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of 6 concurrent claims of one key won", n)
	}
}

// testSecondFactors: a secret is set, replaced while unconfirmed, confirmed
// once with its recovery codes; a step is used once and never an earlier
// one; a recovery code once; deleting removes both, and so does deleting
// the user.
func testSecondFactors(t *testing.T, open func() models.UserStore) {
	us := open()
	s, ok := us.(models.SecondFactorStore)
	if !ok {
		t.Log("this store keeps no second factors (the read cache does not)")
		return
	}
	kim := mustCreate(t, us, "kim", models.RoleAdmin)
	_, err := s.TOTP(ctx, kim.ID)
	wantErr(t, err, models.ErrNoTOTP)
	wantErr(t, s.SetTOTP(ctx, 999, []byte("x")), models.ErrNotFound)
	wantErr(t, s.ConfirmTOTP(ctx, kim.ID, 1, nil), models.ErrNoTOTP)
	for _, sealed := range []string{"first", "second"} {
		if err := s.SetTOTP(ctx, kim.ID, []byte(sealed)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.TOTP(ctx, kim.ID); err != nil || string(got.Sealed) != "second" || got.Confirmed || got.UserID != kim.ID || got.CreatedAt.IsZero() {
		t.Fatalf("unconfirmed: %+v, %v", got, err)
	}
	if ok, err := s.UseTOTPStep(ctx, kim.ID, 5); err != nil || ok {
		t.Fatalf("a step of an unconfirmed secret: %v, %v", ok, err)
	}
	codes := [][]byte{{1}, {2}, {3}}
	if err := s.ConfirmTOTP(ctx, kim.ID, 100, codes); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.ConfirmTOTP(ctx, kim.ID, 101, codes), models.ErrNoTOTP)
	wantErr(t, s.SetTOTP(ctx, kim.ID, []byte("third")), models.ErrTOTPEnabled)
	if got, err := s.TOTP(ctx, kim.ID); err != nil || string(got.Sealed) != "second" || !got.Confirmed || got.LastStep != 100 {
		t.Fatalf("confirmed: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		step int64
		want bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		if ok, err := s.UseTOTPStep(ctx, kim.ID, tc.step); err != nil || ok != tc.want {
			t.Errorf("use step %d: %v, %v; want %v", tc.step, ok, err, tc.want)
		}
	}
	if n, err := s.RecoveryCodesLeft(ctx, kim.ID); err != nil || n != 3 {
		t.Fatalf("recovery codes left: %d, %v", n, err)
	}
	for _, tc := range []struct {
		hash byte
		want bool
	}{{2, true}, {2, false}, {9, false}} {
		if ok, err := s.UseRecoveryCode(ctx, kim.ID, []byte{tc.hash}); err != nil || ok != tc.want {
			t.Errorf("use recovery code %d: %v, %v; want %v", tc.hash, ok, err, tc.want)
		}
	}
	if n, _ := s.RecoveryCodesLeft(ctx, kim.ID); n != 2 {
		t.Errorf("recovery codes left after one used: %d", n)
	}
	if err := s.DeleteTOTP(ctx, kim.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteTOTP(ctx, kim.ID), models.ErrNoTOTP)
	if n, _ := s.RecoveryCodesLeft(ctx, kim.ID); n != 0 {
		t.Errorf("recovery codes left after delete: %d", n)
	}
	// A user's second factor goes with the user.
	lee := mustCreate(t, us, "lee", "")
	if err := s.SetTOTP(ctx, lee.ID, []byte("lee")); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmTOTP(ctx, lee.ID, 1, codes); err != nil {
		t.Fatal(err)
	}
	if err := us.DeleteUser(ctx, lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.TOTP(ctx, lee.ID)
	wantErr(t, err, models.ErrNoTOTP)
	if n, _ := s.RecoveryCodesLeft(ctx, lee.ID); n != 0 {
		t.Errorf("a deleted user's recovery codes: %d", n)
	}
}

// testSessionList: a user's listed sessions are those of their current
// session version that have not expired, newest first; a use moves last
// seen; an unlisted one is gone; a deleted user's go with them.
func testSessionList(t *testing.T, open func() models.UserStore) {
	s := open()
	l, ok := s.(models.SessionList)
	if !ok {
		t.Log("this store keeps no session list (the read cache does not)")
		return
	}
	kim := mustCreate(t, s, "kim", models.RoleAdmin)
	lee := mustCreate(t, s, "lee", "")
	now := time.Now().UTC().Truncate(time.Microsecond)
	add := func(sid string, user models.User, version int64, created time.Time, expires time.Duration) {
		t.Helper()
		if err := l.ListSession(ctx, models.SessionEntry{SID: sid, UserID: user.ID, Version: version, CreatedAt: created, LastSeen: created,
			ExpiresAt: created.Add(expires), IP: "192.0.2.1", UserAgent: "curl/8"}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", kim, kim.SessionVersion, now.Add(-2*time.Hour), 12*time.Hour)
	add("b", kim, kim.SessionVersion, now.Add(-time.Hour), 12*time.Hour)
	add("old-version", kim, kim.SessionVersion-1, now.Add(-time.Hour), 12*time.Hour)
	add("expired", kim, kim.SessionVersion, now.Add(-13*time.Hour), 12*time.Hour)
	add("lee's", lee, lee.SessionVersion, now, 12*time.Hour)
	counter, counts := s.(interface {
		CountLiveSessions(ctx context.Context, now time.Time) (int, error)
	})
	countLive := func(want int) {
		t.Helper()
		if !counts {
			return
		}
		if n, err := counter.CountLiveSessions(ctx, now); err != nil || n != want {
			t.Fatalf("CountLiveSessions = %d, %v; want %d", n, err, want)
		}
	}
	countLive(3) // a, b and lee's: not the older version's, not the expired one
	list, err := l.ListedSessions(ctx, kim.ID, kim.SessionVersion, now)
	if err != nil || len(list) != 2 || list[0].SID != "b" || list[1].SID != "a" || list[0].IP != "192.0.2.1" || list[0].UserAgent != "curl/8" {
		t.Fatalf("kim's sessions: %+v, %v", list, err)
	}
	if err := l.SessionSeen(ctx, "a", now); err != nil {
		t.Fatal(err)
	}
	if err := l.UnlistSession(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	list, _ = l.ListedSessions(ctx, kim.ID, kim.SessionVersion, now)
	if len(list) != 1 || list[0].SID != "a" || !list[0].LastSeen.Equal(now) {
		t.Fatalf("after a use and an unlisting: %+v", list)
	}
	if err := s.DeleteUser(ctx, lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	if list, _ := l.ListedSessions(ctx, lee.ID, lee.SessionVersion, now); len(list) != 0 {
		t.Fatalf("a deleted user's sessions are still listed: %+v", list)
	}
	countLive(1)
}

// testPasskeys: passkeys are added for a user (not for nobody, not twice),
// listed oldest first, found by id, used (data and last use move), removed
// only by their user, and go with the user.
func testPasskeys(t *testing.T, open func() models.UserStore) {
	us := open()
	s, ok := us.(models.PasskeyStore)
	if !ok {
		t.Log("this store keeps no passkeys (the read cache does not)")
		return
	}
	kim := mustCreate(t, us, "kim", models.RoleAdmin)
	lee := mustCreate(t, us, "lee", "")
	add := func(u models.User, id byte, name string) models.Passkey {
		t.Helper()
		k, err := s.AddPasskey(ctx, models.Passkey{ID: []byte{id, 0xff}, UserID: u.ID, Name: name, Data: []byte(`{"n":0}`)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	laptop := add(kim, 1, "laptop")
	phone := add(kim, 2, "phone")
	add(lee, 3, "lee's")
	if laptop.CreatedAt.IsZero() || !laptop.LastUsedAt.IsZero() || laptop.Name != "laptop" || laptop.UserID != kim.ID {
		t.Fatalf("added %+v", laptop)
	}
	if _, err := s.AddPasskey(ctx, models.Passkey{ID: []byte{1, 0xff}, UserID: lee.ID, Name: "again", Data: []byte("{}")}); err == nil {
		t.Error("a credential id stored twice")
	}
	_, err := s.AddPasskey(ctx, models.Passkey{ID: []byte{9}, UserID: 999, Name: "x", Data: []byte("{}")})
	wantErr(t, err, models.ErrNotFound)
	list, err := s.Passkeys(ctx, kim.ID)
	if err != nil || len(list) != 2 || list[0].Name != "laptop" || list[1].Name != "phone" {
		t.Fatalf("kim's passkeys: %+v, %v", list, err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.PasskeyUsed(ctx, phone.ID, []byte(`{"n":1}`), at); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Passkey(ctx, phone.ID); err != nil || string(got.Data) != `{"n":1}` || !got.LastUsedAt.Equal(at) || got.UserID != kim.ID {
		t.Fatalf("used: %+v, %v", got, err)
	}
	_, err = s.Passkey(ctx, []byte{7})
	wantErr(t, err, models.ErrNoPasskey)
	wantErr(t, s.DeletePasskey(ctx, lee.ID, laptop.ID), models.ErrNoPasskey)
	if err := s.DeletePasskey(ctx, kim.ID, laptop.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeletePasskey(ctx, kim.ID, laptop.ID), models.ErrNoPasskey)
	if err := us.DeleteUser(ctx, lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Passkey(ctx, []byte{3, 0xff})
	wantErr(t, err, models.ErrNoPasskey)
}

// testOIDCLinks: a subject of an issuer is linked to one account at most
// (the same subject at another issuer is another person), found by issuer
// and subject only, listed per user, unlinked only by its user, and goes
// with the user.
func testOIDCLinks(t *testing.T, open func() models.UserStore) {
	us := open()
	s, ok := us.(models.OIDCLinkStore)
	if !ok {
		t.Log("this store keeps no links (the read cache does not)")
		return
	}
	kim := mustCreate(t, us, "kim", models.RoleAdmin)
	lee := mustCreate(t, us, "lee", "")
	const iss, other = "https://id.example.com", "https://other.example.com"
	link := func(u models.User, issuer, subject string) models.OIDCLink {
		t.Helper()
		l, err := s.LinkOIDC(ctx, models.OIDCLink{UserID: u.ID, Issuer: issuer, Subject: subject})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first := link(kim, iss, "sub-1")
	if first.CreatedAt.IsZero() || first.UserID != kim.ID || first.Issuer != iss || first.Subject != "sub-1" {
		t.Fatalf("linked %+v", first)
	}
	link(kim, other, "sub-1") // the same subject at another issuer: another person
	link(lee, iss, "SUB-1")   // subjects are compared exactly
	_, err := s.LinkOIDC(ctx, models.OIDCLink{UserID: lee.ID, Issuer: iss, Subject: "sub-1"})
	wantErr(t, err, models.ErrOIDCLinkTaken)
	_, err = s.LinkOIDC(ctx, models.OIDCLink{UserID: kim.ID, Issuer: iss, Subject: "sub-1"})
	wantErr(t, err, models.ErrOIDCLinkTaken)
	_, err = s.LinkOIDC(ctx, models.OIDCLink{UserID: 999, Issuer: iss, Subject: "sub-9"})
	wantErr(t, err, models.ErrNotFound)

	if got, err := s.OIDCLinkBySubject(ctx, iss, "sub-1"); err != nil || got.UserID != kim.ID {
		t.Fatalf("by subject: %+v, %v", got, err)
	}
	if got, err := s.OIDCLinkBySubject(ctx, iss, "SUB-1"); err != nil || got.UserID != lee.ID {
		t.Fatalf("by subject SUB-1: %+v, %v", got, err)
	}
	_, err = s.OIDCLinkBySubject(ctx, iss, "kim")
	wantErr(t, err, models.ErrNoOIDCLink)
	list, err := s.OIDCLinks(ctx, kim.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("kim's links: %+v, %v", list, err)
	}

	wantErr(t, s.UnlinkOIDC(ctx, lee.ID, iss, "sub-1"), models.ErrNoOIDCLink)
	if err := s.UnlinkOIDC(ctx, kim.ID, iss, "sub-1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.UnlinkOIDC(ctx, kim.ID, iss, "sub-1"), models.ErrNoOIDCLink)
	_, err = s.OIDCLinkBySubject(ctx, iss, "sub-1")
	wantErr(t, err, models.ErrNoOIDCLink)
	if err := us.DeleteUser(ctx, lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.OIDCLinkBySubject(ctx, iss, "SUB-1")
	wantErr(t, err, models.ErrNoOIDCLink)

	// An administrator without a password but with a link can log in:
	// they count against the last-admin rule; unlinked, they do not.
	ann, err := us.CreateUser(ctx, models.NewUser{Name: "ann", Role: models.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	_, err = us.UpdateUser(ctx, kim.ID, models.UserChange{Role: new(models.RoleMember)})
	wantErr(t, err, models.ErrLastAdmin) // ann cannot log in
	link(ann, iss, "sub-ann")
	if _, err := us.UpdateUser(ctx, kim.ID, models.UserChange{Role: new(models.RoleMember)}); err != nil {
		t.Fatalf("demoting kim while ann (linked) is an admin: %v", err)
	}
	_, err = us.UpdateUser(ctx, ann.ID, models.UserChange{Role: new(models.RoleMember)})
	wantErr(t, err, models.ErrLastAdmin)
}
