package allsourceauth_test

import (
	"encoding/json"
	"errors"
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

// ---------------------------------------------------------------------------------------
// CreateUser

func TestUserCreate(t *testing.T) {
	t.Parallel()
	a, srv, _ := newStoreAt(t, zonedEpoch)
	ctx := t.Context()

	meta := map[string]any{"plan": "pro", "n": 1.5, "nested": map[string]any{"tags": []any{"a", true}}}
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{
		Email: "Ann@Example.com", Name: "Ann", Image: "https://img/ann.png", EmailVerified: true,
		Username: "AnnW", DisplayUsername: "Ann W.", Role: "admin", Metadata: meta,
	})
	require.NoError(t, err)

	assertUUID4(t, u.ID)
	assert.Equal(t, "Ann@Example.com", u.Email, "email stored as given")
	assert.Equal(t, "AnnW", u.Username, "username stored as given")
	assert.Equal(t, "Ann", u.Name)
	assert.Equal(t, "https://img/ann.png", u.Image)
	assert.Equal(t, "Ann W.", u.DisplayUsername)
	assert.Equal(t, "admin", u.Role)
	assert.True(t, u.EmailVerified)
	assert.False(t, u.TwoFactorEnabled)
	assert.False(t, u.Banned)
	assert.Empty(t, u.BanReason)
	assert.True(t, u.BanExpires.IsZero())
	assert.Equal(t, meta, u.Metadata)
	sameTime(t, zonedEpoch.UTC(), u.CreatedAt, "CreatedAt = now")
	sameTime(t, zonedEpoch.UTC(), u.UpdatedAt, "UpdatedAt = now")
	assert.Equal(t, zonedEpoch.Nanosecond(), u.CreatedAt.Nanosecond(), "full precision")

	requireUserReads(t, a, u)
	// Lookups are case-insensitive.
	for _, e := range []string{"ann@example.com", "ANN@EXAMPLE.COM"} {
		got, err := a.GetUserByEmail(ctx, e)
		require.NoError(t, err, e)
		assert.Equal(t, u.ID, got.ID)
	}
	for _, n := range []string{"annw", "ANNW"} {
		got, err := a.GetUserByUsername(ctx, n)
		require.NoError(t, err, n)
		assert.Equal(t, u.ID, got.ID)
	}

	t.Run("event format", func(t *testing.T) {
		t.Parallel()
		evs := eventsOf(srv, "auth-user:"+u.ID)
		require.Len(t, evs, 1)
		ev := evs[0]
		assert.Equal(t, "auth.user.created", ev.EventType)
		assert.Equal(t, uint64(1), ev.Version)
		assert.Equal(t, []string{
			"banned", "createdAt", "displayUsername", "email", "emailVerified", "id", "image",
			"metadata", "name", "role", "twoFactorEnabled", "updatedAt", "username",
		}, jsonKeys(t, ev.Payload))
		assert.Equal(t, "Ann@Example.com", payloadOf(t, ev.Payload)["email"])
		op := requireOp(t, ev)

		for _, c := range []struct{ scope, value string }{{"email", "ann@example.com"}, {"username", "annw"}} {
			cevs := eventsOf(srv, claimID("", c.scope, c.value))
			require.Len(t, cevs, 1, c.scope)
			assert.Equal(t, "auth.claim.acquired", cevs[0].EventType)
			scope, owner, ov := decodeClaim(t, cevs[0])
			assert.Equal(t, c.scope, scope)
			assert.Equal(t, "auth-user:"+u.ID, owner)
			assert.Equal(t, uint64(0), ov)
			assert.Equal(t, op, requireOp(t, cevs[0]), "one op for the whole change")
		}
		for _, ev := range srv.Events() {
			assert.NotContains(t, ev.EntityID, "example", "emails stay out of entity ids")
		}
	})
}

func TestUserCreateMinimal(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	u := createUser(t, a, allsourceauth.CreateUser{ID: "plain"})
	assert.Equal(t, "plain", u.ID)
	requireUserReads(t, a, u)
	// Optional strings are absent keys; booleans are always there.
	assert.Equal(t, []string{"banned", "createdAt", "emailVerified", "id", "twoFactorEnabled", "updatedAt"},
		jsonKeys(t, lastEvent(t, srv, "auth-user:plain").Payload))
	assert.Empty(t, eventsWhere(srv, isClaim), "empty strings are not unique values")
	// Two users without email or username coexist.
	createUser(t, a, allsourceauth.CreateUser{})
}

