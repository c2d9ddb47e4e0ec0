package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/explore"
)

func TestItalianNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.000", -1234: "-1.234", 25000000: "25.000.000"} {
		if got := itNumber(n); got != want {
			t.Errorf("itNumber(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSumByGroupTakesTheMonthsFromOn(t *testing.T) {
	rows := []explore.Flow{{Period: "2023-12", Group: "a", Attivazioni: 100}, {Period: "2024-01", Group: "b", Attivazioni: 1, Saldo: 1},
		{Period: "2024-01", Group: "a", Attivazioni: 2, Saldo: -1}, {Period: "2024-02", Group: "a", Attivazioni: 3, Saldo: 2}}
	got := fmt.Sprint(sumByGroup(rows, "2024-01"))
	if want := "[{2024-01 →  a  5 0 0 0 0 1} {2024-01 →  b  1 0 0 0 0 1}]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// The page carries its figures in tables and its charts' script inline: nothing is fetched.
func TestHTMLIsSelfContained(t *testing.T) {
	r := &Report{Version: "1.2.0", Territory: "020", Name: "Mantova", LastMonth: "2024-12", Names: map[string]string{"020": "Mantova"},
		Years:   []explore.Flow{{Period: "2024", Attivazioni: 12345, Cessazioni: 2, Saldo: 12343}},
		Recent:  map[string][]explore.Flow{"contract_class": {{Group: "permanent", Attivazioni: 7}}},
		Compare: []explore.Flow{{Group: "020", Saldo: 3}}}
	var b strings.Builder
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<tr data-period="2024"><th>2024</th><td class="num" data-value="12345">12.345</td>`,
		`<tr data-group="permanent"><th>permanent</th><td class="num" data-value="7">7</td>`, "Nota metodologica", "echarts"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "src=\"http") || strings.Contains(page, "href=\"http") {
		t.Error("the page fetches something")
	}
}
