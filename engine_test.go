package allsourceauth_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// engAppend stores an event straight into the server (no HTTP, no version check), with
// an op like ours.
func engAppend(t *testing.T, srv *allsourcetest.Server, entityID, eventType string, payload any) uint64 {
	t.Helper()
	v, err := srv.Append("", entityID, eventType, payload, map[string]string{"op": uuid.NewString()})
	require.NoError(t, err)
	return v
}

// engClaim stores an auth.claim.acquired event for an email.
func engClaim(t *testing.T, srv *allsourcetest.Server, email, owner string, ownerVersion uint64) {
	t.Helper()
	engAppend(t, srv, claimID("", "email", strings.ToLower(email)), "auth.claim.acquired", claimPayload("email", owner, ownerVersion))
}

// engUserPayload is a user's full state as an event payload.
func engUserPayload(t *testing.T, u allsourceauth.User, extra string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(u)
	require.NoError(t, err)
	if extra != "" {
		b = append(b[:len(b)-1], ","+extra+"}"...)
	}
	return b
}

// engClaimOwner returns the owner and ownerVersion of a claim's newest event, which must
// be an acquisition.
func engClaimOwner(t *testing.T, srv *allsourcetest.Server, email string) (string, uint64) {
	t.Helper()
	ev := lastEvent(t, srv, claimID("", "email", strings.ToLower(email)))
	require.Equal(t, "auth.claim.acquired", ev.EventType)
	_, owner, ov := decodeClaim(t, ev)
	return owner, ov
}

// engFenced returns the stored fence events (of any kind).
func engFenced(srv *allsourcetest.Server) []allsourcetest.Event {
	return eventsWhere(srv, func(ev allsourcetest.Event) bool { return strings.HasSuffix(ev.EventType, ".fenced") })
}

