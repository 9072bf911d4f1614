package allsourceauth_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

var sesTokenRE = regexp.MustCompile(`^session_[A-Za-z0-9_-]{43}$`)

// sesTokens returns the tokens of sessions, in order.
func sesTokens(ss []allsourceauth.Session) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i].Token
	}
	return out
}

func TestSessionCreate(t *testing.T) {
	t.Parallel()
	a, srv, _ := newStoreAt(t, zonedEpoch)
	ctx := t.Context()
	expires := time.Date(2026, 4, 5, 6, 7, 8, 999999999, time.FixedZone("PST", -8*3600))

	in := allsourceauth.CreateSession{
		UserID: "u1", ExpiresAt: expires, IPAddress: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11) ünï 🚀",
		ImpersonatedBy: "admin-1", ActiveOrganizationID: "org-1",
	}
	var s *allsourceauth.Session
	var err error
	reqs := requestsDuring(srv, func() { s, err = a.CreateSession(ctx, in) })
	require.NoError(t, err)
	assert.Equal(t, int64(1), reqs, "CreateSession is one request")

	assert.Regexp(t, sesTokenRE, s.Token)
	assertUUID4(t, s.ID)
	assert.Equal(t, "u1", s.UserID)
	assert.Equal(t, in.IPAddress, s.IPAddress)
	assert.Equal(t, in.UserAgent, s.UserAgent)
	assert.Equal(t, in.ImpersonatedBy, s.ImpersonatedBy)
	assert.Equal(t, in.ActiveOrganizationID, s.ActiveOrganizationID)
	assert.True(t, expires.Equal(s.ExpiresAt))
	assert.Equal(t, expires.Nanosecond(), s.ExpiresAt.Nanosecond(), "full precision")
	sameTime(t, zonedEpoch.UTC(), s.CreatedAt, "CreatedAt = now")
	sameTime(t, zonedEpoch.UTC(), s.UpdatedAt, "UpdatedAt = now")
	requireSessionReads(t, a, s)

	evs := eventsOf(srv, "auth-session:"+s.Token)
	require.Len(t, evs, 1)
	assert.Equal(t, "auth.session.created", evs[0].EventType)
	requireOp(t, evs[0])
	assert.Equal(t, []string{
		"activeOrganizationId", "createdAt", "expiresAt", "id", "impersonatedBy", "ipAddress",
		"token", "updatedAt", "userAgent", "userId",
	}, jsonKeys(t, evs[0].Payload))

	// Tokens are fresh each time.
	seen := map[string]bool{s.Token: true}
	for range 20 {
		s2 := createSession(t, a, "u1", expires)
		assert.Regexp(t, sesTokenRE, s2.Token)
		assert.False(t, seen[s2.Token], "token reused")
		seen[s2.Token] = true
	}
}

func TestSessionMinimal(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	requireSessionReads(t, a, s)
	assert.Equal(t, []string{"createdAt", "expiresAt", "id", "token", "updatedAt", "userId"},
		jsonKeys(t, lastEvent(t, srv, "auth-session:"+s.Token).Payload), "optional strings are absent keys")
}

func TestSessionBadInput(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	okToken := strings.Repeat("t", 128-len("auth-session:"))

	noRequests(t, srv, func() error {
		for name, in := range map[string]allsourceauth.CreateSession{
			"no user":            {ExpiresAt: exp},
			"no expiry":          {UserID: "u1"},
			"user with newline":  {UserID: "u\n1", ExpiresAt: exp},
			"user with c1":       {UserID: "u\u00851", ExpiresAt: exp},
			"user id of 129":     {UserID: strings.Repeat("u", 129), ExpiresAt: exp},
			"nothing":            {},
			"user id of NUL":     {UserID: "\x00", ExpiresAt: exp},
			"expiry but no user": {ExpiresAt: exp, IPAddress: "1.2.3.4"},
		} {
			_, err := a.CreateSession(ctx, in)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, name)
		}
		for name, tok := range map[string]string{
			"entity id of 129": okToken + "t",
			"newline":          "session_a\nb",
			"tab":              "\tsession",
			"c1":               "session_\u009f",
		} {
			_, err := a.GetSession(ctx, tok)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "get %s", name)
			assert.ErrorIs(t, a.UpdateSessionExpiry(ctx, tok, exp), allsourceauth.ErrInvalidInput, "expiry %s", name)
			assert.ErrorIs(t, a.DeleteSession(ctx, tok), allsourceauth.ErrInvalidInput, "delete %s", name)
			_, err = a.UpdateSessionActiveOrganization(ctx, tok, "o")
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "active org %s", name)
		}
		for name, uid := range map[string]string{"long": strings.Repeat("u", 129), "newline": "u\n"} {
			_, err := a.GetUserSessions(ctx, uid)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "user sessions %s", name)
			assert.ErrorIs(t, a.DeleteUserSessions(ctx, uid), allsourceauth.ErrInvalidInput, "delete user sessions %s", name)
		}
		// Empty keys: not found (or nothing) without a request.
		_, err := a.GetSession(ctx, "")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.UpdateSessionActiveOrganization(ctx, "", "o")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		assert.NoError(t, a.UpdateSessionExpiry(ctx, "", exp))
		assert.NoError(t, a.DeleteSession(ctx, ""))
		assert.NoError(t, a.DeleteUserSessions(ctx, ""))
		ss, err := a.GetUserSessions(ctx, "")
		assert.NoError(t, err)
		assert.Empty(t, ss)
		return nil
	})
	assert.Empty(t, srv.Events(), "nothing written")

	// An entity id of exactly 128 bytes is fine: a request, and not found.
	_, err := a.GetSession(ctx, okToken)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

