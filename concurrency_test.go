package allsourceauth_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// concRacers is how many goroutines race for one value.
const concRacers = 16

// idOf returns the ID field of the entity a call returned, or the call's error.
func idOf[T any](v *T, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return reflect.ValueOf(v).Elem().FieldByName("ID").String(), nil
}

// Of concurrent creates of one unique value, from two Adapters (two app servers) on one
// Allsource, exactly one succeeds and the rest get ErrConflict; exactly one entity is
// created for the value, and lookups find the winner.
func TestConcurrentUniqueCreates(t *testing.T) {
	t.Parallel()
	type scope struct {
		name      string
		create    func(ctx context.Context, a *allsourceauth.Adapter, i int) (id string, err error)
		eventType string
		fields    map[string]string // payload fields of the value
		lookup    func(ctx context.Context, a *allsourceauth.Adapter) (id string, err error)
	}
	scopes := []scope{
		{
			name: "organization slug",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: fmt.Sprint("org ", i), Slug: "race"}))
			},
			eventType: "auth.org.created", fields: map[string]string{"slug": "race"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetOrganizationBySlug(ctx, "race"))
			},
		},
		{
			name: "membership",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: fmt.Sprint("role", i)}))
			},
			eventType: "auth.member.created", fields: map[string]string{"organizationId": "o1", "userId": "u1"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetMember(ctx, "o1", "u1"))
			},
		},
		{
			name: "passkey credential id",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: fmt.Sprint("u", i), CredentialID: "cred", PublicKey: "pk"}))
			},
			eventType: "auth.passkey.created", fields: map[string]string{"credentialID": "cred"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetPasskeyByCredentialID(ctx, "cred"))
			},
		},
		{
			name: "api key hash",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: fmt.Sprint("u", i), KeyHash: "hash"}))
			},
			eventType: "auth.api_key.created", fields: map[string]string{"key": "hash"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetAPIKeyByHash(ctx, "hash"))
			},
		},
		{
			name: "two-factor user",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: fmt.Sprint("secret", i)}))
			},
			eventType: "auth.two_factor.created", fields: map[string]string{"userId": "u1"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetTwoFactorByUserID(ctx, "u1"))
			},
		},
		{
			name: "provider account id",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				return idOf(a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: fmt.Sprint("u", i), ProviderID: "github", AccountID: "42"}))
			},
			eventType: "auth.account.created", fields: map[string]string{"providerId": "github", "accountId": "42"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				return idOf(a.GetAccount(ctx, "github", "42"))
			},
		},
	}
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			a1, srv := newStore(t)
			adapters := []*allsourceauth.Adapter{a1, newAdapter(t, srv)}
			ids := make([]string, concRacers)
			errs := race(concRacers, adapters, func(i int, a *allsourceauth.Adapter) error {
				var err error
				ids[i], err = sc.create(ctx, a, i)
				return err
			})
			wins := winners(t, errs, allsourceauth.ErrConflict)
			require.Len(t, wins, 1, "exactly one create of one value succeeds; the rest conflict")
			winner := ids[wins[0]]
			assert.Equal(t, 1, countEvents(t, srv, sc.eventType, sc.fields), "created events for the value")
			for _, a := range adapters {
				id, err := sc.lookup(ctx, a)
				require.NoError(t, err)
				assert.Equal(t, winner, id)
			}
		})
	}
}

// Of concurrent consumes of one verification, from two Adapters, exactly one gets it and
// the rest get ErrNotFound; it is consumed once.
func TestConcurrentConsumeVerification(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a1, srv := newStore(t)
	adapters := []*allsourceauth.Adapter{a1, newAdapter(t, srv)}
	v, err := a1.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "email:a@b.c", Value: "123456", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	got := make([]*allsourceauth.Verification, concRacers)
	errs := race(concRacers, adapters, func(i int, a *allsourceauth.Adapter) error {
		var err error
		got[i], err = a.ConsumeVerification(ctx, "email:a@b.c", "123456")
		return err
	})
	wins := winners(t, errs, allsourceauth.ErrNotFound)
	require.Len(t, wins, 1, "exactly one consume gets it; the rest find nothing")
	same(t, v, got[wins[0]])
	assert.Equal(t, 1, countEvents(t, srv, "auth.verification.consumed", map[string]string{"id": v.ID}))
	_, err = a1.GetVerification(ctx, "email:a@b.c", "123456")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
}