func TestUserCreateTaken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		first  allsourceauth.CreateUser
		second allsourceauth.CreateUser
	}{
		{"explicit id", allsourceauth.CreateUser{ID: "dup"}, allsourceauth.CreateUser{ID: "dup", Email: "other@x.io"}},
		{"email", allsourceauth.CreateUser{Email: "a@x.io"}, allsourceauth.CreateUser{Email: "a@x.io"}},
		{"email other case", allsourceauth.CreateUser{Email: "Mixed@X.io"}, allsourceauth.CreateUser{Email: "mIXED@x.IO"}},
		{"username", allsourceauth.CreateUser{Username: "neo"}, allsourceauth.CreateUser{Username: "neo", Email: "free@x.io"}},
		{"username other case", allsourceauth.CreateUser{Username: "Neo"}, allsourceauth.CreateUser{Username: "NEO"}},
		{"email free, username taken", allsourceauth.CreateUser{Email: "e1@x.io", Username: "u1"}, allsourceauth.CreateUser{Email: "e2@x.io", Username: "U1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t)
			first := createUser(t, a, tc.first)
			users := func() int {
				return len(eventsWhere(srv, func(ev allsourcetest.Event) bool { return strings.HasPrefix(ev.EntityID, "auth-user:") }))
			}
			before := users()

			_, err := a.CreateUser(t.Context(), tc.second)
			require.ErrorIs(t, err, allsourceauth.ErrConflict)
			assert.Contains(t, err.Error(), "create user")

			assert.Equal(t, before, users(), "a taken value writes no user event")
			requireUserReads(t, a, first)
			// A value the loser would have claimed and nobody holds stays free.
			if tc.second.Email != "" && !strings.EqualFold(tc.second.Email, tc.first.Email) {
				_, err := a.GetUserByEmail(t.Context(), tc.second.Email)
				require.ErrorIs(t, err, allsourceauth.ErrNotFound)
				createUser(t, a, allsourceauth.CreateUser{Email: tc.second.Email})
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// Absent and bad input

func TestUserAbsent(t *testing.T) {
	t.Parallel()
	a, _ := newStore(t)
	ctx := t.Context()
	gone := createUser(t, a, allsourceauth.CreateUser{ID: "gone", Email: "gone@x.io", Username: "gone"})
	require.NoError(t, a.DeleteUser(ctx, gone.ID))

	for _, id := range []string{"never", "gone"} {
		_, err := a.GetUserByID(ctx, id)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound, id)
		assert.Contains(t, err.Error(), "get user")
		_, err = a.UpdateUser(ctx, id, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")})
		require.ErrorIs(t, err, allsourceauth.ErrNotFound, id)
		assert.Equal(t, "allsourceauth: update user: not found", err.Error())
		require.NoError(t, a.DeleteUser(ctx, id), "delete of an absent user is nil")
	}
	for _, e := range []string{"never@x.io", "gone@x.io"} {
		_, err := a.GetUserByEmail(ctx, e)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound, e)
	}
	for _, n := range []string{"never", "gone"} {
		_, err := a.GetUserByUsername(ctx, n)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound, n)
	}
}

func TestUserBadInput(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	ok := strings.Repeat("i", 128-len("auth-user:"))
	long := ok + "i"

	// An entity id of exactly 128 bytes is fine.
	u := createUser(t, a, allsourceauth.CreateUser{ID: ok})
	requireUserReads(t, a, u)
	_, err := a.UpdateUser(ctx, ok, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("n")})
	require.NoError(t, err)

	bad := map[string]string{
		"129 bytes":     long,
		"newline":       "a\nb",
		"nul":           "a\x00b",
		"del":           "a\x7fb",
		"tab":           "\t",
		"c1 control":    "a\u0085b",
		"long, unicode": strings.Repeat("é", 60),
	}
	for name, id := range bad {
		noRequests(t, srv, func() error {
			_, err := a.CreateUser(ctx, allsourceauth.CreateUser{ID: id, Email: "bad@x.io"})
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "create %s", name)
			_, err = a.GetUserByID(ctx, id)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "get %s", name)
			_, err = a.UpdateUser(ctx, id, allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")})
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "update %s", name)
			err = a.DeleteUser(ctx, id)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "delete %s", name)
			return nil
		})
	}
	// Lookups by an empty key: ErrNotFound without any request.
	noRequests(t, srv, func() error {
		_, err := a.GetUserByID(ctx, "")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetUserByEmail(ctx, "")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetUserByUsername(ctx, "")
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.UpdateUser(ctx, "", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")})
		assert.ErrorIs(t, err, allsourceauth.ErrNotFound)
		assert.NoError(t, a.DeleteUser(ctx, ""))
		for _, p := range []allsourceauth.ListUsersParams{{Limit: -1}, {Offset: -1}, {SortBy: "password"}, {SortDirection: "up"}, {SearchField: "role"}, {FilterOperator: "like"}} {
			_, _, err := a.ListUsers(ctx, p)
			assert.ErrorIs(t, err, allsourceauth.ErrInvalidInput, "%+v", p)
		}
		return nil
	})
	_, err = a.GetUserByEmail(ctx, "bad@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "nothing was written")
}

// ---------------------------------------------------------------------------------------
// Round trips

func TestUserRoundTripUnicodeAndLarge(t *testing.T) {
	t.Parallel()
	a, srv, _ := newStoreAt(t, zonedEpoch)
	ctx := t.Context()

	// 1 MiB of mixed text: 1-, 2-, 3- and 4-byte runes, and now and then characters that
	// JSON escapes (the event body limit is 2 MiB, so not too many of those).
	var b strings.Builder
	for i := 0; b.Len() < 1<<20-16; i++ {
		b.WriteString("añ€😀 z")
		if i%100 == 0 {
			b.WriteString("<&>\"\\/\u2028\t")
		}
	}
	big := b.String()
	require.GreaterOrEqual(t, len(big), 1<<20-16)
	meta := map[string]any{"big": big, "ключ": "值", "emoji": "👩‍👩‍👧‍👦"}

	in := allsourceauth.CreateUser{
		Email: "Zoë@Exämple.com", Name: "Zoë Ünïcødé 🚀 <b>&amp;", Username: "Ωmega",
		DisplayUsername: "Ωmega ✓", Image: "data:image/png;base64,iVBOR\u00a0", Metadata: meta,
	}
	u := createUser(t, a, in)
	assert.Equal(t, in.Name, u.Name)
	assert.Equal(t, big, u.Metadata["big"], "byte-exact")
	got, err := a.GetUserByEmail(ctx, "ZOË@EXÄMPLE.COM")
	require.NoError(t, err)
	same(t, u, got)
	assert.Equal(t, in.Email, got.Email)
	assert.Equal(t, big, got.Metadata["big"])
	assert.Equal(t, meta, got.Metadata)

	// An update keeps it byte-exact too (and the small values are looked up as well).
	meta2 := map[string]any{"big": big + "!", "n": 3.0}
	up, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Metadata: meta2})
	require.NoError(t, err)
	assert.Equal(t, meta2, up.Metadata)
	got, err = a.GetUserByUsername(ctx, "ωMEGA")
	require.NoError(t, err)
	same(t, up, got)

	var stored map[string]any
	require.NoError(t, json.Unmarshal(lastEvent(t, srv, "auth-user:"+u.ID).Payload, &stored))
	assert.Equal(t, big+"!", stored["metadata"].(map[string]any)["big"])
}

