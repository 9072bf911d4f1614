package allsourceauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
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
// Helpers shared by ops_org_test.go, ops_misc_test.go, concurrency_test.go and
// budget_test.go (prefix "om").

// omT0 is the start of every test clock: nanoseconds set, so that full precision is
// checked by every round trip.
var omT0 = time.Date(2026, 9, 21, 10, 0, 5, 481922317, time.UTC)

// omSetup returns an Adapter on a fresh server with a settable clock.
func omSetup(t *testing.T) (*allsourceauth.Adapter, *allsourcetest.Server, *testClock) {
	t.Helper()
	clk := newClock(omT0)
	a, srv := newStore(t, allsourceauth.WithClock(clk.Now))
	return a, srv, clk
}

// omSame asserts that got equals want field by field, time.Time fields compared with
// Equal, the rest with reflect equality. want and got
// are structs or pointers to structs.
func omSame(t *testing.T, want, got any) {
	t.Helper()
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	if w.Kind() == reflect.Pointer {
		require.False(t, w.IsNil(), "want is nil")
		w = w.Elem()
	}
	if g.Kind() == reflect.Pointer {
		require.False(t, g.IsNil(), "got is nil")
		g = g.Elem()
	}
	require.Equal(t, w.Type(), g.Type())
	wc, gc := reflect.New(w.Type()).Elem(), reflect.New(g.Type()).Elem()
	wc.Set(w)
	gc.Set(g)
	timeType := reflect.TypeFor[time.Time]()
	for i := 0; i < wc.NumField(); i++ {
		if wc.Field(i).Type() != timeType {
			continue
		}
		name := wc.Type().Field(i).Name
		wt, gt := wc.Field(i).Interface().(time.Time), gc.Field(i).Interface().(time.Time)
		assert.Truef(t, wt.Equal(gt), "%s: want %v, got %v", name, wt, gt)
		wc.Field(i).Set(reflect.Zero(timeType))
		gc.Field(i).Set(reflect.Zero(timeType))
	}
	assert.Equal(t, wc.Interface(), gc.Interface())
}

// omNoRequests runs f and asserts that it made no HTTP request; it returns f's error.
func omNoRequests(t *testing.T, srv *allsourcetest.Server, f func() error) error {
	t.Helper()
	before := srv.Requests()
	err := f()
	assert.Equal(t, before, srv.Requests(), "requests made")
	return err
}

// omEntityEvents counts the stored events that are not claim events.
func omEntityEvents(srv *allsourcetest.Server) int {
	n := 0
	for _, ev := range srv.Events() {
		if !strings.HasPrefix(ev.EntityID, "auth-claim:") {
			n++
		}
	}
	return n
}

// omConflict runs f, asserts ErrConflict and that no entity event was written.
func omConflict(t *testing.T, srv *allsourcetest.Server, f func() error) {
	t.Helper()
	before := omEntityEvents(srv)
	err := f()
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
	assert.Equal(t, before, omEntityEvents(srv), "entity events written by a conflicting call")
}

// omInvalid runs f, asserts ErrInvalidInput and that no request was made.
func omInvalid(t *testing.T, srv *allsourcetest.Server, f func() error) {
	t.Helper()
	err := omNoRequests(t, srv, f)
	require.ErrorIs(t, err, allsourceauth.ErrInvalidInput)
}

// omEventsOf returns the events of one entity, in append order.
func omEventsOf(srv *allsourcetest.Server, entityID string) []allsourcetest.Event {
	var out []allsourcetest.Event
	for _, ev := range srv.Events() {
		if ev.EntityID == entityID {
			out = append(out, ev)
		}
	}
	return out
}

// omLast returns the newest event of one entity.
func omLast(t *testing.T, srv *allsourcetest.Server, entityID string) allsourcetest.Event {
	t.Helper()
	evs := omEventsOf(srv, entityID)
	require.NotEmpty(t, evs, "no events for %s", entityID)
	return evs[len(evs)-1]
}

// omPayload decodes an event payload (numbers kept exact).
func omPayload(t *testing.T, ev allsourcetest.Event) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(ev.Payload))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m), "payload %s", ev.Payload)
	return m
}

// omKeys returns the sorted keys of a payload.
func omKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// omCheckEvent asserts the newest event of entityID: its type, and that its payload has
// exactly the keys want (sorted here) and equals the JSON of state.
func omCheckEvent(t *testing.T, srv *allsourcetest.Server, entityID, eventType string, state any, want ...string) allsourcetest.Event {
	t.Helper()
	ev := omLast(t, srv, entityID)
	assert.Equal(t, eventType, ev.EventType)
	p := omPayload(t, ev)
	want = slices.Clone(want)
	slices.Sort(want)
	assert.Equal(t, want, omKeys(p), "payload keys of %s", eventType)
	b, err := json.Marshal(state)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(ev.Payload))
	return ev
}

