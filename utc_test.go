package allsourceauth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// Times given in any zone are stored and returned in UTC, equal to the instant given.
func TestCallerTimesAreStoredInUTC(t *testing.T) {
	t.Parallel()
	a, _ := newStore(t)
	ctx := t.Context()
	zone := time.FixedZone("CET", 3600)
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456789, zone)

	check := func(t *testing.T, name string, got time.Time) {
		t.Helper()
		require.Equal(t, time.UTC, got.Location(), name)
		require.True(t, got.Equal(at), "%s: %v != %v", name, got, at)
	}

	t.Run("account", func(t *testing.T) {
		t.Parallel()
		x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u", ProviderID: "github", AccountID: "utc", AccessTokenExpiresAt: at})
		require.NoError(t, err)
		check(t, "create", x.AccessTokenExpiresAt)
		x, err = a.UpdateAccount(ctx, x.ID, allsourceauth.UpdateAccount{RefreshTokenExpiresAt: &at})
		require.NoError(t, err)
		check(t, "update", x.RefreshTokenExpiresAt)
		got, err := a.GetAccount(ctx, "github", "utc")
		require.NoError(t, err)
		check(t, "read", got.AccessTokenExpiresAt)
		check(t, "read", got.RefreshTokenExpiresAt)
	})
	t.Run("verification", func(t *testing.T) {
		t.Parallel()
		v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "utc", Value: "v", ExpiresAt: at})
		require.NoError(t, err)
		check(t, "create", v.ExpiresAt)
		got, err := a.GetVerification(ctx, "utc", "v")
		require.NoError(t, err)
		check(t, "read", got.ExpiresAt)
	})
	t.Run("invitation", func(t *testing.T) {
		t.Parallel()
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "o", Email: "utc@x.io", InviterID: "u", ExpiresAt: at})
		require.NoError(t, err)
		check(t, "create", inv.ExpiresAt)
		got, err := a.GetInvitationByID(ctx, inv.ID)
		require.NoError(t, err)
		check(t, "read", got.ExpiresAt)
	})
	t.Run("api key", func(t *testing.T) {
		t.Parallel()
		k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u", KeyHash: "utc-hash", ExpiresAt: at})
		require.NoError(t, err)
		check(t, "create", k.ExpiresAt)
		k, err = a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{LastRequest: &at, LastRefillAt: &at})
		require.NoError(t, err)
		check(t, "update", k.LastRequest)
		check(t, "update", k.LastRefillAt)
		got, err := a.GetAPIKeyByHash(ctx, "utc-hash")
		require.NoError(t, err)
		check(t, "read", got.ExpiresAt)
		check(t, "read", got.LastRequest)
	})
	t.Run("session and user", func(t *testing.T) {
		t.Parallel()
		s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: "u", ExpiresAt: at})
		require.NoError(t, err)
		check(t, "create", s.ExpiresAt)
		u, err := a.CreateUser(ctx, allsourceauth.CreateUser{})
		require.NoError(t, err)
		u, err = a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Banned: allsourceauth.Ptr(true), BanExpires: &at})
		require.NoError(t, err)
		check(t, "update", u.BanExpires)
	})
}

// An AsOf view checks expiry as of its own time: a verification that expired after t is
// still visible in the view at t.
func TestAsOfChecksExpiryAtItsTime(t *testing.T) {
	t.Parallel()
	a, _, clock := newStoreAt(t, time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	ctx := t.Context()
	_, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "i", Value: "v", ExpiresAt: clock.Now().Add(time.Hour)})
	require.NoError(t, err)
	then := time.Now() // event timestamps come from the server's real clock
	clock.Advance(2 * time.Hour)
	_, err = a.GetVerification(ctx, "i", "v")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound, "expired now")
	got, err := a.AsOf(then).GetVerification(ctx, "i", "v")
	require.NoError(t, err, "unexpired at the view's time")
	require.Equal(t, "v", got.Value)
}