// ---------------------------------------------------------------------------------------
// UpdateUser

func TestUserUpdateFields(t *testing.T) {
	t.Parallel()
	banUntil := time.Date(2030, 1, 2, 3, 4, 5, 987654321, time.FixedZone("EST", -5*3600))
	cases := []struct {
		name  string
		in    allsourceauth.UpdateUser
		check func(t *testing.T, before, after *allsourceauth.User)
	}{
		{"name", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("New")}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Equal(t, "New", u.Name)
		}},
		{"clear name", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("")}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Empty(t, u.Name)
		}},
		{"image", allsourceauth.UpdateUser{Image: allsourceauth.Ptr("https://i/2")}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Equal(t, "https://i/2", u.Image)
		}},
		{"display username", allsourceauth.UpdateUser{DisplayUsername: allsourceauth.Ptr("D")}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Equal(t, "D", u.DisplayUsername)
		}},
		{"role", allsourceauth.UpdateUser{Role: allsourceauth.Ptr("admin")}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Equal(t, "admin", u.Role)
		}},
		{"email verified", allsourceauth.UpdateUser{EmailVerified: allsourceauth.Ptr(true)}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.True(t, u.EmailVerified)
		}},
		{"two factor", allsourceauth.UpdateUser{TwoFactorEnabled: allsourceauth.Ptr(true)}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.True(t, u.TwoFactorEnabled)
		}},
		{"ban", allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(true), BanReason: allsourceauth.Ptr("spam"), BanExpires: &banUntil}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.True(t, u.Banned)
			assert.Equal(t, "spam", u.BanReason)
			sameTime(t, banUntil.UTC(), u.BanExpires, "BanExpires")
		}},
		{"metadata", allsourceauth.UpdateUser{Metadata: map[string]any{"b": "2"}}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Equal(t, map[string]any{"b": "2"}, u.Metadata, "replaces the whole map")
		}},
		{"empty metadata", allsourceauth.UpdateUser{Metadata: map[string]any{}}, func(t *testing.T, b, u *allsourceauth.User) {
			assert.Empty(t, u.Metadata)
		}},
		{"nothing", allsourceauth.UpdateUser{}, func(t *testing.T, b, u *allsourceauth.User) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, srv, clock := newStoreAt(t, zonedEpoch)
			before := createUser(t, a, allsourceauth.CreateUser{
				Email: "u@x.io", Username: "u", Name: "Old", Image: "https://i/1", DisplayUsername: "U",
				Role: "user", Metadata: map[string]any{"a": "1"},
			})
			clock.Advance(90*time.Minute + 7)
			after, err := a.UpdateUser(t.Context(), before.ID, tc.in)
			require.NoError(t, err)
			tc.check(t, before, after)

			sameTime(t, before.CreatedAt, after.CreatedAt, "CreatedAt unchanged")
			sameTime(t, clock.Now().UTC(), after.UpdatedAt, "UpdatedAt = now")
			requireUserReads(t, a, after)

			// Every field the update did not name is unchanged.
			want := *before
			want.UpdatedAt = after.UpdatedAt
			for _, f := range []struct {
				set  bool
				dst  any
				from any
			}{
				{tc.in.Name != nil, &want.Name, after.Name},
				{tc.in.Image != nil, &want.Image, after.Image},
				{tc.in.DisplayUsername != nil, &want.DisplayUsername, after.DisplayUsername},
				{tc.in.Role != nil, &want.Role, after.Role},
				{tc.in.EmailVerified != nil, &want.EmailVerified, after.EmailVerified},
				{tc.in.TwoFactorEnabled != nil, &want.TwoFactorEnabled, after.TwoFactorEnabled},
				{tc.in.Banned != nil, &want.Banned, after.Banned},
				{tc.in.BanReason != nil, &want.BanReason, after.BanReason},
				{tc.in.BanExpires != nil, &want.BanExpires, after.BanExpires},
				{tc.in.Metadata != nil, &want.Metadata, after.Metadata},
			} {
				if f.set {
					switch d := f.dst.(type) {
					case *string:
						*d = f.from.(string)
					case *bool:
						*d = f.from.(bool)
					case *time.Time:
						*d = f.from.(time.Time)
					case *map[string]any:
						*d = f.from.(map[string]any)
					}
				}
			}
			same(t, &want, after)

			last := lastEvent(t, srv, "auth-user:"+before.ID)
			assert.Equal(t, "auth.user.updated", last.EventType)
			assert.Equal(t, uint64(2), last.Version)
			requireOp(t, last)
			// No claim was touched.
			assert.Len(t, eventsWhere(srv, isClaim), 2)
		})
	}
}

