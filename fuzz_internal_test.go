package allsourceauth

// Fuzz tests of the decoding and validation internals. Their seed corpora run as
// ordinary tests; to fuzz, e.g.:
//
//	go test -run '^$' -fuzz FuzzDecodeQueryAnswer -fuzztime 20s .

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// fzPage is a query answer with one event of the given payload.
func fzPage(payload string) []byte {
	return []byte(`{"events":[{"id":"e1","event_type":"auth.user.created","entity_id":"auth-user:u1","tenant_id":"default","payload":` +
		payload + `,"timestamp":"2026-01-02T03:04:05.123456789Z","metadata":{"op":"x"},"version":1}],"count":1,"total_count":1,"has_more":false,"entity_version":1}`)
}

const fzUser = `{"id":"u1","name":"Ann","email":"ann@example.com","emailVerified":true,"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z","twoFactorEnabled":false,"banned":false,"metadata":{"a":[1,2,{"b":null}]}}`

// fzQuerySeeds are answers good and bad.
func fzQuerySeeds() [][]byte {
	return [][]byte{
		fzPage(fzUser),
		fzPage(`{"id":"u1","_deleted":true}`),
		fzPage(`{"id":"u1","_deleted":false}`),
		fzPage(`{"_deleted":"yes"}`),
		fzPage(`{"id":"u1","userId":"u1","token":"session_x","expiresAt":"2026-01-02T03:04:05Z"}`),
		fzPage(`"x"`), fzPage(`null`), fzPage(`[]`), fzPage(`{}`), fzPage(` { } `),
		fzPage(`{"id":5}`), fzPage(`{"createdAt":"soon"}`), fzPage(`{"banExpires":12}`),
		[]byte(`{"events":[],"count":0,"total_count":0,"has_more":false}`),
		[]byte(`{"events":[],"count":0,"total_count":3,"has_more":true,"entity_version":3}`),
		[]byte(`{"events":[{`), []byte(`{"events":"x"}`), []byte(`{"events":[42],"count":1}`),
		[]byte(`{"events":null,"count":7}`), []byte(`[]`), []byte(`null`), []byte(``), []byte("\xff\xfe"),
		[]byte(`{"events":[{"payload":{"id":"u1"},"version":18446744073709551615,"timestamp":"2026-01-02T03:04:05Z"}],"entity_version":1}`),
		[]byte(`{"events":[{"payload":{"id":"u1"},"version":-1}]}`),
	}
}

// fzDecodeAll decodes a payload as a few kinds and checks the decodeState contract:
// an error or a tombstone gives no state; otherwise a state.
func fzDecodeAll(t *testing.T, payload json.RawMessage) {
	t.Helper()
	check := func(kind string, isNil bool, deleted bool, err error) {
		t.Helper()
		switch {
		case err != nil && !isNil:
			t.Fatalf("%s: error %v with a state", kind, err)
		case deleted && !isNil:
			t.Fatalf("%s: tombstone with a state", kind)
		case err == nil && !deleted && isNil:
			t.Fatalf("%s: no error, no tombstone, no state", kind)
		}
	}
	u, del, err := decodeState[User](payload)
	check("user", u == nil, del, err)
	s, del, err := decodeState[Session](payload)
	check("session", s == nil, del, err)
	o, del, err := decodeState[Organization](payload)
	check("organization", o == nil, del, err)
	k, del, err := decodeState[APIKey](payload)
	check("api key", k == nil, del, err)
	p, del, err := decodeState[Passkey](payload)
	check("passkey", p == nil, del, err)
}

