package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

// token runs `userhub token SUBCOMMAND`: personal access tokens for
// operators, straight on the database, for any user.
func (e env) token(cfg config.Config, log *slog.Logger, opt options, args []string) error {
	if len(args) == 0 {
		return usageError("token: which subcommand? create, list or revoke")
	}
	sub, args := args[0], args[1:]
	switch {
	case sub == "create" && len(args) == 1 && opt.tokenUser != "":
	case sub == "create":
		return usageError("token create takes one NAME (what the token is for) and -user USER")
	case sub == "list" && len(args) == 0:
	case sub == "list":
		return usageError("token list takes no arguments (-user USER for one user's)")
	case sub == "revoke" && len(args) == 1:
	case sub == "revoke":
		return usageError("token revoke takes one ID (token list shows them)")
	default:
		return usageError(fmt.Sprintf("token: unknown subcommand %q", sub))
	}
	ctx := context.Background()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	acc := accounts.New(accounts.Options{Store: s, Tokens: s, Audit: s, Counter: s, Hasher: newHasher(cfg.Auth), Auth: cfg.Auth, Log: log})
	operator := auth.Operator()
	userNamed := func(name string) (models.User, error) {
		u, err := s.UserByName(ctx, name)
		if errors.Is(err, models.ErrNotFound) {
			return u, fmt.Errorf("no user is named %q", name)
		}
		return u, err
	}

	switch sub {
	case "create":
		u, err := userNamed(opt.tokenUser)
		if err != nil {
			return err
		}
		var scopes []models.Scope
		for part := range strings.SplitSeq(opt.tokenScopes, ",") {
			if part = strings.TrimSpace(part); part != "" {
				scopes = append(scopes, models.Scope(part))
			}
		}
		var lifetime time.Duration
		if opt.tokenExpires != "" {
			if lifetime, err = time.ParseDuration(opt.tokenExpires); err != nil || lifetime <= 0 {
				return usageError(fmt.Sprintf("-expires %q: give a duration such as 720h (30 days)", opt.tokenExpires))
			}
		}
		t, err := acc.CreateToken(ctx, operator, accounts.NewToken{Name: args[0], Scopes: scopes, ExpiresIn: lifetime, User: u.ID})
		if err != nil {
			return err
		}
		expires := "never expires"
		if !t.ExpiresAt.IsZero() {
			expires = "expires " + t.ExpiresAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(e.stderr, "token %d for %s (%s, %s); it is shown once, keep it now:\n", t.ID, u.Name, models.JoinScopes(t.Scopes, ","), expires)
		fmt.Fprintln(e.stdout, t.Secret) // alone on stdout, for TOKEN=$(userhub token create ...)
		return nil
	case "list":
		var user int64 // 0: everyone's
		if opt.tokenUser != "" {
			u, err := userNamed(opt.tokenUser)
			if err != nil {
				return err
			}
			user = u.ID
		}
		tokens, err := acc.Tokens(ctx, operator, user)
		if err != nil {
			return err
		}
		names := map[int64]string{}
		for _, t := range tokens {
			if _, ok := names[t.UserID]; !ok {
				u, err := s.User(ctx, t.UserID)
				if err != nil {
					return err
				}
				names[t.UserID] = u.Name
			}
		}
		w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tUSER\tNAME\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED")
		for _, t := range tokens {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, names[t.UserID], t.Name, t.Prefix, models.JoinScopes(t.Scopes, ","),
				t.CreatedAt.Local().Format(time.DateTime), orNever(t.ExpiresAt), orNever(t.LastUsedAt))
		}
		return w.Flush()
	default: // revoke
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id <= 0 {
			return usageError(fmt.Sprintf("token revoke: %q is not a token id (token list shows them)", args[0]))
		}
		if err := acc.RevokeToken(ctx, operator, id); err != nil {
			if errors.Is(err, models.ErrNoToken) {
				return fmt.Errorf("no token has id %d", id)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "revoked token %d: it no longer works\n", id)
		return nil
	}
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}