func TestUserUpdateUnban(t *testing.T) {
	t.Parallel()
	until := time.Date(2031, 5, 6, 7, 8, 9, 1, time.UTC)
	later := until.Add(time.Hour)
	cases := []struct {
		name       string
		in         allsourceauth.UpdateUser
		wantReason string
		wantUntil  time.Time
		wantBanned bool
	}{
		{"unban clears reason and expiry", allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(false)}, "", time.Time{}, false},
		{"explicit reason wins", allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(false), BanReason: allsourceauth.Ptr("kept")}, "kept", time.Time{}, false},
		{"explicit expiry wins", allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(false), BanExpires: &later}, "", later, false},
		{"banned=true keeps them", allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(true)}, "spam", until, true},
		{"no ban field keeps them", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")}, "spam", until, true},
		{"zero time clears expiry", allsourceauth.UpdateUser{BanExpires: &time.Time{}}, "spam", time.Time{}, true},
		{"empty reason clears it", allsourceauth.UpdateUser{BanReason: allsourceauth.Ptr("")}, "", until, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, srv := newStore(t)
			u := createUser(t, a, allsourceauth.CreateUser{Email: "b@x.io"})
			u, err := a.UpdateUser(t.Context(), u.ID, allsourceauth.UpdateUser{
				Banned: allsourceauth.Ptr(true), BanReason: allsourceauth.Ptr("spam"), BanExpires: &until,
			})
			require.NoError(t, err)
			got, err := a.UpdateUser(t.Context(), u.ID, tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.wantBanned, got.Banned)
			assert.Equal(t, tc.wantReason, got.BanReason)
			sameTime(t, tc.wantUntil, got.BanExpires, "BanExpires")
			requireUserReads(t, a, got)
			_, has := payloadOf(t, lastEvent(t, srv, "auth-user:"+u.ID).Payload)["banExpires"]
			assert.Equal(t, !tc.wantUntil.IsZero(), has, "a cleared time is an absent key")
		})
	}
}

