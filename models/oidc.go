package models

import (
	"context"
	"errors"
	"time"
)

// OIDCLink ties an account to a subject of an OpenID Connect provider:
// the issuer and the subject together name one person at one provider,
// for good (a name or an e-mail address may change hands; they do not).
type OIDCLink struct {
	UserID    int64
	Issuer    string
	Subject   string
	CreatedAt time.Time
}

// OIDCIdentity is who an OpenID Connect provider says signed in.
type OIDCIdentity struct {
	Issuer, Subject string
	// Name is the name claim, "" when absent.
	Name string
	// Groups is the groups claim; HasGroups says whether it was there at
	// all (an empty list is a claim too).
	Groups    []string
	HasGroups bool
}

// MaxOIDCIdentifier bounds an issuer or a subject, in bytes (the
// specification caps the subject at 255 ASCII characters).
const MaxOIDCIdentifier = 1024

var (
	// ErrNoOIDCLink: no account is linked to this subject (or this user
	// has no such link).
	ErrNoOIDCLink = errors.New("no account is linked to this sign-in")
	// ErrOIDCLinkTaken: this subject is linked to an account already.
	ErrOIDCLinkTaken = errors.New("this sign-in is linked to an account already")
)

// OIDCLinkStore keeps the links between accounts and provider subjects.
type OIDCLinkStore interface {
	// LinkOIDC stores l (CreatedAt is set) and returns it. ErrNotFound
	// when the user does not exist, ErrOIDCLinkTaken when the issuer and
	// subject are linked already, to anyone.
	LinkOIDC(ctx context.Context, l OIDCLink) (OIDCLink, error)
	// OIDCLinkBySubject returns the link of issuer and subject, or
	// ErrNoOIDCLink.
	OIDCLinkBySubject(ctx context.Context, issuer, subject string) (OIDCLink, error)
	// OIDCLinks lists a user's links, oldest first.
	OIDCLinks(ctx context.Context, userID int64) ([]OIDCLink, error)
	// UnlinkOIDC removes the user's link to issuer and subject;
	// ErrNoOIDCLink when they have none.
	UnlinkOIDC(ctx context.Context, userID int64, issuer, subject string) error
}