// FuzzDecodeQueryAnswer feeds bytes to the client's decoding of a query page, then folds
// and decodes its payloads like the engine does; and feeds the same bytes, as the
// answer of allsourcetest, to reads through the whole adapter. Nothing may panic and a
// failed read returns no entity.
func FuzzDecodeQueryAnswer(f *testing.F) {
	for _, s := range fzQuerySeeds() {
		f.Add(s)
	}
	a, srv := newStore(f, WithRetries(0), WithTimeout(10*time.Second))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &client{}
		var p queryPage
		if err := c.decode(bytes.NewReader(data), &p); err == nil {
			newest := map[string]*wireEvent{}
			for i := range p.Events {
				ev := &p.Events[i]
				if cur, ok := newest[ev.EntityID]; !ok || ev.Version > cur.Version {
					newest[ev.EntityID] = ev
				}
				_, _ = isTombstone(ev.Payload)
				_ = opOf(ev)
				fzDecodeAll(t, ev.Payload)
			}
			q := query{EventTypePrefix: "auth.user.", PayloadFilter: map[string]string{"email": "ann@example.com"}}
			_ = q.keep(p.Events)
		}

		// Through the adapter: the answer to its first query is data; any further
		// query (a next page, a re-read) is answered by the (empty) store.
		ctx := t.Context()
		reads := map[string]func() (bool, error){
			"get by id": func() (bool, error) { u, err := a.GetUserByID(ctx, "u1"); return u == nil, err },
			"by claim":  func() (bool, error) { u, err := a.GetUserByEmail(ctx, "ann@example.com"); return u == nil, err },
			"list": func() (bool, error) {
				ss, err := a.GetUserSessions(ctx, "u1")
				return ss == nil, err
			},
			"find": func() (bool, error) { k, err := a.GetAPIKeyByHash(ctx, "hash-1"); return k == nil, err },
		}
		for name, read := range reads {
			srv.Inject(allsourcetest.Fault{Method: http.MethodGet, Status: http.StatusOK, Body: string(data)})
			isNil, err := read()
			if err != nil && !isNil {
				t.Fatalf("%s: error %v with a result", name, err)
			}
		}
		if n := len(srv.Events()); n != 0 {
			t.Fatalf("reads wrote %d events", n)
		}
	})
}

