package allsourceauth_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// ---------------------------------------------------------------------------------------
// Accounts

func TestMiscAccountCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		atExp := clk.Now().Add(time.Hour + time.Nanosecond).In(time.FixedZone("X", 3600))
		rtExp := clk.Now().Add(30 * 24 * time.Hour)
		x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{
			UserID: "u1", AccountID: "gh-42", ProviderID: "github",
			AccessToken: "at", RefreshToken: "rt", IDToken: "idt", Scope: "read:user",
			AccessTokenExpiresAt: atExp, RefreshTokenExpiresAt: rtExp,
			Password: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		})
		require.NoError(t, err)
		assertUUID4(t, x.ID)
		assert.Equal(t, "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", x.Password)
		assert.Equal(t, "gh-42", x.AccountID)
		assert.Equal(t, "github", x.ProviderID)
		assert.True(t, x.AccessTokenExpiresAt.Equal(atExp))
		assert.True(t, x.RefreshTokenExpiresAt.Equal(rtExp))
		assert.True(t, x.CreatedAt.Equal(epoch))
		assert.True(t, x.UpdatedAt.Equal(epoch))

		got, err := a.GetAccount(ctx, "github", "gh-42")
		require.NoError(t, err)
		same(t, x, got)
		list, err := a.GetUserAccounts(ctx, "u1")
		require.NoError(t, err)
		require.Len(t, list, 1)
		same(t, x, &list[0])
		ev := checkEvent(t, srv, "auth-account:"+x.ID, "auth.account.created", x,
			"id", "accountId", "providerId", "userId", "accessToken", "refreshToken", "idToken",
			"accessTokenExpiresAt", "refreshTokenExpiresAt", "scope", "password", "createdAt", "updatedAt")
		assert.Equal(t, x.Password, payloadOf(t, ev.Payload)["password"])
	})

	t.Run("minimal", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", AccountID: "u1", ProviderID: "credential"})
		require.NoError(t, err)
		got, err := a.GetAccount(ctx, "credential", "u1")
		require.NoError(t, err)
		same(t, x, got)
		checkEvent(t, srv, "auth-account:"+x.ID, "auth.account.created", x,
			"id", "accountId", "providerId", "userId", "createdAt", "updatedAt")
	})

	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", AccountID: "42", ProviderID: "github"})
		require.NoError(t, err)
		wantConflict(t, srv, func() error {
			_, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u2", AccountID: "42", ProviderID: "github"})
			return err
		})
		got, err := a.GetAccount(ctx, "github", "42")
		require.NoError(t, err)
		same(t, x, got)
		// Other pairs are free; the pair is exact.
		for _, in := range []allsourceauth.CreateAccount{
			{UserID: "u2", AccountID: "42", ProviderID: "google"},
			{UserID: "u2", AccountID: "43", ProviderID: "github"},
			{UserID: "u2", AccountID: "42", ProviderID: "GitHub"},
			{UserID: "u2", AccountID: "4", ProviderID: "2github"}, // no ambiguity in joining the pair
		} {
			_, err := a.CreateAccount(ctx, in)
			require.NoError(t, err, "%+v", in)
		}
		_, err = a.GetAccount(ctx, "GITHUB", "42")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)

		// DeleteAccount frees the pair.
		require.NoError(t, a.DeleteAccount(ctx, x.ID))
		checkTombstone(t, srv, "auth-account:"+x.ID, "auth.account.deleted")
		_, err = a.GetAccount(ctx, "github", "42")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		y, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u3", AccountID: "42", ProviderID: "github"})
		require.NoError(t, err)
		got, err = a.GetAccount(ctx, "github", "42")
		require.NoError(t, err)
		same(t, y, got)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		for _, in := range []allsourceauth.CreateAccount{
			{AccountID: "a", ProviderID: "p"}, {UserID: "u", ProviderID: "p"}, {UserID: "u", AccountID: "a"},
		} {
			wantInvalid(t, srv, func() error { _, err := a.CreateAccount(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestMiscAccountAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	_, err := a.GetAccount(ctx, "github", "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateAccount(ctx, "nope", allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeleteAccount(ctx, "nope"))
	list, err := a.GetUserAccounts(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, list)
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetAccount(ctx, "", "x"); return err },
		func() error { _, err := a.GetAccount(ctx, "github", ""); return err },
		func() error {
			_, err := a.UpdateAccount(ctx, "", allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
			return err
		},
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteAccount(ctx, "") }))

	x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", AccountID: "42", ProviderID: "github"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteAccount(ctx, x.ID))
	_, err = a.UpdateAccount(ctx, x.ID, allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	list, err = a.GetUserAccounts(ctx, "u1")
	require.NoError(t, err)
	assert.Empty(t, list)
	n := len(srv.Events())
	require.NoError(t, a.DeleteAccount(ctx, x.ID))
	assert.Len(t, srv.Events(), n)
}

func TestMiscAccountUpdate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	exp := clk.Now().Add(time.Hour)
	x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{
		UserID: "u1", AccountID: "42", ProviderID: "github",
		AccessToken: "at", RefreshToken: "rt", IDToken: "idt", Scope: "s",
		AccessTokenExpiresAt: exp, RefreshTokenExpiresAt: exp, Password: "h1",
	})
	require.NoError(t, err)
	clk.Advance(time.Minute + time.Nanosecond)
	newExp := clk.Now().Add(2 * time.Hour)
	u, err := a.UpdateAccount(ctx, x.ID, allsourceauth.UpdateAccount{
		AccessToken:          allsourceauth.Ptr("at2"),
		IDToken:              allsourceauth.Ptr(""),
		Password:             allsourceauth.Ptr("h2"),
		AccessTokenExpiresAt: allsourceauth.Ptr(newExp),
		// RefreshTokenExpiresAt cleared; RefreshToken and Scope left.
		RefreshTokenExpiresAt: allsourceauth.Ptr(time.Time{}),
	})
	require.NoError(t, err)
	want := *x
	want.AccessToken, want.IDToken, want.Password = "at2", "", "h2"
	want.AccessTokenExpiresAt, want.RefreshTokenExpiresAt = newExp, time.Time{}
	want.UpdatedAt = clk.Now()
	same(t, &want, u)
	got, err := a.GetAccount(ctx, "github", "42")
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-account:"+x.ID, "auth.account.updated", u,
		"id", "accountId", "providerId", "userId", "accessToken", "refreshToken",
		"accessTokenExpiresAt", "scope", "password", "createdAt", "updatedAt")
}

func TestMiscAccountListNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	var want []*allsourceauth.Account
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		clk.Advance(time.Second)
		x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u1", AccountID: "1", ProviderID: p})
		require.NoError(t, err)
		want = append([]*allsourceauth.Account{x}, want...)
	}
	_, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: "u2", AccountID: "2", ProviderID: "p1"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteAccount(ctx, want[1].ID))
	want = append(want[:1], want[2:]...)
	// An update does not reorder.
	u, err := a.UpdateAccount(ctx, want[2].ID, allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
	require.NoError(t, err)
	want[2] = u

	got, err := a.GetUserAccounts(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want {
		same(t, want[i], &got[i])
	}
}

// ---------------------------------------------------------------------------------------
// Verifications

// verificationLookups are the three reads that find a verification by identifier and
// value: by both, by value, by identifier.
func verificationLookups(ctx context.Context, a *allsourceauth.Adapter, identifier, value string) []func() (*allsourceauth.Verification, error) {
	return []func() (*allsourceauth.Verification, error){
		func() (*allsourceauth.Verification, error) { return a.GetVerification(ctx, identifier, value) },
		func() (*allsourceauth.Verification, error) { return a.GetVerificationByValue(ctx, value) },
		func() (*allsourceauth.Verification, error) { return a.GetVerificationByIdentifier(ctx, identifier) },
	}
}

func TestMiscVerificationCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal and duplicates", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		exp := clk.Now().Add(10*time.Minute + time.Nanosecond)
		v1, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "email:a@b.c", Value: "123456", ExpiresAt: exp})
		require.NoError(t, err)
		assertUUID4(t, v1.ID)
		assert.True(t, v1.CreatedAt.Equal(epoch))
		assert.True(t, v1.UpdatedAt.Equal(epoch))
		assert.True(t, v1.ExpiresAt.Equal(exp))
		checkEvent(t, srv, "auth-verification:"+v1.ID, "auth.verification.created", v1,
			"id", "identifier", "value", "expiresAt", "createdAt", "updatedAt")
		for _, get := range verificationLookups(ctx, a, "email:a@b.c", "123456") {
			got, err := get()
			require.NoError(t, err)
			same(t, v1, got)
		}

		// A duplicate is allowed; the newest is returned.
		clk.Advance(time.Second)
		v2, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "email:a@b.c", Value: "123456", ExpiresAt: exp})
		require.NoError(t, err)
		assert.NotEqual(t, v1.ID, v2.ID)
		got, err := a.GetVerification(ctx, "email:a@b.c", "123456")
		require.NoError(t, err)
		same(t, v2, got)
		// Lookups are exact.
		_, err = a.GetVerification(ctx, "EMAIL:a@b.c", "123456")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetVerification(ctx, "email:a@b.c", "12345")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		exp := clk.Now().Add(time.Hour)
		for _, in := range []allsourceauth.CreateVerification{
			{Value: "v", ExpiresAt: exp}, {Identifier: "i", ExpiresAt: exp}, {Identifier: "i", Value: "v"},
		} {
			wantInvalid(t, srv, func() error { _, err := a.CreateVerification(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})

	t.Run("64 KiB value", func(t *testing.T) {
		t.Parallel()
		a, _, clk := newStoreAt(t, epoch)
		var b strings.Builder
		for b.Len() < 64<<10 {
			b.WriteString("ä€😀<>&\"\\\n\t\u2028 ~xyz")
		}
		value := b.String()
		v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "big", Value: value, ExpiresAt: clk.Now().Add(time.Hour)})
		require.NoError(t, err)
		assert.Equal(t, value, v.Value)
		for _, get := range verificationLookups(ctx, a, "big", value) {
			got, err := get()
			require.NoError(t, err)
			require.Equal(t, value, got.Value) // byte-exact
			same(t, v, got)
		}
		c, err := a.ConsumeVerification(ctx, "big", value)
		require.NoError(t, err)
		require.Equal(t, value, c.Value)
	})
}

func TestMiscVerificationExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	// older lives long; newer (same identifier and value) expires first.
	older, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "id", Value: "v", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(time.Second)
	newer, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "id", Value: "v", ExpiresAt: clk.Now().Add(time.Minute)})
	require.NoError(t, err)
	_, err = a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "id2", Value: "w", ExpiresAt: clk.Now().Add(time.Minute)})
	require.NoError(t, err)

	for _, get := range verificationLookups(ctx, a, "id", "v") {
		got, err := get()
		require.NoError(t, err)
		same(t, newer, got)
	}
	// At exactly ExpiresAt a verification is expired: the newest unexpired one is older.
	clk.Advance(time.Minute)
	for _, get := range verificationLookups(ctx, a, "id", "v") {
		got, err := get()
		require.NoError(t, err)
		same(t, older, got)
	}
	for _, get := range verificationLookups(ctx, a, "id2", "w") {
		_, err := get()
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	_, err = a.ConsumeVerification(ctx, "id2", "w")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	clk.Advance(time.Hour)
	for _, get := range verificationLookups(ctx, a, "id", "v") {
		_, err := get()
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
}

func TestMiscVerificationConsume(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "id", Value: "v", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(time.Second)

	// A wrong value (or identifier) leaves the record in place.
	n := len(srv.Events())
	for _, iv := range [][2]string{{"id", "x"}, {"idx", "v"}, {"ID", "v"}, {"id", "V"}} {
		_, err = a.ConsumeVerification(ctx, iv[0], iv[1])
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	assert.Len(t, srv.Events(), n)
	got, err := a.GetVerification(ctx, "id", "v")
	require.NoError(t, err)
	same(t, v, got)

	c, err := a.ConsumeVerification(ctx, "id", "v")
	require.NoError(t, err)
	same(t, v, c)
	evs := eventsOf(srv, "auth-verification:"+v.ID)
	require.Len(t, evs, 2)
	checkTombstone(t, srv, "auth-verification:"+v.ID, "auth.verification.consumed")

	_, err = a.ConsumeVerification(ctx, "id", "v")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetVerification(ctx, "id", "v")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetVerificationByIdentifier(ctx, "id")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Len(t, eventsOf(srv, "auth-verification:"+v.ID), 2)

	// The newest of duplicates is consumed first.
	d1, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "d", Value: "v", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	clk.Advance(time.Second)
	d2, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "d", Value: "v", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	c, err = a.ConsumeVerification(ctx, "d", "v")
	require.NoError(t, err)
	same(t, d2, c)
	c, err = a.ConsumeVerification(ctx, "d", "v")
	require.NoError(t, err)
	same(t, d1, c)
	_, err = a.ConsumeVerification(ctx, "d", "v")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.ConsumeVerification(ctx, "", "v"); return err },
		func() error { _, err := a.ConsumeVerification(ctx, "id", ""); return err },
		func() error { _, err := a.GetVerification(ctx, "", "v"); return err },
		func() error { _, err := a.GetVerificationByValue(ctx, ""); return err },
		func() error { _, err := a.GetVerificationByIdentifier(ctx, ""); return err },
	)
}

func TestMiscVerificationDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	now := clk.Now()
	mk := func(id string, exp time.Time) *allsourceauth.Verification {
		t.Helper()
		v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: id, Value: "v", ExpiresAt: exp})
		require.NoError(t, err)
		return v
	}
	live := mk("live", now.Add(2*time.Hour))
	exact := mk("exact", now.Add(time.Hour))
	past := mk("past", now.Add(time.Minute))
	pastDup := mk("past", now.Add(time.Minute))
	gone := mk("gone", now.Add(time.Second))
	require.NoError(t, a.DeleteVerification(ctx, gone.ID))
	checkTombstone(t, srv, "auth-verification:"+gone.ID, "auth.verification.deleted")
	n := len(srv.Events())
	require.NoError(t, a.DeleteVerification(ctx, gone.ID))
	require.NoError(t, a.DeleteVerification(ctx, "nope"))
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteVerification(ctx, "") }))
	assert.Len(t, srv.Events(), n)

	clk.Advance(time.Hour) // exact: ExpiresAt == now is expired
	count, err := a.DeleteExpiredVerifications(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, count)
	for _, v := range []*allsourceauth.Verification{exact, past, pastDup} {
		checkTombstone(t, srv, "auth-verification:"+v.ID, "auth.verification.deleted")
	}
	assert.Len(t, eventsOf(srv, "auth-verification:"+live.ID), 1)
	got, err := a.GetVerificationByIdentifier(ctx, "live")
	require.NoError(t, err)
	same(t, live, got)
	count, err = a.DeleteExpiredVerifications(ctx)
	require.NoError(t, err)
	assert.Zero(t, count)
}

// ---------------------------------------------------------------------------------------
// Two-factor