func TestSessionAbsent(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	gone := createSession(t, a, "u1", time.Now().Add(time.Hour))
	require.NoError(t, a.DeleteSession(ctx, gone.Token))
	never := "session_" + strings.Repeat("A", 43)

	for _, tok := range []string{never, gone.Token} {
		_, err := a.GetSession(ctx, tok)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		assert.Contains(t, err.Error(), "get session")
		assert.NotContains(t, err.Error(), tok, "no token in error text")

		n := len(srv.Events())
		require.NoError(t, a.UpdateSessionExpiry(ctx, tok, time.Now()), "unknown token is not an error")
		assert.Len(t, srv.Events(), n, "and writes nothing")
		require.NoError(t, a.DeleteSession(ctx, tok))
		assert.Len(t, srv.Events(), n, "deletes are idempotent")

		_, err = a.UpdateSessionActiveOrganization(ctx, tok, "org")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		assert.NotContains(t, err.Error(), tok)
		assert.Len(t, srv.Events(), n)
	}
	ss, err := a.GetUserSessions(ctx, "u1")
	require.NoError(t, err)
	assert.Empty(t, ss)
	ss, err = a.GetUserSessions(ctx, "nobody")
	require.NoError(t, err)
	assert.NotNil(t, ss, "none is an empty slice")
	assert.Empty(t, ss)
}

func TestSessionGetExpired(t *testing.T) {
	t.Parallel()
	a, _, clock := newStoreAt(t, zonedEpoch)
	s := createSession(t, a, "u1", zonedEpoch.Add(time.Minute))
	clock.Advance(time.Hour)
	requireSessionReads(t, a, s)
	ss, err := a.GetUserSessions(t.Context(), "u1")
	require.NoError(t, err)
	require.Len(t, ss, 1, "expired sessions are included")
	same(t, s, &ss[0])
}

func TestSessionGetUserSessions(t *testing.T) {
	t.Parallel()
	a, srv, clock := newStoreAt(t, zonedEpoch)
	ctx := t.Context()
	var mine []*allsourceauth.Session
	for i := range 6 {
		mine = append(mine, createSession(t, a, "ann", zonedEpoch.Add(time.Duration(i-2)*time.Hour)))
		createSession(t, a, "bob", zonedEpoch.Add(time.Hour))
		clock.Advance(time.Second)
	}
	createSession(t, a, "ann2", zonedEpoch.Add(time.Hour)) // a prefix of no other id
	require.NoError(t, a.DeleteSession(ctx, mine[2].Token))
	// A later update keeps the order by creation time.
	require.NoError(t, a.UpdateSessionExpiry(ctx, mine[0].Token, zonedEpoch.Add(48*time.Hour)))
	upd, err := a.GetSession(ctx, mine[0].Token)
	require.NoError(t, err)
	mine[0] = upd

	var got []allsourceauth.Session
	reqs := requestsDuring(srv, func() { got, err = a.GetUserSessions(ctx, "ann") })
	require.NoError(t, err)
	assert.Equal(t, int64(1), reqs, "one page")
	want := []*allsourceauth.Session{mine[5], mine[4], mine[3], mine[1], mine[0]}
	require.Equal(t, sesTokens([]allsourceauth.Session{*want[0], *want[1], *want[2], *want[3], *want[4]}), sesTokens(got), "newest first, deleted left out")
	for i := range want {
		same(t, want[i], &got[i])
	}

	// Paging through everything with a small page size gives the same answer.
	small := newAdapter(t, srv, allsourceauth.WithPageSize(2))
	got2, err := small.GetUserSessions(ctx, "ann")
	require.NoError(t, err)
	assert.Equal(t, sesTokens(got), sesTokens(got2))
}