func TestUserUpdateEmail(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	createUser(t, a, allsourceauth.CreateUser{ID: "ann", Email: "old@x.io", Username: "ann"})

	got, err := a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Email: allsourceauth.Ptr("New@X.io")})
	require.NoError(t, err)
	assert.Equal(t, "New@X.io", got.Email)
	requireUserReads(t, a, got)
	_, err = a.GetUserByEmail(ctx, "old@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "the old email no longer finds the user")
	byNew, err := a.GetUserByEmail(ctx, "new@x.io")
	require.NoError(t, err)
	assert.Equal(t, "ann", byNew.ID)

	// The new claim names the owner's version before the write; the old one is released.
	newClaim := eventsOf(srv, claimID("", "email", "new@x.io"))
	require.Len(t, newClaim, 1)
	scope, owner, ov := decodeClaim(t, newClaim[0])
	assert.Equal(t, []any{"email", "auth-user:ann", uint64(1)}, []any{scope, owner, ov})
	oldClaim := eventsOf(srv, claimID("", "email", "old@x.io"))
	require.Len(t, oldClaim, 2)
	assert.Equal(t, "auth.claim.released", oldClaim[1].EventType)
	assert.Equal(t, uint64(2), oldClaim[1].Version)
	requireOp(t, oldClaim[1])
	// The username claim was not touched.
	assert.Len(t, eventsOf(srv, claimID("", "username", "ann")), 1)

	// The old email is free for another user.
	bob := createUser(t, a, allsourceauth.CreateUser{ID: "bob", Email: "OLD@x.io"})
	requireUserReads(t, a, bob)

	// A taken email: ErrConflict, and nothing changes.
	before := len(srv.Events())
	_, err = a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Email: allsourceauth.Ptr("old@X.IO"), Name: allsourceauth.Ptr("changed")})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	assert.Contains(t, err.Error(), "update user")
	assert.Len(t, srv.Events(), before, "nothing written")
	requireUserReads(t, a, got)
	requireUserReads(t, a, bob)

	// A case-only change keeps the claim.
	got2, err := a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Email: allsourceauth.Ptr("NEW@x.io")})
	require.NoError(t, err)
	assert.Equal(t, "NEW@x.io", got2.Email)
	requireUserReads(t, a, got2)
	assert.Len(t, eventsOf(srv, claimID("", "email", "new@x.io")), 1, "same value, same claim")

	// Ptr("") clears and frees.
	got3, err := a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Email: allsourceauth.Ptr("")})
	require.NoError(t, err)
	assert.Empty(t, got3.Email)
	requireUserReads(t, a, got3)
	_, err = a.GetUserByEmail(ctx, "new@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, has := payloadOf(t, lastEvent(t, srv, "auth-user:ann").Payload)["email"]
	assert.False(t, has)
	createUser(t, a, allsourceauth.CreateUser{Email: "new@x.io"})
}

