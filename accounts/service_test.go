package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
	"userhub/store"
)

var ctx = context.Background()

const password = "correct horse battery staple"

// world is a service over a fresh SQLite database with kim (1, admin) and
// lee (2, member), both with password; log collects what it logs.
type world struct {
	svc    *accounts.Service
	hasher *accounts.Hasher
	db     *store.Store
	dsn    string // the database file
	kim    auth.Principal
	lee    auth.Principal
	log    *bytes.Buffer
	users  map[string]models.User
}

func newWorld(t *testing.T) world {
	t.Helper()
	return newWorldWith(t, accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 2, 10*time.Second))
}

// newWorldWith is newWorld with the given hasher.
func newWorldWith(t *testing.T, hasher *accounts.Hasher) world {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "a.db")
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	w := world{db: db, dsn: dsn, log: &log, users: map[string]models.User{}, hasher: hasher}
	w.svc = accounts.New(accounts.Options{
		Store:   db,
		Counter: db,
		Hasher:  w.hasher,
		Auth:    config.Default().Auth,
		Log:     slog.New(slog.NewTextHandler(&log, nil)),
	})
	for _, u := range []struct {
		name string
		role models.Role
	}{{"kim", models.RoleAdmin}, {"lee", models.RoleMember}} {
		pw := password
		created, err := w.svc.Create(ctx, auth.Operator(), accounts.NewAccount{Name: u.name, Role: u.role, Password: &pw})
		if err != nil {
			t.Fatal(err)
		}
		w.users[u.name] = created
	}
	w.kim = auth.Principal{User: w.users["kim"], Method: auth.MethodSession}
	w.lee = auth.Principal{User: w.users["lee"], Method: auth.MethodSession}
	return w
}

func ptr[T any](v T) *T { return &v }

// wantErr checks err against want: nil, a sentinel (errors.Is), a
// *models.ForbiddenError, or "field:code" of a validation error.
func wantErr(t *testing.T, err error, want any) {
	t.Helper()
	var verr *models.ValidationError
	switch w := want.(type) {
	case nil:
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
	case string:
		field, code, _ := strings.Cut(w, ":")
		if errors.As(err, &verr) {
			for _, f := range verr.Fields {
				if f.Field == field && f.Code == code {
					return
				}
			}
		}
		t.Fatalf("error %v, want a validation error %s", err, w)
	case *models.ForbiddenError:
		var forbidden *models.ForbiddenError
		if !errors.As(err, &forbidden) {
			t.Fatalf("error %v, want forbidden", err)
		}
	case error:
		if !errors.Is(err, w) {
			t.Fatalf("error %v, want %v", err, w)
		}
	}
}

var forbidden = &models.ForbiddenError{}

// TestAuthorize is the rule table seen from outside: every action, by
// every kind of principal, on themselves and on another.
func TestAuthorize(t *testing.T) {
	admin := auth.Principal{User: models.User{ID: 1, Role: models.RoleAdmin}, Method: auth.MethodSession}
	member := auth.Principal{User: models.User{ID: 2, Role: models.RoleMember}, Method: auth.MethodSession}
	pending := auth.Principal{User: admin.User, Method: auth.MethodSession, SecondFactorPending: true}
	anonymous := auth.Principal{}
	operator := auth.Operator()
	const self, other = -1, 3 // targets: the principal's own account, or another
	for _, tt := range []struct {
		who    string
		p      auth.Principal
		action accounts.Action
		target int64
		want   any
	}{
		{"admin", admin, accounts.CreateUser, 0, nil},
		{"admin", admin, accounts.EditUser, other, nil},
		{"admin", admin, accounts.SetRole, self, nil},
		{"admin", admin, accounts.SetPassword, other, nil},
		{"admin", admin, accounts.SetPassword, self, forbidden}, // ChangeOwnPassword asks for the old one
		{"admin", admin, accounts.DeleteUser, other, nil},
		{"admin", admin, accounts.EndSessions, other, nil},
		{"member", member, accounts.CreateUser, 0, forbidden},
		{"member", member, accounts.EditUser, self, nil},
		{"member", member, accounts.EditUser, other, forbidden},
		{"member", member, accounts.SetRole, self, forbidden},
		{"member", member, accounts.SetPassword, self, forbidden},
		{"member", member, accounts.SetPassword, other, forbidden},
		{"member", member, accounts.DeleteUser, self, forbidden},
		{"member", member, accounts.EndSessions, self, nil},
		{"member", member, accounts.EndSessions, other, forbidden},
		{"operator", operator, accounts.SetPassword, other, nil},
		{"operator", operator, accounts.DeleteUser, other, nil},
		{"pending second factor", pending, accounts.EditUser, self, models.ErrNotAuthenticated},
		{"anonymous", anonymous, accounts.EditUser, other, models.ErrNotAuthenticated},
		{"admin, unknown action", admin, accounts.Action("launch"), other, forbidden}, // deny by default
	} {
		target := tt.target
		if target == self {
			target = tt.p.User.ID
		}
		t.Run(tt.who+" "+string(tt.action), func(t *testing.T) {
			wantErr(t, accounts.Authorize(tt.p, tt.action, target), tt.want)
		})
	}
}

