package allsourceauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// histT0 is the start of every timeline in this file.
var histT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// histStore starts an Allsource and an Adapter that share one settable clock: the
// adapter's CreatedAt/UpdatedAt and the server's event timestamps both come from it
// (the server bumps equal times by 1ns to keep them strictly increasing), so a test
// can place an AsOf time between two phases of writes.
func histStore(t *testing.T) (*allsourceauth.Adapter, *allsourcetest.Server, *testClock) {
	t.Helper()
	clk := newClock(histT0)
	srv := newServer(t, allsourcetest.WithClock(clk.Now))
	return newAdapter(t, srv, allsourceauth.WithClock(clk.Now)), srv, clk
}

// histTypes lists the event types of a history.
func histTypes(evs []allsourceauth.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func TestHistoryReturnsEveryEventOldestFirst(t *testing.T) {
	t.Parallel()
	a, srv, clk := histStore(t)
	ctx := t.Context()

	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
	clk.Advance(time.Minute)
	_, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("Ada Lovelace")})
	require.NoError(t, err)
	clk.Advance(time.Minute)
	require.NoError(t, a.DeleteUser(ctx, u.ID))

	evs, err := a.History(ctx, allsourceauth.KindUser, u.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"auth.user.created", "auth.user.updated", "auth.user.deleted"}, histTypes(evs))

	stored := eventsOf(srv, "auth-user:"+u.ID)
	require.Len(t, stored, 3, "claim events must not appear in the user's history")
	for i, ev := range evs {
		assert.Equal(t, stored[i].ID, ev.ID, "event %d id", i)
		assert.Equal(t, "auth-user:"+u.ID, ev.EntityID)
		assert.Equal(t, uint64(i+1), ev.Version)
		assert.True(t, ev.Timestamp.Equal(stored[i].Timestamp), "event %d timestamp %v, stored %v", i, ev.Timestamp, stored[i].Timestamp)
		assert.JSONEq(t, string(stored[i].Payload), string(ev.Payload), "event %d payload", i)
	}
	assert.False(t, evs[0].Deleted)
	assert.False(t, evs[1].Deleted)
	assert.True(t, evs[2].Deleted, "the tombstone is marked Deleted")
	assert.True(t, evs[0].Timestamp.Before(evs[1].Timestamp) && evs[1].Timestamp.Before(evs[2].Timestamp))
	assert.True(t, evs[1].Timestamp.After(histT0.Add(time.Minute-time.Second)), "timestamps come from the server's clock")

	// Every payload is a full-state snapshot, the tombstone included.
	names := []string{"Ada", "Ada Lovelace", "Ada Lovelace"}
	for i, ev := range evs {
		var got allsourceauth.User
		require.NoError(t, json.Unmarshal(ev.Payload, &got))
		assert.Equal(t, u.ID, got.ID)
		assert.Equal(t, "ada@example.com", got.Email)
		assert.Equal(t, names[i], got.Name, "event %d", i)
	}
}

func TestHistoryPagesThroughLongHistories(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	small := newAdapter(t, srv, allsourceauth.WithPageSize(2))
	u := createUser(t, a, allsourceauth.CreateUser{Name: "v1"})
	for i := 2; i <= 7; i++ {
		_, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("v" + string(rune('0'+i)))})
		require.NoError(t, err)
	}
	evs, err := small.History(t.Context(), allsourceauth.KindUser, u.ID)
	require.NoError(t, err)
	require.Len(t, evs, 7)
	for i, ev := range evs {
		assert.Equal(t, uint64(i+1), ev.Version)
	}
}

func TestHistoryNotFound(t *testing.T) {
	t.Parallel()
	a, _, _ := histStore(t)
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com"})

	for _, tc := range []struct {
		name string
		kind allsourceauth.Kind
		id   string
	}{
		{"unknown user", allsourceauth.KindUser, "no-such-user"},
		{"empty id", allsourceauth.KindUser, ""},
		{"user id under another kind", allsourceauth.KindOrganization, u.ID},
		{"unknown session", allsourceauth.KindSession, "session_nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := a.History(t.Context(), tc.kind, tc.id)
			require.ErrorIs(t, err, allsourceauth.ErrNotFound)
			assert.Empty(t, evs)
		})
	}

	t.Run("bad id", func(t *testing.T) {
		t.Parallel()
		_, err := a.History(t.Context(), allsourceauth.KindUser, "bad\nid")
		require.ErrorIs(t, err, allsourceauth.ErrInvalidInput)
		_, err = a.History(t.Context(), allsourceauth.KindUser, strings.Repeat("x", 200))
		require.ErrorIs(t, err, allsourceauth.ErrInvalidInput)
	})
}

func TestHistoryUnknownKind(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada"})
	sent := requestsDuring(srv, func() {
		for _, k := range []allsourceauth.Kind{"", "users", "User", "claim", "two_factor"} {
			_, err := a.History(t.Context(), k, u.ID)
			require.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "History kind %q", k)
			err = a.Restore(t.Context(), k, u.ID)
			require.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "Restore kind %q", k)
		}
	})
	assert.Zero(t, sent, "an unknown kind is rejected before any request")
}

