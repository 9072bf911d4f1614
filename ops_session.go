package allsourceauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/google/uuid"
)

// sessionKind: a session is addressed by its token, auth-session:{token}.
var sessionKind = &kind[Session]{
	name: "session", entity: "auth-session:", event: "auth.session.",
	key:     func(s *Session) string { return s.Token },
	created: func(s *Session) time.Time { return s.CreatedAt },
}

// newToken returns "session_" and 43 base64url characters from 32 random bytes.
func newToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	return "session_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateSession stores a new session with a fresh random token and returns it. UserID and
// ExpiresAt are required (ErrInvalidInput). One request.
func (a *Adapter) CreateSession(ctx context.Context, in CreateSession) (*Session, error) {
	if in.UserID == "" || in.ExpiresAt.IsZero() {
		return nil, wrapOp("create session", invalid("UserID and ExpiresAt are required"))
	}
	if err := checkRef("UserID", in.UserID); err != nil {
		return nil, wrapOp("create session", err)
	}
	now := a.clock()
	s := &Session{
		ID: uuid.NewString(), Token: newToken(), UserID: in.UserID, ExpiresAt: in.ExpiresAt,
		CreatedAt: now, UpdatedAt: now, IPAddress: in.IPAddress, UserAgent: in.UserAgent,
		ImpersonatedBy: in.ImpersonatedBy, ActiveOrganizationID: in.ActiveOrganizationID,
	}
	out, err := create(ctx, a, sessionKind, s)
	return out, wrapOp("create session", err)
}

// GetSession returns the live session with this token, expired or not (the framework
// decides), or ErrNotFound. One request.
func (a *Adapter) GetSession(ctx context.Context, token string) (*Session, error) {
	s, err := get(ctx, a, sessionKind, token)
	return s, wrapOp("get session", err)
}

// GetUserSessions returns the user's live sessions, expired ones included, newest first;
// none is an empty slice.
func (a *Adapter) GetUserSessions(ctx context.Context, userID string) ([]Session, error) {
	out, err := byUser(ctx, a, sessionKind, userID)
	return out, wrapOp("get user sessions", err)
}

// UpdateSessionExpiry sets the session's ExpiresAt (event auth.session.expiry_updated).
// An unknown token is not an error and writes nothing.
func (a *Adapter) UpdateSessionExpiry(ctx context.Context, token string, expiresAt time.Time) error {
	now := a.clock()
	_, err := mutate(ctx, a, sessionKind, token, "expiry_updated", false, nil, func(s *Session) error {
		s.ExpiresAt, s.UpdatedAt = expiresAt, now
		return nil
	})
	if isNotFound(err) {
		err = nil
	}
	return wrapOp("update session expiry", err)
}

// DeleteSession deletes the session; an unknown token is not an error. Two requests.
func (a *Adapter) DeleteSession(ctx context.Context, token string) error {
	return wrapOp("delete session", remove(ctx, a, sessionKind, token))
}

// DeleteUserSessions deletes every live session of the user.
func (a *Adapter) DeleteUserSessions(ctx context.Context, userID string) error {
	if err := checkRef("user id", userID); err != nil {
		return wrapOp("delete user sessions", err)
	}
	_, err := removeWhere(ctx, a, sessionKind, userFilter(userID), nil)
	return wrapOp("delete user sessions", err)
}

// DeleteExpiredSessions deletes the sessions whose ExpiresAt <= now and returns how many
// it deleted. A session extended concurrently is left alone.
func (a *Adapter) DeleteExpiredSessions(ctx context.Context) (int, error) {
	now := a.clock()
	n, err := removeWhere(ctx, a, sessionKind, nil, func(s *Session) bool { return !s.ExpiresAt.After(now) })
	return n, wrapOp("delete expired sessions", err)
}

// UpdateSessionActiveOrganization sets the session's active organization, or clears it
// with "" (event auth.session.updated). ErrNotFound for an unknown token.
func (a *Adapter) UpdateSessionActiveOrganization(ctx context.Context, token, organizationID string) (*Session, error) {
	now := a.clock()
	s, err := mutate(ctx, a, sessionKind, token, "updated", false, nil, func(s *Session) error {
		s.ActiveOrganizationID, s.UpdatedAt = organizationID, now
		return nil
	})
	return s, wrapOp("update session active organization", err)
}
