package allsourceauth

import (
	"context"
	"encoding/json"
	"time"
)

// Kind names an entity kind for History and Restore.
type Kind string

// The entity kinds. The value is the middle of the entity id: auth-{kind}:{id}.
const (
	KindUser         Kind = "user"
	KindSession      Kind = "session"
	KindAccount      Kind = "account"
	KindVerification Kind = "verification"
	KindOrganization Kind = "org"
	KindMember       Kind = "member"
	KindInvitation   Kind = "invitation"
	KindTwoFactor    Kind = "2fa"
	KindAPIKey       Kind = "apikey"
	KindPasskey      Kind = "passkey"
)

// kinds maps each Kind to its engine description.
var kinds = map[Kind]anyKind{
	KindUser: userKind, KindSession: sessionKind, KindAccount: accountKind,
	KindVerification: verificationKind, KindOrganization: orgKind, KindMember: memberKind,
	KindInvitation: invitationKind, KindTwoFactor: twoFactorKind, KindAPIKey: apiKeyKind,
	KindPasskey: passkeyKind,
}

// allKinds lists the kinds for lookups by entity id prefix.
var allKinds = []anyKind{
	userKind, sessionKind, accountKind, verificationKind, orgKind, memberKind,
	invitationKind, twoFactorKind, apiKeyKind, passkeyKind,
}

// Event is one stored change of an entity.
type Event struct {
	ID        string
	Type      string // e.g. "auth.user.updated"
	EntityID  string // e.g. "auth-user:1f0c..."
	Version   uint64
	Timestamp time.Time
	Deleted   bool            // a tombstone
	Payload   json.RawMessage // the full-state snapshot
}

func kindOf(kind Kind) (anyKind, error) {
	k, ok := kinds[kind]
	if !ok {
		return nil, invalid("unknown kind %q", kind)
	}
	return k, nil
}

// History returns every event of one entity, oldest first, tombstones included
// (Deleted). id is the session token for KindSession. ErrNotFound when the entity has no
// events (on an AsOf view: none at or before its time); ErrInvalidInput for an unknown kind.
func (a *Adapter) History(ctx context.Context, kind Kind, id string) ([]Event, error) {
	k, err := kindOf(kind)
	if err != nil {
		return nil, wrapOp("history", err)
	}
	name, entity, _ := k.base()
	if err := checkKey(entity, id); err != nil {
		return nil, wrapOp("history of "+name, err)
	}
	var out []Event
	err = a.c.scan(ctx, query{EntityID: entity + id, AsOf: a.asOf}, a.pageSize, func(evs []wireEvent) error {
		for _, ev := range evs {
			if a.past && ev.Timestamp.After(a.asOf) {
				continue
			}
			deleted, err := isTombstone(ev.Payload)
			if err != nil {
				return err
			}
			out = append(out, Event{
				ID: ev.ID, Type: ev.EventType, EntityID: ev.EntityID, Version: ev.Version,
				Timestamp: ev.Timestamp, Deleted: deleted, Payload: ev.Payload,
			})
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = ErrNotFound
	}
	return out, wrapOp("history of "+name, err)
}

// AsOf returns a read-only view of the store as it was at t: every read sees only events
// with timestamp <= t (a user deleted after t is found; one created after t is not);
// every write returns ErrReadOnly. Expiry checks (verifications, invitations) use t as
// now. The view shares the Adapter's connections.
func (a *Adapter) AsOf(t time.Time) *Adapter {
	if t.IsZero() {
		t = time.Unix(0, 0) // before every event, and distinct from "now"
	}
	v := *a
	v.asOf, v.past = t.UTC(), true
	v.now = func() time.Time { return t } // expiry checks in the view are as of t too
	return &v
}

// Restore brings back a deleted entity in the state it had before its deletion (event
// auth.{kind}.restored), claiming its unique values again. ErrNotFound if it never
// existed live; ErrConflict if a unique value it held is now taken by a live entity; a
// live entity is left as it is (nil, nothing appended).
func (a *Adapter) Restore(ctx context.Context, kind Kind, id string) error {
	k, err := kindOf(kind)
	if err != nil {
		return wrapOp("restore", err)
	}
	name, _, _ := k.base()
	return wrapOp("restore "+name, k.restore(ctx, a, id))
}

// restore is Restore for one kind: mutate, reading the last live state from history.
func (k *kind[T]) restore(ctx context.Context, a *Adapter, key string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := checkKey(k.entity, key); err != nil {
		return err
	}
	live := false
	read := func(ctx context.Context, _ int) (rec[T], error) {
		r, err := lastLive(ctx, a, k, key)
		live = err == nil && r.val != nil && !r.revive
		return r, err
	}
	_, err := mutate(ctx, a, k, key, "restored", false, read, func(*T) error {
		if live {
			return errSkip
		}
		return nil
	})
	return err
}

// lastLive reads an entity's whole history: its newest live state (revive set when the
// newest event is a tombstone), the entity's version and its newest event.
func lastLive[T any](ctx context.Context, a *Adapter, k *kind[T], key string) (rec[T], error) {
	var r rec[T]
	var liveEv *wireEvent
	err := a.c.scan(ctx, query{EntityID: k.entity + key}, a.pageSize, func(evs []wireEvent) error {
		for i := range evs {
			ev := &evs[i]
			if r.last == nil || ev.Version > r.last.Version {
				r.last = ev
			}
			if deleted, err := isTombstone(ev.Payload); err == nil && !deleted &&
				(liveEv == nil || ev.Version > liveEv.Version) {
				liveEv = ev
			}
		}
		return nil
	})
	if err != nil || liveEv == nil {
		return rec[T]{}, err
	}
	v, _, err := decodeState[T](liveEv.Payload)
	if err != nil {
		return rec[T]{}, err
	}
	r.val, r.ver, r.revive = v, r.last.Version, liveEv != r.last
	return r, nil
}