// TestService: the account rules as scenarios, each on a world of its own.
func TestService(t *testing.T) {
	for _, tt := range []struct {
		name  string
		do    func(w world) error
		want  any                         // see wantErr
		check func(t *testing.T, w world) // what must hold afterwards
	}{
		{name: "admin creates a member", do: func(w world) error {
			_, err := w.svc.Create(ctx, w.kim, accounts.NewAccount{Name: "  park "})
			return err
		}, check: func(t *testing.T, w world) {
			if u, err := w.db.UserByName(ctx, "park"); err != nil || u.Role != models.RoleMember || u.PasswordHash != "" {
				t.Fatalf("park: %+v, %v", u, err)
			}
		}},
		{name: "create reports name, role and password at once", do: func(w world) error {
			_, err := w.svc.Create(ctx, w.kim, accounts.NewAccount{Name: "", Role: "root", Password: ptr("short")})
			var verr *models.ValidationError
			if errors.As(err, &verr) && len(verr.Fields) != 3 {
				return errors.New("not every problem reported: " + err.Error())
			}
			return err
		}, want: "password:password_too_short"},
		{name: "member may not create", do: func(w world) error {
			_, err := w.svc.Create(ctx, w.lee, accounts.NewAccount{Name: "park"})
			return err
		}, want: forbidden},
		{name: "names are unique ignoring case", do: func(w world) error {
			_, err := w.svc.Create(ctx, w.kim, accounts.NewAccount{Name: "KIM"})
			return err
		}, want: models.ErrNameTaken},
		{name: "a password containing the name is refused", do: func(w world) error {
			_, err := w.svc.Create(ctx, w.kim, accounts.NewAccount{Name: "choi", Password: ptr("choi-has-a-long-one")})
			return err
		}, want: "password:password_contains_name"},
		{name: "member renames self", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.lee, w.lee.User.ID, accounts.Change{Name: ptr("lee2")})
			return err
		}, check: func(t *testing.T, w world) {
			if u, _ := w.db.User(ctx, w.lee.User.ID); u.Name != "lee2" {
				t.Fatalf("name %q", u.Name)
			}
		}},
		{name: "member keeping own role is no change", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.lee, w.lee.User.ID, accounts.Change{Name: ptr("lee"), Role: ptr(models.RoleMember)})
			return err
		}},
		{name: "member may not promote self", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.lee, w.lee.User.ID, accounts.Change{Role: ptr(models.RoleAdmin)})
			return err
		}, want: forbidden},
		{name: "member may not rename another", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.lee, w.kim.User.ID, accounts.Change{})
			return err
		}, want: forbidden},
		{name: "admin sets another's password, which ends their sessions", do: func(w world) error {
			_, err := w.svc.SetPassword(ctx, w.kim, w.lee.User.ID, "a new long password")
			return err
		}, check: func(t *testing.T, w world) {
			if u, _ := w.db.User(ctx, w.lee.User.ID); u.SessionVersion == w.lee.User.SessionVersion {
				t.Fatal("lee's sessions go on after a new password")
			}
			if _, err := w.svc.Authenticate(ctx, "lee", "a new long password", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "admin may not set own password without the old one", do: func(w world) error {
			_, err := w.svc.SetPassword(ctx, w.kim, w.kim.User.ID, "a new long password")
			return err
		}, want: forbidden},
		{name: "a bad new password costs no hash and changes nothing", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.kim, w.lee.User.ID, accounts.Change{Name: ptr("x\x00"), Password: ptr("password1234")})
			return err
		}, want: "password:password_common", check: func(t *testing.T, w world) {
			if u, _ := w.db.User(ctx, w.lee.User.ID); u != w.users["lee"] {
				t.Fatalf("a refused change changed %+v", u)
			}
		}},
		{name: "unknown id", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.kim, 99, accounts.Change{Name: ptr("x")})
			return err
		}, want: models.ErrNotFound},
		{name: "the last admin cannot be demoted", do: func(w world) error {
			_, err := w.svc.Update(ctx, w.kim, w.kim.User.ID, accounts.Change{Role: ptr(models.RoleMember)})
			return err
		}, want: models.ErrLastAdmin},
		{name: "the last admin cannot be deleted", do: func(w world) error {
			return w.svc.Delete(ctx, w.kim, w.kim.User.ID, nil)
		}, want: models.ErrLastAdmin},
		{name: "member may not delete", do: func(w world) error {
			return w.svc.Delete(ctx, w.lee, w.lee.User.ID, nil)
		}, want: forbidden},
		{name: "operator deletes", do: func(w world) error {
			return w.svc.Delete(ctx, auth.Operator(), w.lee.User.ID, nil)
		}, check: func(t *testing.T, w world) {
			if _, err := w.db.User(ctx, w.lee.User.ID); !errors.Is(err, models.ErrNotFound) {
				t.Fatal(err)
			}
			if !strings.Contains(w.log.String(), `msg="user deleted" id=2 by=(operator) by_id=-`) {
				t.Fatalf("log: %s", w.log)
			}
		}},
		{name: "changes name the actor by id too", do: func(w world) error {
			return w.svc.Delete(ctx, w.kim, w.lee.User.ID, nil)
		}, check: func(t *testing.T, w world) {
			// A name may look like another's; the id says who it was.
			if !strings.Contains(w.log.String(), `msg="user deleted" id=2 by=kim by_id=1`) {
				t.Fatalf("log: %s", w.log)
			}
		}},
		{name: "own password: the current one is checked", do: func(w world) error {
			_, err := w.svc.ChangeOwnPassword(ctx, w.lee, "not it at all", "a brand new password", "192.0.2.1")
			return err
		}, want: "current_password:wrong_password"},
		{name: "own password: the new one meets the policy", do: func(w world) error {
			_, err := w.svc.ChangeOwnPassword(ctx, w.lee, password, "short", "192.0.2.1")
			return err
		}, want: "new_password:password_too_short"},
		{name: "own password changed", do: func(w world) error {
			u, err := w.svc.ChangeOwnPassword(ctx, w.lee, password, "a brand new password", "192.0.2.1")
			if err == nil && u.SessionVersion == w.lee.User.SessionVersion {
				return errors.New("the session version did not move")
			}
			return err
		}, check: func(t *testing.T, w world) {
			if _, err := w.svc.Authenticate(ctx, "lee", password, "192.0.2.1"); !errors.Is(err, models.ErrBadCredentials) {
				t.Fatalf("the old password: %v", err)
			}
		}},
		{name: "log in", do: func(w world) error {
			u, err := w.svc.Authenticate(ctx, "KIM", password, "192.0.2.1")
			if err == nil && u.ID != w.kim.User.ID {
				return errors.New("logged in as someone else")
			}
			return err
		}},
		{name: "wrong password and unknown name fail alike", do: func(w world) error {
			_, err1 := w.svc.Authenticate(ctx, "kim", "wrong password!", "192.0.2.1")
			_, err2 := w.svc.Authenticate(ctx, "nobody", password, "192.0.2.1")
			if !errors.Is(err2, models.ErrBadCredentials) {
				return err2
			}
			return err1
		}, want: models.ErrBadCredentials, check: func(t *testing.T, w world) {
			for _, line := range []string{`name=kim ip=192.0.2.1 reason="wrong password"`, `name=nobody ip=192.0.2.1 reason="no such user"`} {
				if !strings.Contains(w.log.String(), line) {
					t.Errorf("log lacks %s:\n%s", line, w.log)
				}
			}
		}},
		{name: "the sixth failure for one name is throttled", do: func(w world) error {
			for range 5 {
				w.svc.Authenticate(ctx, "kim", "wrong password!", "192.0.2.1")
			}
			_, err := w.svc.Authenticate(ctx, "kim", password, "192.0.2.1")
			return err
		}, want: &models.ThrottledError{}},
		{name: "setup once users exist", do: func(w world) error {
			_, err := w.svc.Setup(ctx, "admin2", password, password, "192.0.2.1")
			return err
		}, want: models.ErrSetupDone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			err := tt.do(w)
			if throttled, ok := tt.want.(*models.ThrottledError); ok {
				if !errors.As(err, &throttled) {
					t.Fatalf("error %v, want throttled", err)
				}
			} else {
				wantErr(t, err, tt.want)
			}
			if tt.check != nil {
				tt.check(t, w)
			}
			if strings.Contains(w.log.String(), password) {
				t.Error("a password reached the log")
			}
		})
	}
}