// TestEngineStaleClaimDeletedOwner: a claim left behind by a deleted owner (the tombstone
// still holds the value) finds nothing and is taken over without fencing.
func TestEngineStaleClaimDeletedOwner(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	now := time.Now().UTC()
	ghost := allsourceauth.User{ID: "ghost", Email: "Stale@x.io", CreatedAt: now, UpdatedAt: now}
	engAppend(t, srv, "auth-user:ghost", "auth.user.created", engUserPayload(t, ghost, ""))
	engClaim(t, srv, "stale@x.io", "auth-user:ghost", 0)
	engAppend(t, srv, "auth-user:ghost", "auth.user.deleted", engUserPayload(t, ghost, `"_deleted":true`))

	_, err := a.GetUserByEmail(ctx, "stale@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "never a deleted user")
	_, err = a.GetUserByID(ctx, "ghost")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	u := createUser(t, a, allsourceauth.CreateUser{Email: "STALE@x.io"})
	owner, ov := engClaimOwner(t, srv, "stale@x.io")
	assert.Equal(t, "auth-user:"+u.ID, owner)
	assert.Zero(t, ov)
	assert.Empty(t, engFenced(srv), "a stale claim needs no fence")
	requireUserReads(t, a, u)
}

// TestEngineStaleClaimMovedOn: a claim whose owner moved on to another email (and never
// released it) finds nothing and is taken over without fencing.
func TestEngineStaleClaimMovedOn(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	now := time.Now().UTC()
	m := allsourceauth.User{ID: "mover", Email: "first@x.io", CreatedAt: now, UpdatedAt: now}
	engClaim(t, srv, "first@x.io", "auth-user:mover", 0)
	engAppend(t, srv, "auth-user:mover", "auth.user.created", engUserPayload(t, m, ""))
	m.Email = "second@x.io"
	engClaim(t, srv, "second@x.io", "auth-user:mover", 1)
	engAppend(t, srv, "auth-user:mover", "auth.user.updated", engUserPayload(t, m, ""))

	_, err := a.GetUserByEmail(ctx, "first@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "the owner no longer holds the value")
	got, err := a.GetUserByEmail(ctx, "second@x.io")
	require.NoError(t, err)
	assert.Equal(t, "mover", got.ID)

	// Taken over by an update of another user, then by nobody else.
	createUser(t, a, allsourceauth.CreateUser{ID: "other"})
	up, err := a.UpdateUser(ctx, "other", allsourceauth.UpdateUser{Email: allsourceauth.Ptr("First@X.io")})
	require.NoError(t, err)
	requireUserReads(t, a, up)
	owner, ov := engClaimOwner(t, srv, "first@x.io")
	assert.Equal(t, "auth-user:other", owner)
	assert.Equal(t, uint64(1), ov)
	assert.Empty(t, engFenced(srv))
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "first@x.io"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
}

// TestEngineAbandonedClaimFenced: a claim whose owner's create never landed is fenced
// (auth.user.fenced, so that write can never land) and taken over.
func TestEngineAbandonedClaimFenced(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	engClaim(t, srv, "crash@x.io", "auth-user:crashed", 0)

	_, err := a.GetUserByEmail(ctx, "crash@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	u := createUser(t, a, allsourceauth.CreateUser{Email: "Crash@x.io"})
	requireUserReads(t, a, u)

	fenced := eventsOf(srv, "auth-user:crashed")
	require.Len(t, fenced, 1)
	assert.Equal(t, "auth.user.fenced", fenced[0].EventType)
	assert.Equal(t, uint64(1), fenced[0].Version)
	assert.JSONEq(t, `{"_deleted":true,"id":"crashed","_fenced":true}`, string(fenced[0].Payload))
	requireOp(t, fenced[0])
	owner, ov := engClaimOwner(t, srv, "crash@x.io")
	assert.Equal(t, "auth-user:"+u.ID, owner)
	assert.Zero(t, ov)

	// The abandoned write can never land: its entity is no longer at version 0.
	_, err = a.GetUserByID(ctx, "crashed")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{ID: "crashed", Email: "crash@x.io"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	assert.Len(t, eventsOf(srv, "auth-user:crashed"), 1)
}

// TestEngineInFlightUpdateFenced: a claim for a live owner whose update never landed: the
// fence keeps the owner's state and bumps its version.
func TestEngineInFlightUpdateFenced(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	live := createUser(t, a, allsourceauth.CreateUser{ID: "live", Email: "live@x.io", Name: "Live"})
	engClaim(t, srv, "wanted@x.io", "auth-user:live", 1) // live's email change, in flight

	_, err := a.GetUserByEmail(ctx, "wanted@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	u := createUser(t, a, allsourceauth.CreateUser{Email: "wanted@x.io"})
	requireUserReads(t, a, u)

	evs := eventsOf(srv, "auth-user:live")
	require.Len(t, evs, 2)
	assert.Equal(t, "auth.user.fenced", evs[1].EventType)
	assert.Equal(t, uint64(2), evs[1].Version)
	var f map[string]any
	require.NoError(t, json.Unmarshal(evs[1].Payload, &f))
	assert.Equal(t, true, f["_fenced"])
	assert.Nil(t, f["_deleted"])
	delete(f, "_fenced")
	var want map[string]any
	require.NoError(t, json.Unmarshal(evs[0].Payload, &want))
	assert.Equal(t, want, f, "the owner's state is kept unchanged")

	// The owner is still there, unchanged, and still writable.
	requireUserReads(t, a, live)
	up, err := a.UpdateUser(ctx, "live", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Still")})
	require.NoError(t, err)
	requireUserReads(t, a, up)
}

// TestEngineClaimOfOtherKind: a claim whose owner is not a user finds no user.
func TestEngineClaimOfOtherKind(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	engAppend(t, srv, "auth-org:o1", "auth.org.created", map[string]any{"id": "o1", "name": "O", "slug": "o", "email": "odd@x.io"})
	engClaim(t, srv, "odd@x.io", "auth-org:o1", 0)
	_, err := a.GetUserByEmail(t.Context(), "odd@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

// TestEngineConcurrentCreates: of 16 concurrent creates of one unique value through two
// Adapters on one Allsource, exactly one succeeds and exactly one user is written.
func TestEngineConcurrentCreates(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"email", "username"} {
		t.Run(field, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			adapters := []*allsourceauth.Adapter{newAdapter(t, srv), newAdapter(t, srv)}
			const n = 16
			value := "Race@X.io"
			users := make([]*allsourceauth.User, n)
			errs := race(n, adapters, func(i int, a *allsourceauth.Adapter) error {
				in := allsourceauth.CreateUser{Name: fmt.Sprint(i)}
				v := value
				if i%2 == 1 {
					v = strings.ToLower(value) // case-insensitive
				}
				if field == "email" {
					in.Email = v
				} else {
					in.Username = v
				}
				u, err := a.CreateUser(t.Context(), in)
				users[i] = u
				return err
			})
			wins := winners(t, errs, allsourceauth.ErrConflict)
			require.Len(t, wins, 1, "exactly one create wins; the rest conflict")

			created := eventsWhere(srv, func(ev allsourcetest.Event) bool {
				if ev.EventType != "auth.user.created" {
					return false
				}
				var u allsourceauth.User
				require.NoError(t, json.Unmarshal(ev.Payload, &u))
				return strings.EqualFold(u.Email, value) || strings.EqualFold(u.Username, value)
			})
			require.Len(t, created, 1, "exactly one user written")
			winner := users[wins[0]]
			assert.Equal(t, "auth-user:"+winner.ID, created[0].EntityID)
			var got *allsourceauth.User
			var err error
			if field == "email" {
				got, err = adapters[1].GetUserByEmail(t.Context(), value)
			} else {
				got, err = adapters[1].GetUserByUsername(t.Context(), value)
			}
			require.NoError(t, err)
			same(t, winner, got)
		})
	}
}

// TestEngineConcurrentUpdates: 8 concurrent updates of different fields of one user
// through two Adapters all land.
func TestEngineConcurrentUpdates(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	adapters := []*allsourceauth.Adapter{newAdapter(t, srv), newAdapter(t, srv)}
	u := createUser(t, adapters[0], allsourceauth.CreateUser{Email: "many@x.io", Username: "many"})
	updates := []allsourceauth.UpdateUser{
		{Name: allsourceauth.Ptr("Name")},
		{Image: allsourceauth.Ptr("https://i/x")},
		{Role: allsourceauth.Ptr("admin")},
		{DisplayUsername: allsourceauth.Ptr("Many")},
		{EmailVerified: allsourceauth.Ptr(true)},
		{TwoFactorEnabled: allsourceauth.Ptr(true)},
		{Banned: allsourceauth.Ptr(true), BanReason: allsourceauth.Ptr("spam")},
		{Metadata: map[string]any{"k": "v"}},
	}
	errs := race(len(updates), adapters, func(i int, a *allsourceauth.Adapter) error {
		_, err := a.UpdateUser(t.Context(), u.ID, updates[i])
		return err
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := adapters[1].GetUserByID(t.Context(), u.ID)
	require.NoError(t, err)
	assert.Equal(t, "Name", got.Name)
	assert.Equal(t, "https://i/x", got.Image)
	assert.Equal(t, "admin", got.Role)
	assert.Equal(t, "Many", got.DisplayUsername)
	assert.True(t, got.EmailVerified)
	assert.True(t, got.TwoFactorEnabled)
	assert.True(t, got.Banned)
	assert.Equal(t, "spam", got.BanReason)
	assert.Equal(t, map[string]any{"k": "v"}, got.Metadata)
	assert.Equal(t, "many@x.io", got.Email)
	assert.Equal(t, "many", got.Username)
	assert.Len(t, eventsOfType(srv, "auth.user.updated"), len(updates), "one event per update")
	requireUserReads(t, adapters[0], got)
}

// TestEngineConcurrentEmailChange: two users changing their email to the same new one at
// once through two Adapters: exactly one wins, the other keeps its old email.
func TestEngineConcurrentEmailChange(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	adapters := []*allsourceauth.Adapter{newAdapter(t, srv), newAdapter(t, srv)}
	ctx := t.Context()
	for round := range 4 {
		ids := []string{fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)}
		for _, id := range ids {
			createUser(t, adapters[0], allsourceauth.CreateUser{ID: id, Email: id + "@old.io"})
		}
		target := fmt.Sprintf("target%d@x.io", round)
		errs := race(2, adapters, func(i int, a *allsourceauth.Adapter) error {
			_, err := a.UpdateUser(ctx, ids[i], allsourceauth.UpdateUser{Email: allsourceauth.Ptr(target)})
			return err
		})
		wins := winners(t, errs, allsourceauth.ErrConflict)
		require.Len(t, wins, 1, "round %d: exactly one wins; the other conflicts", round)
		winner, loser := ids[wins[0]], ids[1-wins[0]]
		got, err := adapters[1].GetUserByEmail(ctx, target)
		require.NoError(t, err)
		assert.Equal(t, winner, got.ID)
		got, err = adapters[1].GetUserByEmail(ctx, loser+"@old.io")
		require.NoError(t, err, "the loser keeps its email")
		assert.Equal(t, loser, got.ID)
		assert.Equal(t, loser+"@old.io", got.Email)
		_, err = adapters[0].GetUserByEmail(ctx, winner+"@old.io")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		assert.Len(t, eventsOf(srv, "auth-user:"+loser), 1, "nothing written to the loser")
	}
}

// TestEngineLostAnswer: an append that lands but whose answer is lost is retried, seen
// as landed (by its op), and counted once.
func TestEngineLostAnswer(t *testing.T) {
	t.Parallel()
	lost := allsourcetest.Fault{Method: "POST", Path: "/api/v1/events", AfterApply: true, Drop: true}
	t.Run("UpdateUser", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		u := createUser(t, a, allsourceauth.CreateUser{Email: "lost@x.io"})
		srv.Inject(lost)
		got, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Once")})
		require.NoError(t, err)
		assert.Equal(t, "Once", got.Name)
		requireUserReads(t, a, got)
		assert.Len(t, eventsOfType(srv, "auth.user.updated"), 1)
	})
	t.Run("UpdateUser email", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		u := createUser(t, a, allsourceauth.CreateUser{Email: "lost@x.io"})
		srv.Inject(lost) // hits the new email's claim
		got, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("found@x.io")})
		require.NoError(t, err)
		requireUserReads(t, a, got)
		assert.Len(t, eventsOfType(srv, "auth.user.updated"), 1)
		assert.Len(t, eventsOf(srv, claimID("", "email", "found@x.io")), 1)
		createUser(t, a, allsourceauth.CreateUser{Email: "lost@x.io"})
	})
	t.Run("CreateUser", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(lost)
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{ID: "once"})
		require.NoError(t, err)
		requireUserReads(t, a, u)
		assert.Len(t, eventsOfType(srv, "auth.user.created"), 1)
	})
	t.Run("CreateUser claim", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(lost) // hits the email claim
		u, err := a.CreateUser(t.Context(), allsourceauth.CreateUser{Email: "claim@x.io"})
		require.NoError(t, err)
		requireUserReads(t, a, u)
		assert.Len(t, eventsOfType(srv, "auth.user.created"), 1)
		assert.Len(t, eventsOfType(srv, "auth.claim.acquired"), 1)
	})
	t.Run("DeleteUser", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		u := createUser(t, a, allsourceauth.CreateUser{ID: "bye"})
		srv.Inject(lost)
		require.NoError(t, a.DeleteUser(t.Context(), u.ID))
		assert.Len(t, eventsOfType(srv, "auth.user.deleted"), 1)
	})
	t.Run("CreateSession", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		srv.Inject(lost)
		s := createSession(t, a, "u", time.Now().Add(time.Hour))
		requireSessionReads(t, a, s)
		assert.Len(t, eventsOfType(srv, "auth.session.created"), 1)
	})
	t.Run("UpdateSessionExpiry", func(t *testing.T) {
		t.Parallel()
		a, srv := newStore(t)
		s := createSession(t, a, "u", time.Now().Add(time.Hour))
		srv.Inject(lost)
		exp := time.Now().Add(2 * time.Hour).UTC()
		require.NoError(t, a.UpdateSessionExpiry(t.Context(), s.Token, exp))
		got, err := a.GetSession(t.Context(), s.Token)
		require.NoError(t, err)
		sameTime(t, exp.Round(0), got.ExpiresAt, "ExpiresAt")
		assert.Len(t, eventsOfType(srv, "auth.session.expiry_updated"), 1)
	})
}
