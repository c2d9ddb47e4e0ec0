package tabular

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

func TestSniff(t *testing.T) {
	cp1252, _ := charmap.Windows1252.NewEncoder().String("Regione;Attività;Numero\r\nLombardia;Attività – commercio;1.234,5\r\n")
	for name, tt := range map[string]struct {
		in   string
		want Dialect
	}{
		"italian":   {"Regione;Anno;Numero\nLombardia;2024;1.234,5\nVeneto;2024;12,5\n", Dialect{Comma: ';', Encoding: "utf-8", DecimalComma: true}},
		"cp1252":    {cp1252, Dialect{Comma: ';', Encoding: "windows-1252", CRLF: true, DecimalComma: true}},
		"bom comma": {"\xef\xbb\xbfRegione,Anno,Numero\r\nLombardia,2024,\"1,234\"\r\n", Dialect{Comma: ',', Encoding: "utf-8", BOM: true, CRLF: true}},
		"tab":       {"geo\ttime\tvalue\nITC4\t2024\t5.1\n", Dialect{Comma: '\t', Encoding: "utf-8"}},
		// Commas inside the values do not make a ';' file a ',' one.
		"decimals": {"a;b\n1,5;2,5\n3;4\n", Dialect{Comma: ';', Encoding: "utf-8", DecimalComma: true}},
		// A UTF-8 sample cut inside a character is still UTF-8.
		"cut rune": {"Regione;Attività"[:len("Regione;Attività")-1], Dialect{Comma: ';', Encoding: "utf-8", DecimalComma: true}},
	} {
		if got := Sniff([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: %+v, want %+v", name, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tt := range []struct {
		in    string
		comma bool
		want  float64
		ok    bool
	}{
		{"1.234,5", true, 1234.5, true}, {"12,5", true, 12.5, true}, {"1.234", true, 1234, true}, {"1.5", true, 1.5, true},
		{"1,234.5", false, 1234.5, true}, {"1,234", false, 1234, true}, {"12.5", false, 12.5, true}, {"1.234,5", false, 1234.5, true},
		{"-3", true, -3, true}, {"1 234", true, 1234, true}, {"+7", false, 7, true}, {"1.234.567", true, 1234567, true},
		{"", true, 0, false}, {":", false, 0, false}, {"ND", true, 0, false}, {"Non Disponibile", true, 0, false}, {"<=3", true, 0, false},
	} {
		v, ok, err := ParseNumber(tt.in, tt.comma)
		if err != nil || ok != tt.ok || v != tt.want {
			t.Errorf("ParseNumber(%q, %v) = %v, %v, %v; want %v", tt.in, tt.comma, v, ok, err, tt.want)
		}
	}
	for _, bad := range []string{"12,5,6", "abc", "1.2.3,4,5"} {
		if _, _, err := ParseNumber(bad, true); err == nil {
			t.Errorf("ParseNumber(%q) accepted", bad)
		}
	}
}

func TestPeriod(t *testing.T) {
	for _, tt := range []struct{ p, m, want, freq string }{
		{"2023", "", "2023", "A"}, {"2023-01", "", "2023-01", "M"}, {"202312", "", "2023-12", "M"}, {"1/2023", "", "2023-01", "M"},
		{"2023-Q2", "", "2023-Q2", "Q"}, {"2023T3", "", "2023-Q3", "Q"}, {"III trimestre 2023", "", "2023-Q3", "Q"},
		{"2023", "Marzo", "2023-03", "M"}, {"2023", "11", "2023-11", "M"},
	} {
		got, freq, err := Period(tt.p, tt.m)
		if err != nil || got != tt.want || freq != tt.freq {
			t.Errorf("Period(%q, %q) = %q %q %v; want %q %q", tt.p, tt.m, got, freq, err, tt.want, tt.freq)
		}
	}
	for _, bad := range []string{"2023-13", "ieri", "2023", "20231"} {
		m := ""
		if bad == "2023" {
			m = "Smarzo"
		}
		if _, _, err := Period(bad, m); err == nil {
			t.Errorf("Period(%q, %q) accepted", bad, m)
		}
	}
}

func TestQuarter(t *testing.T) {
	for _, q := range []string{"3", "III", "T3", "Q3", "III trimestre", " 3 "} {
		if got, freq, err := Quarter("2024", q); err != nil || got != "2024-Q3" || freq != "Q" {
			t.Errorf("Quarter(2024, %q) = %q %q %v", q, got, freq, err)
		}
	}
	for _, q := range []string{"5", "", "primo"} {
		if _, _, err := Quarter("2024", q); err == nil {
			t.Errorf("Quarter(2024, %q) accepted", q)
		}
	}
}

func TestReadAnItalianTable(t *testing.T) {
	in := "\xef\xbb\xbf\"Anno\";\"Regione\";\"Tipologia contrattuale\";\"Attivazioni\";\"Cessazioni\"\r\n" +
		"2024;Lombardia;Tempo indeterminato;1.234;1.100\r\n" +
		"2024;Veneto;Tempo indeterminato;900;800\r\n" +
		"2024;ITALIA;Tempo indeterminato;10.000;9.000\r\n" +
		"2024;LOMBARDIA;Tempo determinato;2.345,0;ND\r\n"
	ds := connectors.Dataset{ID: "co_regioni"}
	var got []connectors.Observation
	d, err := Read(strings.NewReader(in), ds, Columns{"period": "Anno", "geo": "Regione", "values": "Attivazioni, Cessazioni", "breakdown": "Tipologia contrattuale"},
		func(o connectors.Observation) error { got = append(got, o); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d.Comma != ';' || !d.BOM || !d.CRLF {
		t.Errorf("dialect %+v", d)
	}
	if len(got) != 4 {
		t.Fatalf("%d observations, want 4 (Lombardy rows only, two values each): %+v", len(got), got)
	}
	if o := got[0]; o.Indicator != "co_regioni.attivazioni" || o.Geo != "03" || o.Period != "2024" || *o.Value != 1234 || o.Breakdown != "TIPOLOGIA CONTRATTUALE=Tempo indeterminato" || o.Position != 0 {
		t.Errorf("first %+v", o)
	}
	if o := got[3]; o.Value != nil || o.Status != "ND" || o.Position != 7 { // row 4, second value
		t.Errorf("last %+v", o)
	}
	_, err = Read(strings.NewReader("Anno;Territorio;Attivazioni\n2024;Lombardia;5\n"), ds, Columns{"period": "Anno", "geo": "Regione", "value": "Attivazioni"}, func(connectors.Observation) error { return nil })
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), `column "Regione" (geo) missing`) {
		t.Errorf("renamed column: %v", err)
	}
}

// FuzzSniff checks that the dialect a file was written in is the one sniffed, whatever its fields, and
// that reading arbitrary bytes never panics.
func FuzzSniff(f *testing.F) {
	f.Add("Lombardia", "2024", "1.234,5", byte(';'), true)
	f.Add("Milano, città", "2023-01", "12", byte(','), false)
	f.Add("a\"b", "x\ny", "", byte('\t'), true)
	f.Fuzz(func(t *testing.T, a, b, c string, sep byte, cp bool) {
		// Arbitrary bytes: no panic, a classified error at worst.
		_, _ = Read(strings.NewReader(a+b+c), connectors.Dataset{ID: "f"}, Columns{"period": "p", "geo": "g", "value": "v"}, func(connectors.Observation) error { return nil })
		comma := map[byte]rune{';': ';', ',': ',', '\t': '\t'}[sep]
		if comma == 0 {
			return
		}
		for _, s := range []string{a, b, c} {
			if strings.ContainsAny(s, "\r\n\"\x00;,\t") || !utf8ok(s) || strings.TrimSpace(s) == "" {
				return // fields that make the dialect ambiguous on purpose are not this test's subject
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = comma
		for i := 0; i < 3; i++ {
			w.Write([]string{a, b, c})
		}
		w.Flush()
		data := buf.Bytes()
		enc := "utf-8"
		if cp {
			e, err := charmap.Windows1252.NewEncoder().Bytes(data)
			if err != nil {
				return // not representable in Windows-1252
			}
			if !bytes.Equal(e, data) {
				enc = "windows-1252"
			}
			data = e
		}
		d := Sniff(data)
		if d.Comma != comma || d.Encoding != enc {
			t.Errorf("wrote %q (%s), sniffed %q (%s): %q", comma, enc, d.Comma, d.Encoding, data)
		}
	})
}

func utf8ok(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, '\uFFFD')
}