func TestHistorySessionIsKeyedByToken(t *testing.T) {
	t.Parallel()
	a, _, clk := histStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada"})
	s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: histT0.Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(time.Minute)
	require.NoError(t, a.UpdateSessionExpiry(ctx, s.Token, histT0.Add(2*time.Hour)))
	require.NoError(t, a.DeleteSession(ctx, s.Token))

	evs, err := a.History(ctx, allsourceauth.KindSession, s.Token)
	require.NoError(t, err)
	require.Equal(t, []string{"auth.session.created", "auth.session.expiry_updated", "auth.session.deleted"}, histTypes(evs))
	assert.Equal(t, "auth-session:"+s.Token, evs[0].EntityID)
	assert.Equal(t, []bool{false, false, true}, []bool{evs[0].Deleted, evs[1].Deleted, evs[2].Deleted})

	_, err = a.History(ctx, allsourceauth.KindSession, s.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "a session's history is keyed by its token, not its id")
}

// histEntities creates one live entity of every kind for u and returns, per kind, its
// History/Restore key.
func histEntities(t *testing.T, a *allsourceauth.Adapter, u *allsourceauth.User, tag string) map[allsourceauth.Kind]string {
	t.Helper()
	ctx := t.Context()
	exp := histT0.Add(24 * time.Hour)
	s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: exp})
	require.NoError(t, err)
	acc, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: u.ID, ProviderID: "github", AccountID: "gh-" + tag})
	require.NoError(t, err)
	v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "email:" + tag, Value: "code-" + tag, ExpiresAt: exp})
	require.NoError(t, err)
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Org " + tag, Slug: "org-" + tag})
	require.NoError(t, err)
	m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: u.ID, Role: "owner"})
	require.NoError(t, err)
	inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: o.ID, Email: tag + "@invite.example", InviterID: u.ID, ExpiresAt: exp})
	require.NoError(t, err)
	tf, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: u.ID, Secret: "secret-" + tag})
	require.NoError(t, err)
	k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: u.ID, KeyHash: "hash-" + tag, Enabled: true})
	require.NoError(t, err)
	p, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: u.ID, CredentialID: "cred-" + tag, PublicKey: "pk"})
	require.NoError(t, err)
	return map[allsourceauth.Kind]string{
		allsourceauth.KindUser: u.ID, allsourceauth.KindSession: s.Token, allsourceauth.KindAccount: acc.ID,
		allsourceauth.KindVerification: v.ID, allsourceauth.KindOrganization: o.ID, allsourceauth.KindMember: m.ID,
		allsourceauth.KindInvitation: inv.ID, allsourceauth.KindTwoFactor: tf.ID, allsourceauth.KindAPIKey: k.ID,
		allsourceauth.KindPasskey: p.ID,
	}
}

func TestHistoryEveryKind(t *testing.T) {
	t.Parallel()
	a, _, _ := histStore(t)
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com"})
	keys := histEntities(t, a, u, "k")
	want := map[allsourceauth.Kind]string{
		allsourceauth.KindUser:         "auth-user:|auth.user.created",
		allsourceauth.KindSession:      "auth-session:|auth.session.created",
		allsourceauth.KindAccount:      "auth-account:|auth.account.created",
		allsourceauth.KindVerification: "auth-verification:|auth.verification.created",
		allsourceauth.KindOrganization: "auth-org:|auth.org.created",
		allsourceauth.KindMember:       "auth-member:|auth.member.created",
		allsourceauth.KindInvitation:   "auth-invitation:|auth.invitation.created",
		allsourceauth.KindTwoFactor:    "auth-2fa:|auth.two_factor.created",
		allsourceauth.KindAPIKey:       "auth-apikey:|auth.api_key.created",
		allsourceauth.KindPasskey:      "auth-passkey:|auth.passkey.created",
	}
	for kind, w := range want {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			prefix, typ, _ := strings.Cut(w, "|")
			evs, err := a.History(t.Context(), kind, keys[kind])
			require.NoError(t, err)
			require.Len(t, evs, 1)
			assert.Equal(t, prefix+keys[kind], evs[0].EntityID)
			assert.Equal(t, typ, evs[0].Type)
			assert.Equal(t, uint64(1), evs[0].Version)
			assert.False(t, evs[0].Deleted)
			assert.Contains(t, string(evs[0].Payload), `"createdAt"`)
		})
	}
}

// ---------------------------------------------------------------------------------------
// AsOf

// histTimeline is a store with two phases of writes, an hour apart: the view at
// histMid sees phase one only.
type histTimeline struct {
	a                *allsourceauth.Adapter
	srv              *allsourcetest.Server
	alice, bob       *allsourceauth.User // alice's email changes after mid; bob is deleted after mid
	carol            *allsourceauth.User // created after mid
	org              *allsourceauth.Organization
	oldSession       *allsourceauth.Session // deleted after mid
	newSession       *allsourceauth.Session // created after mid
	oldAcc, newAcc   *allsourceauth.Account
	oldKey, newKey   *allsourceauth.APIKey // oldKey deleted after mid
	mid              time.Time
	phaseTwoStartsAt time.Time
}

