package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/osservatorio-lombardia/osservatorio/identity"
)

// SessionCookie carries the console's session: the API token the user signed in with, HttpOnly (no
// script reads it) and SameSite=Strict (no other site's page sends it).
const SessionCookie = "osv_session"

// signIn exchanges a token for the session cookie (POST /api/session {"token": "osv_…"}).
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Token == "" {
		s.fail(w, http.StatusBadRequest, "send {\"token\": \"osv_…\"}")
		return
	}
	tok, err := s.p.Tokens.Authenticate(r.Context(), in.Token)
	switch {
	case errors.Is(err, identity.ErrNoToken), errors.Is(err, identity.ErrRevoked):
		s.fail(w, http.StatusUnauthorized, "the token is not valid (unknown, mistyped or revoked)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: in.Token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 12 * 3600})
	s.json(w, map[string]string{"id": tok.ID, "role": string(tok.Role), "name": tok.Name})
}

// signOut clears the session cookie.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}