func TestMiscTwoFactor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)

	tf, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: "JBSWY3DPEHPK3PXP", BackupCodes: "a,b,c"})
	require.NoError(t, err)
	assertUUID4(t, tf.ID)
	assert.Equal(t, "JBSWY3DPEHPK3PXP", tf.Secret)
	assert.Equal(t, "a,b,c", tf.BackupCodes)
	assert.True(t, tf.CreatedAt.Equal(epoch))
	assert.True(t, tf.UpdatedAt.Equal(epoch))
	got, err := a.GetTwoFactorByUserID(ctx, "u1")
	require.NoError(t, err)
	same(t, tf, got)
	checkEvent(t, srv, "auth-2fa:"+tf.ID, "auth.two_factor.created", tf, "id", "secret", "backupCodes", "userId", "createdAt", "updatedAt")

	// One per user.
	wantConflict(t, srv, func() error {
		_, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: "other"})
		return err
	})
	got, err = a.GetTwoFactorByUserID(ctx, "u1")
	require.NoError(t, err)
	same(t, tf, got)
	other, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u2", Secret: "s2"})
	require.NoError(t, err)

	// Backup codes by user id.
	clk.Advance(time.Minute + time.Nanosecond)
	u, err := a.UpdateTwoFactorBackupCodes(ctx, "u1", "d,e")
	require.NoError(t, err)
	want := *tf
	want.BackupCodes, want.UpdatedAt = "d,e", clk.Now()
	same(t, &want, u)
	got, err = a.GetTwoFactorByUserID(ctx, "u1")
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-2fa:"+tf.ID, "auth.two_factor.updated", u, "id", "secret", "backupCodes", "userId", "createdAt", "updatedAt")

	// Absent.
	_, err = a.GetTwoFactorByUserID(ctx, "nobody")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateTwoFactorBackupCodes(ctx, "nobody", "x")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeleteTwoFactor(ctx, "nobody"))
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetTwoFactorByUserID(ctx, ""); return err },
		func() error { _, err := a.UpdateTwoFactorBackupCodes(ctx, "", "x"); return err },
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteTwoFactor(ctx, "") }))

	// Delete by user id; then a new one can be created.
	require.NoError(t, a.DeleteTwoFactor(ctx, "u1"))
	checkTombstone(t, srv, "auth-2fa:"+tf.ID, "auth.two_factor.deleted")
	_, err = a.GetTwoFactorByUserID(ctx, "u1")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateTwoFactorBackupCodes(ctx, "u1", "x")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteTwoFactor(ctx, "u1"))
	assert.Len(t, srv.Events(), n)
	tf2, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: "new"})
	require.NoError(t, err)
	got, err = a.GetTwoFactorByUserID(ctx, "u1")
	require.NoError(t, err)
	same(t, tf2, got)
	got, err = a.GetTwoFactorByUserID(ctx, "u2")
	require.NoError(t, err)
	same(t, other, got)

	// Bad input.
	for _, in := range []allsourceauth.CreateTwoFactor{{Secret: "s"}, {UserID: "u3"}} {
		wantInvalid(t, srv, func() error { _, err := a.CreateTwoFactor(ctx, in); return err })
	}
}

// ---------------------------------------------------------------------------------------
// API keys

func TestMiscAPIKeyCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := newStoreAt(t, epoch)
		exp := clk.Now().Add(24*time.Hour + time.Nanosecond)
		k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{
			UserID: "u1", Name: "ci", Prefix: "ak_", KeyHash: "HashAbC", Start: "ak_12",
			Permissions: `{"files":["read"]}`, Metadata: `{"team":"x"}`, ExpiresAt: exp,
			Remaining: allsourceauth.Ptr[int64](0), RateLimitTimeWindow: allsourceauth.Ptr[int64](60000),
			RateLimitMax: allsourceauth.Ptr[int64](10), RefillInterval: allsourceauth.Ptr[int64](3600),
			RefillAmount: allsourceauth.Ptr[int64](5), RateLimitEnabled: true, Enabled: true,
		})
		require.NoError(t, err)
		assertUUID4(t, k.ID)
		assert.Zero(t, k.RequestCount)
		require.NotNil(t, k.Remaining)
		assert.Zero(t, *k.Remaining)
		assert.True(t, k.Enabled)
		assert.True(t, k.ExpiresAt.Equal(exp))
		assert.True(t, k.CreatedAt.Equal(epoch))
		assert.True(t, k.UpdatedAt.Equal(epoch))
		for _, get := range []func() (*allsourceauth.APIKey, error){
			func() (*allsourceauth.APIKey, error) { return a.GetAPIKeyByID(ctx, k.ID) },
			func() (*allsourceauth.APIKey, error) { return a.GetAPIKeyByHash(ctx, "HashAbC") },
		} {
			got, err := get()
			require.NoError(t, err)
			same(t, k, got)
		}
		ev := checkEvent(t, srv, "auth-apikey:"+k.ID, "auth.api_key.created", k,
			"id", "name", "start", "prefix", "key", "userId", "refillInterval", "refillAmount", "enabled",
			"rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount", "remaining",
			"expiresAt", "createdAt", "updatedAt", "permissions", "metadata")
		assert.Equal(t, json.Number("0"), payloadOf(t, ev.Payload)["requestCount"])

		// Exact, case-sensitive.
		for _, h := range []string{"hashabc", "HASHABC", "HashAb", "HashAbC "} {
			_, err := a.GetAPIKeyByHash(ctx, h)
			require.ErrorIs(t, err, allsourceauth.ErrNotFound, h)
		}
	})

	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u1", KeyHash: "h"})
		require.NoError(t, err)
		wantConflict(t, srv, func() error {
			_, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u2", KeyHash: "h"})
			return err
		})
		_, err = a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u2", KeyHash: "H"})
		require.NoError(t, err)
		// Delete frees the hash.
		require.NoError(t, a.DeleteAPIKey(ctx, k.ID))
		checkTombstone(t, srv, "auth-apikey:"+k.ID, "auth.api_key.deleted")
		_, err = a.GetAPIKeyByHash(ctx, "h")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetAPIKeyByID(ctx, k.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		k2, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u3", KeyHash: "h"})
		require.NoError(t, err)
		got, err := a.GetAPIKeyByHash(ctx, "h")
		require.NoError(t, err)
		same(t, k2, got)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := newStoreAt(t, epoch)
		for _, in := range []allsourceauth.CreateAPIKey{{KeyHash: "h"}, {UserID: "u"}} {
			wantInvalid(t, srv, func() error { _, err := a.CreateAPIKey(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestMiscAPIKeyAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	_, err := a.GetAPIKeyByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetAPIKeyByHash(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateAPIKey(ctx, "nope", allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeleteAPIKey(ctx, "nope"))
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetAPIKeyByID(ctx, ""); return err },
		func() error { _, err := a.GetAPIKeyByHash(ctx, ""); return err },
		func() error {
			_, err := a.UpdateAPIKey(ctx, "", allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
			return err
		},
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeleteAPIKey(ctx, "") }))
	list, err := a.ListAPIKeysByUser(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, list)

	k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: "u1", KeyHash: "h"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteAPIKey(ctx, k.ID))
	_, err = a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteAPIKey(ctx, k.ID))
	assert.Len(t, srv.Events(), n)
}