func histBuildTimeline(t *testing.T) *histTimeline {
	t.Helper()
	a, srv, clk := histStore(t)
	ctx := t.Context()
	tl := &histTimeline{a: a, srv: srv}
	var err error

	// Phase one, at histT0.
	tl.alice = createUser(t, a, allsourceauth.CreateUser{Name: "Alice", Email: "alice@old.example", Username: "alice"})
	tl.bob = createUser(t, a, allsourceauth.CreateUser{Name: "Bob", Email: "bob@example.com", Username: "bob"})
	tl.org, err = a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	tl.oldSession, err = a.CreateSession(ctx, allsourceauth.CreateSession{UserID: tl.alice.ID, ExpiresAt: histT0.Add(48 * time.Hour)})
	require.NoError(t, err)
	tl.oldAcc, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: tl.alice.ID, ProviderID: "credential", AccountID: tl.alice.ID, Password: "h1"})
	require.NoError(t, err)
	tl.oldKey, err = a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: tl.alice.ID, KeyHash: "hash-old", Enabled: true})
	require.NoError(t, err)

	clk.Advance(30 * time.Minute)
	tl.mid = clk.Now()
	clk.Advance(30 * time.Minute)
	tl.phaseTwoStartsAt = clk.Now()

	// Phase two, an hour later.
	_, err = a.UpdateUser(ctx, tl.alice.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("alice@new.example"), Name: allsourceauth.Ptr("Alice B.")})
	require.NoError(t, err)
	require.NoError(t, a.DeleteUser(ctx, tl.bob.ID))
	tl.carol = createUser(t, a, allsourceauth.CreateUser{Name: "Carol", Email: "carol@example.com", Username: "carol"})
	_, err = a.UpdateOrganization(ctx, tl.org.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("acme-2")})
	require.NoError(t, err)
	require.NoError(t, a.DeleteSession(ctx, tl.oldSession.Token))
	tl.newSession, err = a.CreateSession(ctx, allsourceauth.CreateSession{UserID: tl.alice.ID, ExpiresAt: histT0.Add(48 * time.Hour)})
	require.NoError(t, err)
	tl.newAcc, err = a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: tl.alice.ID, ProviderID: "github", AccountID: "gh-alice"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteAPIKey(ctx, tl.oldKey.ID))
	tl.newKey, err = a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: tl.alice.ID, KeyHash: "hash-new", Enabled: true})
	require.NoError(t, err)

	// The clock really did separate the phases on the server.
	for _, ev := range srv.Events() {
		require.False(t, ev.Timestamp.After(tl.mid) && ev.Timestamp.Before(tl.phaseTwoStartsAt), "event inside the gap: %v", ev.Timestamp)
	}
	return tl
}

