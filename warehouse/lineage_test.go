package warehouse

import "testing"

func TestParseWhere(t *testing.T) {
	got, err := ParseWhere(`territory='015' AND period = '2023-01' and contract_class <> 'it''s' AND saldo >= -3`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Cond{{"territory", "=", "015"}, {"period", "=", "2023-01"}, {"contract_class", "<>", "it's"}, {"saldo", ">=", "-3"}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("condition %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"territory = '015' OR 1=1", "territory = 015; DROP TABLE x", "1 = 1", "territory = '015", "t = '1') UNION SELECT * FROM read_csv('/etc/passwd'"} {
		if _, err := ParseWhere(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
