// Package cogen writes synthetic comunicazioni obbligatorie files in Regione Lombardia's open-data export
// format (DATA, GENERE, ETA, SETTOREECONOMICODETTAGLIO, TITOLOSTUDIO, CONTRATTO, MODALITALAVORO,
// PROVINCIAIMPRESA, ITALIANO), with realistic sizes and distributions and the real dataset's quirks: mixed
// case, double spaces, accented and apostrophe variants, empty working time, outlier ages and dates, a few
// employers outside Lombardy and a few labels no code list knows. Tests and benchmarks use it; the same
// seed always writes the same bytes.
package cogen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Header is the export's header line.
const Header = "DATA,GENERE,ETA,SETTOREECONOMICODETTAGLIO,TITOLOSTUDIO,CONTRATTO,MODALITALAVORO,PROVINCIAIMPRESA,ITALIANO"

// Options say what to write.
type Options struct {
	Events int
	Seed   uint64
	From   time.Time // first event date (default 2017-01-01)
	To     time.Time // last event date (default 2024-12-31)
	// Kind shapes the contract mix: "attivati" (default), "cessati", "prorogati" (fixed-term and agency
	// only) or "trasformati" (mostly into permanent contracts).
	Kind string
}

type weighted struct {
	values []string
	cum    []float64
}

func newWeighted(pairs ...any) weighted {
	var w weighted
	total := 0.0
	for i := 0; i < len(pairs); i += 2 {
		total += toFloat(pairs[i+1])
		w.values = append(w.values, csvField(pairs[i].(string)))
		w.cum = append(w.cum, total)
	}
	for i := range w.cum {
		w.cum[i] /= total
	}
	return w
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("weight %v", v))
}

func (w weighted) pick(r *rand.Rand) string {
	u := r.Float64()
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if w.cum[m] < u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return w.values[lo]
}

// csvField quotes a field when it needs it.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