// omCheckTombstone asserts that the newest event of entityID is eventType, and its
// payload is the previous event's state plus "_deleted": true.
func omCheckTombstone(t *testing.T, srv *allsourcetest.Server, entityID, eventType string) {
	t.Helper()
	evs := omEventsOf(srv, entityID)
	require.GreaterOrEqual(t, len(evs), 2, "no tombstone for %s", entityID)
	last, prev := evs[len(evs)-1], evs[len(evs)-2]
	assert.Equal(t, eventType, last.EventType)
	want := omPayload(t, prev)
	want["_deleted"] = true
	assert.Equal(t, want, omPayload(t, last))
}

// omIsUUID4 asserts that s is a UUID v4.
func omIsUUID4(t *testing.T, s string) {
	t.Helper()
	u, err := uuid.Parse(s)
	require.NoError(t, err, "%q is not a UUID", s)
	assert.Equal(t, uuid.Version(4), u.Version())
}

// omCountEvents counts stored events of eventType whose payload matches every
// key/value in fields.
func omCountEvents(t *testing.T, srv *allsourcetest.Server, eventType string, fields map[string]string) int {
	t.Helper()
	n := 0
outer:
	for _, ev := range srv.Events() {
		if ev.EventType != eventType {
			continue
		}
		p := omPayload(t, ev)
		for k, v := range fields {
			if p[k] != v {
				continue outer
			}
		}
		n++
	}
	return n
}

// ---------------------------------------------------------------------------------------
// Organizations

func TestOrgCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		meta := map[string]any{"plan": "pro", "seats": 5.0, "tags": []any{"a", "ü"}}
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Acme ✓", Slug: "acme", Logo: "https://x/logo.png", Metadata: meta})
		require.NoError(t, err)
		omIsUUID4(t, o.ID)
		assert.Equal(t, "Acme ✓", o.Name)
		assert.Equal(t, "acme", o.Slug)
		assert.Equal(t, "https://x/logo.png", o.Logo)
		assert.Equal(t, meta, o.Metadata)
		assert.True(t, o.CreatedAt.Equal(omT0), "CreatedAt %v", o.CreatedAt)
		assert.True(t, o.UpdatedAt.Equal(omT0), "UpdatedAt %v", o.UpdatedAt)

		byID, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		omSame(t, o, byID)
		bySlug, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		omSame(t, o, bySlug)

		omCheckEvent(t, srv, "auth-org:"+o.ID, "auth.org.created", o,
			"id", "name", "slug", "logo", "metadata", "createdAt", "updatedAt")
		assert.Len(t, omEventsOf(srv, "auth-org:"+o.ID), 1)
	})

	t.Run("explicit id", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: "org-1", Name: "One", Slug: "one"})
		require.NoError(t, err)
		assert.Equal(t, "org-1", o.ID)
		got, err := a.GetOrganizationByID(ctx, "org-1")
		require.NoError(t, err)
		omSame(t, o, got)
		// Optional fields are absent keys.
		omCheckEvent(t, srv, "auth-org:org-1", "auth.org.created", o, "id", "name", "slug", "createdAt", "updatedAt")

		// An existing id is a conflict, even with a fresh slug; the fresh slug stays free.
		omConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: "org-1", Name: "Two", Slug: "two"})
			return err
		})
		_, err = a.GetOrganizationBySlug(ctx, "two")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		got, err = a.GetOrganizationByID(ctx, "org-1")
		require.NoError(t, err)
		omSame(t, o, got)
		two, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "Two", Slug: "two"})
		require.NoError(t, err)
		assert.NotEqual(t, "org-1", two.ID)
	})

	t.Run("slug taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		first, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
		require.NoError(t, err)
		omConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "acme"})
			return err
		})
		got, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		omSame(t, first, got)
		// Slugs are exact: another case is another slug.
		_, err = a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "C", Slug: "Acme"})
		require.NoError(t, err)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		for _, in := range []allsourceauth.CreateOrganization{
			{Slug: "s"}, // no name
			{Name: "n"}, // no slug
			{ID: strings.Repeat("x", 128-len("auth-org:")+1), Name: "n", Slug: "s"}, // id too long
			{ID: "a\nb", Name: "n", Slug: "s"},                                      // control character
		} {
			omInvalid(t, srv, func() error {
				_, err := a.CreateOrganization(ctx, in)
				return err
			})
		}
		assert.Empty(t, srv.Events())
		// Exactly 128 bytes of entity id is fine.
		id := strings.Repeat("x", 128-len("auth-org:"))
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{ID: id, Name: "n", Slug: "s"})
		require.NoError(t, err)
		got, err := a.GetOrganizationByID(ctx, id)
		require.NoError(t, err)
		omSame(t, o, got)
	})
}

func TestOrgGetAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := omSetup(t)
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
	require.NoError(t, err)

	_, err = a.GetOrganizationByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateOrganization(ctx, "nope", allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Contains(t, err.Error(), "update organization")
	require.NoError(t, a.DeleteOrganization(ctx, "nope"))

	// Empty keys: not found without a request.
	for _, f := range []func() error{
		func() error { _, err := a.GetOrganizationByID(ctx, ""); return err },
		func() error { _, err := a.GetOrganizationBySlug(ctx, ""); return err },
		func() error {
			_, err := a.UpdateOrganization(ctx, "", allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
			return err
		},
	} {
		require.ErrorIs(t, omNoRequests(t, srv, f), allsourceauth.ErrNotFound)
	}
	require.NoError(t, omNoRequests(t, srv, func() error { return a.DeleteOrganization(ctx, "") }))

	// Deleted: absent everywhere, and a second delete is nil.
	require.NoError(t, a.DeleteOrganization(ctx, o.ID))
	_, err = a.GetOrganizationByID(ctx, o.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "acme")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteOrganization(ctx, o.ID))
	assert.Len(t, srv.Events(), n, "a second delete wrote events")
}

func TestOrgUpdate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := omSetup(t)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme", Logo: "l", Metadata: map[string]any{"a": "1"}})
		require.NoError(t, err)
		clk.Advance(time.Minute + 7*time.Nanosecond)

		// nil leaves; a value sets; Ptr("") clears the logo; metadata replaces.
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{
			Name: allsourceauth.Ptr("Acme Inc"), Logo: allsourceauth.Ptr(""), Metadata: map[string]any{"b": "2"},
		})
		require.NoError(t, err)
		assert.Equal(t, "Acme Inc", u.Name)
		assert.Equal(t, "acme", u.Slug)
		assert.Empty(t, u.Logo)
		assert.Equal(t, map[string]any{"b": "2"}, u.Metadata)
		assert.True(t, u.CreatedAt.Equal(o.CreatedAt))
		assert.True(t, u.UpdatedAt.Equal(clk.Now()), "UpdatedAt %v", u.UpdatedAt)
		got, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		omSame(t, u, got)
		got, err = a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		omSame(t, u, got)
		omCheckEvent(t, srv, "auth-org:"+o.ID, "auth.org.updated", u, "id", "name", "slug", "metadata", "createdAt", "updatedAt")

		// Name and Slug cannot be cleared.
		for _, in := range []allsourceauth.UpdateOrganization{{Name: allsourceauth.Ptr("")}, {Slug: allsourceauth.Ptr("")}} {
			omInvalid(t, srv, func() error { _, err := a.UpdateOrganization(ctx, o.ID, in); return err })
		}
	})

	t.Run("new slug", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "old"})
		require.NoError(t, err)
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("new")})
		require.NoError(t, err)
		assert.Equal(t, "new", u.Slug)
		got, err := a.GetOrganizationBySlug(ctx, "new")
		require.NoError(t, err)
		omSame(t, u, got)
		_, err = a.GetOrganizationBySlug(ctx, "old")
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		// The old slug is free for another organization; the new one is not.
		other, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "old"})
		require.NoError(t, err)
		got, err = a.GetOrganizationBySlug(ctx, "old")
		require.NoError(t, err)
		assert.Equal(t, other.ID, got.ID)
		omConflict(t, srv, func() error {
			_, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "C", Slug: "new"})
			return err
		})
	})

	t.Run("same slug", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := omSetup(t)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
		require.NoError(t, err)
		clk.Advance(time.Second)
		claims := len(srv.Events()) - omEntityEvents(srv)
		u, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("acme"), Name: allsourceauth.Ptr("B")})
		require.NoError(t, err)
		assert.Equal(t, "acme", u.Slug)
		assert.Equal(t, claims, len(srv.Events())-omEntityEvents(srv), "the same slug touched its claim")
		got, err := a.GetOrganizationBySlug(ctx, "acme")
		require.NoError(t, err)
		omSame(t, u, got)
	})

	t.Run("slug taken", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := omSetup(t)
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "a"})
		require.NoError(t, err)
		b, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "B", Slug: "b"})
		require.NoError(t, err)
		clk.Advance(time.Second)
		omConflict(t, srv, func() error {
			_, err := a.UpdateOrganization(ctx, o.ID, allsourceauth.UpdateOrganization{Slug: allsourceauth.Ptr("b"), Name: allsourceauth.Ptr("changed")})
			return err
		})
		// Nothing changed: both orgs as they were, both slugs where they were.
		got, err := a.GetOrganizationByID(ctx, o.ID)
		require.NoError(t, err)
		omSame(t, o, got)
		got, err = a.GetOrganizationBySlug(ctx, "a")
		require.NoError(t, err)
		omSame(t, o, got)
		got, err = a.GetOrganizationBySlug(ctx, "b")
		require.NoError(t, err)
		omSame(t, b, got)
	})
}