func TestAsOfReadsSeeOnlyEventsUpToT(t *testing.T) {
	t.Parallel()
	tl := histBuildTimeline(t)

	// The same checks run against the view at mid (and the same instant in another zone),
	// and against the live store, which must see the opposite: the tests can fail.
	type check struct {
		name      string
		then, now func(t *testing.T, a *allsourceauth.Adapter)
	}
	notFound := func(t *testing.T, _ any, err error) {
		t.Helper()
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	checks := []check{
		{
			"by id: deleted after t is found, created after t is not, changed after t is old",
			func(t *testing.T, a *allsourceauth.Adapter) {
				ctx := t.Context()
				bob, err := a.GetUserByID(ctx, tl.bob.ID)
				require.NoError(t, err)
				assert.Equal(t, *tl.bob, *bob)
				_, err = a.GetUserByID(ctx, tl.carol.ID)
				require.ErrorIs(t, err, allsourceauth.ErrNotFound)
				alice, err := a.GetUserByID(ctx, tl.alice.ID)
				require.NoError(t, err)
				assert.Equal(t, *tl.alice, *alice)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				ctx := t.Context()
				u, err := a.GetUserByID(ctx, tl.bob.ID)
				notFound(t, u, err)
				_, err = a.GetUserByID(ctx, tl.carol.ID)
				require.NoError(t, err)
				alice, err := a.GetUserByID(ctx, tl.alice.ID)
				require.NoError(t, err)
				assert.Equal(t, "alice@new.example", alice.Email)
			},
		},
		{
			"by email, through the claim",
			func(t *testing.T, a *allsourceauth.Adapter) {
				ctx := t.Context()
				u, err := a.GetUserByEmail(ctx, "ALICE@old.example")
				require.NoError(t, err)
				assert.Equal(t, tl.alice.ID, u.ID)
				assert.Equal(t, "alice@old.example", u.Email)
				u, err = a.GetUserByEmail(ctx, "alice@new.example")
				notFound(t, u, err)
				u, err = a.GetUserByEmail(ctx, "bob@example.com")
				require.NoError(t, err)
				assert.Equal(t, tl.bob.ID, u.ID)
				u, err = a.GetUserByEmail(ctx, "carol@example.com")
				notFound(t, u, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				ctx := t.Context()
				u, err := a.GetUserByEmail(ctx, "alice@old.example")
				notFound(t, u, err)
				u, err = a.GetUserByEmail(ctx, "alice@new.example")
				require.NoError(t, err)
				assert.Equal(t, tl.alice.ID, u.ID)
				u, err = a.GetUserByEmail(ctx, "bob@example.com")
				notFound(t, u, err)
				_, err = a.GetUserByEmail(ctx, "carol@example.com")
				require.NoError(t, err)
			},
		},
		{
			"by username",
			func(t *testing.T, a *allsourceauth.Adapter) {
				u, err := a.GetUserByUsername(t.Context(), "BOB")
				require.NoError(t, err)
				assert.Equal(t, tl.bob.ID, u.ID)
				u, err = a.GetUserByUsername(t.Context(), "carol")
				notFound(t, u, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				u, err := a.GetUserByUsername(t.Context(), "bob")
				notFound(t, u, err)
				_, err = a.GetUserByUsername(t.Context(), "carol")
				require.NoError(t, err)
			},
		},
		{
			"by slug",
			func(t *testing.T, a *allsourceauth.Adapter) {
				o, err := a.GetOrganizationBySlug(t.Context(), "acme")
				require.NoError(t, err)
				assert.Equal(t, *tl.org, *o)
				o, err = a.GetOrganizationBySlug(t.Context(), "acme-2")
				notFound(t, o, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				o, err := a.GetOrganizationBySlug(t.Context(), "acme")
				notFound(t, o, err)
				o, err = a.GetOrganizationBySlug(t.Context(), "acme-2")
				require.NoError(t, err)
				assert.Equal(t, tl.org.ID, o.ID)
			},
		},
		{
			"sessions by token and by user",
			func(t *testing.T, a *allsourceauth.Adapter) {
				s, err := a.GetSession(t.Context(), tl.oldSession.Token)
				require.NoError(t, err)
				assert.Equal(t, *tl.oldSession, *s)
				s, err = a.GetSession(t.Context(), tl.newSession.Token)
				notFound(t, s, err)
				ss, err := a.GetUserSessions(t.Context(), tl.alice.ID)
				require.NoError(t, err)
				assert.Equal(t, []allsourceauth.Session{*tl.oldSession}, ss)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				s, err := a.GetSession(t.Context(), tl.oldSession.Token)
				notFound(t, s, err)
				ss, err := a.GetUserSessions(t.Context(), tl.alice.ID)
				require.NoError(t, err)
				assert.Equal(t, []allsourceauth.Session{*tl.newSession}, ss)
			},
		},
		{
			"accounts by user",
			func(t *testing.T, a *allsourceauth.Adapter) {
				accs, err := a.GetUserAccounts(t.Context(), tl.alice.ID)
				require.NoError(t, err)
				assert.Equal(t, []allsourceauth.Account{*tl.oldAcc}, accs)
				acc, err := a.GetAccount(t.Context(), "github", "gh-alice")
				notFound(t, acc, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				accs, err := a.GetUserAccounts(t.Context(), tl.alice.ID)
				require.NoError(t, err)
				assert.Len(t, accs, 2)
			},
		},
		{
			"api keys by hash",
			func(t *testing.T, a *allsourceauth.Adapter) {
				k, err := a.GetAPIKeyByHash(t.Context(), "hash-old")
				require.NoError(t, err)
				assert.Equal(t, *tl.oldKey, *k)
				k, err = a.GetAPIKeyByHash(t.Context(), "hash-new")
				notFound(t, k, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				k, err := a.GetAPIKeyByHash(t.Context(), "hash-old")
				notFound(t, k, err)
				_, err = a.GetAPIKeyByHash(t.Context(), "hash-new")
				require.NoError(t, err)
			},
		},
		{
			"list users",
			func(t *testing.T, a *allsourceauth.Adapter) {
				users, total, err := a.ListUsers(t.Context(), allsourceauth.ListUsersParams{SortBy: "email"})
				require.NoError(t, err)
				assert.Equal(t, 2, total)
				assert.Equal(t, []allsourceauth.User{*tl.alice, *tl.bob}, users)
				_, total, err = a.ListUsers(t.Context(), allsourceauth.ListUsersParams{SearchValue: "new.example"})
				require.NoError(t, err)
				assert.Zero(t, total, "the email changed after t is not searchable in the view")
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				users, total, err := a.ListUsers(t.Context(), allsourceauth.ListUsersParams{SortBy: "email"})
				require.NoError(t, err)
				assert.Equal(t, 2, total)
				assert.Equal(t, []string{"alice@new.example", "carol@example.com"}, []string{users[0].Email, users[1].Email})
			},
		},
		{
			"history stops at t",
			func(t *testing.T, a *allsourceauth.Adapter) {
				evs, err := a.History(t.Context(), allsourceauth.KindUser, tl.bob.ID)
				require.NoError(t, err)
				assert.Equal(t, []string{"auth.user.created"}, histTypes(evs))
				evs, err = a.History(t.Context(), allsourceauth.KindUser, tl.carol.ID)
				notFound(t, evs, err)
			},
			func(t *testing.T, a *allsourceauth.Adapter) {
				evs, err := a.History(t.Context(), allsourceauth.KindUser, tl.bob.ID)
				require.NoError(t, err)
				assert.Equal(t, []string{"auth.user.created", "auth.user.deleted"}, histTypes(evs))
			},
		},
	}

	views := map[string]*allsourceauth.Adapter{
		"as of mid":                   tl.a.AsOf(tl.mid),
		"as of mid, another zone":     tl.a.AsOf(tl.mid.In(time.FixedZone("UTC-7", -7*3600))),
		"as of just before phase two": tl.a.AsOf(tl.phaseTwoStartsAt.Add(-time.Nanosecond)),
	}
	for _, c := range checks {
		for name, view := range views {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				c.then(t, view)
			})
		}
		t.Run(c.name+"/now", func(t *testing.T) {
			t.Parallel()
			c.now(t, tl.a)
		})
	}
}

func TestAsOfIncludesEventsAtExactlyT(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com"})
	evs := eventsOf(srv, "auth-user:"+u.ID)
	require.Len(t, evs, 1)
	at := evs[0].Timestamp

	got, err := a.AsOf(at).GetUserByID(t.Context(), u.ID)
	require.NoError(t, err, "an event stamped exactly t is visible")
	assert.Equal(t, u.ID, got.ID)
	_, err = a.AsOf(at.Add(-time.Nanosecond)).GetUserByID(t.Context(), u.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.AsOf(at.Add(-time.Nanosecond)).GetUserByEmail(t.Context(), "ada@example.com")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
}

func TestAsOfBeforeEverythingIsEmpty(t *testing.T) {
	t.Parallel()
	tl := histBuildTimeline(t)
	view := tl.a.AsOf(histT0.Add(-time.Hour))
	ctx := t.Context()
	_, err := view.GetUserByID(ctx, tl.alice.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = view.GetUserByEmail(ctx, "alice@old.example")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	users, total, err := view.ListUsers(ctx, allsourceauth.ListUsersParams{})
	require.NoError(t, err)
	assert.Zero(t, total)
	assert.Empty(t, users)
	ss, err := view.GetUserSessions(ctx, tl.alice.ID)
	require.NoError(t, err)
	assert.Empty(t, ss)
}

func TestAsOfWritesAreReadOnly(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
	keys := histEntities(t, a, u, "ro")
	gone := createUser(t, a, allsourceauth.CreateUser{Name: "Gone", Email: "gone@example.com"})
	require.NoError(t, a.DeleteUser(ctx, gone.ID))

	view := a.AsOf(histT0.Add(time.Hour)) // after everything: a view that sees it all
	exp := histT0.Add(72 * time.Hour)
	id := func(k allsourceauth.Kind) string { return keys[k] }
	writes := map[string]func(ctx context.Context) error{
		"CreateUser": func(ctx context.Context) error {
			_, err := view.CreateUser(ctx, allsourceauth.CreateUser{Email: "new@example.com"})
			return err
		},
		"UpdateUser": func(ctx context.Context) error {
			_, err := view.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")})
			return err
		},
		"DeleteUser": func(ctx context.Context) error { return view.DeleteUser(ctx, u.ID) },
		"CreateSession": func(ctx context.Context) error {
			_, err := view.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: exp})
			return err
		},
		"UpdateSessionExpiry": func(ctx context.Context) error {
			return view.UpdateSessionExpiry(ctx, id(allsourceauth.KindSession), exp)
		},
		"UpdateSessionActiveOrganization": func(ctx context.Context) error {
			_, err := view.UpdateSessionActiveOrganization(ctx, id(allsourceauth.KindSession), id(allsourceauth.KindOrganization))
			return err
		},
		"DeleteSession":         func(ctx context.Context) error { return view.DeleteSession(ctx, id(allsourceauth.KindSession)) },
		"DeleteUserSessions":    func(ctx context.Context) error { return view.DeleteUserSessions(ctx, u.ID) },
		"DeleteExpiredSessions": func(ctx context.Context) error { _, err := view.DeleteExpiredSessions(ctx); return err },
		"CreateAccount": func(ctx context.Context) error {
			_, err := view.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: u.ID, ProviderID: "google", AccountID: "g1"})
			return err
		},
		"UpdateAccount": func(ctx context.Context) error {
			_, err := view.UpdateAccount(ctx, id(allsourceauth.KindAccount), allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
			return err
		},
		"DeleteAccount": func(ctx context.Context) error { return view.DeleteAccount(ctx, id(allsourceauth.KindAccount)) },
		"CreateVerification": func(ctx context.Context) error {
			_, err := view.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "i", Value: "v", ExpiresAt: exp})
			return err
		},
		"ConsumeVerification": func(ctx context.Context) error {
			_, err := view.ConsumeVerification(ctx, "email:ro", "code-ro")
			return err
		},
		"DeleteVerification": func(ctx context.Context) error {
			return view.DeleteVerification(ctx, id(allsourceauth.KindVerification))
		},
		"DeleteExpiredVerifications": func(ctx context.Context) error {
			_, err := view.DeleteExpiredVerifications(ctx)
			return err
		},
		"CreateOrganization": func(ctx context.Context) error {
			_, err := view.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "n", Slug: "new-slug"})
			return err
		},
		"UpdateOrganization": func(ctx context.Context) error {
			_, err := view.UpdateOrganization(ctx, id(allsourceauth.KindOrganization), allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
			return err
		},
		"DeleteOrganization": func(ctx context.Context) error {
			return view.DeleteOrganization(ctx, id(allsourceauth.KindOrganization))
		},
		"CreateMember": func(ctx context.Context) error {
			_, err := view.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: id(allsourceauth.KindOrganization), UserID: "other", Role: "member"})
			return err
		},
		"UpdateMemberRole": func(ctx context.Context) error {
			_, err := view.UpdateMemberRole(ctx, id(allsourceauth.KindMember), "admin")
			return err
		},
		"DeleteMember": func(ctx context.Context) error { return view.DeleteMember(ctx, id(allsourceauth.KindMember)) },
		"CreateInvitation": func(ctx context.Context) error {
			_, err := view.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: id(allsourceauth.KindOrganization), Email: "x@example.com", InviterID: u.ID, ExpiresAt: exp})
			return err
		},
		"UpdateInvitationStatus": func(ctx context.Context) error {
			_, err := view.UpdateInvitationStatus(ctx, id(allsourceauth.KindInvitation), allsourceauth.InvitationAccepted)
			return err
		},
		"CreateTwoFactor": func(ctx context.Context) error {
			_, err := view.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "other", Secret: "s"})
			return err
		},
		"UpdateTwoFactorBackupCodes": func(ctx context.Context) error {
			_, err := view.UpdateTwoFactorBackupCodes(ctx, u.ID, "codes")
			return err
		},
		"DeleteTwoFactor": func(ctx context.Context) error { return view.DeleteTwoFactor(ctx, u.ID) },
		"CreateAPIKey": func(ctx context.Context) error {
			_, err := view.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: u.ID, KeyHash: "another-hash"})
			return err
		},
		"UpdateAPIKey": func(ctx context.Context) error {
			_, err := view.UpdateAPIKey(ctx, id(allsourceauth.KindAPIKey), allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
			return err
		},
		"DeleteAPIKey":         func(ctx context.Context) error { return view.DeleteAPIKey(ctx, id(allsourceauth.KindAPIKey)) },
		"DeleteExpiredAPIKeys": func(ctx context.Context) error { _, err := view.DeleteExpiredAPIKeys(ctx); return err },
		"CreatePasskey": func(ctx context.Context) error {
			_, err := view.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: u.ID, CredentialID: "cred-2", PublicKey: "pk"})
			return err
		},
		"UpdatePasskeyCounter": func(ctx context.Context) error {
			_, err := view.UpdatePasskeyCounter(ctx, id(allsourceauth.KindPasskey), 7)
			return err
		},
		"UpdatePasskeyName": func(ctx context.Context) error {
			_, err := view.UpdatePasskeyName(ctx, id(allsourceauth.KindPasskey), "x")
			return err
		},
		"DeletePasskey": func(ctx context.Context) error { return view.DeletePasskey(ctx, id(allsourceauth.KindPasskey)) },
		"Restore":       func(ctx context.Context) error { return view.Restore(ctx, allsourceauth.KindUser, gone.ID) },
		"Restore live":  func(ctx context.Context) error { return view.Restore(ctx, allsourceauth.KindUser, u.ID) },
	}

	events, requests := len(srv.Events()), srv.Requests()
	t.Run("each write", func(t *testing.T) {
		for name, write := range writes {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				err := write(t.Context())
				require.ErrorIs(t, err, allsourceauth.ErrReadOnly)
				for _, other := range []error{allsourceauth.ErrNotFound, allsourceauth.ErrConflict, allsourceauth.ErrInvalidInput} {
					assert.False(t, errors.Is(err, other), "%v also matches %v", err, other)
				}
			})
		}
	})
	assert.Equal(t, requests, srv.Requests(), "a write on a view sends no request")
	assert.Len(t, srv.Events(), events, "a write on a view appends nothing")

	// The adapter the view came from still writes, and views of views stay read-only.
	_, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("still writable")})
	require.NoError(t, err)
	_, err = view.AsOf(histT0).CreateUser(ctx, allsourceauth.CreateUser{})
	require.ErrorIs(t, err, allsourceauth.ErrReadOnly)
}