var (
	provinces = newWeighted(
		"MILANO", 40.0, "BERGAMO", 9.5, "BRESCIA", 11.0, "MONZA E BRIANZA", 7.5, "VARESE", 7.0, "COMO", 4.8,
		"PAVIA", 4.2, "MANTOVA", 3.6, "CREMONA", 3.0, "LECCO", 2.8, "LODI", 1.9, "SONDRIO", 1.9,
		"TORINO", 0.05, "Milano", 0.1, "MONZA E DELLA BRIANZA", 0.2,
	)
	citizenships = newWeighted(
		"ITALIA", 70.0, "ROMANIA", 5.5, "MAROCCO", 2.6, "ALBANIA", 2.5, "EGITTO", 2.2, "UCRAINA", 1.6, "CINA", 1.4,
		"PERU'", 1.2, "FILIPPINE", 1.2, "INDIA", 1.3, "PAKISTAN", 1.2, "SENEGAL", 1.1, "BANGLADESH", 1.2,
		"ECUADOR", 0.9, "SRI LANKA", 0.8, "MOLDAVIA", 0.8, "NIGERIA", 0.7, "BRASILE", 0.5, "SPAGNA", 0.4,
		"FRANCIA", 0.3, "GERMANIA", 0.2, "POLONIA", 0.4, "BULGARIA", 0.3, "REGNO UNITO", 0.1, "TUNISIA", 0.5,
		"ATLANTIDE", 0.01,
	)
	education = newWeighted(
		"NESSUN TITOLO DI STUDIO", 6.0, "LICENZA ELEMENTARE", 3.0, "LICENZA MEDIA", 33.0,
		"TITOLO DI ISTRUZIONE SECONDARIA SUPERIORE (SCOLASTICA ED EXTRA-SCOLASTICA) CHE NON PERMETTE L'ACCESSO ALL'UNIVERSITA'", 8.0,
		"TITOLO DI ISTRUZIONE SECONDARIA SUPERIORE (SCOLASTICA ED EXTRA-SCOLASTICA) CHE NON PERMETTE L'ACCESSO ALL'UNIVERSITÀ", 1.0,
		"DIPLOMA DI ISTRUZIONE SECONDARIA SUPERIORE  CHE PERMETTE L'ACCESSO ALL'UNIVERSITA'", 30.0,
		"DIPLOMA TERZIARIO EXTRA-UNIVERSITARIO", 0.6, "DIPLOMA UNIVERSITARIO", 0.8,
		"LAUREA - Vecchio o nuovo ordinamento ", 14.0, "TITOLO DI STUDIO POST-LAUREA", 1.0,
		"MASTER UNIVERSITARIO DI PRIMO LIVELLO", 0.8, "MASTER UNIVERSITARIO DI SECONDO LIVELLO", 0.6,
		"DIPLOMA DI SPECIALIZZAZIONE", 0.3, "TITOLO DI DOTTORE DI RICERCA", 0.3,
	)
	workingTime = newWeighted(
		"TEMPO PIENO", 58.0, "TEMPO PARZIALE ORIZZONTALE", 26.0, "TEMPO PARZIALE VERTICALE", 4.0,
		"TEMPO PARZIALE MISTO", 3.0, "NON DEFINITO", 6.0, "", 3.0,
	)
	sectors = newWeighted(
		"Ristorazione con somministrazione", 9.0, "Alberghi", 4.0, "Bar e altri esercizi simili senza cucina", 4.0,
		"Attività delle agenzie di fornitura di lavoro temporaneo (interinale)", 6.0,
		"Pulizia generale (non specializzata) di edifici", 5.0, "Costruzione di edifici residenziali e non residenziali", 3.5,
		"Attività non specializzate di lavori edili (muratori)", 2.0, "Lavori di meccanica generale", 2.5,
		"Installazione di impianti elettrici in edifici o in altre opere di costruzione (inclusa manutenzione e riparazione)", 1.8,
		"Trasporto di merci su strada", 2.5, "Servizi logistici relativi alla distribuzione delle merci", 2.8,
		"Altre attività postali e di corriere senza obbligo di servizio universale", 1.5,
		"Minimercati ed altri esercizi non specializzati di alimentari vari", 2.0, "Grandi magazzini", 1.0,
		"Commercio all'ingrosso non specializzato", 1.5, "Riparazioni meccaniche di autoveicoli", 0.8,
		"Produzione di prodotti di panetteria freschi", 0.8, "Produzione di prodotti a base di carne (inclusa la carne di volatili)", 0.6,
		"Fabbricazione di altri articoli in materie plastiche n.c.a.", 0.9,
		"Fabbricazione di altre macchine ed attrezzature per impieghi speciali n.c.a. (incluse parti e accessori)", 0.9,
		"Produzione di software non connesso all'edizione", 2.0, "Servizi forniti da commercialisti", 0.7,
		"Altre attività di consulenza imprenditoriale e altra consulenza amministrativo-gestionale e pianificazione aziendale", 1.5,
		"Altre attività professionali n.c.a.", 0.8, "Servizi di vigilanza privata", 0.8, "Altri servizi di sostegno alle imprese n.c.a.", 2.0,
		"Istruzione primaria: scuole elementari", 3.0, "Istruzione secondaria di secondo grado di formazione generale: licei", 3.0,
		"Ospedali e case di cura generici", 2.0, "Strutture di assistenza residenziale per anziani e disabili", 1.5,
		"Assistenza sociale non residenziale per anziani e disabili", 1.2, "Altre rappresentazioni artistiche", 1.5,
		"Attività di produzione cinematografica, di video e di programmi televisivi", 1.0,
		"Altre attività di intrattenimento e di divertimento n.c.a.", 1.0, "Servizi dei saloni di barbiere e parrucchiere", 0.6,
		"Attività di supporto alla produzione vegetale", 1.2,
		"Coltivazione di ortaggi (inclusi i meloni) in foglia, a fusto, a frutto, in radici, bulbi e tuberi in piena aria (escluse barbabietola da zucchero e patate)", 0.8,
		"Intermediazione monetaria di istituti monetari diverse dalle Banche centrali", 0.5,
		"ATTIVITA' DI FAMIGLIE E CONVIVENZE COME DATORI DI LAVORO PER PERSONALE DOMESTICO", 3.0,
		"Attività degli organi legislativi ed esecutivi, centrali e locali; amministrazione finanziaria; amministrazioni regionali, provinciali e comunali", 0.8,
		"PROMOTORI FINANZIARI", 0.1, "Attività di sorveglianza lunare", 0.02,
	)
	contractsByKind = map[string]weighted{
		"attivati": newWeighted(
			"LAVORO A TEMPO DETERMINATO", 42.0, "LAVORO A TEMPO INDETERMINATO", 15.0, "LAVORO A TEMPO DETERMINATO  PER SOSTITUZIONE", 4.0,
			"LAVORO INTERINALE (O A SCOPO DI SOMMINISTRAZIONE) A TEMPO DETERMINATO", 14.0,
			"LAVORO INTERINALE (O A SCOPO DI SOMMINISTRAZIONE) A TEMPO INDETERMINATO", 0.6,
			"APPRENDISTATO PROFESSIONALIZZANTE O CONTRATTO DI MESTIERE", 5.0, "LAVORO INTERMITTENTE", 6.0,
			"LAVORO INTERMITTENTE  A TEMPO INDETERMINATO", 0.2, "LAVORO DOMESTICO", 3.0,
			"COLLABORAZIONE COORDINATA E CONTINUATIVA", 4.0, "TIROCINIO", 3.0,
			"LAVORO NELLO SPETTACOLO A TEMPO DETERMINATO", 1.5, "LAVORO AUTONOMO NELLO SPETTACOLO", 1.0,
			"Lavoro a tempo indeterminato con piattaforma", 0.05, "Lavoro a tempo determinato con piattaforma", 0.1,
			"LAVORO O ATTIVITÀ SOCIALMENTE UTILE (LSU - ASU)", 0.1, "LAVORO A TEMPO DETERMINATO (PART-TIME SPERIMENTALE)", 0.01,
		),
		"prorogati": newWeighted(
			"LAVORO A TEMPO DETERMINATO", 70.0, "LAVORO INTERINALE (O A SCOPO DI SOMMINISTRAZIONE) A TEMPO DETERMINATO", 25.0,
			"LAVORO A TEMPO DETERMINATO  PER SOSTITUZIONE", 5.0,
		),
		"trasformati": newWeighted(
			"LAVORO A TEMPO INDETERMINATO", 88.0, "LAVORO A TEMPO DETERMINATO", 8.0, "APPRENDISTATO PROFESSIONALIZZANTE O CONTRATTO DI MESTIERE", 4.0,
		),
	}
	// Hires peak in January and September; June and July are busy, August and December quiet.
	monthWeight = [12]float64{1.35, 0.95, 1.0, 0.95, 0.95, 1.05, 1.05, 0.6, 1.5, 1.05, 0.95, 0.6}
)

