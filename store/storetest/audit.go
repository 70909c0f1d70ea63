package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"userhub/models"
)

// testAuditLog: entries carried by a change's context are written with
// it, and only when it is made; the log reads newest first, in pages,
// filtered; pruning removes the old entries.
func testAuditLog(t *testing.T, open func() models.UserStore) {
	s := open()
	log, ok := s.(models.AuditStore)
	if !ok {
		t.Log("this store keeps no audit log (the read cache passes the entries on to the database)")
		return
	}
	origin := models.WithAuditOrigin(ctx, models.AuditOrigin{ClientIP: "203.0.113.9", RequestID: "req-1"})
	operator := func(action string, details map[string]string) models.AuditEntry {
		return models.AuditEntry{Action: action, ActorName: "(operator)", Details: details}
	}
	kim, err := s.CreateUser(models.WithAudit(origin, operator(models.AuditUserCreated, map[string]string{"role": "admin"})),
		models.NewUser{Name: "kim", Role: models.RoleAdmin, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	lee := mustCreate(t, s, "lee", "")
	byKim := func(action string, target models.User, details map[string]string) models.AuditEntry {
		return models.AuditEntry{Action: action, ActorID: kim.ID, ActorName: kim.Name, TargetID: target.ID, TargetName: target.Name, Details: details}
	}
	// A change refused (the name is taken) leaves no entry.
	taken := "KIM"
	_, err = s.UpdateUser(models.WithAudit(ctx, byKim(models.AuditUserRenamed, lee, nil)), lee.ID, models.UserChange{Name: &taken})
	wantErr(t, err, models.ErrNameTaken)
	name := "lee.park"
	if _, err := s.UpdateUser(models.WithAudit(ctx, byKim(models.AuditUserRenamed, lee, map[string]string{"from": "lee", "to": name})), lee.ID, models.UserChange{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndSessions(models.WithAudit(ctx, byKim(models.AuditSessionsEnded, models.User{}, nil)), lee.ID); err != nil {
		t.Fatal(err)
	}
	// The last admin is not deleted: no entry either.
	wantErr(t, s.DeleteUser(models.WithAudit(ctx, byKim(models.AuditUserDeleted, models.User{}, nil)), kim.ID, nil), models.ErrLastAdmin)
	if err := s.DeleteUser(models.WithAudit(ctx, byKim(models.AuditUserDeleted, models.User{}, nil)), lee.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := log.RecordAudit(origin, models.AuditEntry{Action: models.AuditLoginFailed, TargetName: "ghost", Details: map[string]string{"reason": "no such user"}}); err != nil {
		t.Fatal(err)
	}

	all, more, err := log.AuditLog(ctx, models.AuditQuery{Limit: 100})
	if err != nil || more {
		t.Fatalf("AuditLog: %v, more %v", err, more)
	}
	summary := func(entries []models.AuditEntry) []string {
		var out []string
		for _, e := range entries {
			out = append(out, fmt.Sprintf("%s %s>%s(%d) %s %v", e.Action, e.ActorName, e.TargetName, e.TargetID, e.ClientIP, e.Details))
		}
		return out
	}
	want := []string{
		"login.failed >ghost(0) 203.0.113.9 map[reason:no such user]",
		fmt.Sprintf("user.deleted kim>lee.park(%d)  map[]", lee.ID),
		fmt.Sprintf("sessions.ended kim>lee.park(%d)  map[]", lee.ID),
		fmt.Sprintf("user.renamed kim>lee(%d)  map[from:lee to:lee.park]", lee.ID),
		fmt.Sprintf("user.created (operator)>kim(%d) 203.0.113.9 map[role:admin]", kim.ID),
	}
	if got := summary(all); !slices.Equal(got, want) {
		t.Fatalf("the log, newest first:\n%q\nwant\n%q", got, want)
	}
	first := all[len(all)-1]
	if first.RequestID != "req-1" || first.ActorID != 0 || time.Since(first.At) > time.Minute || first.At.Location() != time.UTC {
		t.Errorf("first entry %+v", first)
	}

	// Pages of two, newest first, then oldest first.
	var ids []int64
	q := models.AuditQuery{Limit: 2}
	for {
		page, more, err := log.AuditLog(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			ids = append(ids, e.ID)
		}
		if !more {
			break
		}
		q.Before = page[len(page)-1].ID
	}
	if len(ids) != 5 || !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("paged newest first: %v", ids)
	}
	oldest, _, err := log.AuditLog(ctx, models.AuditQuery{Oldest: true, After: ids[4], Limit: 10})
	if err != nil || len(oldest) != 4 || oldest[0].ID != ids[3] {
		t.Errorf("oldest first after %d: %v %v", ids[4], summary(oldest), err)
	}

	for _, f := range []struct {
		q    models.AuditQuery
		want int
	}{
		{models.AuditQuery{Actor: "kim"}, 3},
		{models.AuditQuery{Target: "lee.park"}, 2},
		{models.AuditQuery{Target: "lee.park", Action: models.AuditUserDeleted}, 1},
		{models.AuditQuery{Action: models.AuditLoginFailed}, 1},
		{models.AuditQuery{Since: time.Now().Add(-time.Hour)}, 5},
		{models.AuditQuery{Since: time.Now().Add(time.Hour)}, 0},
		{models.AuditQuery{Until: time.Now().Add(-time.Hour)}, 0},
		{models.AuditQuery{Actor: "nobody"}, 0},
	} {
		f.q.Limit = 10
		got, _, err := log.AuditLog(ctx, f.q)
		if err != nil || len(got) != f.want {
			t.Errorf("%+v: %d entries (%v), want %d", f.q, len(got), err, f.want)
		}
	}

	// A change describes itself from the row its transaction locked, not
	// from the caller's earlier read (which another writer outdated).
	choi := mustCreate(t, s, "choi", "")
	stale := choi
	renamed := "choi.min"
	if _, err := s.UpdateUser(ctx, choi.ID, models.UserChange{Name: &renamed}); err != nil {
		t.Fatal(err)
	}
	admin := models.RoleAdmin
	var before models.User
	_, err = s.UpdateUser(ctx, stale.ID, models.UserChange{Role: &admin, Audit: func(b models.User) []models.AuditEntry {
		before = b
		return []models.AuditEntry{{Action: models.AuditUserRoleChanged, TargetID: b.ID, TargetName: b.Name, Details: map[string]string{"from": string(b.Role)}}}
	}})
	if err != nil || before.Name != renamed || before.Role != models.RoleMember {
		t.Fatalf("Audit saw %+v (%v), want choi.min, a member", before, err)
	}
	if got, _, _ := log.AuditLog(ctx, models.AuditQuery{Action: models.AuditUserRoleChanged, Limit: 10}); len(got) != 1 || got[0].TargetName != renamed || got[0].Details["from"] != "member" {
		t.Errorf("the role change's entry: %v", summary(got))
	}
	// Refused (a taken name): its description is not written.
	_, err = s.UpdateUser(ctx, choi.ID, models.UserChange{Name: &taken, Audit: func(b models.User) []models.AuditEntry {
		return []models.AuditEntry{{Action: models.AuditUserRenamed, TargetName: b.Name}}
	}})
	wantErr(t, err, models.ErrNameTaken)
	if got, _, _ := log.AuditLog(ctx, models.AuditQuery{Target: renamed, Action: models.AuditUserRenamed, Limit: 10}); len(got) != 0 {
		t.Errorf("a refused rename was recorded: %v", summary(got))
	}

	if n, err := log.PruneAudit(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("pruning before an hour ago removed %d (%v), want 0", n, err)
	}
	if n, err := log.PruneAudit(ctx, time.Now().Add(time.Minute)); err != nil || n != 6 {
		t.Errorf("pruning everything removed %d (%v), want 6", n, err)
	}
	if left, _, _ := log.AuditLog(ctx, models.AuditQuery{Limit: 10}); len(left) != 0 {
		t.Errorf("left after pruning: %v", summary(left))
	}
}