// TestSetup: the first run reports every problem of the form at once, then
// makes one administrator.
func TestSetup(t *testing.T) {
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc := accounts.New(accounts.Options{Store: db, Counter: db, Auth: config.Default().Auth, Log: slog.New(slog.DiscardHandler),
		Hasher: accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 1, time.Second)})
	for _, tt := range []struct {
		name, password, confirm string
		want                    []string // field:code
	}{
		{"", "short", "short", []string{"name:required", "password:password_too_short"}},
		{"kim", password, password + "!", []string{"password_confirm:password_mismatch"}},
		{"kim", "password1234", "password1234", []string{"password:password_common"}}, // no mismatch said beside it
	} {
		_, err := svc.Setup(ctx, tt.name, tt.password, tt.confirm, "192.0.2.1")
		var verr *models.ValidationError
		if !errors.As(err, &verr) || len(verr.Fields) != len(tt.want) {
			t.Fatalf("setup %q: %v, want %v", tt.name, err, tt.want)
		}
		for i, f := range verr.Fields {
			if f.Field+":"+f.Code != tt.want[i] {
				t.Errorf("setup %q: %s:%s, want %s", tt.name, f.Field, f.Code, tt.want[i])
			}
		}
	}
	u, err := svc.Setup(ctx, "kim", password, password, "192.0.2.1")
	if err != nil || !u.IsAdmin() || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("setup: %+v, %v", u, err)
	}
}

