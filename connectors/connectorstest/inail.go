package connectorstest

import (
	"fmt"
	"net/http"
	"regexp"
)

var (
	inailPlace = regexp.MustCompile(`"LuogoAccadimento" : "\d+"`)
	inailDate  = regexp.MustCompile(`"DataAccadimento" : "\d\d/\d\d/\d{4}"`)
)

// INAILAPI answers, wherever it is mounted, like INAIL's REST API DatiConCadenzaMensileInfortuni for
// Regione=Lombardia: a real
// answer (answer) moved to Milano and to the month asked, for months up to lastData (YYYY-MM); after it,
// HTTP 500 "Dati non trovati", as INAIL says of a month with no data yet. asked, when set, is told each
// month asked.
func INAILAPI(answer []byte, lastData string, asked func(month string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("Regione") != "Lombardia" {
			http.NotFound(w, r)
			return
		}
		m := q.Get("AnnoAccadimento") + "-" + q.Get("MeseAccadimento")
		if asked != nil {
			asked(m)
		}
		if m > lastData {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("Dati non trovati"))
			return
		}
		body := inailPlace.ReplaceAll(answer, []byte(`"LuogoAccadimento" : "015"`))
		body = inailDate.ReplaceAll(body, []byte(fmt.Sprintf(`"DataAccadimento" : "01/%s/%s"`, q.Get("MeseAccadimento"), q.Get("AnnoAccadimento"))))
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}