// ---------------------------------------------------------------------------------------
// Restore

func TestRestoreBringsBackTheLastLiveState(t *testing.T) {
	t.Parallel()
	a, srv, clk := histStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
	clk.Advance(time.Minute)
	last, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{
		Name: allsourceauth.Ptr("Ada Lovelace"), Email: allsourceauth.Ptr("ada.lovelace@example.com"),
		Metadata: map[string]any{"plan": "pro"},
	})
	require.NoError(t, err)
	clk.Advance(time.Minute)
	require.NoError(t, a.DeleteUser(ctx, u.ID))
	_, err = a.GetUserByEmail(ctx, "ada.lovelace@example.com")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	clk.Advance(time.Minute)
	require.NoError(t, a.Restore(ctx, allsourceauth.KindUser, u.ID))

	got, err := a.GetUserByID(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, *last, *got, "the state before the deletion, unchanged")

	byEmail, err := a.GetUserByEmail(ctx, "Ada.Lovelace@example.com")
	require.NoError(t, err, "the email is claimed again")
	assert.Equal(t, u.ID, byEmail.ID)
	byName, err := a.GetUserByUsername(ctx, "ADA")
	require.NoError(t, err, "the username is claimed again")
	assert.Equal(t, u.ID, byName.ID)
	_, err = a.GetUserByEmail(ctx, "ada@example.com")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "the email given up before the deletion stays free")

	evs, err := a.History(ctx, allsourceauth.KindUser, u.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"auth.user.created", "auth.user.updated", "auth.user.deleted", "auth.user.restored"}, histTypes(evs))
	assert.False(t, evs[3].Deleted)
	assert.Equal(t, uint64(4), evs[3].Version)
	stored := eventsOf(srv, "auth-user:"+u.ID)
	assert.Contains(t, string(stored[3].Metadata), `"op"`, "a restore carries op metadata like every append")

	// The values really are held: nobody else can take them now.
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "ADA.LOVELACE@example.com"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Username: "ada"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)

	// Deleted and restored again: still the last live state.
	require.NoError(t, a.DeleteUser(ctx, u.ID))
	require.NoError(t, a.Restore(ctx, allsourceauth.KindUser, u.ID))
	got, err = a.GetUserByID(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, *last, *got)
}