// An unknown name costs a hashing slot like a known one, so the time of
// the answer does not tell which names exist: with every slot taken, both
// wait alike.
func TestUnknownNamesWaitForASlot(t *testing.T) {
	w := newWorldWith(t, accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 1, 20*time.Millisecond))
	if err := w.hasher.Acquire(ctx); err != nil { // the only slot
		t.Fatal(err)
	}
	defer w.hasher.Release()
	for _, name := range []string{"nobody", "kim"} {
		if _, err := w.svc.Authenticate(ctx, name, password, "192.0.2.1"); !errors.Is(err, accounts.ErrHasherBusy) {
			t.Errorf("%s with every slot taken: %v", name, err)
		}
	}
}

// parallel runs n logins at once and counts their outcomes.
func parallel(w world, n int, login func(i int) (name, password, ip string)) map[string]int {
	outcomes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name, pw, ip := login(i)
			_, err := w.svc.Authenticate(ctx, name, pw, ip)
			var throttled *models.ThrottledError
			switch {
			case err == nil:
				outcomes[i] = "ok"
			case errors.Is(err, models.ErrBadCredentials):
				outcomes[i] = "wrong"
			case errors.As(err, &throttled):
				outcomes[i] = "throttled"
			default:
				outcomes[i] = err.Error()
			}
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for _, o := range outcomes {
		counts[o]++
	}
	return counts
}

