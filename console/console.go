// Package console is the platform's web console, served by the API at /: an Italian single page over the
// API (the release tables, never raw data), with Apache ECharts 6.1.0 vendored from npm (Apache-2.0:
// static/vendor/echarts-LICENSE.txt and -NOTICE.txt). Everything is embedded: nothing is fetched from the
// internet at run time.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Handler serves the console: / (the app), /accesso (sign-in with an API token) and /static/….
func Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	assets := http.StripPrefix("/static/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch {
		case r.URL.Path == "/":
			serve(w, r, "index.html")
		case r.URL.Path == "/accesso":
			serve(w, r, "accesso.html")
		case strings.HasPrefix(r.URL.Path, "/static/"):
			w.Header().Set("Cache-Control", "public, max-age=3600")
			assets.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"no such endpoint (GET /api lists them)"}` + "\n"))
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request, name string) {
	data, err := files.ReadFile("static/" + name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}

// Asset returns an embedded file of the console (a path under static/), for pages made elsewhere that
// draw as the console does (the territorial reports).
func Asset(name string) ([]byte, error) { return files.ReadFile("static/" + name) }