func TestOrgDeleteCascades(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := omSetup(t)
	o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A", Slug: "acme"})
	require.NoError(t, err)
	keep, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "K", Slug: "keep"})
	require.NoError(t, err)
	var members []*allsourceauth.Member
	for _, u := range []string{"u1", "u2", "u3"} {
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: u, Role: "member"})
		require.NoError(t, err)
		members = append(members, m)
	}
	keptMember, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: keep.ID, UserID: "u1", Role: "owner"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteMember(ctx, members[2].ID)) // already gone before the cascade
	var invs []*allsourceauth.Invitation
	for _, e := range []string{"x@example.com", "y@example.com"} {
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: o.ID, Email: e, InviterID: "u1", Role: "member", ExpiresAt: clk.Now().Add(time.Hour)})
		require.NoError(t, err)
		invs = append(invs, inv)
	}
	_, err = a.UpdateInvitationStatus(ctx, invs[1].ID, allsourceauth.InvitationAccepted)
	require.NoError(t, err)
	keptInv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: keep.ID, Email: "x@example.com", InviterID: "u1", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)

	require.NoError(t, a.DeleteOrganization(ctx, o.ID))

	omCheckTombstone(t, srv, "auth-org:"+o.ID, "auth.org.deleted")
	for _, m := range members[:2] {
		omCheckTombstone(t, srv, "auth-member:"+m.ID, "auth.member.deleted")
		_, err := a.GetMemberByID(ctx, m.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		_, err = a.GetMember(ctx, o.ID, m.UserID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	assert.Len(t, omEventsOf(srv, "auth-member:"+members[2].ID), 2, "a deleted member was deleted again")
	for _, inv := range invs {
		omCheckTombstone(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.deleted")
		_, err := a.GetInvitationByID(ctx, inv.ID)
		require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	}
	_, err = a.GetOrganizationByID(ctx, o.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetOrganizationBySlug(ctx, "acme")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	ms, err := a.ListOrganizationMembers(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, ms)
	is, err := a.ListOrganizationInvitations(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, is)
	_, err = a.GetPendingInvitation(ctx, o.ID, "x@example.com")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)

	// The other organization is untouched.
	got, err := a.GetMemberByID(ctx, keptMember.ID)
	require.NoError(t, err)
	omSame(t, keptMember, got)
	gotInv, err := a.GetInvitationByID(ctx, keptInv.ID)
	require.NoError(t, err)
	omSame(t, keptInv, gotInv)
	orgs, err := a.ListUserOrganizations(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	omSame(t, keep, &orgs[0])
	uis, err := a.ListUserInvitations(ctx, "x@example.com")
	require.NoError(t, err)
	require.Len(t, uis, 1)
	assert.Equal(t, keptInv.ID, uis[0].ID)

	// The slug and the memberships are free again.
	o2, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: "A2", Slug: "acme"})
	require.NoError(t, err)
	got2, err := a.GetOrganizationBySlug(ctx, "acme")
	require.NoError(t, err)
	omSame(t, o2, got2)
	_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: "u1", Role: "member"})
	require.NoError(t, err)
}

func TestOrgListUserOrganizations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := omSetup(t)
	var orgs []*allsourceauth.Organization
	for _, s := range []string{"a", "b", "c", "d"} {
		o, err := a.CreateOrganization(ctx, allsourceauth.CreateOrganization{Name: s, Slug: s})
		require.NoError(t, err)
		orgs = append(orgs, o)
	}
	var ms []*allsourceauth.Member
	for _, o := range orgs {
		clk.Advance(time.Second)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: o.ID, UserID: "u1", Role: "member"})
		require.NoError(t, err)
		ms = append(ms, m)
	}
	_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: orgs[0].ID, UserID: "u2", Role: "owner"})
	require.NoError(t, err)
	// A deleted organization (members left behind by hand) and a deleted membership
	// drop out.
	require.NoError(t, a.DeleteOrganization(ctx, orgs[2].ID))
	require.NoError(t, a.DeleteMember(ctx, ms[3].ID))
	// An organization renamed after joining is listed as it is now.
	renamed, err := a.UpdateOrganization(ctx, orgs[1].ID, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("B!")})
	require.NoError(t, err)

	got, err := a.ListUserOrganizations(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, got, 2)
	byID := map[string]allsourceauth.Organization{}
	for _, o := range got {
		byID[o.ID] = o
	}
	require.Contains(t, byID, orgs[0].ID)
	require.Contains(t, byID, renamed.ID)
	omSame(t, orgs[0], byID[orgs[0].ID])
	omSame(t, renamed, byID[renamed.ID])

	none, err := a.ListUserOrganizations(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, none)
	none, err = a.ListUserOrganizations(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, none)
}

// ---------------------------------------------------------------------------------------
// Members

func TestOrgMemberCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
		require.NoError(t, err)
		omIsUUID4(t, m.ID)
		assert.Equal(t, "o1", m.OrganizationID)
		assert.Equal(t, "u1", m.UserID)
		assert.Equal(t, "owner", m.Role)
		assert.True(t, m.CreatedAt.Equal(omT0))
		got, err := a.GetMemberByID(ctx, m.ID)
		require.NoError(t, err)
		omSame(t, m, got)
		got, err = a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		omSame(t, m, got)
		omCheckEvent(t, srv, "auth-member:"+m.ID, "auth.member.created", m, "id", "organizationId", "userId", "role", "createdAt")
	})

	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
		require.NoError(t, err)
		omConflict(t, srv, func() error {
			_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "member"})
			return err
		})
		got, err := a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		omSame(t, m, got)
		// Other pairs are free.
		_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u2", Role: "member"})
		require.NoError(t, err)
		_, err = a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o2", UserID: "u1", Role: "member"})
		require.NoError(t, err)
		// Deleting frees the pair.
		require.NoError(t, a.DeleteMember(ctx, m.ID))
		omCheckTombstone(t, srv, "auth-member:"+m.ID, "auth.member.deleted")
		m2, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "admin"})
		require.NoError(t, err)
		got, err = a.GetMember(ctx, "o1", "u1")
		require.NoError(t, err)
		omSame(t, m2, got)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, _ := omSetup(t)
		for _, in := range []allsourceauth.CreateMember{
			{UserID: "u", Role: "r"}, {OrganizationID: "o", Role: "r"}, {OrganizationID: "o", UserID: "u"},
		} {
			omInvalid(t, srv, func() error { _, err := a.CreateMember(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestOrgMemberAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := omSetup(t)
	m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "owner"})
	require.NoError(t, err)

	_, err = a.GetMemberByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o1", "u2")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o2", "u1")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateMemberRole(ctx, "nope", "admin")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	require.NoError(t, a.DeleteMember(ctx, "nope"))
	for _, f := range []func() error{
		func() error { _, err := a.GetMemberByID(ctx, ""); return err },
		func() error { _, err := a.GetMember(ctx, "", "u1"); return err },
		func() error { _, err := a.GetMember(ctx, "o1", ""); return err },
		func() error { _, err := a.UpdateMemberRole(ctx, "", "admin"); return err },
	} {
		require.ErrorIs(t, omNoRequests(t, srv, f), allsourceauth.ErrNotFound)
	}
	require.NoError(t, omNoRequests(t, srv, func() error { return a.DeleteMember(ctx, "") }))
	omInvalid(t, srv, func() error { _, err := a.UpdateMemberRole(ctx, m.ID, ""); return err })

	require.NoError(t, a.DeleteMember(ctx, m.ID))
	_, err = a.GetMemberByID(ctx, m.ID)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetMember(ctx, "o1", "u1")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateMemberRole(ctx, m.ID, "admin")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	n := len(srv.Events())
	require.NoError(t, a.DeleteMember(ctx, m.ID))
	assert.Len(t, srv.Events(), n)
}

func TestOrgMemberUpdateRole(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := omSetup(t)
	m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u1", Role: "member"})
	require.NoError(t, err)
	clk.Advance(time.Hour)
	u, err := a.UpdateMemberRole(ctx, m.ID, "admin,owner")
	require.NoError(t, err)
	assert.Equal(t, "admin,owner", u.Role)
	assert.True(t, u.CreatedAt.Equal(m.CreatedAt))
	for _, get := range []func() (*allsourceauth.Member, error){
		func() (*allsourceauth.Member, error) { return a.GetMemberByID(ctx, m.ID) },
		func() (*allsourceauth.Member, error) { return a.GetMember(ctx, "o1", "u1") },
	} {
		got, err := get()
		require.NoError(t, err)
		omSame(t, u, got)
	}
	omCheckEvent(t, srv, "auth-member:"+m.ID, "auth.member.updated", u, "id", "organizationId", "userId", "role", "createdAt")
	n, err := a.CountOrganizationOwners(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestOrgMemberListAndCount(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := omSetup(t)
	roles := []string{"owner", "admin,owner", "admin, owner", "owners", "member", "admin", "owner ,member", "co-owner"}
	var want []*allsourceauth.Member
	for i, r := range roles {
		clk.Advance(time.Second)
		m, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "u" + string(rune('a'+i)), Role: r})
		require.NoError(t, err)
		want = append(want, m)
	}
	// Another organization's members and a deleted member do not count.
	_, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o2", UserID: "ua", Role: "owner"})
	require.NoError(t, err)
	clk.Advance(time.Second)
	gone, err := a.CreateMember(ctx, allsourceauth.CreateMember{OrganizationID: "o1", UserID: "gone", Role: "owner"})
	require.NoError(t, err)
	require.NoError(t, a.DeleteMember(ctx, gone.ID))

	got, err := a.ListOrganizationMembers(ctx, "o1")
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i := range want { // oldest first
		omSame(t, want[i], &got[i])
	}
	n, err := a.CountOrganizationMembers(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, len(roles), n)
	// owner, admin,owner, admin, owner, owner ,member: "owners" and "co-owner" are not owner.
	n, err = a.CountOrganizationOwners(ctx, "o1")
	require.NoError(t, err)
	assert.Equal(t, 4, n)

	for _, org := range []string{"none", ""} {
		ms, err := a.ListOrganizationMembers(ctx, org)
		require.NoError(t, err)
		assert.Empty(t, ms)
		n, err = a.CountOrganizationMembers(ctx, org)
		require.NoError(t, err)
		assert.Zero(t, n)
		n, err = a.CountOrganizationOwners(ctx, org)
		require.NoError(t, err)
		assert.Zero(t, n)
	}
}