// Only failures count: logins with the right password are never refused,
// however many run at once from one address, for one user or many; a
// burst of wrong ones gets past the limit by at most the hashing slots.
func TestOnlyFailuresCount(t *testing.T) {
	t.Run("one user, many at once", func(t *testing.T) {
		w := newWorld(t)
		if got := parallel(w, 60, func(int) (string, string, string) { return "kim", password, "192.0.2.1" }); got["ok"] != 60 {
			t.Fatalf("60 parallel right logins of one user: %v", got)
		}
	})
	t.Run("many users from one address", func(t *testing.T) {
		w := newWorld(t)
		for i := range 60 {
			pw := password
			if _, err := w.svc.Create(ctx, auth.Operator(), accounts.NewAccount{Name: fmt.Sprintf("user%d", i), Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}
		got := parallel(w, 60, func(i int) (string, string, string) { return fmt.Sprintf("user%d", i), password, "192.0.2.1" })
		if got["ok"] != 60 {
			t.Fatalf("60 parallel right logins of 60 users from one address: %v", got)
		}
		if _, err := w.svc.Authenticate(ctx, "kim", password, "192.0.2.1"); err != nil {
			t.Fatalf("a right login from that address afterwards: %v", err)
		}
	})
	t.Run("a burst of wrong passwords", func(t *testing.T) {
		w := newWorld(t)
		const limit, slots = 5, 2 // config.Default().Auth.LoginLimitPerName; newWorld's hasher
		got := parallel(w, 40, func(i int) (string, string, string) { return "kim", fmt.Sprintf("guess %d", i), "192.0.2.1" })
		if got["wrong"] < limit || got["wrong"] > limit+slots || got["wrong"]+got["throttled"] != 40 {
			t.Fatalf("40 parallel wrong passwords: %v; want %d to %d checked, the rest refused", got, limit, limit+slots)
		}
		if _, err := w.svc.Authenticate(ctx, "kim", password, "192.0.2.1"); !errors.As(err, new(*models.ThrottledError)) {
			t.Fatalf("the right password after the burst: %v, want throttled", err)
		}
	})
}

// Failures recorded while the clock ran a day ahead lock nobody once it
// is back: their window lies further ahead than a window can.
func TestClockThatRanAhead(t *testing.T) {
	w := newWorld(t)
	ahead, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: w.dsn, Now: func() time.Time { return time.Now().Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer ahead.Close()
	wrong := accounts.New(accounts.Options{Store: ahead, Counter: ahead, Hasher: w.hasher, Auth: config.Default().Auth, Log: slog.New(slog.DiscardHandler)})
	for range 25 { // over both limits, the name's and the address's
		wrong.Authenticate(ctx, "kim", "not the password", "192.0.2.1")
	}
	if _, err := wrong.Authenticate(ctx, "kim", password, "192.0.2.1"); !errors.As(err, new(*models.ThrottledError)) {
		t.Fatalf("with the clock still ahead: %v, want throttled", err)
	}
	if _, err := w.svc.Authenticate(ctx, "kim", password, "192.0.2.1"); err != nil {
		t.Fatalf("with the clock back: %v", err)
	}
}

// TestOverlongPasswordsAtLogin: a password over MaxPasswordLength is
// refused at login before it is normalised or hashed, like a wrong one
// (and counted as one). The seam: the hasher's only slot is taken, so an
// attempt that went on to hash would wait for it (ErrHasherBusy).
func TestOverlongPasswordsAtLogin(t *testing.T) {
	tests := []struct {
		name, password string
	}{
		{"257 characters", strings.Repeat("x", accounts.MaxPasswordLength+1)},
		{"257 Hangul syllables", strings.Repeat("한", accounts.MaxPasswordLength+1)},
		{"1 MB", strings.Repeat("a", 1<<20)},
		{"1 MB that is not UTF-8", strings.Repeat("\xff", 1<<20)},
	}
	w := newWorldWith(t, accounts.NewHasher(accounts.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 1, 10*time.Second))
	if err := w.hasher.Acquire(ctx); err != nil { // the only slot
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := w.svc.Authenticate(ctx, "kim", tt.password, "192.0.2.1"); !errors.Is(err, models.ErrBadCredentials) {
				t.Fatalf("got %v, want ErrBadCredentials without hashing", err)
			}
		})
	}
	w.hasher.Release()
	// Four failures counted; the fifth (a wrong password) reaches the limit.
	if _, err := w.svc.Authenticate(ctx, "kim", "not the password", "192.0.2.1"); !errors.Is(err, models.ErrBadCredentials) {
		t.Fatalf("a fifth wrong password: %v", err)
	}
	if _, err := w.svc.Authenticate(ctx, "kim", password, "192.0.2.1"); !errors.As(err, new(*models.ThrottledError)) {
		t.Fatalf("the right password after five failures, four of them overlong: %v, want throttled", err)
	}
}