func TestRestoreConflictWhenAValueWasTaken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		newcomer  allsourceauth.CreateUser
		freeEmail bool // the restored user's email is still free afterwards
	}{
		{"email taken", allsourceauth.CreateUser{Email: "ADA@example.com"}, false},
		{"username taken", allsourceauth.CreateUser{Username: "Ada"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, srv, _ := histStore(t)
			ctx := t.Context()
			u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
			require.NoError(t, a.DeleteUser(ctx, u.ID))
			other, err := a.CreateUser(ctx, tc.newcomer)
			require.NoError(t, err, "the deletion freed the value")

			before := len(eventsOf(srv, "auth-user:"+u.ID))
			err = a.Restore(ctx, allsourceauth.KindUser, u.ID)
			require.ErrorIs(t, err, allsourceauth.ErrConflict)
			assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), before, "nothing appended to the user")
			_, err = a.GetUserByID(ctx, u.ID)
			require.ErrorIs(t, err, allsourceauth.ErrNotFound, "still deleted")

			if tc.newcomer.Email != "" {
				got, err := a.GetUserByEmail(ctx, "ada@example.com")
				require.NoError(t, err)
				assert.Equal(t, other.ID, got.ID, "the newcomer keeps the email")
			} else {
				got, err := a.GetUserByUsername(ctx, "ada")
				require.NoError(t, err)
				assert.Equal(t, other.ID, got.ID, "the newcomer keeps the username")
			}
			if tc.freeEmail {
				// A value claimed before the conflict was given back: the email is free at
				// once (no fence on the deleted user, nothing appended to it).
				third, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "ada@example.com"})
				require.NoError(t, err)
				got, err := a.GetUserByEmail(ctx, "ada@example.com")
				require.NoError(t, err)
				assert.Equal(t, third.ID, got.ID)
				assert.Len(t, eventsOf(srv, "auth-user:"+u.ID), before, "the deleted user was not fenced")
			}
		})
	}
}