// ---------------------------------------------------------------------------------------
// Invitations

func TestOrgInvitationCreate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("normal", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := omSetup(t)
		exp := clk.Now().Add(48*time.Hour + 3*time.Nanosecond)
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{
			OrganizationID: "o1", Email: "Bob.Ünïcode@Example.COM", Role: "admin", InviterID: "u1", ExpiresAt: exp,
		})
		require.NoError(t, err)
		omIsUUID4(t, inv.ID)
		assert.Equal(t, "bob.ünïcode@example.com", inv.Email)
		assert.Equal(t, allsourceauth.InvitationPending, inv.Status)
		assert.Equal(t, "admin", inv.Role)
		assert.Equal(t, "u1", inv.InviterID)
		assert.True(t, inv.ExpiresAt.Equal(exp))
		assert.True(t, inv.CreatedAt.Equal(omT0))
		got, err := a.GetInvitationByID(ctx, inv.ID)
		require.NoError(t, err)
		omSame(t, inv, got)
		got, err = a.GetPendingInvitation(ctx, "o1", "BOB.ÜNÏCODE@example.com")
		require.NoError(t, err)
		omSame(t, inv, got)
		ev := omCheckEvent(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.created", inv,
			"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt")
		assert.Equal(t, "pending", omPayload(t, ev)["status"])
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		a, srv, clk := omSetup(t)
		exp := clk.Now().Add(time.Hour)
		for _, in := range []allsourceauth.CreateInvitation{
			{Email: "e@x", InviterID: "u", ExpiresAt: exp},
			{OrganizationID: "o", InviterID: "u", ExpiresAt: exp},
			{OrganizationID: "o", Email: "e@x", ExpiresAt: exp},
		} {
			omInvalid(t, srv, func() error { _, err := a.CreateInvitation(ctx, in); return err })
		}
		assert.Empty(t, srv.Events())
	})
}

func TestOrgInvitationAbsent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := omSetup(t)
	_, err := a.GetInvitationByID(ctx, "nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.UpdateInvitationStatus(ctx, "nope", allsourceauth.InvitationAccepted)
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	_, err = a.GetPendingInvitation(ctx, "o1", "a@b")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	for _, f := range []func() error{
		func() error { _, err := a.GetInvitationByID(ctx, ""); return err },
		func() error { _, err := a.GetPendingInvitation(ctx, "", "a@b"); return err },
		func() error { _, err := a.GetPendingInvitation(ctx, "o1", ""); return err },
		func() error {
			_, err := a.UpdateInvitationStatus(ctx, "", allsourceauth.InvitationAccepted)
			return err
		},
	} {
		require.ErrorIs(t, omNoRequests(t, srv, f), allsourceauth.ErrNotFound)
	}
	for _, s := range []allsourceauth.InvitationStatus{"", "Accepted", "expired", "declined"} {
		omInvalid(t, srv, func() error { _, err := a.UpdateInvitationStatus(ctx, "x", s); return err })
	}
}

func TestOrgInvitationUpdateStatus(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, clk := omSetup(t)
	inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: "o1", Email: "a@b.c", InviterID: "u1", ExpiresAt: clk.Now().Add(time.Hour)})
	require.NoError(t, err)
	// Any transition, back to pending included.
	for _, s := range []allsourceauth.InvitationStatus{
		allsourceauth.InvitationAccepted, allsourceauth.InvitationRejected, allsourceauth.InvitationCanceled,
		allsourceauth.InvitationPending, allsourceauth.InvitationCanceled, allsourceauth.InvitationCanceled,
	} {
		clk.Advance(time.Second)
		u, err := a.UpdateInvitationStatus(ctx, inv.ID, s)
		require.NoError(t, err)
		assert.Equal(t, s, u.Status)
		want := *inv
		want.Status = s
		omSame(t, &want, u)
		got, err := a.GetInvitationByID(ctx, inv.ID)
		require.NoError(t, err)
		omSame(t, u, got)
		omCheckEvent(t, srv, "auth-invitation:"+inv.ID, "auth.invitation.updated", u,
			"id", "organizationId", "email", "role", "status", "inviterId", "expiresAt", "createdAt")
		_, err = a.GetPendingInvitation(ctx, "o1", "a@b.c")
		if s == allsourceauth.InvitationPending {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, allsourceauth.ErrNotFound)
		}
	}
}

