// Package audit keeps the append-only record of operator actions: refreshes started, schedules changed,
// tokens and storage credentials issued or revoked, subscriptions changed, releases published and rebuilt,
// deliveries replayed, keys rotated, configurations applied. Each entry is its own object, written
// create-only, so no entry is ever rewritten:
//
//	audit/<yyyy-mm-dd>/<unix nanoseconds>-<random>.json
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Prefix holds the audit log.
const Prefix = "audit/"

// Entry is one operator action.
type Entry struct {
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`  // cli:<user>@<host>, token:<id> (<role>), workflow:<id>
	Action  string            `json:"action"` // e.g. refresh.start, token.create, release.publish
	Target  string            `json:"target"` // what it acted on: a source, a version, an observatory, a token id
	From    string            `json:"from"`   // the client address, or the host of a CLI or worker
	Details map[string]string `json:"details,omitempty"`
}

// Log is the audit log in the platform's bucket.
type Log struct{ B *objectstore.Bucket }

// Record appends an entry (its time set now when zero).
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	key := fmt.Sprintf("%s%s/%019d-%s.json", Prefix, e.Time.Format("2006-01-02"), e.Time.UnixNano(), hex.EncodeToString(b))
	return l.B.PutJSON(ctx, key, e, objectstore.PutOptions{IfAbsent: true})
}

// Filter selects entries; a zero field selects all.
type Filter struct {
	Since  time.Time
	Actor  string // a substring of the actor
	Action string // an action, or a prefix of one ending in "." (token.)
}

// List returns the entries that match, oldest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	infos, err := l.B.List(ctx, Prefix, true)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, in := range infos {
		day := strings.SplitN(strings.TrimPrefix(in.Key, Prefix), "/", 2)[0]
		if !f.Since.IsZero() && day < f.Since.UTC().Format("2006-01-02") {
			continue
		}
		var e Entry
		if err := l.B.GetJSON(ctx, in.Key, &e); err != nil {
			if errors.Is(err, objectstore.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if e.Time.Before(f.Since) || (f.Actor != "" && !strings.Contains(e.Actor, f.Actor)) || !actionMatches(f.Action, e.Action) {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func actionMatches(want, got string) bool {
	if want == "" || want == got {
		return true
	}
	return strings.HasSuffix(want, ".") && strings.HasPrefix(got, want)
}