func TestMiscAPIKeyUpdate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	exp := clk.Now().Add(time.Hour)
	k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{
		UserID: "u1", Name: "n", KeyHash: "h", Permissions: "p", Metadata: "m", ExpiresAt: exp,
		Remaining: allsourceauth.Ptr[int64](5), RateLimitMax: allsourceauth.Ptr[int64](10), Enabled: true,
	})
	require.NoError(t, err)

	// nil leaves everything but UpdatedAt.
	clk.Advance(time.Second)
	u, err := a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{})
	require.NoError(t, err)
	want := *k
	want.UpdatedAt = clk.Now()
	same(t, &want, u)

	// Values set.
	clk.Advance(time.Second + time.Nanosecond)
	last := clk.Now().Add(-time.Millisecond)
	u, err = a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{
		Name: allsourceauth.Ptr("renamed"), Enabled: allsourceauth.Ptr(false), RateLimitEnabled: allsourceauth.Ptr(true),
		Remaining: allsourceauth.Ptr[int64](4), RequestCount: allsourceauth.Ptr[int64](1),
		RateLimitTimeWindow: allsourceauth.Ptr[int64](1000), RefillInterval: allsourceauth.Ptr[int64](7),
		RefillAmount: allsourceauth.Ptr[int64](8), LastRequest: &last, LastRefillAt: &last,
		ExpiresAt: allsourceauth.Ptr(exp.Add(time.Hour)),
	})
	require.NoError(t, err)
	want.Name, want.Enabled, want.RateLimitEnabled = "renamed", false, true
	want.Remaining, want.RequestCount = allsourceauth.Ptr[int64](4), 1
	want.RateLimitTimeWindow, want.RefillInterval, want.RefillAmount = allsourceauth.Ptr[int64](1000), allsourceauth.Ptr[int64](7), allsourceauth.Ptr[int64](8)
	want.LastRequest, want.LastRefillAt, want.ExpiresAt = last, last, exp.Add(time.Hour)
	want.UpdatedAt = clk.Now()
	same(t, &want, u)
	got, err := a.GetAPIKeyByID(ctx, k.ID)
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-apikey:"+k.ID, "auth.api_key.updated", u,
		"id", "name", "key", "userId", "refillInterval", "refillAmount", "lastRefillAt", "enabled",
		"rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount", "remaining",
		"lastRequest", "expiresAt", "createdAt", "updatedAt", "permissions", "metadata")

	// A zero time clears; "" clears a string; other fields stay.
	clk.Advance(time.Second)
	u, err = a.UpdateAPIKey(ctx, k.ID, allsourceauth.UpdateAPIKey{
		ExpiresAt: allsourceauth.Ptr(time.Time{}), LastRequest: allsourceauth.Ptr(time.Time{}), Permissions: allsourceauth.Ptr(""),
	})
	require.NoError(t, err)
	want.ExpiresAt, want.LastRequest, want.Permissions, want.UpdatedAt = time.Time{}, time.Time{}, "", clk.Now()
	same(t, &want, u)
	got, err = a.GetAPIKeyByHash(ctx, "h")
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-apikey:"+k.ID, "auth.api_key.updated", u,
		"id", "name", "key", "userId", "refillInterval", "refillAmount", "lastRefillAt", "enabled",
		"rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount", "remaining",
		"createdAt", "updatedAt", "metadata")
}

func TestMiscAPIKeyListAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)
	now := clk.Now()
	mk := func(user, hash string, exp time.Time) *allsourceauth.APIKey {
		t.Helper()
		clk.Advance(time.Second)
		k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: user, KeyHash: hash, ExpiresAt: exp})
		require.NoError(t, err)
		return k
	}
	never := mk("u1", "h1", time.Time{})
	expired := mk("u1", "h2", now.Add(-time.Hour))
	exact := mk("u1", "h3", now.Add(time.Hour))
	future := mk("u1", "h4", now.Add(2*time.Hour))
	otherUser := mk("u2", "h5", now.Add(-time.Hour))
	gone := mk("u1", "h6", time.Time{})
	require.NoError(t, a.DeleteAPIKey(ctx, gone.ID))

	got, err := a.ListAPIKeysByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 4)
	for i, want := range []*allsourceauth.APIKey{future, exact, expired, never} {
		same(t, want, &got[i])
	}

	clk.Advance(now.Add(time.Hour).Sub(clk.Now())) // exact: ExpiresAt == now
	n, err := a.DeleteExpiredAPIKeys(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, k := range []*allsourceauth.APIKey{expired, exact, otherUser} {
		checkTombstone(t, srv, "auth-apikey:"+k.ID, "auth.api_key.deleted")
	}
	got, err = a.ListAPIKeysByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	same(t, future, &got[0])
	same(t, never, &got[1])
	n, err = a.DeleteExpiredAPIKeys(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// ---------------------------------------------------------------------------------------
// Passkeys

func TestMiscPasskey(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := newStoreAt(t, epoch)

	p, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{
		UserID: "u1", Name: "YubiKey ✓", CredentialID: "Cred-AbC_123", PublicKey: "pk",
		DeviceType: "singleDevice", Transports: "usb,nfc", Counter: math.MaxUint64, BackedUp: true,
	})
	require.NoError(t, err)
	assertUUID4(t, p.ID)
	assert.Equal(t, uint64(math.MaxUint64), p.Counter)
	assert.True(t, p.CreatedAt.Equal(epoch))
	for _, get := range []func() (*allsourceauth.Passkey, error){
		func() (*allsourceauth.Passkey, error) { return a.GetPasskeyByID(ctx, p.ID) },
		func() (*allsourceauth.Passkey, error) { return a.GetPasskeyByCredentialID(ctx, "Cred-AbC_123") },
	} {
		got, err := get()
		require.NoError(t, err)
		same(t, p, got)
		assert.Equal(t, uint64(math.MaxUint64), got.Counter)
	}
	ev := checkEvent(t, srv, "auth-passkey:"+p.ID, "auth.passkey.created", p,
		"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType", "backedUp", "transports", "createdAt")
	assert.Equal(t, json.Number("18446744073709551615"), payloadOf(t, ev.Payload)["counter"])
	_, err = a.GetPasskeyByCredentialID(ctx, "cred-abc_123")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	// Credential id unique.
	wantConflict(t, srv, func() error {
		_, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u2", CredentialID: "Cred-AbC_123", PublicKey: "pk2"})
		return err
	})

	// Updates.
	clk.Advance(time.Second)
	u, err := a.UpdatePasskeyCounter(ctx, p.ID, 7)
	require.NoError(t, err)
	want := *p
	want.Counter = 7
	same(t, &want, u)
	got, err := a.GetPasskeyByID(ctx, p.ID)
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-passkey:"+p.ID, "auth.passkey.updated", u,
		"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType", "backedUp", "transports", "createdAt")
	u, err = a.UpdatePasskeyCounter(ctx, p.ID, math.MaxUint64)
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), u.Counter)
	got, err = a.GetPasskeyByCredentialID(ctx, "Cred-AbC_123")
	require.NoError(t, err)
	same(t, u, got)
	u, err = a.UpdatePasskeyName(ctx, p.ID, "Laptop")
	require.NoError(t, err)
	want.Name, want.Counter = "Laptop", math.MaxUint64
	same(t, &want, u)
	got, err = a.GetPasskeyByID(ctx, p.ID)
	require.NoError(t, err)
	same(t, u, got)
	checkEvent(t, srv, "auth-passkey:"+p.ID, "auth.passkey.updated", u,
		"id", "name", "publicKey", "userId", "credentialID", "counter", "deviceType", "backedUp", "transports", "createdAt")

	// Delete frees the credential id.
	require.NoError(t, a.DeletePasskey(ctx, p.ID))
	checkTombstone(t, srv, "auth-passkey:"+p.ID, "auth.passkey.deleted")
	_, err = a.GetPasskeyByID(ctx, p.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetPasskeyByCredentialID(ctx, "Cred-AbC_123")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	p2, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u2", CredentialID: "Cred-AbC_123", PublicKey: "pk2"})
	require.NoError(t, err)
	got, err = a.GetPasskeyByCredentialID(ctx, "Cred-AbC_123")
	require.NoError(t, err)
	same(t, p2, got)
}