func TestUserUpdateUsername(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	createUser(t, a, allsourceauth.CreateUser{ID: "ann", Email: "ann@x.io", Username: "Ann"})
	createUser(t, a, allsourceauth.CreateUser{ID: "bob", Username: "bob"})

	got, err := a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Username: allsourceauth.Ptr("Queen")})
	require.NoError(t, err)
	requireUserReads(t, a, got)
	_, err = a.GetUserByUsername(ctx, "ann")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	createUser(t, a, allsourceauth.CreateUser{ID: "ann2", Username: "ANN"})

	before := len(srv.Events())
	_, err = a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Username: allsourceauth.Ptr("BOB")})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	assert.Len(t, srv.Events(), before)
	requireUserReads(t, a, got)

	got, err = a.UpdateUser(ctx, "ann", allsourceauth.UpdateUser{Username: allsourceauth.Ptr("")})
	require.NoError(t, err)
	assert.Empty(t, got.Username)
	_, err = a.GetUserByUsername(ctx, "queen")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	createUser(t, a, allsourceauth.CreateUser{Username: "queen"})
	requireUserReads(t, a, got)
}

// ---------------------------------------------------------------------------------------
// DeleteUser

func TestUserDelete(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	u := createUser(t, a, allsourceauth.CreateUser{ID: "del", Email: "Del@x.io", Username: "Del", Name: "D", Metadata: map[string]any{"k": "v"}})
	s := createSession(t, a, "del", time.Now().Add(time.Hour))

	require.NoError(t, a.DeleteUser(ctx, "del"))
	_, err := a.GetUserByID(ctx, "del")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetUserByEmail(ctx, "del@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetUserByUsername(ctx, "del")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	users, total, err := a.ListUsers(ctx, allsourceauth.ListUsersParams{})
	require.NoError(t, err)
	assert.Empty(t, users)
	assert.Zero(t, total)

	// The tombstone keeps the full last state plus "_deleted": true.
	tomb := lastEvent(t, srv, "auth-user:del")
	assert.Equal(t, "auth.user.deleted", tomb.EventType)
	assert.Equal(t, uint64(2), tomb.Version)
	requireOp(t, tomb)
	var state map[string]any
	require.NoError(t, json.Unmarshal(tomb.Payload, &state))
	assert.Equal(t, true, state["_deleted"])
	delete(state, "_deleted")
	var want map[string]any
	live, err := json.Marshal(u)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(live, &want))
	assert.Equal(t, want, state)

	// Does not cascade.
	got, err := a.GetSession(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, "del", got.UserID)

	// Idempotent: a second delete is nil and writes nothing.
	n := len(srv.Events())
	require.NoError(t, a.DeleteUser(ctx, "del"))
	assert.Len(t, srv.Events(), n)

	// The email and username are free.
	other := createUser(t, a, allsourceauth.CreateUser{Email: "DEL@X.IO", Username: "dEL"})
	requireUserReads(t, a, other)
	// The id stays used.
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{ID: "del"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
}

// ---------------------------------------------------------------------------------------
// ListUsers

func TestUserList(t *testing.T) {
	t.Parallel()
	a, _, clock := newStoreAt(t, zonedEpoch)
	ctx := t.Context()
	for _, in := range []allsourceauth.CreateUser{
		{ID: "u1", Email: "alice@example.com", Name: "Alice", Role: "admin"},
		{ID: "u2", Email: "bob@Example.org", Name: "Bob", Role: "user"},
		{ID: "u3", Email: "carol@test.io", Name: "Carol"},
		{ID: "u4", Email: "dave@example.com", Role: "user"},
		{ID: "u5", Name: "Eve", Role: "admin"},
		{ID: "u0", Email: "frank@test.io", Name: "Bob", Role: "user"},
		{ID: "u7", Email: "zed@example.com", Name: "Zed", Role: "admin"},
	} {
		createUser(t, a, in)
		clock.Advance(time.Second)
	}
	require.NoError(t, a.DeleteUser(ctx, "u7"))

	type P = allsourceauth.ListUsersParams
	cases := []struct {
		name  string
		p     P
		want  []string
		total int
	}{
		{"all, createdAt asc", P{}, []string{"u1", "u2", "u3", "u4", "u5", "u0"}, 6},
		{"search email contains", P{SearchValue: "EXAMPLE"}, []string{"u1", "u2", "u4"}, 3},
		{"search email explicit", P{SearchField: "email", SearchOperator: "contains", SearchValue: "test"}, []string{"u3", "u0"}, 2},
		{"search email ends_with", P{SearchValue: "Example.COM", SearchOperator: "ends_with"}, []string{"u1", "u4"}, 2},
		{"search email starts_with", P{SearchValue: "B", SearchOperator: "starts_with"}, []string{"u2"}, 1},
		{"search name contains", P{SearchField: "name", SearchValue: "AR"}, []string{"u3"}, 1},
		{"search name starts_with", P{SearchField: "name", SearchValue: "b", SearchOperator: "starts_with"}, []string{"u2", "u0"}, 2},
		{"search name ends_with", P{SearchField: "name", SearchValue: "E", SearchOperator: "ends_with"}, []string{"u1", "u5"}, 2},
		{"empty search value", P{SearchField: "name", SearchOperator: "starts_with"}, []string{"u1", "u2", "u3", "u4", "u5", "u0"}, 6},
		{"filter role eq", P{FilterField: "role", FilterValue: "ADMIN"}, []string{"u1", "u5"}, 2},
		{"filter role ne, missing is empty", P{FilterField: "role", FilterValue: "admin", FilterOperator: "ne"}, []string{"u2", "u3", "u4", "u0"}, 4},
		{"filter role eq empty", P{FilterField: "role", FilterOperator: "eq"}, []string{"u3"}, 1},
		{"filter email default eq", P{FilterValue: "CAROL@test.io"}, []string{"u3"}, 1},
		{"filter name contains", P{FilterField: "name", FilterValue: "o", FilterOperator: "contains"}, []string{"u2", "u3", "u0"}, 3},
		{"filter name starts_with", P{FilterField: "name", FilterValue: "e", FilterOperator: "starts_with"}, []string{"u5"}, 1},
		{"filter email ends_with", P{FilterField: "email", FilterValue: ".IO", FilterOperator: "ends_with"}, []string{"u3", "u0"}, 2},
		{"filter name ne", P{FilterField: "name", FilterValue: "bob", FilterOperator: "ne"}, []string{"u1", "u3", "u4", "u5"}, 4},
		{"search and filter", P{SearchValue: "example", FilterField: "role", FilterValue: "user"}, []string{"u2", "u4"}, 2},
		{"sort email asc", P{SortBy: "email"}, []string{"u5", "u1", "u2", "u3", "u4", "u0"}, 6},
		{"sort email desc", P{SortBy: "email", SortDirection: "desc"}, []string{"u0", "u4", "u3", "u2", "u1", "u5"}, 6},
		{"sort name asc, ties by id", P{SortBy: "name", SortDirection: "asc"}, []string{"u4", "u1", "u0", "u2", "u3", "u5"}, 6},
		{"sort createdAt desc", P{SortBy: "createdAt", SortDirection: "desc"}, []string{"u0", "u5", "u4", "u3", "u2", "u1"}, 6},
		{"direction without field", P{SortDirection: "desc"}, []string{"u0", "u5", "u4", "u3", "u2", "u1"}, 6},
		{"page", P{Limit: 2, Offset: 1}, []string{"u2", "u3"}, 6},
		{"last page", P{Limit: 4, Offset: 5}, []string{"u0"}, 6},
		{"offset past end", P{Offset: 10}, []string{}, 6},
		{"filter then page", P{FilterField: "role", FilterValue: "admin", FilterOperator: "ne", Limit: 1, Offset: 1}, []string{"u3"}, 4},
		{"sorted page", P{SortBy: "email", SortDirection: "desc", Limit: 2, Offset: 2}, []string{"u3", "u2"}, 6},
		{"no match", P{SearchValue: "nobody"}, []string{}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users, total, err := a.ListUsers(t.Context(), tc.p)
			require.NoError(t, err)
			ids := make([]string, len(users))
			for i, u := range users {
				ids[i] = u.ID
			}
			assert.Equal(t, tc.want, ids)
			assert.Equal(t, tc.total, total)
		})
	}
	t.Run("entries equal reads", func(t *testing.T) {
		t.Parallel()
		users, _, err := a.ListUsers(t.Context(), P{})
		require.NoError(t, err)
		for i := range users {
			got, err := a.GetUserByID(t.Context(), users[i].ID)
			require.NoError(t, err)
			same(t, got, &users[i])
		}
	})
}