func TestOrgInvitationLookups(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, clk := omSetup(t)
	mk := func(org, email string, ttl time.Duration) *allsourceauth.Invitation {
		t.Helper()
		clk.Advance(time.Second)
		inv, err := a.CreateInvitation(ctx, allsourceauth.CreateInvitation{OrganizationID: org, Email: email, InviterID: "u1", Role: "member", ExpiresAt: clk.Now().Add(ttl)})
		require.NoError(t, err)
		return inv
	}
	setStatus := func(inv *allsourceauth.Invitation, s allsourceauth.InvitationStatus) *allsourceauth.Invitation {
		t.Helper()
		u, err := a.UpdateInvitationStatus(ctx, inv.ID, s)
		require.NoError(t, err)
		return u
	}

	expired := mk("o1", "Ann@Example.com", 2*time.Second) // pending, will expire
	older := mk("o1", "ann@example.com", time.Hour)       // pending
	newer := mk("o1", "ANN@example.com", time.Hour)       // pending, newest pending in o1
	accepted := setStatus(mk("o1", "ann@example.com", time.Hour), allsourceauth.InvitationAccepted)
	otherOrg := mk("o2", "ann@example.com", time.Hour) // pending in o2
	rejected := setStatus(mk("o2", "ann@example.com", time.Hour), allsourceauth.InvitationRejected)
	bob := mk("o1", "bob@example.com", time.Hour)
	clk.Advance(time.Minute) // "expired" is now past its expiry

	// GetPendingInvitation: case-insensitive, pending only, newest first.
	got, err := a.GetPendingInvitation(ctx, "o1", "aNN@EXAMPLE.com")
	require.NoError(t, err)
	omSame(t, newer, got)
	got, err = a.GetPendingInvitation(ctx, "o2", "ann@example.com")
	require.NoError(t, err)
	omSame(t, otherOrg, got)
	setStatus(newer, allsourceauth.InvitationCanceled)
	got, err = a.GetPendingInvitation(ctx, "o1", "ann@example.com")
	require.NoError(t, err)
	omSame(t, older, got)
	// Expired ones are still returned.
	setStatus(older, allsourceauth.InvitationCanceled)
	got, err = a.GetPendingInvitation(ctx, "o1", "Ann@example.com")
	require.NoError(t, err)
	omSame(t, expired, got)
	setStatus(older, allsourceauth.InvitationPending)
	setStatus(newer, allsourceauth.InvitationPending)
	newer.Status, older.Status = allsourceauth.InvitationPending, allsourceauth.InvitationPending

	// ListOrganizationInvitations: every status, newest first.
	list, err := a.ListOrganizationInvitations(ctx, "o1")
	require.NoError(t, err)
	require.Len(t, list, 5)
	for i, want := range []*allsourceauth.Invitation{bob, accepted, newer, older, expired} {
		omSame(t, want, &list[i])
	}
	list, err = a.ListOrganizationInvitations(ctx, "o2")
	require.NoError(t, err)
	require.Len(t, list, 2)
	omSame(t, rejected, &list[0])
	omSame(t, otherOrg, &list[1])
	list, err = a.ListOrganizationInvitations(ctx, "none")
	require.NoError(t, err)
	assert.Empty(t, list)

	// ListUserInvitations: case-insensitive, pending and unexpired, newest first.
	list, err = a.ListUserInvitations(ctx, "ANN@example.COM")
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i, want := range []*allsourceauth.Invitation{otherOrg, newer, older} {
		omSame(t, want, &list[i])
	}
	list, err = a.ListUserInvitations(ctx, "nobody@example.com")
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = a.ListUserInvitations(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// ---------------------------------------------------------------------------------------
// Ids everywhere: too long or with control characters is ErrInvalidInput before any
// request, exactly 128 bytes of entity id is fine.

func TestOrgMiscIDValidation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := omSetup(t)
	type idCall struct {
		name, prefix string
		call         func(id string) error
	}
	calls := []idCall{
		{"GetOrganizationByID", "auth-org:", func(id string) error { _, err := a.GetOrganizationByID(ctx, id); return err }},
		{"UpdateOrganization", "auth-org:", func(id string) error {
			_, err := a.UpdateOrganization(ctx, id, allsourceauth.UpdateOrganization{Name: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteOrganization", "auth-org:", func(id string) error { return a.DeleteOrganization(ctx, id) }},
		{"GetMemberByID", "auth-member:", func(id string) error { _, err := a.GetMemberByID(ctx, id); return err }},
		{"UpdateMemberRole", "auth-member:", func(id string) error { _, err := a.UpdateMemberRole(ctx, id, "r"); return err }},
		{"DeleteMember", "auth-member:", func(id string) error { return a.DeleteMember(ctx, id) }},
		{"GetInvitationByID", "auth-invitation:", func(id string) error { _, err := a.GetInvitationByID(ctx, id); return err }},
		{"UpdateInvitationStatus", "auth-invitation:", func(id string) error {
			_, err := a.UpdateInvitationStatus(ctx, id, allsourceauth.InvitationAccepted)
			return err
		}},
		{"UpdateAccount", "auth-account:", func(id string) error {
			_, err := a.UpdateAccount(ctx, id, allsourceauth.UpdateAccount{Scope: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteAccount", "auth-account:", func(id string) error { return a.DeleteAccount(ctx, id) }},
		{"DeleteVerification", "auth-verification:", func(id string) error { return a.DeleteVerification(ctx, id) }},
		{"GetAPIKeyByID", "auth-apikey:", func(id string) error { _, err := a.GetAPIKeyByID(ctx, id); return err }},
		{"UpdateAPIKey", "auth-apikey:", func(id string) error {
			_, err := a.UpdateAPIKey(ctx, id, allsourceauth.UpdateAPIKey{Name: allsourceauth.Ptr("x")})
			return err
		}},
		{"DeleteAPIKey", "auth-apikey:", func(id string) error { return a.DeleteAPIKey(ctx, id) }},
		{"GetPasskeyByID", "auth-passkey:", func(id string) error { _, err := a.GetPasskeyByID(ctx, id); return err }},
		{"UpdatePasskeyCounter", "auth-passkey:", func(id string) error { _, err := a.UpdatePasskeyCounter(ctx, id, 1); return err }},
		{"UpdatePasskeyName", "auth-passkey:", func(id string) error { _, err := a.UpdatePasskeyName(ctx, id, "n"); return err }},
		{"DeletePasskey", "auth-passkey:", func(id string) error { return a.DeletePasskey(ctx, id) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for _, bad := range []string{strings.Repeat("x", 128-len(c.prefix)+1), "a\x00b", "a\tb", "a\x7fb"} {
				omInvalid(t, srv, func() error { return c.call(bad) })
			}
			// Exactly 128 bytes: a valid id of an absent entity.
			err := c.call(strings.Repeat("x", 128-len(c.prefix)))
			if err != nil {
				require.ErrorIs(t, err, allsourceauth.ErrNotFound)
				require.False(t, errors.Is(err, allsourceauth.ErrInvalidInput))
			}
		})
	}
	assert.Empty(t, srv.Events())
}

// Ids used to find entities (a user id, an organization id) follow the same rule: one
// that could not be part of an entity id is ErrInvalidInput before any request.
func TestOrgMiscRefValidation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, srv, _ := omSetup(t)
	calls := map[string]func(ref string) error{
		"GetUserAccounts":             func(r string) error { _, err := a.GetUserAccounts(ctx, r); return err },
		"ListAPIKeysByUser":           func(r string) error { _, err := a.ListAPIKeysByUser(ctx, r); return err },
		"ListPasskeysByUser":          func(r string) error { _, err := a.ListPasskeysByUser(ctx, r); return err },
		"ListUserOrganizations":       func(r string) error { _, err := a.ListUserOrganizations(ctx, r); return err },
		"ListOrganizationMembers":     func(r string) error { _, err := a.ListOrganizationMembers(ctx, r); return err },
		"CountOrganizationMembers":    func(r string) error { _, err := a.CountOrganizationMembers(ctx, r); return err },
		"CountOrganizationOwners":     func(r string) error { _, err := a.CountOrganizationOwners(ctx, r); return err },
		"ListOrganizationInvitations": func(r string) error { _, err := a.ListOrganizationInvitations(ctx, r); return err },
		"GetMember org":               func(r string) error { _, err := a.GetMember(ctx, r, "u1"); return err },
		"GetMember user":              func(r string) error { _, err := a.GetMember(ctx, "o1", r); return err },
		"GetPendingInvitation":        func(r string) error { _, err := a.GetPendingInvitation(ctx, r, "a@b.c"); return err },
		"GetTwoFactorByUserID":        func(r string) error { _, err := a.GetTwoFactorByUserID(ctx, r); return err },
		"UpdateTwoFactorBackupCodes":  func(r string) error { _, err := a.UpdateTwoFactorBackupCodes(ctx, r, "x"); return err },
		"DeleteTwoFactor":             func(r string) error { return a.DeleteTwoFactor(ctx, r) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, bad := range []string{strings.Repeat("x", 129), "a\x00b", "a\nb", "a\x7fb"} {
				omInvalid(t, srv, func() error { return call(bad) })
			}
		})
	}
	assert.Empty(t, srv.Events())
}