func TestRestoreNotFound(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	ctx := t.Context()

	err := a.Restore(ctx, allsourceauth.KindUser, "never-existed")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	err = a.Restore(ctx, allsourceauth.KindSession, "session_never")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	err = a.Restore(ctx, allsourceauth.KindUser, "")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	// An entity that only ever was a fenced tombstone (a claim owner whose create never
	// landed) never existed live.
	_, err = srv.Append("", "auth-user:fenced-only", "auth.user.fenced", json.RawMessage(`{"_deleted":true,"id":"fenced-only","_fenced":true}`), nil)
	require.NoError(t, err)
	events := len(srv.Events())
	err = a.Restore(ctx, allsourceauth.KindUser, "fenced-only")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Len(t, srv.Events(), events, "nothing appended")
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), "user")
}

func TestRestoreOfALiveEntityChangesNothing(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
	keys := histEntities(t, a, u, "live")

	for kind, key := range keys {
		events := len(srv.Events())
		require.NoError(t, a.Restore(ctx, kind, key), "kind %s", kind)
		assert.Len(t, srv.Events(), events, "kind %s: nothing appended", kind)
	}
	got, err := a.GetUserByEmail(ctx, "ada@example.com")
	require.NoError(t, err)
	assert.Equal(t, *u, *got)
}