// TestUserListScale fills 25 000 users (and their email claims) straight into the store
// and checks that nothing is capped and that lookups do not grow with the store.
func TestUserListScale(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	const n = 25000
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := json.RawMessage(`{"op":"` + uuid.NewString() + `"}`)
	// Two fillers: payloads are built in parallel, the server serialises the appends.
	errs := race(2, []*allsourceauth.Adapter{a}, func(w int, _ *allsourceauth.Adapter) error {
		for i := w; i < n; i += 2 {
			u := allsourceauth.User{
				ID: fmt.Sprintf("user-%05d", i), Email: fmt.Sprintf("User%05d@Scale.io", i),
				Name: fmt.Sprintf("User %d", i), CreatedAt: t0.Add(time.Duration(i) * time.Millisecond),
			}
			u.UpdatedAt = u.CreatedAt
			p, err := json.Marshal(u)
			if err == nil {
				_, err = srv.Append("", "auth-user:"+u.ID, "auth.user.created", json.RawMessage(p), meta)
			}
			if err == nil {
				_, err = srv.Append("", claimID("", "email", strings.ToLower(u.Email)), "auth.claim.acquired", claimPayload("email", "auth-user:"+u.ID, 0), meta)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, errors.Join(errs...))

	// One full scan: newest first, so the first entry proves the last page was read.
	var (
		users []allsourceauth.User
		total int
		err   error
	)
	reqs := requestsDuring(srv, func() {
		users, total, err = a.ListUsers(ctx, allsourceauth.ListUsersParams{SortDirection: "desc"})
	})
	require.NoError(t, err)
	assert.Equal(t, n, total, "no silent cap")
	require.Len(t, users, 100, "Limit 0 means 100")
	assert.Equal(t, "user-24999", users[0].ID)
	assert.Equal(t, "user-24900", users[99].ID)
	assert.GreaterOrEqual(t, reqs, int64(n/500), "pages of 500")

	var u *allsourceauth.User
	reqs = requestsDuring(srv, func() { u, err = a.GetUserByEmail(ctx, "user12345@scale.io") })
	require.NoError(t, err)
	assert.Equal(t, "user-12345", u.ID)
	assert.Equal(t, int64(2), reqs, "GetUserByEmail does not grow with the store")

	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "USER00042@scale.io"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
}

// TestUserTenantClaims checks claim ids include the tenant, and that an explicit id used
// in another tenant is taken.
func TestUserTenantClaims(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	key := "ask_" + strings.Repeat("T", 43)
	srv.AddAPIKey(key, "acme")
	acme := newAdapterWithKey(t, srv, key, allsourceauth.WithTenant("acme"))
	def := newAdapter(t, srv)
	ctx := t.Context()

	ua, err := acme.CreateUser(ctx, allsourceauth.CreateUser{ID: "shared", Email: "Same@x.io", Username: "same"})
	require.NoError(t, err)
	requireUserReads(t, acme, ua)
	for _, c := range []struct{ scope, value string }{{"email", "same@x.io"}, {"username", "same"}} {
		evs := eventsOf(srv, claimID("acme", c.scope, c.value))
		require.Len(t, evs, 1, c.scope)
		assert.Equal(t, "acme", evs[0].TenantID)
		assert.Empty(t, eventsOf(srv, claimID("", c.scope, c.value)))
	}

	// The same values are free in another tenant; the same explicit id is not.
	_, err = def.GetUserByEmail(ctx, "same@x.io")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	ud, err := def.CreateUser(ctx, allsourceauth.CreateUser{Email: "same@x.io", Username: "SAME"})
	require.NoError(t, err)
	requireUserReads(t, def, ud)
	requireUserReads(t, acme, ua)
	_, err = def.CreateUser(ctx, allsourceauth.CreateUser{ID: "shared"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	_, err = def.GetUserByID(ctx, "shared")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

}
