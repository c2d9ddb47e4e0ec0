package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// ownObservatory returns the observatory of the path when the token may act for it: an admin for any,
// an observatory token for its own only.
func (s *server) ownObservatory(w http.ResponseWriter, r *http.Request, tok identity.Token) (config.Observatory, bool) {
	id := r.PathValue("id")
	if tok.Role.Kind() != identity.Admin && tok.Role.Observatory() != id {
		s.fail(w, http.StatusForbidden, "role %s may not act for observatory %q", tok.Role, id)
		return config.Observatory{}, false
	}
	o, ok := s.p.Config.Observatory(id)
	if !ok {
		s.fail(w, http.StatusNotFound, "observatory %q is not configured", id)
	}
	return o, ok
}

// subscription answers what the observatory receives of each release.
func (s *server) subscription(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	o, ok := s.ownObservatory(w, r, tok)
	if !ok {
		return
	}
	sub, stored, err := s.p.Releases.Subscription(r.Context(), o.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !stored {
		sub = release.Subscription{Observatory: o.ID, Tables: o.Subscription.Tables, Sources: o.Subscription.Sources,
			ProvinceOnly: o.Subscription.ProvinceOnly, By: "configuration"}
	}
	s.json(w, sub)
}

// subscribe sets what the observatory receives from the next release on.
func (s *server) subscribe(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	o, ok := s.ownObservatory(w, r, tok)
	if !ok {
		return
	}
	var in struct {
		Tables       []string `json:"tables"`
		Sources      []string `json:"sources"`
		ProvinceOnly bool     `json:"province_only"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.fail(w, http.StatusBadRequest, "the body must be JSON like {\"tables\": [\"labour_flows\"], \"sources\": [], \"province_only\": true}: %v", err)
		return
	}
	if probs := s.p.Config.CheckSubscription(o, config.Subscription{Tables: in.Tables, Sources: in.Sources, ProvinceOnly: in.ProvinceOnly}); len(probs) > 0 {
		s.fail(w, http.StatusBadRequest, "%s", strings.Join(probs, "; "))
		return
	}
	sub := release.Subscription{Observatory: o.ID, Tables: in.Tables, Sources: in.Sources, ProvinceOnly: in.ProvinceOnly, By: "token " + tok.ID}
	if err := s.p.Releases.SetSubscription(r.Context(), sub); err != nil {
		s.internal(w, r, err)
		return
	}
	s.record(r, tok, "subscription.change", o.ID, map[string]string{"tables": strings.Join(in.Tables, ","),
		"sources": strings.Join(in.Sources, ","), "province_only": fmt.Sprint(in.ProvinceOnly)})
	s.subscription(w, r, tok)
}
