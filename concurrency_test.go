package allsourceauth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

// concRacers is how many goroutines race for one value.
const concRacers = 16

// concRace runs f(i) for i in [0, concRacers) at once, half on each Adapter, and returns
// the errors.
func concRace(adapters [2]*allsourceauth.Adapter, f func(a *allsourceauth.Adapter, i int) error) []error {
	errs := make([]error, concRacers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concRacers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(adapters[i%2], i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
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
				o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: fmt.Sprint("org ", i), Slug: "race"})
				if err != nil {
					return "", err
				}
				return o.ID, nil
			},
			eventType: "auth.org.created", fields: map[string]string{"slug": "race"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				o, err := a.GetOrganizationBySlug(ctx, "race")
				if err != nil {
					return "", err
				}
				return o.ID, nil
			},
		},
		{
			name: "membership",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: fmt.Sprint("role", i)})
				if err != nil {
					return "", err
				}
				return m.ID, nil
			},
			eventType: "auth.member.created", fields: map[string]string{"organizationId": "o1", "userId": "u1"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				m, err := a.GetMember(ctx, "o1", "u1")
				if err != nil {
					return "", err
				}
				return m.ID, nil
			},
		},
		{
			name: "passkey credential id",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				p, err := a.CreatePasskey(ctx, allsourceauth.CreatePasskey{UserID: fmt.Sprint("u", i), CredentialID: "cred", PublicKey: "pk"})
				if err != nil {
					return "", err
				}
				return p.ID, nil
			},
			eventType: "auth.passkey.created", fields: map[string]string{"credentialID": "cred"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				p, err := a.GetPasskeyByCredentialID(ctx, "cred")
				if err != nil {
					return "", err
				}
				return p.ID, nil
			},
		},
		{
			name: "api key hash",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				k, err := a.CreateAPIKey(ctx, allsourceauth.CreateAPIKey{UserID: fmt.Sprint("u", i), KeyHash: "hash"})
				if err != nil {
					return "", err
				}
				return k.ID, nil
			},
			eventType: "auth.api_key.created", fields: map[string]string{"key": "hash"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				k, err := a.GetAPIKeyByHash(ctx, "hash")
				if err != nil {
					return "", err
				}
				return k.ID, nil
			},
		},
		{
			name: "two-factor user",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				tf, err := a.CreateTwoFactor(ctx, allsourceauth.CreateTwoFactor{UserID: "u1", Secret: fmt.Sprint("secret", i)})
				if err != nil {
					return "", err
				}
				return tf.ID, nil
			},
			eventType: "auth.two_factor.created", fields: map[string]string{"userId": "u1"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				tf, err := a.GetTwoFactorByUserID(ctx, "u1")
				if err != nil {
					return "", err
				}
				return tf.ID, nil
			},
		},
		{
			name: "provider account id",
			create: func(ctx context.Context, a *allsourceauth.Adapter, i int) (string, error) {
				x, err := a.CreateAccount(ctx, allsourceauth.CreateAccount{UserID: fmt.Sprint("u", i), ProviderID: "github", AccountID: "42"})
				if err != nil {
					return "", err
				}
				return x.ID, nil
			},
			eventType: "auth.account.created", fields: map[string]string{"providerId": "github", "accountId": "42"},
			lookup: func(ctx context.Context, a *allsourceauth.Adapter) (string, error) {
				x, err := a.GetAccount(ctx, "github", "42")
				if err != nil {
					return "", err
				}
				return x.ID, nil
			},
		},
	}
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			a1, srv := newStore(t)
			adapters := [2]*allsourceauth.Adapter{a1, newAdapter(t, srv)}
			ids := make([]string, concRacers)
			errs := concRace(adapters, func(a *allsourceauth.Adapter, i int) error {
				var err error
				ids[i], err = sc.create(ctx, a, i)
				return err
			})
			winner := ""
			for i, err := range errs {
				if err == nil {
					require.Empty(t, winner, "two creates of one value succeeded")
					winner = ids[i]
					continue
				}
				require.ErrorIs(t, err, allsourceauth.ErrConflict, "racer %d", i)
			}
			require.NotEmpty(t, winner, "no create succeeded")
			assert.Equal(t, 1, omCountEvents(t, srv, sc.eventType, sc.fields), "created events for the value")
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
	adapters := [2]*allsourceauth.Adapter{a1, newAdapter(t, srv)}
	v, err := a1.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "email:a@b.c", Value: "123456", ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	got := make([]*allsourceauth.Verification, concRacers)
	errs := concRace(adapters, func(a *allsourceauth.Adapter, i int) error {
		var err error
		got[i], err = a.ConsumeVerification(ctx, "email:a@b.c", "123456")
		return err
	})
	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			omSame(t, v, got[i])
			continue
		}
		require.True(t, errors.Is(err, allsourceauth.ErrNotFound), "racer %d: %v", i, err)
	}
	assert.Equal(t, 1, wins)
	assert.Equal(t, 1, omCountEvents(t, srv, "auth.verification.consumed", map[string]string{"id": v.ID}))
	_, err = a1.GetVerification(ctx, "email:a@b.c", "123456")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
}