func init() { contractsByKind["cessati"] = contractsByKind["attivati"] }

// Stats describe what was written.
type Stats struct {
	Events int
	Bytes  int64
}

// Write writes the header and opts.Events rows to w.
func Write(w io.Writer, opts Options) (Stats, error) {
	if opts.From.IsZero() {
		opts.From = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.To.IsZero() {
		opts.To = time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	if opts.Kind == "" {
		opts.Kind = "attivati"
	}
	contracts, ok := contractsByKind[opts.Kind]
	if !ok {
		return Stats{}, fmt.Errorf("unknown kind %q (attivati, cessati, prorogati, trasformati)", opts.Kind)
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x0b5e7a70))
	var days []any
	for d := opts.From; !d.After(opts.To); d = d.AddDate(0, 0, 1) {
		wgt := monthWeight[d.Month()-1]
		switch d.Weekday() {
		case time.Saturday:
			wgt *= 0.25
		case time.Sunday:
			wgt *= 0.1
		case time.Monday:
			wgt *= 1.6
		}
		if d.Day() == 1 {
			wgt *= 3
		}
		days = append(days, d.Format("02/01/2006"), wgt)
	}
	dates := newWeighted(days...)
	ages := make([]string, 256)
	for i := range ages {
		ages[i] = strconv.Itoa(i)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	if _, err := io.WriteString(cw, Header+"\n"); err != nil {
		return Stats{}, err
	}
	line := make([]byte, 0, 512)
	for i := 0; i < opts.Events; i++ {
		line = line[:0]
		date := dates.pick(r)
		if r.IntN(200000) == 0 {
			date = "06/09/2201" // a mistyped year, as seen in the real data
		}
		line = append(line, date...)
		line = append(line, ',')
		if r.IntN(100) < 52 {
			line = append(line, 'M')
		} else {
			line = append(line, 'F')
		}
		line = append(line, ',')
		age := 18 + int(r.ExpFloat64()*11)
		if age > 70 {
			age = 18 + r.IntN(45)
		}
		if r.IntN(2000) == 0 {
			age = []int{0, 10, 95, 221}[r.IntN(4)]
		}
		line = append(line, ages[age]...)
		line = append(line, ',')
		line = append(line, sectors.pick(r)...)
		line = append(line, ',')
		line = append(line, education.pick(r)...)
		line = append(line, ',')
		line = append(line, contracts.pick(r)...)
		line = append(line, ',')
		line = append(line, workingTime.pick(r)...)
		line = append(line, ',')
		line = append(line, provinces.pick(r)...)
		line = append(line, ',')
		line = append(line, citizenships.pick(r)...)
		line = append(line, '\n')
		if _, err := cw.Write(line); err != nil {
			return Stats{}, err
		}
	}
	if err := bw.Flush(); err != nil {
		return Stats{}, err
	}
	return Stats{Events: opts.Events, Bytes: cw.n}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