func TestSessionUpdateExpiry(t *testing.T) {
	t.Parallel()
	a, srv, clock := newStoreAt(t, zonedEpoch)
	ctx := t.Context()
	s := createSession(t, a, "u1", zonedEpoch.Add(time.Hour))
	other := createSession(t, a, "u1", zonedEpoch.Add(time.Hour))
	clock.Advance(time.Minute + 1)
	newExp := time.Date(2027, 1, 1, 0, 0, 0, 42, time.FixedZone("CET", 3600))

	require.NoError(t, a.UpdateSessionExpiry(ctx, s.Token, newExp))
	got, err := a.GetSession(ctx, s.Token)
	require.NoError(t, err)
	assert.True(t, newExp.Equal(got.ExpiresAt), "ExpiresAt: %s", got.ExpiresAt)
	sameTime(t, clock.Now().UTC(), got.UpdatedAt, "UpdatedAt = now")
	sameTime(t, s.CreatedAt, got.CreatedAt, "CreatedAt unchanged")
	want := *s
	want.ExpiresAt, want.UpdatedAt = got.ExpiresAt, got.UpdatedAt
	same(t, &want, got)
	requireSessionReads(t, a, other)

	last := lastEvent(t, srv, "auth-session:"+s.Token)
	assert.Equal(t, "auth.session.expiry_updated", last.EventType)
	assert.Equal(t, uint64(2), last.Version)
	requireOp(t, last)
}

func TestSessionDelete(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	s := createSession(t, a, "u1", time.Now().Add(time.Hour))
	keep := createSession(t, a, "u1", time.Now().Add(time.Hour))

	reqs := requestsOf(t, srv, func() error { return a.DeleteSession(ctx, s.Token) })
	assert.Equal(t, int64(2), reqs, "DeleteSession is two requests")
	_, err := a.GetSession(ctx, s.Token)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	requireSessionReads(t, a, keep)

	tomb := lastEvent(t, srv, "auth-session:"+s.Token)
	assert.Equal(t, "auth.session.deleted", tomb.EventType)
	f := payloadOf(t, tomb.Payload)
	assert.Equal(t, true, f["_deleted"])
	assert.Equal(t, "u1", f["userId"], "the tombstone keeps the state")
	assert.Equal(t, s.ID, f["id"])
}

func TestSessionDeleteUserSessions(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithPageSize(3))
	ctx := t.Context()
	for range 7 {
		createSession(t, a, "ann", time.Now().Add(time.Hour))
	}
	bob := createSession(t, a, "bob", time.Now().Add(time.Hour))
	createSession(t, a, "ann", time.Now().Add(-time.Hour)) // expired ones too

	require.NoError(t, a.DeleteUserSessions(ctx, "ann"))
	ss, err := a.GetUserSessions(ctx, "ann")
	require.NoError(t, err)
	assert.Empty(t, ss)
	assert.Len(t, eventsOfType(srv, "auth.session.deleted"), 8)
	requireSessionReads(t, a, bob)

	n := len(srv.Events())
	require.NoError(t, a.DeleteUserSessions(ctx, "ann"))
	require.NoError(t, a.DeleteUserSessions(ctx, "nobody"))
	assert.Len(t, srv.Events(), n, "nothing left to delete")
}

