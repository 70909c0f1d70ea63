package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"userhub/accounts"
	"userhub/auth"
	"userhub/config"
	"userhub/models"
)

// user runs `userhub user SUBCOMMAND NAME`: user management for operators,
// straight on the database (a running server sees the changes at once).
func (e env) user(cfg config.Config, log *slog.Logger, opt options, args []string) error {
	if len(args) == 0 {
		return usageError("user: which subcommand? add, passwd, list, delete, logout, suspend, restore, reset-2fa, link or unlink")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "passwd", "list", "delete", "logout", "suspend", "restore", "reset-2fa", "link", "unlink":
	default:
		return usageError(fmt.Sprintf("user: unknown subcommand %q", sub))
	}
	if sub == "list" {
		if len(args) != 0 {
			return usageError("user list takes no arguments")
		}
	} else if sub == "link" {
		if len(args) != 2 {
			return usageError("user link takes a NAME and the provider's SUBJECT (its sub claim for the person)")
		}
		if !cfg.OIDC.Enabled() {
			return usageError("user link: single sign-on is off; set oidc.issuer (and the other oidc settings) first")
		}
	} else if len(args) != 1 {
		return usageError(fmt.Sprintf("user %s takes one NAME", sub))
	}
	ctx := context.Background()
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if sub == "list" {
		return e.listUsers(ctx, s)
	}
	// Changes go through the read cache, which tells a running server
	// sharing an SQLite file to read again, at once (PostgreSQL tells its
	// servers itself).
	users, stopSignal, err := readCache(s, cfg, log)
	if err != nil {
		return err
	}
	defer stopSignal()
	acc := accounts.New(accounts.Options{Store: users, Tokens: s, SecondFactors: s, Passkeys: s, Audit: s, Counter: s, Hasher: newHasher(cfg.Auth), Auth: cfg.Auth, Log: log,
		OIDCLinks: s, OIDC: accounts.OIDCRules(cfg.OIDC)})
	operator := auth.Operator()

	if sub == "add" {
		n := accounts.NewAccount{Name: args[0], Role: models.RoleMember}
		if opt.admin {
			n.Role = models.RoleAdmin
		}
		if err := acc.Check(n); err != nil { // before asking for a password
			return err
		}
		password, err := e.readPassword(opt.passwordStdin, true)
		if err != nil {
			return err
		}
		if password != "" {
			n.Password = &password
		}
		u, err := acc.Create(ctx, operator, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %s (id %d, %s)\n", u.Name, u.ID, u.Role)
		return nil
	}

	u, err := users.UserByName(ctx, args[0])
	if errors.Is(err, models.ErrNotFound) {
		return fmt.Errorf("no user is named %q", args[0])
	}
	if err != nil {
		return err
	}
	switch sub {
	case "passwd":
		password, err := e.readPassword(opt.passwordStdin, false)
		if err != nil {
			return err
		}
		if _, err := acc.SetPassword(ctx, operator, u.ID, password); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s changed; their sessions have ended\n", u.Name)
	case "delete":
		if err := acc.Delete(ctx, operator, u.ID, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", u.Name)
	case "logout":
		if _, err := acc.EndSessions(ctx, operator, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "every session of %s has ended\n", u.Name)
	case "reset-2fa":
		if _, err := acc.ResetSecondFactors(ctx, operator, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "second factors and passkeys of %s removed and their sessions ended: they log in with their password alone, and can set up new ones on /account/security\n", u.Name)
	case "link":
		if err := acc.LinkOIDCFor(ctx, operator, u, cfg.OIDC.Issuer, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "linked %s to subject %q at %s: signing in there as that person logs in as %s\n", u.Name, args[1], cfg.OIDC.Issuer, u.Name)
	case "unlink":
		n, err := acc.UnlinkOIDCFor(ctx, operator, u)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed %d single sign-on link(s) of %s\n", n, u.Name)
	case "suspend", "restore":
		suspend := sub == "suspend"
		if _, err := acc.Update(ctx, operator, u.ID, accounts.Change{Suspended: &suspend}); err != nil {
			return err
		}
		if suspend {
			fmt.Fprintf(e.stdout, "suspended %s: their sessions have ended, and they cannot log in until restored (userhub user restore %s)\n", u.Name, u.Name)
		} else {
			fmt.Fprintf(e.stdout, "restored %s: they can log in again\n", u.Name)
		}
	}
	return nil
}

func (e env) listUsers(ctx context.Context, s models.UserStore) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tPASSWORD\tSTATE\tCREATED\tLAST LOGIN")
	var after int64
	for {
		page, err := s.ListUsers(ctx, models.ListQuery{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, u := range page.All() {
			password := "set"
			if u.PasswordHash == "" {
				password = "none"
			}
			state, lastLogin := "active", "never"
			if u.Suspended {
				state = "suspended"
			}
			if !u.LastLoginAt.IsZero() {
				lastLogin = u.LastLoginAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Role, password, state, u.CreatedAt.Format(time.RFC3339), lastLogin)
		}
		if !page.More {
			return tw.Flush()
		}
		after = page.Last().ID
	}
}

// readPassword reads a password: one line from standard input with
// -password-stdin (for scripts), otherwise typed twice at the terminal
// without echo. With optional, an empty answer means "no password".
func (e env) readPassword(fromStdin, optional bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("no password on standard input")
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" && !optional {
			return "", fmt.Errorf("the password on standard input is empty")
		}
		return password, nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no terminal to ask for the password on; pipe it in with -password-stdin")
	}
	prompt := "Password: "
	if optional {
		prompt = "Password (empty: none, the user cannot log in until one is set): "
	}
	fmt.Fprint(e.stderr, prompt)
	first, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if len(first) == 0 && optional {
		return "", nil
	}
	fmt.Fprint(e.stderr, "Again: ")
	second, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if string(first) != string(second) {
		return "", fmt.Errorf("the two passwords differ")
	}
	return string(first), nil
}