func TestMiscPasskeyAbsentAndInput(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := newStoreAt(t, epoch)
	_, err := a.GetPasskeyByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetPasskeyByCredentialID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdatePasskeyCounter(ctx, "nope", 1)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdatePasskeyName(ctx, "nope", "n")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeletePasskey(ctx, "nope"))
	notFoundWithoutRequests(t, srv,
		func() error { _, err := a.GetPasskeyByID(ctx, ""); return err },
		func() error { _, err := a.GetPasskeyByCredentialID(ctx, ""); return err },
		func() error { _, err := a.UpdatePasskeyCounter(ctx, "", 1); return err },
		func() error { _, err := a.UpdatePasskeyName(ctx, "", "n"); return err },
	)
	require.NoError(t, noRequests(t, srv, func() error { return a.DeletePasskey(ctx, "") }))
	for _, in := range []allsourceauth.CreatePasskey{
		{CredentialID: "c", PublicKey: "p"}, {UserID: "u", PublicKey: "p"}, {UserID: "u", CredentialID: "c"},
	} {
		wantInvalid(t, srv, func() error { _, err := a.CreatePasskey(ctx, in); return err })
	}
	assert.Empty(t, srv.Events())

	p, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u1", CredentialID: "c", PublicKey: "p"})
	require.NoError(t, err)
	require.NoError(t, a.DeletePasskey(ctx, p.ID))
	_, err = a.UpdatePasskeyCounter(ctx, p.ID, 1)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdatePasskeyName(ctx, p.ID, "n")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeletePasskey(ctx, p.ID))
	assert.Len(t, srv.Events(), n)
}

func TestMiscPasskeyListNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := newStoreAt(t, epoch)
	var want []*allsourceauth.Passkey
	for _, c := range []string{"c1", "c2", "c3"} {
		clk.Advance(time.Second)
		p, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u1", CredentialID: c, PublicKey: "pk"})
		require.NoError(t, err)
		want = append([]*allsourceauth.Passkey{p}, want...)
	}
	_, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: "u2", CredentialID: "c4", PublicKey: "pk"})
	require.NoError(t, err)
	u, err := a.UpdatePasskeyName(ctx, want[2].ID, "renamed")
	require.NoError(t, err)
	want[2] = u
	got, err := a.ListPasskeysByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i := range want {
		same(t, want[i], &got[i])
	}
	require.NoError(t, a.DeletePasskey(ctx, want[0].ID))
	got, err = a.ListPasskeysByUser(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	same(t, want[1], &got[0])
	for _, user := range []string{"nobody", ""} {
		got, err = a.ListPasskeysByUser(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
}