func TestSessionDeleteExpired(t *testing.T) {
	t.Parallel()
	a, srv, clock := newStoreAt(t, zonedEpoch, allsourceauth.WithPageSize(2))
	ctx := t.Context()
	past := createSession(t, a, "u1", zonedEpoch.Add(-time.Nanosecond))
	exact := createSession(t, a, "u2", zonedEpoch.Add(time.Hour))
	future := createSession(t, a, "u1", zonedEpoch.Add(time.Hour+time.Nanosecond))
	extended := createSession(t, a, "u3", zonedEpoch.Add(-time.Hour))
	require.NoError(t, a.UpdateSessionExpiry(ctx, extended.Token, zonedEpoch.Add(2*time.Hour)))
	deleted := createSession(t, a, "u3", zonedEpoch.Add(-time.Hour))
	require.NoError(t, a.DeleteSession(ctx, deleted.Token))

	clock.Advance(time.Hour) // now == exact.ExpiresAt: expired (ExpiresAt <= now)
	n, err := a.DeleteExpiredSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, s := range []*allsourceauth.Session{past, exact} {
		_, err := a.GetSession(ctx, s.Token)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	requireSessionReads(t, a, future)
	_, err = a.GetSession(ctx, extended.Token)
	require.NoError(t, err, "an extended session is not expired")

	n, err = a.DeleteExpiredSessions(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left")

	clock.Advance(time.Nanosecond)
	n, err = a.DeleteExpiredSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = a.GetSession(ctx, future.Token)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Len(t, eventsOfType(srv, "auth.session.deleted"), 4)
}

func TestSessionActiveOrganization(t *testing.T) {
	t.Parallel()
	a, srv, clock := newStoreAt(t, zonedEpoch)
	ctx := t.Context()
	s := createSession(t, a, "u1", zonedEpoch.Add(time.Hour))

	clock.Advance(time.Second)
	got, err := a.UpdateSessionActiveOrganization(ctx, s.Token, "org-1")
	require.NoError(t, err)
	assert.Equal(t, "org-1", got.ActiveOrganizationID)
	sameTime(t, clock.Now().UTC(), got.UpdatedAt, "UpdatedAt = now")
	want := *s
	want.ActiveOrganizationID, want.UpdatedAt = "org-1", got.UpdatedAt
	same(t, &want, got)
	requireSessionReads(t, a, got)
	last := lastEvent(t, srv, "auth-session:"+s.Token)
	assert.Equal(t, "auth.session.updated", last.EventType)
	assert.Equal(t, "org-1", payloadOf(t, last.Payload)["activeOrganizationId"])

	clock.Advance(time.Second)
	got, err = a.UpdateSessionActiveOrganization(ctx, s.Token, "")
	require.NoError(t, err)
	assert.Empty(t, got.ActiveOrganizationID)
	sameTime(t, clock.Now().UTC(), got.UpdatedAt, "UpdatedAt = now")
	requireSessionReads(t, a, got)
	last = lastEvent(t, srv, "auth-session:"+s.Token)
	assert.Equal(t, "auth.session.updated", last.EventType)
	assert.Equal(t, uint64(3), last.Version)
	_, has := payloadOf(t, last.Payload)["activeOrganizationId"]
	assert.False(t, has, "cleared")
}

// TestSessionRequestBudget checks the documented round trips of the session and user
// calls against allsourcetest.
func TestSessionRequestBudget(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	var (
		u   *allsourceauth.User
		s   *allsourceauth.Session
		err error
	)
	check := func(name string, max int64, fn func() error) {
		t.Helper()
		n := requestsOf(t, srv, fn, name)
		assert.LessOrEqual(t, n, max, "%s: %d requests", name, n)
		assert.Positive(t, n, name)
	}
	exact := func(name string, want int64, fn func() error) {
		t.Helper()
		assert.Equal(t, want, requestsOf(t, srv, fn, name), name)
	}
	check("CreateUser fresh email and username", 3, func() error {
		u, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "b@x.io", Username: "budget"})
		return err
	})
	exact("GetUserByID", 1, func() error { _, err := a.GetUserByID(ctx, u.ID); return err })
	exact("GetUserByEmail", 2, func() error { _, err := a.GetUserByEmail(ctx, "B@x.io"); return err })
	exact("GetUserByUsername", 2, func() error { _, err := a.GetUserByUsername(ctx, "BUDGET"); return err })
	exact("UpdateUser not touching email/username", 2, func() error {
		_, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("n"), Role: allsourceauth.Ptr("r")})
		return err
	})
	exact("CreateSession", 1, func() error {
		s, err = a.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
		return err
	})
	exact("GetSession", 1, func() error { _, err := a.GetSession(ctx, s.Token); return err })
	exact("GetUserSessions", 1, func() error { _, err := a.GetUserSessions(ctx, u.ID); return err })
	exact("DeleteSession", 2, func() error { return a.DeleteSession(ctx, s.Token) })
	exact("GetSession absent", 1, func() error {
		if _, err := a.GetSession(ctx, s.Token); !errors.Is(err, allsourceauth.ErrNotFound) {
			return fmt.Errorf("want ErrNotFound, got %v", err)
		}
		return nil
	})
}