func TestRestoreEveryKind(t *testing.T) {
	t.Parallel()
	a, _, clk := histStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{Name: "Ada", Email: "ada@example.com", Username: "ada"})
	keys := histEntities(t, a, u, "r")
	clk.Advance(time.Minute)

	type kindCase struct {
		event string
		del   func(ctx context.Context) error
		get   func(ctx context.Context) error // the lookup that must work again after Restore
	}
	cases := map[allsourceauth.Kind]kindCase{
		allsourceauth.KindSession: {
			"auth.session.restored",
			func(ctx context.Context) error { return a.DeleteSession(ctx, keys[allsourceauth.KindSession]) },
			func(ctx context.Context) error {
				s, err := a.GetSession(ctx, keys[allsourceauth.KindSession])
				if err != nil {
					return err
				}
				ss, err := a.GetUserSessions(ctx, u.ID)
				if err == nil && (len(ss) != 1 || ss[0].Token != s.Token) {
					return errors.New("session not listed for its user")
				}
				return err
			},
		},
		allsourceauth.KindAccount: {
			"auth.account.restored",
			func(ctx context.Context) error { return a.DeleteAccount(ctx, keys[allsourceauth.KindAccount]) },
			func(ctx context.Context) error { _, err := a.GetAccount(ctx, "github", "gh-r"); return err },
		},
		allsourceauth.KindVerification: {
			"auth.verification.restored",
			func(ctx context.Context) error {
				return a.DeleteVerification(ctx, keys[allsourceauth.KindVerification])
			},
			func(ctx context.Context) error { _, err := a.GetVerification(ctx, "email:r", "code-r"); return err },
		},
		allsourceauth.KindOrganization: {
			"auth.org.restored",
			func(ctx context.Context) error {
				return a.DeleteOrganization(ctx, keys[allsourceauth.KindOrganization])
			},
			func(ctx context.Context) error {
				o, err := a.GetOrganizationBySlug(ctx, "org-r")
				if err == nil && o.ID != keys[allsourceauth.KindOrganization] {
					return errors.New("slug resolves to another organization")
				}
				return err
			},
		},
		allsourceauth.KindTwoFactor: {
			"auth.two_factor.restored",
			func(ctx context.Context) error { return a.DeleteTwoFactor(ctx, u.ID) },
			func(ctx context.Context) error { _, err := a.GetTwoFactorByUserID(ctx, u.ID); return err },
		},
		allsourceauth.KindAPIKey: {
			"auth.api_key.restored",
			func(ctx context.Context) error { return a.DeleteAPIKey(ctx, keys[allsourceauth.KindAPIKey]) },
			func(ctx context.Context) error { _, err := a.GetAPIKeyByHash(ctx, "hash-r"); return err },
		},
		allsourceauth.KindPasskey: {
			"auth.passkey.restored",
			func(ctx context.Context) error { return a.DeletePasskey(ctx, keys[allsourceauth.KindPasskey]) },
			func(ctx context.Context) error { _, err := a.GetPasskeyByCredentialID(ctx, "cred-r"); return err },
		},
	}
	for kind, c := range cases {
		t.Run(string(kind), func(t *testing.T) {
			// Not parallel: DeleteOrganization also deletes the member and invitation.
			require.NoError(t, c.del(ctx))
			require.ErrorIs(t, c.get(ctx), allsourceauth.ErrNotFound, "deleted")
			require.NoError(t, a.Restore(ctx, kind, keys[kind]))
			require.NoError(t, c.get(ctx), "restored")
			evs, err := a.History(ctx, kind, keys[kind])
			require.NoError(t, err)
			assert.Equal(t, c.event, evs[len(evs)-1].Type)
		})
	}

	// DeleteOrganization took the member and invitation with it; they restore too, and
	// the membership is claimed again.
	_, err := a.GetMember(ctx, keys[allsourceauth.KindOrganization], u.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.Restore(ctx, allsourceauth.KindMember, keys[allsourceauth.KindMember]))
	m, err := a.GetMember(ctx, keys[allsourceauth.KindOrganization], u.ID)
	require.NoError(t, err)
	assert.Equal(t, "owner", m.Role)
	_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: keys[allsourceauth.KindOrganization], UserID: u.ID, Role: "member"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict, "the membership is held again")

	_, err = a.GetInvitationByID(ctx, keys[allsourceauth.KindInvitation])
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.Restore(ctx, allsourceauth.KindInvitation, keys[allsourceauth.KindInvitation]))
	inv, err := a.GetInvitationByID(ctx, keys[allsourceauth.KindInvitation])
	require.NoError(t, err)
	assert.Equal(t, allsourceauth.InvitationPending, inv.Status)
}

func TestRestoreSlugTakenByAnotherOrganization(t *testing.T) {
	t.Parallel()
	a, srv, _ := histStore(t)
	ctx := t.Context()
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteOrganization(ctx, o.ID))
	other, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme 2", Slug: "acme"})
	require.NoError(t, err)

	before := len(eventsOf(srv, "auth-org:"+o.ID))
	require.ErrorIs(t, a.Restore(ctx, allsourceauth.KindOrganization, o.ID), allsourceauth.ErrConflict)
	assert.Len(t, eventsOf(srv, "auth-org:"+o.ID), before)
	got, err := a.GetOrganizationBySlug(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, other.ID, got.ID)
}