// FuzzPayload checks payload decoding and marking on any bytes: decodeState and
// isTombstone never panic; for a JSON object, markPayload gives valid JSON that keeps
// every member and adds the new one, and a "_deleted":true mark makes a tombstone.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{
		fzUser, `{}`, ` { } `, "{\n}\n", `{"a":1}`, ` {"a":"}"} `, `{"_deleted":false}`, `{"_deleted":true}`,
		`{"_deleted":null}`, `{"x":"\"_deleted\""}`, `{"_DELETED":true}`, `{"a":{"_deleted":true}}`,
		`[]`, `"x"`, `null`, `1`, ``, `{`, `}`, `{"a":1} trailing`, "\xff", `{"a":"\u00e9\ud83d\ude00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		fzDecodeAll(t, payload)
		if _, err := isTombstone(payload); err == nil {
			if p := bytes.TrimSpace(payload); len(p) == 0 || p[0] != '{' {
				t.Fatalf("isTombstone accepted a non-object %q", payload)
			}
		}
		var obj map[string]json.RawMessage
		if !json.Valid(payload) || json.Unmarshal(payload, &obj) != nil || obj == nil {
			return // markPayload is only given JSON objects
		}
		fenced := markPayload(payload, `"_fenced":true`)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(fenced, &got); err != nil {
			t.Fatalf("markPayload(%q) = %q: %v", payload, fenced, err)
		}
		if string(got["_fenced"]) != "true" {
			t.Fatalf("markPayload(%q) = %q: no _fenced", payload, fenced)
		}
		for k, v := range obj {
			if k != "_fenced" && !bytes.Equal(got[k], v) {
				t.Fatalf("markPayload(%q) = %q: member %q changed", payload, fenced, k)
			}
		}
		dead := markPayload(payload, `"_deleted":true`)
		if del, err := isTombstone(dead); err != nil || !del {
			t.Fatalf("isTombstone(markPayload(%q, _deleted)) = %v, %v", payload, del, err)
		}
		if u, del, err := decodeState[User](dead); err != nil || !del || u != nil {
			t.Fatalf("decodeState of a tombstone: %v, %v, %v", u, del, err)
		}
	})
}

// fzControl reports whether s holds a control character (C0, DEL, C1) as Allsource sees
// it: runes of s decoded as UTF-8, invalid bytes being U+FFFD.
func fzControl(s string) bool {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r < 0x20 || r >= 0x7f && r <= 0x9f {
			return true
		}
		s = s[n:]
	}
	return false
}

// FuzzCheckKey checks key validation: never panics; an empty key is absent; any other
// is accepted iff the entity id fits in 128 bytes and holds no control character.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []struct{ prefix, key string }{
		{"auth-user:", "u1"}, {"auth-user:", ""}, {"auth-session:", "session_" + strings.Repeat("a", 43)},
		{"auth-user:", strings.Repeat("x", 118)}, {"auth-user:", strings.Repeat("x", 119)}, {"", strings.Repeat("é", 64)},
		{"auth-user:", "a\x00b"}, {"auth-user:", "a\nb"}, {"auth-user:", "\x7f"}, {"auth-user:", "a\u0085b"},
		{"auth-user:", "\u009f"}, {"auth-user:", "\u00a0"}, {"auth-user:", "\xc2"}, {"auth-user:", "\xff\xfe"},
		{"auth-user:", "\u2028"}, {"auth-user:", " "}, {"auth-user:", "ü"},
	} {
		f.Add(s.prefix, s.key)
	}
	f.Fuzz(func(t *testing.T, prefix, key string) {
		err := checkKey(prefix, key)
		switch {
		case key == "":
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("checkKey(%q, \"\") = %v, want ErrNotFound", prefix, err)
			}
		case len(prefix)+len(key) <= maxEntityID && !fzControl(key):
			if err != nil {
				t.Fatalf("checkKey(%q, %q) = %v, want nil", prefix, key, err)
			}
		default:
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("checkKey(%q, %q) = %v, want ErrInvalidInput", prefix, key, err)
			}
		}
	})
}

// FuzzQueryEncode checks the hand-built query string against url.Values.Encode, which
// it replaced: the same bytes for any field values.
func FuzzQueryEncode(f *testing.F) {
	f.Add("auth-session:session_abc", "", "", "", "", int64(0), 1, 0, true, "")
	f.Add("", "auth.user.created", "", "", "", int64(0), 10000, 0, false, "")
	f.Add("", "", "auth.session.", "userId", "u 1&x=y+z%\"é\x00", int64(1767322245123456789), 500, 1500, false, "acme_1")
	f.Add("a&b=c", "~._-", "+/?#", "", "", int64(-1), -5, -1, true, "t")
	f.Fuzz(func(t *testing.T, entity, typ, prefix, fkey, fval string, asOf int64, limit, offset int, desc bool, tenant string) {
		q := query{EntityID: entity, EventType: typ, EventTypePrefix: prefix, Desc: desc, Limit: limit, Offset: offset}
		if fkey != "" || fval != "" {
			q.PayloadFilter = map[string]string{fkey: fval}
		}
		if asOf != 0 {
			q.AsOf = time.Unix(0, asOf)
		}
		got, err := q.encode(tenant)
		if err != nil {
			t.Fatal(err)
		}
		v := url.Values{}
		set := func(k, s string) {
			if s != "" {
				v.Set(k, s)
			}
		}
		set("entity_id", entity)
		set("event_type", typ)
		set("event_type_prefix", prefix)
		if q.PayloadFilter != nil {
			b, err := json.Marshal(q.PayloadFilter)
			if err != nil {
				t.Fatal(err)
			}
			v.Set("payload_filter", string(b))
		}
		if !q.AsOf.IsZero() {
			v.Set("as_of", q.AsOf.UTC().Format(time.RFC3339Nano))
		}
		if desc {
			v.Set("order", "desc")
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		if limit > 0 {
			v.Set("limit", strconv.Itoa(limit))
		}
		set("tenant_id", tenant)
		if want := v.Encode(); got != want {
			t.Fatalf("encode = %q\nwant     %q", got, want)
		}
	})
}
